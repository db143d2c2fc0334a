"""The custody command line: the contract commands end to end, bad input as one line."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from pg_support import APP, RawSQL
from safetensors.numpy import save

from forensics_app.cli import main
from forensics_app.core import custody as cu


@pytest.fixture
def run(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    custody_db: str | None,
):
    monkeypatch.setenv("FORENSICS_KDF_PROFILE", "fast")
    ws = tmp_path / "ws"
    if custody_db is not None:  # `forensics workspace create DIR --db URL`, then as ever
        assert main(["workspace", "create", str(ws), "--db", custody_db, "--app-user", APP]) == 0
        capsys.readouterr()

    def _run(*argv: str, user: str | None = None, new: str | None = None) -> tuple[int, str, str]:
        if user:
            monkeypatch.setenv("FORENSICS_PASSPHRASE", f"demo-{user}")
        if new:
            monkeypatch.setenv("FORENSICS_NEW_PASSPHRASE", f"demo-{new}")
        code = main(["--workspace", str(ws), *argv])
        out = capsys.readouterr()
        return code, out.out.strip(), out.err.strip()

    _run.ws = ws  # type: ignore[attr-defined]
    return _run


def _setup(run, tmp_path: Path, sample_video: Path) -> str:
    assert run("user", "add", "carol", "--role", "admin", user="carol", new="carol")[0] == 0
    for name, role in (("alice", "analyst"), ("bob", "supervisor"), ("dave", "supervisor")):
        code, out, err = run("user", "add", name, "--role", role, "--as", "carol", user="carol",
                             new=name)  # fmt: skip
        assert code == 0, err
    assert run("case", "create", "DEMO-1", "--title", "Demo", "--as", "alice", user="alice")[0] == 0
    code, sha, err = run(
        "evidence", "add", "DEMO-1", str(sample_video), "--as", "alice", user="alice"
    )
    assert code == 0 and len(sha) == 64, err
    weights = tmp_path / "ud.safetensors"
    weights.write_bytes(save({"w": np.ones(8, np.float32)}))
    code, _, err = run("seal", str(weights), "--out", str(tmp_path / "ud.sealed"),
                       "--holders", "bob,dave", "--as", "carol", user="carol")  # fmt: skip
    assert code == 1 and "model card" in err  # no card beside the weights
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    weights.with_suffix(".json").write_text(json.dumps({"name": "test", "sha256": digest}))
    code, out, err = run("seal", str(weights), "--out", str(tmp_path / "ud.sealed"),
                         "--holders", "bob,dave", "--as", "carol", user="carol")  # fmt: skip
    assert code == 0 and (tmp_path / "ud.sealed").is_file(), err
    return sha


def test_contract_flow(run, tmp_path: Path, sample_video: Path) -> None:
    sha = _setup(run, tmp_path, sample_video)
    assert "DEMO-1\tDemo" in run("case", "list")[1]
    code, req, err = run("request", "DEMO-1", "--evidence", sha, "--frames", "10-20",
                         "--reason", "assault", "--authority", "order 7", "--as", "alice",
                         user="alice")  # fmt: skip
    assert code == 0 and req.startswith("REQ-"), err
    code, _, err = run("approve", req, "--as", "alice", user="alice")  # self-approval
    assert code == 1 and err.count("\n") == 0 and "supervisors" in err
    code, grant, err = run("approve", req, "--as", "bob", "--expires", "2h", user="bob")
    assert code == 0 and grant.startswith("GRT-"), err
    assert "approved" in run("request", "list")[1]
    # grant files for an air-gapped lab, and a revocation
    gfile = tmp_path / "grant.json"
    assert run("grant", "export", grant, "--out", str(gfile), "--as", "bob", user="bob")[0] == 0
    assert run("grant", "import", str(gfile), "--as", "alice", user="alice")[1] == grant
    assert run("revoke", grant, "--as", "dave", "--reason", "closed", user="dave")[0] == 0
    assert "revoked" in run("grant", "list")[1]
    # a second request, exported, imported and denied
    code, req2, _ = run("request", "DEMO-1", "--evidence", sha, "--frames", "0-5", "--reason", "r",
                        "--authority", "a", "--as", "alice", user="alice")  # fmt: skip
    rfile = tmp_path / "req.json"
    assert (
        run("request", "export", req2, "--out", str(rfile), "--as", "alice", user="alice")[0] == 0
    )
    assert run("request", "import", str(rfile), "--as", "bob", user="bob")[1] == req2
    assert run("deny", req2, "--as", "bob", "--reason", "too broad", user="bob")[0] == 0
    cp = tmp_path / "checkpoint.json"
    code, out, err = run("verify-log", "--checkpoint-out", str(cp))
    assert code == 0 and "audit log OK" in out, err
    from forensics_app.core.custody import Checkpoint

    doc = json.loads(cp.read_text())
    Checkpoint.from_dict(doc["checkpoint"]).verify(doc["log_public_key"])
    assert run("verify-log", "--public-key", doc["log_public_key"])[0] == 0


def test_bad_input_is_one_line(run, tmp_path: Path, sample_video: Path) -> None:
    if not (run.ws / "workspace-db.json").exists():  # a PostgreSQL one exists from the start
        code, _, err = run("case", "list")
        assert code == 1 and "no workspace" in err
    code, _, err = run("user", "add", "alice", "--role", "analyst", user="alice", new="alice")
    assert code == 1 and ("first admin" in err or "first user of a workspace must be" in err)
    sha = _setup(run, tmp_path, sample_video)
    cases = [
        (("request", "DEMO-1", "--as", "alice"), "alice", "--evidence"),
        (("request", "DEMO-1", "--evidence", sha, "--frames", "9-2", "--reason", "r",
          "--authority", "a", "--as", "alice"), "alice", "frame range"),
        (("approve", "REQ-nope", "--as", "bob"), "bob", "no request"),
        (("case", "create", "X", "--as", "nobody"), "alice", "unknown user"),
        (("evidence", "add", "DEMO-1", str(tmp_path / "missing.avi"), "--as", "alice"), "alice",
         "not found"),
        (("case", "create", "X"), "alice", "--as USER"),
    ]  # fmt: skip
    for argv, user, needle in cases:
        code, _, err = run(*argv, user=user)
        assert code == 1 and needle in err and "\n" not in err, (argv, err)
    code, _, err = run("case", "create", "X", "--as", "alice", user="bob")  # wrong passphrase
    assert code == 1 and "wrong passphrase" in err


def test_verify_log_names_the_tampered_entry(run, tmp_path: Path, sample_video: Path) -> None:
    _setup(run, tmp_path, sample_video)
    assert run("verify-log")[0] == 0
    with cu.Workspace.open(run.ws) as ws:
        RawSQL(ws, unguarded=True).execute(
            "UPDATE audit SET justification='nothing to see' WHERE seq=6"
        )
    code, _, err = run("verify-log")
    assert code == 1 and "audit entry 6" in err
