"""CenterFace detector on real images: a portrait, the surveillance sample, odd inputs."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

from forensics_app.core.detect import (
    Box,
    CenterFaceDetector,
    FaceDetector,
    centerface_path,
    default_detector,
    shape_free_onnx,
)
from forensics_app.errors import DetectionError, InputError


@pytest.fixture(scope="module")
def detector() -> CenterFaceDetector:
    return default_detector(upscale=2.0)


@pytest.fixture(scope="module")
def astronaut_bgr() -> np.ndarray:
    return cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)


def _sample_frame(path: Path, index: int) -> np.ndarray:
    cap = cv2.VideoCapture(str(path))
    try:
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = cap.read()
    finally:
        cap.release()
    assert ok
    return frame


def test_model_is_the_vendored_file_its_card_pins() -> None:
    path = centerface_path()
    assert path.name == "centerface.onnx" and path.parent.name == "centerface"
    assert path.stat().st_size > 1_000_000


@pytest.mark.parametrize("backend", ["onnxruntime", "cv2"])
def test_finds_the_astronauts_face(astronaut_bgr: np.ndarray, backend: str) -> None:
    det = CenterFaceDetector(upscale=1.0, backend=backend)
    assert det.backend == backend
    assert isinstance(det, FaceDetector)
    boxes = det.detect(astronaut_bgr)
    assert len(boxes) == 1
    face = boxes[0]
    # Eileen Collins' face in the 512x512 image spans roughly x 175..265, y 55..180.
    assert face.iou(Box(175, 55, 90, 125)) > 0.6
    assert face.score > 0.8


def test_backends_agree(astronaut_bgr: np.ndarray) -> None:
    a = CenterFaceDetector(upscale=1.0, backend="onnxruntime").detect(astronaut_bgr)
    b = CenterFaceDetector(upscale=1.0, backend="cv2").detect(astronaut_bgr)
    assert [x.as_tuple() for x in a] == [x.as_tuple() for x in b]


def test_tiling_matches_a_single_pass(astronaut_bgr: np.ndarray) -> None:
    whole = CenterFaceDetector(upscale=2.0).detect(astronaut_bgr)
    tiled = CenterFaceDetector(upscale=2.0, tile=640, overlap=300).detect(astronaut_bgr)
    assert len(whole) == len(tiled) == 1
    assert whole[0].iou(tiled[0]) > 0.9


def test_heads_mode_returns_larger_boxes(astronaut_bgr: np.ndarray) -> None:
    face = CenterFaceDetector(upscale=1.0).detect(astronaut_bgr)[0]
    head = CenterFaceDetector(upscale=1.0, heads=True).detect(astronaut_bgr)[0]
    assert head.area > 1.8 * face.area
    assert head.y < face.y


def test_finds_heads_in_the_surveillance_sample(
    detector: CenterFaceDetector, sample_video: Path
) -> None:
    frame = _sample_frame(sample_video, 0)
    boxes = detector.detect(frame)
    assert len(boxes) >= 1
    for box in boxes:
        assert 0 <= box.x and box.x2 <= frame.shape[1] and 0 <= box.y and box.y2 <= frame.shape[0]
        assert 3 <= box.w <= 40 and 3 <= box.h <= 40  # heads here are 10-25 px, faces smaller


def test_upscaling_is_what_finds_tiny_heads(sample_video: Path) -> None:
    frame = _sample_frame(sample_video, 0)
    assert len(CenterFaceDetector(upscale=1.0).detect(frame)) < len(
        CenterFaceDetector(upscale=2.0).detect(frame)
    )


def test_blank_empty_grey_and_odd_inputs(
    detector: CenterFaceDetector, astronaut_bgr: np.ndarray
) -> None:
    assert detector.detect(np.zeros((0, 0, 3), np.uint8)) == []
    assert detector.detect(np.zeros((1, 1, 3), np.uint8)) == []
    assert detector.detect(np.full((37, 53, 3), 128, np.uint8)) == []
    grey = cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2GRAY)
    one = CenterFaceDetector(upscale=1.0)
    assert len(one.detect(grey)) == 1
    assert len(one.detect(grey[:, :, None])) == 1
    bgra = cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2BGRA)
    assert len(one.detect(bgra)) == 1
    odd = astronaut_bgr[3:500, 7:431]  # sides not multiples of 32
    boxes = one.detect(odd)
    assert len(boxes) == 1 and boxes[0].iou(Box(175 - 7, 55 - 3, 90, 125)) > 0.6


@pytest.mark.parametrize(
    "bad",
    [np.zeros((10, 10, 3), np.float32), np.zeros((4, 4, 3, 2), np.uint8), [[0, 0]], None],
)
def test_bad_images_raise_input_error(detector: CenterFaceDetector, bad: object) -> None:
    with pytest.raises(InputError):
        detector.detect(bad)  # type: ignore[arg-type]


def test_bad_settings_and_missing_model(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        CenterFaceDetector(upscale=0)
    with pytest.raises(InputError):
        CenterFaceDetector(threshold=1.5)
    with pytest.raises(InputError):
        CenterFaceDetector(backend="tensorrt")  # type: ignore[arg-type]
    with pytest.raises(DetectionError, match="not found"):
        CenterFaceDetector(model_path=tmp_path / "nope.onnx")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x0a\xff\xff")
    with pytest.raises(DetectionError):
        CenterFaceDetector(model_path=broken, backend="onnxruntime")


def test_an_altered_or_missing_centerface_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from forensics_app.core import detect

    card = detect.centerface_card()
    folder = tmp_path / "centerface"
    folder.mkdir()
    (folder / card.name).write_text(card.read_text())
    data = bytearray((card.parent / "centerface.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte somewhere in the weights
    (folder / "centerface.onnx").write_bytes(bytes(data))
    monkeypatch.setattr(detect, "centerface_card", lambda: folder / card.name)
    with pytest.raises(DetectionError, match="was altered"):
        centerface_path()
    (folder / "centerface.onnx").unlink()
    with pytest.raises(DetectionError, match="face detector model not found"):
        centerface_path()


def test_shape_free_model_keeps_weights() -> None:
    raw = centerface_path().read_bytes()
    free = shape_free_onnx(raw)
    assert 0.95 * len(raw) < len(free) < len(raw)  # only declarations were removed
    assert shape_free_onnx(free) == free  # idempotent
    with pytest.raises(DetectionError, match="truncated"):
        shape_free_onnx(raw[: len(raw) // 2])


def test_truncated_model_file_is_refused(tmp_path: Path) -> None:
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(centerface_path().read_bytes()[:100_000])
    with pytest.raises(DetectionError):
        CenterFaceDetector(model_path=cut)  # auto: onnxruntime fails, then OpenCV fails
