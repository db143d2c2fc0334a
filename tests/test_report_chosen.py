"""Exhibits are chosen, not sampled (issue #15 item 3): ``report --faces FRAME:FACE,...``,
and every exhibit's whole frames carry numbered boxes keyed to the enlarged pairs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_report_fixtures import PASS, Case, build_case

from forensics_app.cli import main
from forensics_app.commands.reports import parse_faces
from forensics_app.core.custody import login
from forensics_app.core.report.build import build_report_data
from forensics_app.core.report.exhibits import BOX_BGR, decode_png
from forensics_app.core.report.render import render_pdf
from forensics_app.errors import InputError


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Case:
    return build_case(tmp_path_factory.mktemp("chosen") / "case", frames=3)


def test_parse_faces() -> None:
    assert parse_faces("2:1, 0:3,2:2") == ((2, 1), (0, 3), (2, 2))
    for bad in ("2", "a:1", "2:0", "-1:2", ""):
        with pytest.raises(InputError, match="FRAME:FACE"):
            parse_faces(bad)


def test_chosen_faces_make_the_exhibits(case) -> None:
    with case.open() as ws:
        alice = login(ws, "alice", PASS["alice"])
        data = build_report_data(ws, case.case_id, alice, faces=((2, 1), (0, 3), (2, 2)))
        with pytest.raises(InputError, match="frame 9 is in no reveal"):
            build_report_data(ws, case.case_id, alice, faces=((9, 1),))
        with pytest.raises(InputError, match="frame 0 has no face 7"):
            build_report_data(ws, case.case_id, alice, faces=((0, 7),))
    assert [(e.number, e.frame_index, e.chosen) for e in data.exhibits] == [
        (1, 0, (3,)),
        (2, 2, (1, 2)),
    ]
    assert "chosen by the examiner" in data.exhibits_note


def test_cli_report_faces(case, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("FORENSICS_PASSPHRASE", PASS["alice"])
    out = tmp_path / "r.pdf"
    argv = ["--workspace", str(case.root / "ws"), "report", case.case_id, "--out", str(out),
            "--as", "alice", "--faces", "1:2"]  # fmt: skip
    assert main(argv) == 0
    assert "1 exhibit(s)" in capsys.readouterr().out
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True).stdout
        assert "Exhibit 1 — frame 1" in text and "Exhibit 2" not in text
        assert "face 2: box" in text and "face 1: box" not in text


@pytest.mark.skipif(shutil.which("pdfimages") is None, reason="needs poppler's pdfimages")
def test_whole_frames_carry_numbered_boxes(case, tmp_path: Path) -> None:
    with case.open() as ws:
        alice = login(ws, "alice", PASS["alice"])
        data = build_report_data(ws, case.case_id, alice, faces=((1, 1),))
    (ex,) = data.exhibits
    (tmp_path / "r.pdf").write_bytes(render_pdf(data))
    subprocess.run(["pdfimages", "-png", str(tmp_path / "r.pdf"), str(tmp_path / "i")], check=True)
    images = [cv2.imread(str(p)) for p in sorted(tmp_path.glob("i-*.png"))]
    public = decode_png(ex.public.png)
    (drawn,) = [im for im in images if im.shape == public.shape]  # the public whole frame
    for face in ex.faces:  # every box outlined outside it, its pixels untouched
        x, y, w, h = face.box
        assert np.array_equal(drawn[y : y + h, x : x + w], public[y : y + h, x : x + w])
        assert tuple(drawn[y + h // 2, x - 2]) == BOX_BGR
        above = drawn[max(0, y - 16) : y - 3, x : x + 10]  # its number on a dark plate
        assert (above.max(axis=2) < 40).any()
