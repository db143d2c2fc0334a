"""The PDF renderer on its own: text, page stamps, fonts, metadata, exhibit images."""

from __future__ import annotations

import io
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from pypdf import PdfReader

from forensics_app.core.report.environment import (
    collect_tools,
    load_model_card,
    model_info_from_card,
)
from forensics_app.core.report.exhibits import (
    encode_png,
    enlarge,
    image_ref,
    numbered_frame,
    png_size,
)
from forensics_app.core.report.model import (
    AuditExcerpt,
    AuditRow,
    EvidenceItem,
    Exhibit,
    FacePair,
    Person,
    ProcessingStep,
    ReportData,
    UnlockRecord,
    new_report_id,
)
from forensics_app.core.report.pdfimage import check_roundtrip, png_stream
from forensics_app.core.report.render import render_pdf, write_pdf
from forensics_app.core.report.texts import METHOD_TEXT, limitations, reconstruction_figures
from forensics_app.errors import InputError

EVIDENCE_SHA = "1f" * 32
MODEL_SHA = "a7" * 32
GRANT = "GRT-0123456789abcdef"


def _frames(sample_video: Path, n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(sample_video))
    frames = [cap.read()[1] for _ in range(n)]
    cap.release()
    return frames


def _exhibit(number: int, index: int, public: np.ndarray) -> Exhibit:
    recon = public.copy()
    faces = []
    for k, (x, y, w, h) in enumerate([(380, 200, 16, 20), (530, 160, 14, 18)]):
        recon[y : y + h, x : x + w] = cv2.GaussianBlur(recon[y : y + h, x : x + w], (5, 5), 0)
        stem = f"frame_{index:06d}_face_{k}"
        faces.append(
            FacePair(
                (x, y, w, h),
                image_ref(f"{stem}_public.png", encode_png(public[y : y + h, x : x + w])),
                image_ref(f"{stem}_reconstructed.png", encode_png(recon[y : y + h, x : x + w])),
            )
        )
    return Exhibit(
        number, index, index / 10, EVIDENCE_SHA, GRANT,
        image_ref(f"frame_{index:06d}_public.png", encode_png(public)),
        image_ref(f"frame_{index:06d}_reconstructed.png", encode_png(recon)), faces,
    )  # fmt: skip


def image_sizes(reader: PdfReader) -> list[tuple[int, int]]:
    """(width, height) of every image XObject placed on a page, without decoding it."""
    return [
        (int(o.get_object()["/Width"]), int(o.get_object()["/Height"]))
        for page in reader.pages
        for o in page["/Resources"].get("/XObject", {}).values()
    ]


def make_data(exhibits: list[Exhibit], reason: str = "identify the suspect") -> ReportData:
    model = model_info_from_card(
        {"metrics": {"psnr_db": 24.1, "identity_error": 0.12}}, sha256=MODEL_SHA
    )
    return ReportData(
        report_id=new_report_id(), created_at="2026-11-29 07:30:00 UTC",
        lab="Test Lab", agency="Test Police", case_id="CASE-PDF-1", case_title="Bus stop",
        requester=Person("alice", "analyst"), examiner=Person("alice", "analyst"),
        evidence=[EvidenceItem("public.mkv", 1234, EVIDENCE_SHA, "2026-11-29 07:00:00 UTC",
                               "alice", "file /x/public.mkv", {"codec": "ffv1"})],
        tools=collect_tools(), model=model,
        steps=[ProcessingStep("Evidence received", "2026-11-29 07:00:00 UTC", "alice", {"k": "v"})],
        unlocks=[UnlockRecord("REQ-1", "alice", "2026-11-29 07:01:00 UTC", reason,
                              "warrant <42> & co", EVIDENCE_SHA, "0–9", "approved", GRANT, "bob",
                              "2026-11-29 07:02:00 UTC", "2026-11-30 07:02:00 UTC")],
        exhibits=exhibits,
        audit=AuditExcerpt([AuditRow(1, "2026-11-29T07:00:00", "alice", "analyst", "collection",
                                     "public.mkv", "success", "ab" * 32)],
                           1, "cd" * 32, "2026-11-29 07:03:00 UTC", "log key 1", True),
        method=METHOD_TEXT, limitations=limitations(model),
    )  # fmt: skip


@pytest.fixture(scope="module")
def pdf_with_exhibits(sample_video: Path) -> tuple[ReportData, bytes]:
    frames = _frames(sample_video, 3)
    data = make_data([_exhibit(i + 1, i, f) for i, f in enumerate(frames)])
    return data, render_pdf(data)


def test_text_names_case_hashes_grant_and_report_id(pdf_with_exhibits) -> None:
    data, pdf = pdf_with_exhibits
    reader = PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    for needle in (data.case_id, EVIDENCE_SHA, MODEL_SHA, GRANT, data.report_id,
                   "warrant <42> & co", "not an optical record", "Proença"):  # fmt: skip
        assert needle in text, needle
    for ex in data.exhibits:
        assert ex.public.sha256 in text and ex.reconstructed.sha256 in text


def test_every_page_carries_report_id_and_page_x_of_y(pdf_with_exhibits) -> None:
    data, pdf = pdf_with_exhibits
    reader = PdfReader(io.BytesIO(pdf))
    total = len(reader.pages)
    assert total >= 3
    for number, page in enumerate(reader.pages, 1):
        text = page.extract_text()
        assert f"Report {data.report_id}" in text
        assert f"Page {number} / {total}" in text


