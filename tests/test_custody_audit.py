"""The audit log: chain, signatures, checkpoints, proofs; every tampering named by its seq.

Every test runs on both stores (``custody_db``: SQLite and a throwaway PostgreSQL server).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from custody_support import new_workspace
from pg_support import RawSQL

from forensics_app.core import custody as cu
from forensics_app.core.custody.audit import AuditVerificationError
from forensics_app.errors import StoreError, VerificationError


@pytest.fixture
def ws(tmp_path: Path, custody_db: str | None):
    workspace = new_workspace(tmp_path / "ws", custody_db, checkpoint_every=5)
    for i in range(12):
        workspace.audit.append("alice", "analyst", "consultation", case_id="C", details={"i": i})
    yield workspace
    workspace.close()


def _raw(ws: cu.Workspace) -> RawSQL:
    """A direct connection as an attacker would use, append-only triggers switched off."""
    return RawSQL(ws, unguarded=True)


def _bad_seq(ws: cu.Workspace) -> int | None:
    with pytest.raises(AuditVerificationError) as info:
        ws.audit.verify()
    return info.value.seq


def test_clean_log_verifies_with_checkpoints(ws: cu.Workspace) -> None:
    summary = ws.audit.verify()
    assert summary["entries"] == 12
    assert summary["checkpoints"] == 2 and summary["last_checkpoint"] == 10
    row = ws.store.get_audit(3)
    assert row["time"].endswith("Z") and row["local_offset"][0] in "+-"
    assert row["prev_hash"] == ws.store.get_audit(2)["entry_hash"]


def test_triggers_refuse_update_and_delete(ws: cu.Workspace) -> None:
    conn = RawSQL(ws)  # even the database's owner meets the triggers
    with pytest.raises(Exception, match="append-only"):
        conn.execute("UPDATE audit SET actor='mallory' WHERE seq=2")
    with pytest.raises(Exception, match="append-only"):
        conn.execute("DELETE FROM audit WHERE seq=2")


def test_the_application_role_may_not_change_the_log(ws: cu.Workspace) -> None:
    """PostgreSQL: UPDATE/DELETE/TRUNCATE on the log are not granted to the app's role at all
    (SQLite has no roles: its triggers are the wall)."""
    if ws.store.backend != "postgresql":
        pytest.skip("roles and grants are PostgreSQL's")
    assert ws.store.user == "forensics_app"
    for sql in (
        "UPDATE audit SET actor='mallory' WHERE seq=2",
        "DELETE FROM audit WHERE seq=2",
        "TRUNCATE audit",
        "UPDATE checkpoints SET root='00' WHERE size=5",
        "DELETE FROM checkpoints",
        "ALTER TABLE audit DISABLE TRIGGER USER",
        "DROP TABLE audit",
    ):
        with pytest.raises(StoreError, match="permission denied|must be owner"):
            ws.store._exec(sql)
    ws.audit.verify()


def test_edited_row_is_named(ws: cu.Workspace) -> None:
    _raw(ws).execute("UPDATE audit SET actor='mallory' WHERE seq=7")
    assert _bad_seq(ws) == 7


def test_edited_row_with_recomputed_hash_is_named(ws: cu.Workspace) -> None:
    row = ws.store.get_audit(4)
    row["justification"] = "forged"
    new_hash = cu.audit.entry_hash(row)
    _raw(ws).execute(
        "UPDATE audit SET justification='forged', entry_hash=? WHERE seq=4", (new_hash,)
    )
    assert _bad_seq(ws) == 4  # the signature no longer matches


def test_deleted_row_is_named(ws: cu.Workspace) -> None:
    _raw(ws).execute("DELETE FROM audit WHERE seq=6")
    assert _bad_seq(ws) == 6


def test_deleted_tail_is_caught_by_the_checkpoint(ws: cu.Workspace) -> None:
    _raw(ws).execute("DELETE FROM audit WHERE seq>=9")
    assert _bad_seq(ws) == 9


def test_reordered_rows_are_named(ws: cu.Workspace) -> None:
    conn = _raw(ws)
    conn.execute("UPDATE audit SET seq=-1 WHERE seq=3")
    conn.execute("UPDATE audit SET seq=3 WHERE seq=4")
    conn.execute("UPDATE audit SET seq=4 WHERE seq=-1")
    assert _bad_seq(ws) == 3


def test_inserted_row_is_named(ws: cu.Workspace) -> None:
    conn = _raw(ws)
    for seq in range(12, 5, -1):
        conn.execute("UPDATE audit SET seq=seq+1 WHERE seq=?", (seq,))
    forged = dict(ws.store.get_audit(5))
    forged.update(seq=6, actor="mallory")
    cols = ", ".join(forged)
    conn.execute(f"INSERT INTO audit ({cols}) VALUES ({', '.join('?' * len(forged))})",
                 tuple(forged.values()))  # fmt: skip
    assert _bad_seq(ws) == 6


def test_appended_forgery_without_the_key_is_named(ws: cu.Workspace) -> None:
    forged = dict(ws.store.get_audit(12))
    forged.update(seq=13, prev_hash=forged["entry_hash"], actor="mallory")
    forged["entry_hash"] = cu.audit.entry_hash(forged)
    cols = ", ".join(forged)
    _raw(ws).execute(f"INSERT INTO audit ({cols}) VALUES ({', '.join('?' * len(forged))})",
                     tuple(forged.values()))  # fmt: skip
    assert _bad_seq(ws) == 13


def test_tampered_checkpoint_fails(ws: cu.Workspace) -> None:
    conn = RawSQL(ws)
    conn.unguard_checkpoints()
    conn.execute("UPDATE checkpoints SET root=? WHERE size=5", ("00" * 32,))
    with pytest.raises(AuditVerificationError, match="checkpoint 5"):
        ws.audit.verify()


def test_pinned_public_key_rejects_a_replaced_log(ws: cu.Workspace, tmp_path: Path) -> None:
    other = cu.Workspace.open(tmp_path / "other", create=True)  # a SQLite one will do
    with pytest.raises(AuditVerificationError):
        ws.audit.verify(other.log_public_key)
    other.close()


def test_inclusion_proof_verifies_from_public_data(ws: cu.Workspace) -> None:
    cp = ws.audit.checkpoint()
    assert cp.size == 12
    for seq in (1, 5, 12):
        proof = ws.audit.inclusion_proof(seq, cp)
        exported = json.loads(json.dumps(proof.to_dict()))  # as it travels in an export
        row = ws.store.get_audit(seq)
        cu.verify_inclusion_proof(cu.InclusionProof.from_dict(exported), ws.log_public_key, row)
    proof = ws.audit.inclusion_proof(5, cp)
    with pytest.raises(VerificationError):
        cu.verify_inclusion_proof(proof, ws.log_public_key, ws.store.get_audit(6))
    bad_cp = cu.Checkpoint.from_dict({**cp.to_dict(), "root": "11" * 32})
    with pytest.raises(VerificationError):
        cu.verify_inclusion_proof(
            cu.InclusionProof(proof.seq, proof.entry_hash, bad_cp, proof.path), ws.log_public_key
        )
    edited = {**ws.store.get_audit(5), "outcome": "failure"}
    with pytest.raises(VerificationError):
        cu.verify_inclusion_proof(proof, ws.log_public_key, edited)


def test_fail_closed_when_the_log_cannot_be_written(
    tmp_path: Path, monkeypatch, custody_db: str | None
) -> None:
    from custody_support import PASS

    monkeypatch.setenv("FORENSICS_KDF_PROFILE", "fast")
    ws = new_workspace(tmp_path / "ws", custody_db)
    cu.add_user(ws, "carol", "admin", PASS["carol"])
    carol = cu.login(ws, "carol", PASS["carol"])
    conn = RawSQL(ws)
    conn.jam_audit("disk full")
    with pytest.raises(StoreError, match="disk full"):
        cu.create_case(ws, carol, "CASE-9", "never")
    assert ws.store.get_case("CASE-9") is None  # the action did not happen
    conn.unjam_audit()
    cu.create_case(ws, carol, "CASE-9", "now")
    ws.audit.verify()


BURST = """
import sys
from forensics_app.core.custody import Workspace
ws = Workspace.open(sys.argv[1], checkpoint_every=50)
print("ready", flush=True)
i = 0
while True:
    with ws.store.transaction(durable=sys.argv[2] == "1"):
        ws.audit.append("burst", "analyst", "consultation", details={"i": i, "pad": "x" * 200})
    i += 1
