"""What only the PostgreSQL store has (issue #18): a folder that points at a server, bad URLs
and unreachable servers as one line, passwords never stored, parallel writers from several
processes, a server killed in the middle of an approval, and a SQLite workspace migrated.

The rest of the custody suite runs on both stores through the ``custody_db`` fixture.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pg_support
import pytest
from custody_support import PASS, make_world, new_workspace, request
from pg_support import APP, OWNER, PgServer, RawSQL

from forensics_app.cli import main
from forensics_app.core import custody as cu
from forensics_app.core.custody.migrate import migrate_workspace
from forensics_app.core.custody.store_postgres import DatabasePasswordRequired
from forensics_app.errors import StoreError


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


@pytest.fixture
def pg_db(pg_server: PgServer) -> str:
    return pg_server.new_database()


@pytest.fixture
def own_server() -> PgServer:
    """A server of the test's own (it is killed, or it asks for passwords)."""
    server = pg_support.start_or_explain()
    if isinstance(server, str):
        pg_support.unavailable(server)
    yield server
    server.stop()


# --- the fixture itself ------------------------------------------------------------------------


def test_no_server_skips_with_the_reason_locally_and_fails_under_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PG_BINDIR", "")
    monkeypatch.setattr(pg_support.glob, "glob", lambda pattern: [])
    monkeypatch.setattr(pg_support.shutil, "which", lambda name: None)
    reason = pg_support.start_or_explain()
    assert isinstance(reason, str) and "install Debian's 'postgresql' package" in reason
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL backend not tested: no Postg"):
        pg_support.unavailable(reason)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="PostgreSQL backend not tested: no Postg"):
        pg_support.unavailable(reason)


# --- the folder and its URL ------------------------------------------------------------------


def test_the_folder_records_the_app_url_and_no_database_file(tmp_path: Path, pg_db: str) -> None:
    ws = new_workspace(tmp_path / "ws", pg_db)
    doc = json.loads((tmp_path / "ws" / "workspace-db.json").read_text())
    assert doc == {
        "type": "uunet-workspace-database",
        "version": 1,
        "backend": "postgresql",
        "url": pg_db.replace(f"{OWNER}@", f"{APP}@"),
    }
    assert not (tmp_path / "ws" / "workspace.sqlite").exists()
    assert ws.store.user == APP and ws.info()["backend"] == "postgresql"
    ws.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://carol:hunter2@127.0.0.1/lab", "holds a password"),
        ("mysql://carol@127.0.0.1/lab", "not a PostgreSQL URL"),
        ("postgresql://carol@127.0.0.1:1/lab", "cannot reach workspace database"),
        ("postgresql://carol@127.0.0.1/lab?sslmode=bogus", "cannot reach|bad database URL"),
        ("postgresql://carol@127.0.0.1:5432/lab?nonsense=1", "bad database URL"),
    ],
)
def test_a_bad_or_unreachable_url_is_one_line(
    tmp_path: Path, capsys, url: str, message: str
) -> None:
    assert main(["workspace", "create", str(tmp_path / "ws"), "--db", url]) == 1
    err = _one_line(capsys.readouterr().err)
    assert err.startswith("forensics: error: ") and re.search(message, err)
    assert "hunter2" not in err
    assert not (tmp_path / "ws" / "workspace-db.json").exists()


def test_an_unknown_role_and_a_missing_database_are_one_line(
    tmp_path: Path, capsys, pg_server: PgServer
) -> None:
    for url, says in (
        (pg_server.url("postgres", "nobody"), 'role "nobody" does not exist'),
        (pg_server.url("no_such_db"), 'database "no_such_db" does not exist'),
    ):
        assert main(["workspace", "create", str(tmp_path / "ws"), "--db", url]) == 1
        assert says in _one_line(capsys.readouterr().err)


def test_a_damaged_pointer_is_one_line(tmp_path: Path, pg_db: str, capsys) -> None:
    new_workspace(tmp_path / "ws", pg_db).close()
    pointer = tmp_path / "ws" / "workspace-db.json"
    pointer.write_text("{not json")
    assert main(["--workspace", str(tmp_path / "ws"), "verify-log"]) == 1
    assert "not a readable database pointer" in _one_line(capsys.readouterr().err)
    pointer.write_text(json.dumps({"type": "uunet-workspace-database", "version": 1,
                                   "backend": "postgresql",
                                   "url": "postgresql://a:pw@h/db"}))  # fmt: skip
    assert main(["--workspace", str(tmp_path / "ws"), "verify-log"]) == 1
    assert "holds a password" in _one_line(capsys.readouterr().err)


def test_an_empty_database_is_not_a_workspace_unless_created(tmp_path: Path, pg_db: str) -> None:
    from forensics_app.core.custody.store_postgres import PostgresStore

    with pytest.raises(StoreError, match="not a workspace database"):
        PostgresStore(pg_db)
    new_workspace(tmp_path / "a", pg_db).close()
    with pytest.raises(StoreError, match="already holds a workspace"):
        cu.Workspace.open(tmp_path / "a", create=True, db=pg_db.replace("/ws_", "/other_"))
    with pytest.raises(StoreError, match="already holds a workspace; open the folder"):
        cu.Workspace.open(tmp_path / "b", create=True, db=pg_db)  # a second, keyless folder
    assert not (tmp_path / "b" / "workspace-db.json").exists()


