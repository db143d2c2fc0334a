"""Issue #14 "Tracebacks": on the command line each case is now one line and a non-zero exit.

The workspace is built with the core (tests/custody_support.py), closed, then attacked on
disk as a clumsy user or an attacker would, and the real ``forensics`` entry point is run.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from custody_support import PASS, World, make_world, request

from forensics_app.cli import main
from forensics_app.core import custody as cu
from forensics_app.errors import StoreError


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    w = make_world(tmp_path, monkeypatch)
    yield w
    w.ws.close()


def _cli(root: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["--workspace", str(root), *argv])
    out = capsys.readouterr()
    return code, out.out.strip(), out.err.strip()


def _one_line(err: str, text: str) -> None:
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err and text in err, err


def test_verify_log_on_a_truncated_database_neither_crashes_nor_writes(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.ws.close()
    db = world.root / "workspace.sqlite"
    db.write_bytes(b"")  # `: > ws/workspace.sqlite`
    for argv in (("verify-log",), ("user", "list"), ("case", "list"), ("grant", "list")):
        code, _, err = _cli(world.root, capsys, *argv)
        assert code == 1
        _one_line(err, "is not a workspace database (empty or foreign); restore from backup")
    assert db.stat().st_size == 0  # no schema was written into it


def _garble_audit(root: Path) -> None:
    """Overwrite the root page of the audit table (after a clean close) with noise."""
    db = root / "workspace.sqlite"
    con = sqlite3.connect(db)
    page_size = con.execute("PRAGMA page_size").fetchone()[0]
    rootpage = con.execute("SELECT rootpage FROM sqlite_master WHERE name='audit'").fetchone()[0]
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    with open(db, "r+b") as handle:
        handle.seek((rootpage - 1) * page_size)
        handle.write(os.urandom(page_size))


def test_a_garbled_page_is_one_line_and_verify_log_fails(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.ws.close()
    _garble_audit(world.root)
    code, out, err = _cli(world.root, capsys, "verify-log")
    assert code == 1 and "OK" not in out
    _one_line(err, "workspace.sqlite: database is damaged; restore from backup")


def test_a_garbled_page_is_one_line_in_the_core_too(world: World) -> None:
    world.ws.close()
    _garble_audit(world.root)
    with cu.Workspace.open(world.root) as ws, pytest.raises(StoreError) as caught:
        ws.audit.verify()
    assert str(caught.value).endswith("database is damaged; restore from backup")


def test_reveal_into_an_existing_file_is_refused_before_anything_is_logged(
    world: World,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    grant = cu.approve(world.ws, world.bob, request(world).id)
    size = world.ws.audit.size()
    target = tmp_path / "existing.txt"
    target.write_text("keep me\n")
    monkeypatch.setenv("FORENSICS_PASSPHRASE", PASS["alice"])
    code, _, err = _cli(
        world.root, capsys, "reveal", grant.id, "--as", "alice", "--out", str(target)
    )
    assert code == 1
    _one_line(err, f"output {target} exists and is not a folder")
    assert world.ws.audit.size() == size  # no login, no consultation
    assert target.read_text() == "keep me\n"


# --- item 10: a deployment never keeps a plaintext U_d ---------------------------------------


def test_seal_destroy_plaintext_leaves_only_the_sealed_decoder(
    world: World,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import hashlib
    import json

    import numpy as np
    from safetensors.numpy import save

    weights = tmp_path / "deploy" / "ud.safetensors"
    weights.parent.mkdir()
    plain = save({"w": np.full(64, 7, np.float32)})
    weights.write_bytes(plain)
    digest = hashlib.sha256(plain).hexdigest()
    weights.with_suffix(".json").write_text(json.dumps({"name": "ud", "sha256": digest}))
    monkeypatch.setenv("FORENSICS_PASSPHRASE", PASS["carol"])
    code, out, err = _cli(
        world.root, capsys, "seal", str(weights), "--out", str(tmp_path / "ud.sealed"),
        "--holders", "bob,dave", "--as", "carol", "--destroy-plaintext",
    )  # fmt: skip
    assert code == 0 and out == digest, err
    assert err == f"destroyed the plaintext {weights}"
    assert not weights.exists()
    row = list(world.ws.audit.entries())[-1]
    assert (row["action"], row["object"], row["object_sha256"]) == (
        "erasure", "model:ud.safetensors", digest,
    )  # fmt: skip
    model = cu.load_sealed(world.ws, digest)
    assert model.decrypt(model.data_key_for(world.bob)) == plain  # the sealed copy still opens


def test_destroy_plaintext_refuses_a_file_that_is_not_the_sealed_decoder(
    world: World, tmp_path: Path
) -> None:
    from forensics_app.errors import ModelError

    other = tmp_path / "other.safetensors"
    other.write_bytes(world.weights + b"\0")
    with pytest.raises(ModelError, match="is not the sealed decoder"):
        cu.destroy_plaintext(world.ws, world.carol, other, world.model.model_sha256)
    assert other.exists()
