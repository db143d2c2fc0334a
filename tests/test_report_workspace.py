"""Reports gathered from a real custody workspace and its reveal, logged as disclosures."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader
from test_report_fixtures import PASS, Case, shared_case
from test_report_pdf import image_sizes

from forensics_app.cli import main
from forensics_app.core.custody import login
from forensics_app.core.report.build import build_report_data, write_report
from forensics_app.errors import InputError, VerificationError


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Case:
    return shared_case(tmp_path_factory)


def _text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def test_report_states_case_hashes_grant_and_is_logged(case: Case, tmp_path: Path) -> None:
    with case.open() as ws:
        alice = login(ws, "alice", PASS["alice"])
        data = build_report_data(ws, case.case_id, alice)
        sha = write_report(ws, alice, data, tmp_path / "report.pdf")
        text = _text(tmp_path / "report.pdf")
        for needle in (case.case_id, case.evidence_sha256, case.model_sha256, case.grant_id,
                       case.request_id, data.report_id, "warrant 2026/117 of the district court",
                       "identify the suspect of the robbery", data.audit.checkpoint_root):  # fmt: skip
            assert needle in text, needle
        assert hashlib.sha256((tmp_path / "report.pdf").read_bytes()).hexdigest() == sha
        last = list(ws.audit.entries())[-1]
        assert (last["action"], last["object"], last["object_sha256"]) == (
            "disclosure", f"report:{data.report_id}", sha,
        )  # fmt: skip
        ws.audit.verify()
    assert len(data.exhibits) == case.frames
    assert [len(ex.faces) for ex in data.exhibits] == [3] * case.frames
    assert data.model.validation  # figures from the sealed model card
    sizes = image_sizes(PdfReader(tmp_path / "report.pdf"))
    assert sizes.count((768, 576)) == case.frames  # the public frames, as published
    # the reconstructions are the marked files: the frame with its caption band below
    assert len([s for s in sizes if s[0] == 768 and s[1] > 576]) == case.frames


def test_case_without_reveal_says_so(case: Case, tmp_path: Path) -> None:
    with case.open() as ws:
        alice = login(ws, "alice", PASS["alice"])
        data = build_report_data(ws, case.empty_case_id, alice)
        write_report(ws, alice, data, tmp_path / "empty.pdf")
    assert data.exhibits == [] and data.unlocks == []
    text = _text(tmp_path / "empty.pdf")
    assert "No reconstruction has been made for this case" in text
    assert "No unlock request was made for this case" in text
    assert "no decoder model was used" in text and not data.model.used
    assert case.model_sha256 not in text  # the workspace's decoder was not used here


def test_frame_selection_and_limit(case: Case) -> None:
    with case.open() as ws:
        alice = login(ws, "alice", PASS["alice"])
        data = build_report_data(ws, case.case_id, alice, max_exhibits=2)
        assert [e.frame_index for e in data.exhibits] == [0, 3]
        data = build_report_data(ws, case.case_id, alice, frames=(1, 2))
        assert [e.frame_index for e in data.exhibits] == [1, 2]


def test_altered_reveal_image_is_refused(case: Case, tmp_path: Path) -> None:
    copy = tmp_path / "reveal"
    shutil.copytree(case.reveal_dir, copy)
    target = copy / "frame_000002_reconstructed.png"
    blob = bytearray(target.read_bytes())
    blob[-20] ^= 0x01
    target.write_bytes(bytes(blob))
    with case.open() as ws:
        alice = login(ws, "alice", PASS["alice"])
        with pytest.raises(VerificationError, match="frame_000002_reconstructed.png was altered"):
            build_report_data(ws, case.case_id, alice, [copy])


def test_altered_reveal_manifest_is_refused(case: Case, tmp_path: Path) -> None:
    """A reveal.json that differs from the one the log recorded is not used."""
    shutil.copytree(case.reveal_dir, tmp_path / "r")
    manifest = json.loads((tmp_path / "r" / "reveal.json").read_text())
    manifest["approver"] = "mallory"
    (tmp_path / "r" / "reveal.json").write_text(json.dumps(manifest))
    with case.open() as ws:
        alice = login(ws, "alice", PASS["alice"])
        data = build_report_data(ws, case.case_id, alice, [tmp_path / "r"])
        assert "not recorded in this workspace's log" in data.exhibits_note
        shutil.rmtree(case.reveal_dir.parent / "reveal_backup", ignore_errors=True)
        shutil.copytree(case.reveal_dir, case.reveal_dir.parent / "reveal_backup")
        (case.reveal_dir / "reveal.json").write_text(json.dumps(manifest))
        try:
            with pytest.raises(VerificationError, match="differs from the reveal recorded"):
                build_report_data(ws, case.case_id, alice)
        finally:
            shutil.rmtree(case.reveal_dir)
            shutil.copytree(case.reveal_dir.parent / "reveal_backup", case.reveal_dir)


def test_unwritable_output_leaves_no_file_and_no_log_row(case: Case, tmp_path: Path) -> None:
    with case.open() as ws:
        alice = login(ws, "alice", PASS["alice"])
        data = build_report_data(ws, case.empty_case_id, alice)
        before = ws.audit.size()
        with pytest.raises(InputError, match="does not exist"):
            write_report(ws, alice, data, tmp_path / "missing" / "r.pdf")
        assert ws.audit.size() == before


def test_cli_report(case: Case, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("FORENSICS_PASSPHRASE", PASS["alice"])
    ws = str(case.root / "ws")
    out = tmp_path / "cli.pdf"
    code = main(["--workspace", ws, "report", case.case_id, "--out", str(out), "--as", "alice",
                 "--max-exhibits", "1"])  # fmt: skip
    assert code == 0 and out.is_file()
    assert "1 exhibit(s)" in capsys.readouterr().out
    assert main(["--workspace", ws, "report", "NOPE", "--out", str(out), "--as", "alice"]) == 1
    assert "no case 'NOPE'" in capsys.readouterr().err
    args = ["--workspace", ws, "report", case.case_id, "--out", str(out), "--as", "alice"]
    assert main([*args, "--frames", "9-2"]) == 1
    assert "bad frame range" in capsys.readouterr().err