def test_the_app_role_cannot_migrate_and_says_so(tmp_path: Path, pg_db: str) -> None:
    ws = new_workspace(tmp_path / "ws", pg_db)
    RawSQL(ws).execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    ws.close()
    with pytest.raises(StoreError, match="older than this program.*database owner"):
        cu.Workspace.open(tmp_path / "ws")
    assert main(["workspace", "upgrade", str(tmp_path / "ws"), "--db", pg_db]) == 0
    with cu.Workspace.open(tmp_path / "ws") as again:  # as the app role once more
        assert again.store.schema_version == cu.store.SCHEMA_VERSION
        assert again.store.user == APP
        again.audit.verify()


# --- passwords ---------------------------------------------------------------------------------


def test_passwords_come_from_pgpass_or_a_prompt_never_from_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    server = pg_support.start_or_explain(host_auth="scram-sha-256")
    if isinstance(server, str):
        pg_support.unavailable(server)
    try:
        with server.admin() as conn:
            conn.execute(f"ALTER ROLE {OWNER} PASSWORD 'owner-secret'")
        url = server.new_database()
        root = tmp_path / "ws"
        with pytest.raises(DatabasePasswordRequired, match="wants a password"):
            cu.Workspace.open(root, create=True, db=url)
        # the CLI prompts only on a terminal; a script gets one line
        assert main(["workspace", "create", str(root), "--db", url]) == 1
        assert "no terminal to prompt on" in _one_line(capsys.readouterr().err)
        # a prompted password opens it and is stored nowhere
        cu.Workspace.open(root, create=True, db=url, password="owner-secret").close()
        # libpq's password file serves every later command
        pgpass = tmp_path / "pgpass"
        pgpass.write_text(f"127.0.0.1:{server.port}:*:{OWNER}:owner-secret\n")
        pgpass.chmod(0o600)
        monkeypatch.setenv("PGPASSFILE", str(pgpass))
        assert main(["--workspace", str(root), "verify-log"]) == 0
        stored = b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file())
        assert b"owner-secret" not in stored
    finally:
        server.stop()


# --- concurrency --------------------------------------------------------------------------------

WRITER = """
import sys
from forensics_app.core.custody import Workspace
ws = Workspace.open(sys.argv[1], checkpoint_every=25)
for i in range(int(sys.argv[3])):
    ws.audit.append(sys.argv[2], "analyst", "consultation", details={"i": i})
ws.close()
"""


def test_parallel_writers_keep_one_sequential_chain(tmp_path: Path, pg_db: str) -> None:
    root = tmp_path / "ws"
    new_workspace(root, pg_db).close()
    writers, each = 4, 40
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(root), f"w{k}", str(each)])
        for k in range(writers)
    ]
    assert [p.wait(timeout=300) for p in procs] == [0] * writers
    with cu.Workspace.open(root) as ws:
        summary = ws.audit.verify()
        rows = list(ws.audit.entries())
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))
    assert all(r["prev_hash"] == p["entry_hash"] for p, r in zip(rows, rows[1:], strict=False))
    counts = {f"w{k}": 0 for k in range(writers)}
    for r in rows:
        if r["actor"] in counts:
            counts[r["actor"]] += 1
    assert counts == {f"w{k}": each for k in range(writers)}
    assert summary["entries"] == len(rows) and summary["checkpoints"] >= len(rows) // 25


# --- a server killed in the middle of an approval --------------------------------------------

STALL = """
CREATE FUNCTION stall() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_sleep(60); RETURN NEW; END $$;
CREATE TRIGGER stall BEFORE INSERT ON grants FOR EACH ROW EXECUTE FUNCTION stall();
"""


