"""Box flags (issue #15 item 4) and one face numbering everywhere (item 3).

A box flagged "not a person" is one signed ``flag`` row; the report leaves its
reconstruction out and names it, the court export lists it in the signed manifest and the
README, and faces are numbered from 1 in reveal files, reveal.json, report and export.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_report_fixtures import PASS, build_case

from forensics_app.cli import main
from forensics_app.core.custody import login
from forensics_app.core.custody.flags import box_flags, flag_box, unflag_box
from forensics_app.core.report.build import build_report_data
from forensics_app.core.report.exhibits import FLAG_BGR, decode_png
from forensics_app.core.report.export import export_case
from forensics_app.core.report.render import render_pdf
from forensics_app.core.report.sources import face_number
from forensics_app.core.report.verify_export import verify_export
from forensics_app.errors import InputError


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """A 2-frame case of its own: flag rows must not leak into the shared report case."""
    return build_case(tmp_path_factory.mktemp("flags") / "case", frames=2)


def test_faces_are_numbered_from_one_in_files_and_reveal_json(case) -> None:
    manifest = json.loads((case.reveal_dir / "reveal.json").read_text())
    assert manifest["version"] == 3
    faces = sorted({e["face"] for e in manifest["files"] if e["face"] is not None})
    assert faces == [1, 2, 3]
    assert (case.reveal_dir / "frame_000001_face_1_reconstructed.png").is_file()
    assert not list(case.reveal_dir.glob("*_face_0_*"))
    marked = [e for e in manifest["files"] if e["kind"] == "face_reconstructed"]
    assert all(e["marking"]["face"] == e["face"] for e in marked)


def test_version_2_reveal_faces_read_one_based() -> None:
    """Old reveal.json files counted from 0: their faces are read as the GUI showed them."""
    assert face_number({"version": 2}, {"face": 0}) == 1
    assert face_number({"version": 1}, {"face": 2}) == 3
    assert face_number({"version": 3}, {"face": 1}) == 1


def test_flag_is_audited_and_honoured_by_report_and_export(case, tmp_path: Path) -> None:
    with case.open() as ws:
        alice = login(ws, "alice", PASS["alice"])
        before = ws.audit.size()
        flag = flag_box(ws, alice, case.case_id, case.evidence_sha256, 1, 2, " traffic  cone ",
                        box=(10, 20, 30, 40))  # fmt: skip
        assert flag.text() == "flagged: not a person (traffic cone)"
        row = list(ws.audit.entries(before + 1))[0]
        assert (row["action"], row["actor"], row["case_id"]) == ("flag", "alice", case.case_id)
        assert row["justification"] == "traffic cone"
        assert json.loads(row["details"])["face"] == 2
        ws.audit.verify()
        assert set(box_flags(ws, case.case_id)) == {(case.evidence_sha256, 1, 2)}

        data = build_report_data(ws, case.case_id, alice)
        ex = next(e for e in data.exhibits if e.frame_index == 1)
        assert [f.number for f in ex.faces] == [1, 2, 3]
        assert [f.flag for f in ex.faces] == [None, flag.text(), None]
        assert render_pdf(data).startswith(b"%PDF")

        result = export_case(ws, alice, case.case_id, tmp_path / "b.zip", "Court")
    with zipfile.ZipFile(result.path) as z:
        manifest = json.loads(z.read("manifest.json"))
        readme = z.read("README.txt").decode()
        names = set(z.namelist())
    assert [(f["frame"], f["face"], f["flag"]) for f in manifest["flagged_boxes"]] == [
        (1, 2, "flagged: not a person (traffic cone)")
    ]
    assert "frame 1 face 2: flagged: not a person (traffic cone)" in readme
    assert f"reveals/1_{case.grant_id}/faces/frame_000001_face_1_public.png" in names
    assert not any("_face_0_" in n for n in names)
    verify_export(result.path)  # the flag does not break the bundle's checks


def test_flag_refuses_bad_input_and_can_be_withdrawn(case) -> None:
    with case.open() as ws:
        alice = login(ws, "alice", PASS["alice"])
        sha = case.evidence_sha256
        with pytest.raises(InputError, match="needs a reason"):
            flag_box(ws, alice, case.case_id, sha, 0, 1, "  ")
        with pytest.raises(InputError, match="face number"):
            flag_box(ws, alice, case.case_id, sha, 0, 0, "sign")
        with pytest.raises(InputError, match="no evidence"):
            flag_box(ws, alice, case.case_id, "0" * 64, 0, 1, "sign")
        with pytest.raises(InputError, match="four numbers"):
            flag_box(ws, alice, case.case_id, sha, 0, 1, "sign", box=(1, 2, 3))
        flag_box(ws, alice, case.case_id, sha, 0, 3, "a road sign")
        assert (sha, 0, 3) in box_flags(ws, case.case_id)
        unflag_box(ws, alice, case.case_id, sha, 0, 3, "it is a person after all")
        assert (sha, 0, 3) not in box_flags(ws, case.case_id)


def test_cli_flag(case, monkeypatch, capsys) -> None:
    monkeypatch.setenv("FORENSICS_PASSPHRASE", PASS["alice"])
    argv = ["--workspace", str(case.root / "ws"), "flag", case.case_id, "--evidence",
            case.evidence_sha256, "--frame", "0", "--face", "1", "--reason", "a cone",
            "--as", "alice"]  # fmt: skip
    assert main(argv) == 0
    assert "frame 0 face 1: flagged: not a person (a cone)" in capsys.readouterr().out
    with case.open() as ws:
        assert box_flags(ws, case.case_id)[(case.evidence_sha256, 0, 1)].by == "alice"
    with pytest.raises(SystemExit):  # no --reason: argparse refuses
        main([*argv[:-4], "--as", "alice"])


def _pdf_images(pdf: bytes, folder: Path) -> list[np.ndarray]:
    """Every image embedded in ``pdf``, decoded by poppler's pdfimages (as a reader sees it)."""
    (folder / "r.pdf").write_bytes(pdf)
    subprocess.run(["pdfimages", "-png", str(folder / "r.pdf"), str(folder / "img")], check=True)
    return [cv2.imread(str(p)) for p in sorted(folder.glob("img-*.png"))]