def test_fonts_embedded_and_metadata_set(pdf_with_exhibits) -> None:
    data, pdf = pdf_with_exhibits
    reader = PdfReader(io.BytesIO(pdf))
    fonts = {}
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            fonts[font["/BaseFont"]] = "/FontFile2" in font["/FontDescriptor"]
    assert fonts and all(fonts.values()), fonts
    assert all("DejaVu" in name for name in fonts)
    meta = reader.metadata
    assert data.case_id in meta.title and meta.author == "alice"
    assert data.report_id in meta.subject and "UU-Net Forensics" in meta.creator
    assert meta.creation_date is not None


def test_exhibit_images_are_embedded_at_full_size(pdf_with_exhibits) -> None:
    data, pdf = pdf_with_exhibits
    sizes = image_sizes(PdfReader(io.BytesIO(pdf)))
    assert sizes.count((768, 576)) == 2 * len(data.exhibits)
    # enlarged crops: integer multiples of the 16x20 and 14x18 boxes
    assert (16 * 6, 20 * 6) in sizes and (14 * 7, 18 * 7) in sizes


def test_no_exhibits_says_so_and_missing_card_is_stated(tmp_path: Path) -> None:
    data = make_data([])
    data.model = load_model_card(tmp_path / "absent.json", sha256=MODEL_SHA)
    data.limitations = limitations(data.model)
    sha = write_pdf(data, tmp_path / "r.pdf")
    assert re.fullmatch(r"[0-9a-f]{64}", sha)
    text = "\n".join(p.extract_text() for p in PdfReader(tmp_path / "r.pdf").pages)
    assert "there are no exhibits" in text
    assert "No model card was available" in text and "not quantified" in text


def test_write_pdf_to_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        write_pdf(make_data([]), tmp_path / "nope" / "r.pdf")


def test_model_card_figures_and_mismatch_note() -> None:
    card = {"sha256": "11" * 32, "metrics": {"box24": {"psnr": 20.123456}}, "data": {"n": 5}}
    info = model_info_from_card(card, sha256="22" * 32)
    assert ("box24.psnr", "20.12") in info.validation
    assert ("data.n", "5") in info.training
    assert "differs" in info.note
    assert model_info_from_card(card).sha256 == "11" * 32


def test_png_helpers(sample_video: Path) -> None:
    crop = _frames(sample_video, 1)[0][200:220, 380:396]
    png = encode_png(crop)
    assert png_size(png) == (16, 20)
    big = cv2.imdecode(np.frombuffer(enlarge(png, 96), np.uint8), cv2.IMREAD_COLOR)
    assert big.shape == (120, 96, 3)
    assert np.array_equal(big[::6, ::6], crop)  # pixel replication adds no detail
    with pytest.raises(InputError, match="not a PNG"):
        png_size(b"GIF89a" + b"\0" * 30)


def test_embedded_pixels_are_exactly_the_png_pixels(pdf_with_exhibits) -> None:
    """PNG data is passed through (Flate + PNG predictor): the PDF shows the PNG's pixels
    (the whole frames as drawn: the stored pixels with numbered outlines outside each box)."""
    data, pdf = pdf_with_exhibits
    frames = [
        obj.get_object()
        for page in PdfReader(io.BytesIO(pdf)).pages
        for obj in page["/Resources"].get("/XObject", {}).values()
        if obj.get_object()["/Width"] == 768
    ][:2]  # un-predicting in pure Python is slow: two full frames are enough
    assert len(frames) == 2
    expected = {
        cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1].tobytes()
        for ex in data.exhibits
        for png in (numbered_frame(ex, False), numbered_frame(ex, True))
    }
    for obj in frames:
        assert obj["/DecodeParms"]["/Predictor"] == 15
        assert obj.get_data() in expected  # pypdf inflates and un-predicts: exact RGB rows


def test_png_passthrough_only_for_plain_8bit_png() -> None:
    rgb = np.random.default_rng(0).integers(0, 255, (20, 30, 3), np.uint8)
    assert check_roundtrip(encode_png(rgb))
    assert png_stream(encode_png(rgb))[:4] == (30, 20, "DeviceRGB", 3)
    deep = cv2.imencode(".png", rgb.astype(np.uint16) * 257)[1].tobytes()
    assert png_stream(deep) is None  # 16-bit: reportlab's own path
    assert png_stream(b"not a png") is None


def test_limitations_quote_reconstruction_error_not_deidentification_figures() -> None:
    card = {
        "metrics": {
            "with_channel": {"a_vs_x": {"psnr": 30.0}, "box24": {"psnr": 25.5, "ssim": 0.9}},
            "without_channel": {"box24": {"psnr": 40.0}},
            "speed": {"faces_per_s": 500.0},
        }
    }
    model = model_info_from_card(card, sha256=MODEL_SHA)
    assert reconstruction_figures(model.validation) == [
        ("with_channel.box24.psnr", "25.5"),
        ("with_channel.box24.ssim", "0.9"),
    ]
    text = limitations(model)[-1]
    assert "with_channel.box24.psnr = 25.5" in text and "a_vs_x" not in text