"""


@pytest.mark.parametrize("durable", ["1", "0"])
def test_kill_9_during_appends_leaves_a_verifying_log(
    tmp_path: Path, durable: str, custody_db: str | None
) -> None:
    root = tmp_path / "ws"
    new_workspace(root, custody_db).close()
    proc = subprocess.Popen(
        [sys.executable, "-c", BURST, str(root), durable], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    time.sleep(0.6)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    ws = cu.Workspace.open(root)
    summary = ws.audit.verify()
    assert summary["entries"] > 20, summary
    ws.audit.append("after", "analyst", "verification")  # and the log carries on
    assert ws.audit.verify()["entries"] == summary["entries"] + 1
    ws.close()


def test_schema_is_versioned_and_a_newer_one_is_refused(
    tmp_path: Path, custody_db: str | None
) -> None:
    ws = new_workspace(tmp_path / "ws", custody_db)
    assert ws.store.schema_version == cu.store.SCHEMA_VERSION
    if ws.store.backend == "sqlite":
        assert ws.store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert ws.store._conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    with ws.store.transaction():
        ws.store.set_meta("schema_version", str(cu.store.SCHEMA_VERSION + 1))
    ws.close()
    with pytest.raises(StoreError, match="newer"):
        cu.Workspace.open(tmp_path / "ws")
    with pytest.raises(StoreError, match="no workspace"):
        cu.Workspace.open(tmp_path / "missing")