@pytest.mark.skipif(shutil.which("pdfimages") is None, reason="needs poppler's pdfimages")
def test_flagged_box_shows_public_pixels_in_every_whole_frame(tmp_path: Path) -> None:
    """Found on the demo: the exhibit said face 5's reconstruction was left out, but the
    reconstructed whole frame in the report (and the export's side-by-side view) still
    showed it restored. The pixels a reader sees in the flagged box are now the public ones."""
    case = build_case(tmp_path / "case", frames=1)
    with case.open() as ws:
        alice = login(ws, "alice", PASS["alice"])
        flag_box(ws, alice, case.case_id, case.evidence_sha256, 0, 2, "a traffic cone")
        data = build_report_data(ws, case.case_id, alice)
        pdf = render_pdf(data)
        bundle = export_case(ws, alice, case.case_id, tmp_path / "b.zip", "Court").path
    (ex,) = data.exhibits
    public, recon = decode_png(ex.public.png), decode_png(ex.reconstructed.png)
    flagged, kept = ex.faces[1], ex.faces[0]
    assert flagged.flag and not kept.flag

    def inside(image: np.ndarray, box: tuple[int, int, int, int], dx: int = 0) -> np.ndarray:
        x, y, w, h = box
        return image[y : y + h, dx + x : dx + x + w]

    assert not np.array_equal(inside(recon, flagged.box), inside(public, flagged.box))
    shown = [im for im in _pdf_images(pdf, tmp_path) if im.shape == recon.shape]
    assert len(shown) == 1  # the reconstructed whole frame as the report draws it
    assert np.array_equal(inside(shown[0], flagged.box), inside(public, flagged.box))
    assert np.array_equal(inside(shown[0], kept.box), inside(recon, kept.box))
    x, y, w, h = flagged.box
    assert tuple(shown[0][y + h // 2, x - 3]) == FLAG_BGR  # outlined in magenta

    with zipfile.ZipFile(bundle) as z:
        view_png = z.read(f"reveals/1_{case.grant_id}/frames/frame_000000_side_by_side.png")
    view = decode_png(view_png)
    right = public.shape[1] + 8
    assert np.array_equal(inside(view, flagged.box, right), inside(public, flagged.box))
    assert np.array_equal(inside(view, kept.box, right), inside(recon, kept.box))
    assert tuple(view[y + h // 2, right + x - 3]) == FLAG_BGR