def test_server_killed_mid_approval_is_one_line_and_nothing_half_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, own_server: PgServer
) -> None:
    world = make_world(tmp_path, monkeypatch, db=own_server.new_database())
    req = request(world)
    size = world.ws.audit.size()
    dbname = world.ws.store.url.rsplit("/", 1)[1]
    world.ws.close()
    with own_server.admin(dbname) as conn:
        conn.execute(STALL)  # the approval stops after its UPDATE, inside its INSERT
    watcher = cu.Workspace.open(world.root)  # a window left open over the crash
    assert watcher.audit.size() == size
    approver = subprocess.Popen(
        [sys.executable, "-m", "forensics_app.cli", "--workspace", str(world.root), "approve",
         req.id, "--as", "bob"],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "FORENSICS_PASSPHRASE": PASS["bob"]},
    )  # fmt: skip
    with own_server.admin(dbname) as conn:
        for _ in range(300):
            waiting = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'INSERT INTO grants%'"
            ).fetchone()[0]
            if waiting:
                break
            time.sleep(0.1)
        assert waiting, "the approval never reached its grant"
        status = conn.execute("SELECT status FROM requests WHERE id=%s", (req.id,)).fetchone()[0]
        assert status == "pending"  # the UPDATE is not visible: not committed
    own_server.crash()
    _, err = approver.communicate(timeout=60)
    assert approver.returncode == 1
    line = _one_line(err)
    print(line)  # the figure docs/RESULTS.md quotes
    assert line.startswith("forensics: error: lost workspace database postgresql://"), line
    assert "the unfinished change was not written" in line
    own_server.start()
    with own_server.admin(dbname) as conn:
        conn.execute("DROP TRIGGER stall ON grants")
    with pytest.raises(StoreError, match="^lost workspace database"):
        watcher.audit.size()  # its connection died with the server: one error …
    assert watcher.audit.size() in (size, size + 1)  # … then reconnects (+ bob's login row)
    watcher.close()
    with cu.Workspace.open(world.root) as ws:
        assert cu.get_request(ws, req.id).status == "pending"
        assert cu.list_grants(ws) == []
        assert [r["action"] for r in ws.audit.entries(size + 1)] in ([], ["login"])
        cu.verify_workspace(ws)
        bob = cu.login(ws, "bob", PASS["bob"])
        cu.approve(ws, bob, req.id)  # and the lab carries on
        assert cu.get_request(ws, req.id).status == "approved"
        cu.verify_workspace(ws)


# --- migration -------------------------------------------------------------------------------


def test_migrate_copies_the_log_and_the_folder_switches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_db: str, capsys
) -> None:
    world = make_world(tmp_path, monkeypatch)
    grant = cu.approve(world.ws, world.bob, request(world).id)
    before = cu.verify_workspace(world.ws)
    world.ws.close()
    argv = ["--workspace", str(world.root)]
    assert main([*argv, "workspace", "migrate", "--to", pg_db, "--app-user", APP]) == 0
    out = capsys.readouterr().out
    assert f"{before['entries']} entries, head {before['head'][:16]}" in out
    assert (world.root / "workspace.sqlite.migrated").is_file()
    assert not (world.root / "workspace.sqlite").exists()
    with cu.Workspace.open(world.root) as ws:
        assert ws.store.backend == "postgresql" and ws.store.user == APP
        assert cu.verify_workspace(ws)["head"] == before["head"]
        assert cu.get_grant(ws, grant.id).request_id == grant.request_id
        alice = cu.login(ws, "alice", PASS["alice"])
        cu.create_case(ws, alice, "CASE-2", "after the move")
    assert main([*argv, "verify-log"]) == 0
    assert main([*argv, "workspace", "migrate", "--to", pg_db]) == 1
    assert "already on postgresql://" in _one_line(capsys.readouterr().err)


def test_migrate_refuses_a_tampered_log_and_a_used_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_db: str, pg_server: PgServer
) -> None:
    world = make_world(tmp_path, monkeypatch)
    world.ws.close()
    new_workspace(tmp_path / "other", pg_db).close()  # pg_db now holds a workspace
    with pytest.raises(StoreError, match="already holds a workspace"):
        migrate_workspace(world.root, pg_db)
    assert (world.root / "workspace.sqlite").is_file()
    assert not (world.root / "workspace-db.json").exists()
    with cu.Workspace.open(world.root) as ws:
        RawSQL(ws, unguarded=True).execute("UPDATE audit SET actor='mallory' WHERE seq=3")
    with pytest.raises(cu.audit.AuditVerificationError, match="entry 3"):
        migrate_workspace(world.root, pg_server.new_database())
    assert (world.root / "workspace.sqlite").is_file()


# --- the demo and the GUI on a PostgreSQL workspace ------------------------------------------


@pytest.mark.slow
def test_demo_builds_on_postgresql(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_db: str, capsys
) -> None:
    monkeypatch.setenv("FORENSICS_KDF_PROFILE", "fast")
    root = tmp_path / "demo"
    argv = ["demo", "--workspace", str(root), "--db", pg_db, "--app-user", APP, "--frames", "4"]
    assert main([*argv, "--quiet"]) == 0
    assert (root / "workspace-db.json").is_file() and not (root / "workspace.sqlite").exists()
    with cu.Workspace.open(root) as ws:
        assert {u.name for u in cu.list_users(ws)} == {"alice", "bob", "carol", "dave"}
        assert len(cu.list_evidence(ws, "DEMO-1")) == 1
        cu.verify_workspace(ws)


def test_the_gui_context_opens_a_postgresql_workspace(tmp_path: Path, pg_db: str) -> None:
    """The window opens a folder as ever; its workers get connections of their own."""
    from forensics_app.gui.context import AppContext

    new_workspace(tmp_path / "ws", pg_db).close()
    context = AppContext()
    context.open_workspace(tmp_path / "ws")
    try:
        assert context.require_workspace().store.backend == "postgresql"
        with context.worker_workspace() as ws:
            assert ws.store.user == APP and ws.audit.verify()["entries"] == 0
    finally:
        context.close_workspace()
