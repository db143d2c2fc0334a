"""Issue #15 item 1: every exported reconstruction says, in its own pixels, what it is.

Uses the shared real case (real stego, real sealed U_d, real reveal): each marked file is
opened on its own, as a recipient would, and its band, its enlargement and its PNG text
are checked against the unmarked evidence copy whose sha256 reveal.json lists.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_report_fixtures import PASS, shared_case

from forensics_app.core.custody import login
from forensics_app.core.marking import (
    FACE_MIN_SIDE,
    FACE_MIN_WIDTH,
    MARK_RGB,
    STATEMENT,
    TEXT_KEY,
    Marking,
    face_scale,
    mark_face,
    png_texts,
)
from forensics_app.core.report.export import export_case
from forensics_app.core.report.sources import exhibits_from_reveal, load_reveal
from forensics_app.core.report.verify_export import verify_export
from forensics_app.errors import VerificationError

RED_BGR = np.array(MARK_RGB[::-1], np.uint8)


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    return shared_case(tmp_path_factory)


def _manifest(case) -> dict:
    return json.loads((case.reveal_dir / "reveal.json").read_text())


def _entries(case, kind: str) -> list[dict]:
    return [e for e in _manifest(case)["files"] if e["kind"] == kind]


def _image(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None, path
    return image


def test_a_marked_face_opened_alone_is_enlarged_and_captioned(case) -> None:
    manifest = _manifest(case)
    faces = _entries(case, "face_reconstructed")
    assert len(faces) == 12
    for entry in faces:
        data = (case.reveal_dir / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        texts = png_texts(data)  # the file says what it is, without reveal.json
        assert texts["Title"] == STATEMENT
        told = json.loads(texts[TEXT_KEY])
        assert told["marked"] is True and told["case_id"] == case.case_id
        assert told["grant_id"] == case.grant_id and told["face"] == entry["face"]
        assert case.model_sha256.startswith(told["model_sha256"][:12])
        assert "enlarged ×" in texts["Description"] and "nearest neighbour" in texts["Description"]
        marked = _image(case.reveal_dir / entry["file"])
        x, y, w, h = entry["marking"]["image_box"]
        scale, band = entry["marking"]["scale"], entry["marking"]["band_height"]
        bw, bh = entry["box"][2], entry["box"][3]
        assert (w, h) == (bw * scale, bh * scale) and min(w, h) >= FACE_MIN_SIDE
        assert marked.shape[1] >= FACE_MIN_WIDTH > bw and marked.shape[0] == y + h + 4 + band
        assert band >= 60  # title row and at least four lines of facts
        # the face region is the evidence copy enlarged by pixel replication, nothing else
        plain = [
            e
            for e in manifest["files"]
            if e["kind"] == "face_reconstructed_unmarked"
            and (e["frame"], e["face"]) == (entry["frame"], entry["face"])
        ][0]
        unmarked = _image(case.reveal_dir / plain["file"])
        assert unmarked.shape[:2] == (bh, bw)
        assert png_texts((case.reveal_dir / plain["file"]).read_bytes())["Title"].startswith(
            STATEMENT
        )
        big = cv2.resize(unmarked, (w, h), interpolation=cv2.INTER_NEAREST)
        assert np.array_equal(marked[y : y + h, x : x + w], big)
        # the band: a dark red title row, then dark text on a pale ground
        strip = marked[y + h + 4 :]
        assert strip.shape[0] == band
        assert (strip[2:20] == RED_BGR).all(axis=2).mean() > 0.5
        assert (strip[30:] < 80).all(axis=2).sum() > 200  # glyph pixels of the facts
        assert np.all(marked[y - 4 : y, x - 4 : x + w + 4] == RED_BGR)  # the frame


def test_a_marked_frame_keeps_its_geometry_and_carries_tag_and_band(case) -> None:
    for entry in _entries(case, "reconstructed"):
        marked = _image(case.reveal_dir / entry["file"])
        plain = _image(case.reveal_dir / "unmarked" / entry["file"])
        public = _image(case.reveal_dir / entry["file"].replace("reconstructed", "public"))
        band = entry["marking"]["band_height"]
        assert plain.shape == public.shape == (576, 768, 3)
        assert marked.shape == (576 + band, 768, 3) and band >= 40
        assert entry["marking"]["scale"] == 1 and entry["marking"]["image_box"] == [0, 0, 768, 576]
        same = np.all(marked[:576] == plain, axis=2)
        assert not same[:18, :100].any() or (marked[:18, :100] == RED_BGR).all(axis=2).mean() > 0.5
        assert same[40:].all()  # below the tag the model output is untouched, pixel for pixel
        assert (marked[576:] != 255).any() and (marked[576 : 576 + 20] == RED_BGR).all(axis=2).any()
        told = json.loads(png_texts((case.reveal_dir / entry["file"]).read_bytes())[TEXT_KEY])
        assert told["frame"] == entry["frame"] and told["statement"] == STATEMENT


def test_tiny_faces_get_a_larger_factor_and_the_band_fits() -> None:
    assert face_scale(10, 12) == 20 and face_scale(40, 48) == 5 and face_scale(300, 300) == 1
    face = np.full((12, 10, 3), 128, np.uint8)
    image = mark_face(face, Marking("C-1", 5, 0.5, "ab" * 32, "GRT-1", face=0, box=(1, 2, 10, 12)))
    assert image.scale == 20 and image.image_box[2:] == (200, 240)
    assert image.width == FACE_MIN_WIDTH and image.height == 240 + 8 + image.band_height


def test_a_stripped_marking_is_refused_by_report_and_verifier(case, tmp_path: Path) -> None:
    """Swapping a marked file for its unmarked copy is caught: in the reveal and the bundle."""
    copy = tmp_path / "reveal"
    shutil.copytree(case.reveal_dir, copy)
    name = "frame_000001_face_1_reconstructed.png"
    (copy / name).write_bytes((copy / "unmarked" / name).read_bytes())
    with pytest.raises(VerificationError, match=f"reveal file {name} was altered"):
        exhibits_from_reveal(load_reveal(copy), [1], 10.0)
    with case.open() as ws:
        alice = login(ws, "alice", PASS["alice"])
        bundle = export_case(ws, alice, case.case_id, tmp_path / "b.zip", "Court").path
    with zipfile.ZipFile(bundle) as z:
        files = {n: z.read(n) for n in z.namelist()}
    for view in (n for n in files if n.endswith("_side_by_side.png")):  # the court's view too
        image = cv2.imdecode(np.frombuffer(files[view], np.uint8), cv2.IMREAD_COLOR)
        assert image.shape[0] > 576 and (image[576:, 776:] == RED_BGR).all(axis=2).any()
    top = f"reveals/1_{case.grant_id}/"  # the reveal's own folder in the bundle
    assert f"{top}unmarked/{name}" in files and f"{top}faces/{name}" in files
    summary = verify_export(bundle)
    assert summary.unmarked == 4 + 12
    assert any("RECONSTRUCTION band" in line for line in summary.lines())
    files[f"{top}faces/{name}"] = files[f"{top}unmarked/{name}"]
    with zipfile.ZipFile(tmp_path / "stripped.zip", "w") as z:
        for n, blob in files.items():
            z.writestr(n, blob)
    with pytest.raises(VerificationError, match=f"faces/{name} is not the image its reveal"):
        verify_export(tmp_path / "stripped.zip")
