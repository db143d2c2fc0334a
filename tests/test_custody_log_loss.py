"""Issue #14 item 3: a log that lost rows must not verify.

Each attack first shows that the log's own check (chain, signatures, the checkpoints still
in the database) passes, then that ``verify_workspace`` / ``verify-log`` names the loss:
through the anchor beside the database, a checkpoint kept elsewhere, or the state rows
whose audit rows are gone.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from custody_support import PASS, World, make_world, request
from pg_support import RawSQL

from forensics_app.cli import main
from forensics_app.core import custody as cu
from forensics_app.core.custody.audit import AuditVerificationError


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, custody_db: str | None) -> World:
    w = make_world(tmp_path, monkeypatch, db=custody_db)
    yield w
    w.ws.close()


def _raw(world: World) -> RawSQL:
    """The attacker's connection: append-only triggers off (SQLite file or PG server)."""
    conn = RawSQL(world.ws, unguarded=True)
    conn.unguard_checkpoints()
    return conn


def _forget_anchor(root: Path, conn: RawSQL) -> None:
    """A thorough attacker also removes the anchor and the note that there was one."""
    (root / "audit-anchor.json").unlink()
    conn.execute("DELETE FROM meta WHERE key='audit_anchor'")


def _loss(root: Path, *checkpoints: Path) -> str:
    with cu.Workspace.open(root) as ws:
        ws.audit.verify()  # the log's own check is fooled
        with pytest.raises(AuditVerificationError) as caught:
            cu.verify_workspace(ws, checkpoints=checkpoints)
    return str(caught.value)


def test_anchor_follows_every_disclosure(world: World) -> None:
    cu.approve(world.ws, world.bob, request(world).id)
    assert world.ws.audit.anchor().size == world.ws.audit.size()  # the approval is anchored
    summary = cu.verify_workspace(world.ws)
    assert summary["anchor"] == summary["entries"] and summary["state_records"] >= 9


def test_all_rows_deleted_is_named_by_the_anchor(world: World) -> None:
    cu.approve(world.ws, world.bob, request(world).id)
    anchored = world.ws.audit.anchor().size
    world.ws.close()
    conn = _raw(world)
    conn.execute("DELETE FROM audit")
    conn.execute("DELETE FROM checkpoints")
    assert _loss(world.root) == (
        f"audit log has 0 entries but the anchor {world.root / 'audit-anchor.json'} proves "
        f"it had at least {anchored}: rows lost"
    )


def test_all_rows_deleted_with_the_anchor_is_named_by_the_state(world: World) -> None:
    cu.approve(world.ws, world.bob, request(world).id)
    world.ws.close()
    conn = _raw(world)
    conn.execute("DELETE FROM audit")
    conn.execute("DELETE FROM checkpoints")
    _forget_anchor(world.root, conn)
    assert _loss(world.root) == (
        "user alice is in the database but no audit row records it (audit rows lost or "
        "state forged)"
    )


def test_a_cut_tail_with_its_checkpoints_is_named_by_the_anchor(world: World) -> None:
    cu.approve(world.ws, world.bob, request(world).id)
    anchored = world.ws.audit.anchor().size
    world.ws.close()
    conn = _raw(world)
    conn.execute("DELETE FROM audit WHERE seq > ?", (anchored - 3,))
    conn.execute("DELETE FROM checkpoints WHERE size > ?", (anchored - 3,))
    assert _loss(world.root).endswith(f"proves it had at least {anchored}: rows lost")


def test_a_cut_tail_with_its_grant_is_named_by_the_state(world: World) -> None:
    grant = cu.approve(world.ws, world.bob, request(world).id)
    world.ws.close()
    conn = _raw(world)
    approval = conn.execute(
        "SELECT seq FROM audit WHERE object=?", (f"grant:{grant.id}",)
    ).fetchone()[0]
    conn.execute("DELETE FROM audit WHERE seq >= ?", (approval,))
    conn.execute("DELETE FROM checkpoints WHERE size >= ?", (approval,))
    _forget_anchor(world.root, conn)
    assert _loss(world.root) == (
        f"grant {grant.id} is in the database but no audit row records it (audit rows lost "
        "or state forged)"
    )


def test_a_checkpoint_kept_elsewhere_names_a_cut_nothing_else_sees(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    for _ in range(3):  # rows that change no state: only a checkpoint can vouch for them
        cu.login(world.ws, "alice", PASS["alice"])
    world.ws.close()
    kept = tmp_path / "kept-elsewhere.json"
    argv = ["--workspace", str(world.root), "verify-log"]
    assert main([*argv, "--checkpoint-out", str(kept)]) == 0
    size = cu.load_checkpoint_file(kept).size
    out = capsys.readouterr().out
    assert f"anchor: holds the first {size} entries" in out and "records, each recorded" in out
    conn = _raw(world)
    conn.execute("DELETE FROM audit WHERE seq > ?", (size - 3,))
    conn.execute("DELETE FROM checkpoints WHERE size > ?", (size - 3,))
    _forget_anchor(world.root, conn)
    assert main(argv) == 0  # without the kept checkpoint the cut goes unseen
    capsys.readouterr()
    assert main([*argv, "--checkpoint", str(kept)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        f"forensics: error: audit log has {size - 3} entries but checkpoint {kept} proves it "
        f"had at least {size}: rows lost"
    )


KILLED_APPROVER = """
import os, sys, time
os.environ["FORENSICS_KDF_PROFILE"] = "fast"
from forensics_app.core import custody as cu
ws = cu.Workspace.open(sys.argv[1])
grant = cu.approve(ws, cu.login(ws, "bob", sys.argv[2]), sys.argv[3])
print(ws.audit.size(), flush=True)
time.sleep(600)
"""


def test_wal_deleted_after_kill_9_is_named_by_the_anchor(world: World) -> None:
    if world.ws.store.backend != "sqlite":
        pytest.skip("a WAL file beside the workspace is SQLite's")
    req = request(world)
    world.ws.close()  # the last connection: the WAL is folded into the database
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_APPROVER, str(world.root), PASS["bob"], req.id],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    committed = int(proc.stdout.readline())
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    wal = world.root / "workspace.sqlite-wal"
    assert wal.stat().st_size > 0  # the approval's rows live only in the WAL
    wal.unlink()
    (world.root / "workspace.sqlite-shm").unlink(missing_ok=True)
    message = _loss(world.root)
    assert message.endswith(f"proves it had at least {committed}: rows lost"), message
    assert message.startswith(f"audit log has {committed - 2} entries")  # login, approval
