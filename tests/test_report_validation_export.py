"""Issue #15 items 2 and 5: the model's worth in words; export reuses a report; the
verifier explains itself, compares key ids and lists every problem."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from test_report_fixtures import PASS, shared_case

from forensics_app import MODELS_DIR
from forensics_app.cli import main
from forensics_app.core.custody import login
from forensics_app.core.report.build import build_report_data, write_report
from forensics_app.core.report.environment import model_info_from_card
from forensics_app.core.report.export import export_case
from forensics_app.core.report.texts import limitations
from forensics_app.core.report.validation import assessment, is_demonstrator
from forensics_app.core.report.verify_export import verify_export
from forensics_app.errors import InputError, VerificationError


def test_the_shipped_card_is_called_a_demonstrator_in_plain_words() -> None:
    card = json.loads((MODELS_DIR / "ud.json").read_text())
    text = " ".join(assessment(card))
    if is_demonstrator(card):  # the shipped card's limitations say NOT FIT FOR DEPLOYMENT
        assert text.startswith("This model is a demonstrator.")
        info = model_info_from_card(card, sha256=str(card.get("sha256", "")))
        assert info.demonstrator and "demonstrator" in limitations(info)[0]
    assert "What the figures mean. PSNR" in text and "SSIM" in text
    # the end-to-end figure on the real clip is read in words, not as a raw key
    assert "heads of a real surveillance clip" in text and "clip_h264" not in text


def test_every_card_field_may_be_missing_or_odd() -> None:
    assert "unvalidated" in assessment(None)[0]
    bare = assessment({"role": "decoder"})
    assert "states no limitations" in bare[0] and "no measured image quality" in bare[1]
    odd = {
        "limitations": ["Demonstrator only.", 3],
        "metrics": {"psnr_db_box24": 21.5, "x": {"y": {"psnr": "n/a"}}, "leak": {"auc": 0.7}},
        "lineage": "from scratch",
        "data": {"train_subjects": 12, "licence": "CC-BY"},
    }
    text = " ".join(assessment(odd))
    assert is_demonstrator(odd) and "This model is a demonstrator" in text
    assert "PSNR 21.5 dB" in text and "AUC 0.70" in text
    assert "from scratch" in text and "12 people" in text and "CC-BY" in text
    quiet = assessment(
        {"limitations": "Faces under 12 px fail.", "metrics": {"none": {"ssim": 0.5}}}
    )
    assert quiet[0] == "The model card states these limitations: Faces under 12 px fail."
    assert "SSIM 0.50" in quiet[1] and "does not say how many" in quiet[1]


def test_each_auc_is_read_by_what_it_compares() -> None:
    card = {
        "limitations": "Demonstrator.",
        "metrics": {"sface_auc": {"x↔a": 0.51, "x↔r": 0.76, "x↔x": 0.94}, "temporal_auc": 0.99},
    }
    text = " ".join(assessment(card))
    assert "AUC 0.51" in text and "public video reveals nothing" in text
    assert "AUC 0.76" in text and "reconstruction keeps who the person is" in text
    assert "AUC 0.94" in text and "how well this recogniser works at all" in text
    assert "AUC 0.99" in text and "one track keeps one substitute identity" in text


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    return shared_case(tmp_path_factory)


def test_export_reuses_the_report_just_made(case, tmp_path: Path) -> None:
    with case.open() as ws:
        alice = login(ws, "alice", PASS["alice"])
        data = build_report_data(ws, case.case_id, alice, max_exhibits=2)
        sha = write_report(ws, alice, data, tmp_path / "r.pdf")
        rows = ws.audit.size()
        result = export_case(ws, alice, case.case_id, tmp_path / "b.zip", "Court",
                             report_id=data.report_id)  # fmt: skip
        assert ws.audit.size() == rows + 1  # only the export's row: no second report
    with zipfile.ZipFile(result.path) as z:
        assert z.read("report/report.pdf") == (tmp_path / "r.pdf").read_bytes()
        manifest = json.loads(z.read("manifest.json"))
    assert manifest["report"] == {"report_id": data.report_id, "path": "report/report.pdf",
                                  "sha256": sha, "reused": True}  # fmt: skip
    assert result.report_id == data.report_id
    assert verify_export(result.path).report_id == data.report_id


def test_a_reused_report_must_be_logged_unaltered_and_of_the_case(case, tmp_path: Path) -> None:
    with case.open() as ws:
        alice = login(ws, "alice", PASS["alice"])
        data = build_report_data(ws, case.case_id, alice, max_exhibits=1)
        write_report(ws, alice, data, tmp_path / "r.pdf")
        stored = Path(ws.root) / "reports" / f"{data.report_id}.pdf"
        assert stored.stat().st_mode & 0o077 == 0
        with pytest.raises(InputError, match="belongs to case CASE-7, not CASE-8"):
            export_case(ws, alice, case.empty_case_id, tmp_path / "x.zip", "C",
                        report_id=data.report_id)  # fmt: skip
        with pytest.raises(InputError, match="no report RPT-20000101-000000-00000000"):
            export_case(ws, alice, case.case_id, tmp_path / "x.zip", "C",
                        report_id="RPT-20000101-000000-00000000")  # fmt: skip
        stored.write_bytes(stored.read_bytes() + b"%")  # tampered: both copies
        (tmp_path / "r.pdf").write_bytes(b"%PDF-1.4 not it")
        with pytest.raises(VerificationError, match="differs from the PDF the log recorded"):
            export_case(ws, alice, case.case_id, tmp_path / "x.zip", "C",
                        report_id=data.report_id)  # fmt: skip
        stored.unlink()
        (tmp_path / "r.pdf").unlink()
        with pytest.raises(InputError, match="its PDF is neither in the workspace"):
            export_case(ws, alice, case.case_id, tmp_path / "x.zip", "C",
                        report_id=data.report_id)  # fmt: skip
    assert not (tmp_path / "x.zip").exists()


def test_verify_export_explains_keys_and_lists_every_problem(case, tmp_path, capsys) -> None:
    with case.open() as ws:
        alice = login(ws, "alice", PASS["alice"])
        bundle = export_case(ws, alice, case.case_id, tmp_path / "b.zip", "Court").path
        key = alice.user.key_id
        log_key = ws.audit.key_id
    assert main(["verify-export", str(bundle), "--expect-key", key,
                 "--expect-log-key", log_key]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "VERIFIED" in out and "a key id is the short fingerprint" in out
    assert f"key id {key}  MATCHES" in out and f"key id {log_key}  MATCHES" in out
    assert main(["verify-export", str(bundle)]) == 0
    assert "NOT compared: pass --expect-key KEYID" in capsys.readouterr().out
    assert main(["verify-export", str(bundle), "--expect-key", "0123456789abcdef"]) == 1
    assert "not the key id you expected (0123456789abcdef)" in capsys.readouterr().err
    with zipfile.ZipFile(bundle) as z:  # three independent faults in one bundle
        files = {n: z.read(n) for n in z.namelist()}
    top = f"reveals/1_{case.grant_id}/"
    files.pop(f"{top}frames/frame_000001_public.png")
    blob = bytearray(files[f"{top}faces/frame_000002_face_1_reconstructed.png"])
    blob[200] ^= 0xFF
    files[f"{top}faces/frame_000002_face_1_reconstructed.png"] = bytes(blob)
    files["frames/added.png"] = b"x"
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    with pytest.raises(VerificationError) as caught:
        verify_export(tmp_path / "bad.zip")
    problems = caught.value.problems
    assert "file not listed in the manifest (added): frames/added.png" in problems
    assert (
        f"file listed in the manifest is missing: {top}frames/frame_000001_public.png" in problems
    )
    assert any("face_1_reconstructed.png does not match its sha256" in p for p in problems)
    assert str(caught.value).startswith(f"bad.zip FAILED verification: {len(problems)} problem")
