"""Embedding and extracting ROI messages in real frames, through real codecs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from stego_support import h264, jpeg, psnr, random_boxes, real_frames

from forensics_app.core.stego import RoiMessage, capacity, clip_boxes, embed, extract
from forensics_app.errors import StegoError

KEY = b"camera-3 key"


@pytest.fixture(scope="module")
def frames(sample_video: Path) -> list[np.ndarray]:
    """Twelve real surveillance frames at 640x480 (every 20th of the sample clip)."""
    return real_frames(sample_video, 12, step=20)


def _message(index: int, n_boxes: int, width: int = 640, height: int = 480) -> RoiMessage:
    rng = np.random.default_rng(1000 + index)
    return RoiMessage(3, index, random_boxes(rng, n_boxes, width, height))


@pytest.mark.parametrize("n_boxes", [0, 1, 8, 16])
def test_round_trip(frames: list[np.ndarray], n_boxes: int) -> None:
    for i, frame in enumerate(frames[:4]):
        message = _message(i, n_boxes)
        marked = embed(frame, message)
        assert marked.shape == frame.shape and marked.dtype == np.uint8
        assert marked is not frame and not np.array_equal(marked, frame)
        assert psnr(frame, marked) >= 40.0
        result = extract(marked)
        assert result.status == "ok", result.detail
        assert result.message == message


def test_round_trip_with_key(frames: list[np.ndarray]) -> None:
    message = _message(5, 8)
    marked = embed(frames[5], message, key=KEY)
    assert extract(marked, KEY).message == message
    assert extract(marked).status == "ok"  # readable without the key, flagged unverified
    wrong = extract(marked, b"not the camera key")
    assert wrong.status == "damaged" and wrong.message is None and "MAC" in wrong.detail
    unsigned = extract(embed(frames[5], message), KEY)
    assert unsigned.status == "damaged" and "no MAC" in unsigned.detail


def test_capacity() -> None:
    assert capacity(640, 480) >= 16
    assert capacity(1280, 720) > capacity(640, 480) > capacity(320, 240) > 0
    assert capacity(64, 64) == 0 and capacity(0, 0) == 0


def test_over_capacity_is_an_error(frames: list[np.ndarray]) -> None:
    limit = capacity(640, 480)
    message = _message(0, limit + 1)
    with pytest.raises(StegoError, match="capacity"):
        embed(frames[0], message)
    assert extract(embed(frames[0], _message(0, limit))).status == "ok"


def test_odd_size(sample_video: Path) -> None:
    frame = real_frames(sample_video, 1, (767, 575))[0]
    assert frame.shape == (575, 767, 3)
    message = _message(1, 8, 767, 575)
    marked = embed(frame, message)
    # The partial blocks of the last column and row are left as they were.
    assert np.array_equal(marked[:, 760:], frame[:, 760:])
    assert np.array_equal(marked[568:], frame[568:])
    assert extract(marked).message == message
    # Cutting into the partial edge blocks keeps the block grid, hence the message.
    assert extract(np.ascontiguousarray(marked[:570, :761])).message == message


@pytest.mark.parametrize("quality", [75, 50])
def test_jpeg(frames: list[np.ndarray], quality: int) -> None:
    for i, frame in enumerate(frames[:4]):
        message = _message(i, 8)
        result = extract(jpeg(embed(frame, message, KEY), quality), KEY)
        assert result.status == "ok", result.detail
        assert result.message == message


def test_h264_crf23(sample_video: Path) -> None:
    clip = real_frames(sample_video, 12)
    messages = [_message(i, 8) for i in range(len(clip))]
    decoded = h264([embed(f, m) for f, m in zip(clip, messages, strict=True)], crf=23)
    assert len(decoded) == len(clip)
    results = [extract(image) for image in decoded]
    assert [r.status for r in results] == ["ok"] * len(clip), [r.detail for r in results]
    assert [r.message for r in results] == messages


def test_h264_crf35_never_gives_wrong_boxes(sample_video: Path) -> None:
    """Past the design point most messages are lost, but each reads damaged, never wrong."""
    clip = real_frames(sample_video, 12)
    messages = [_message(i, 8) for i in range(len(clip))]
    decoded = h264([embed(f, m, KEY) for f, m in zip(clip, messages, strict=True)], crf=35)
    results = [extract(image, KEY) for image in decoded]
    assert any(r.status == "damaged" for r in results)
    for result, message in zip(results, messages, strict=True):
        assert result.message == (message if result.status == "ok" else None)


def test_clean_frames_read_none(frames: list[np.ndarray]) -> None:
    rng = np.random.default_rng(7)
    clean = list(frames)
    clean.append(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8))  # noise
    clean.append(np.full((480, 640, 3), 128, np.uint8))  # flat grey
    clean.append(np.zeros((720, 1280, 3), np.uint8))  # black HD
    clean.append(jpeg(frames[0], 30))
    for image in clean:
        result = extract(image)
        assert result.status == "none", result.detail
        assert result.message is None


def test_heavy_damage_never_gives_wrong_boxes(frames: list[np.ndarray]) -> None:
    rng = np.random.default_rng(3)
    message = _message(9, 8)
    marked = embed(frames[9], message)
    statuses = set()
    # The LDPC body survives noise up to about sigma 34; between there and the loss of the
    # sync pattern (about 42) the frame must read "damaged", never give wrong boxes.
    for sigma in (2, 6, 12, 20, 30, 34, 36, 38, 40, 42, 45, 70):
        noisy = np.clip(marked + rng.normal(0, sigma, marked.shape), 0, 255).astype(np.uint8)
        result = extract(noisy)
        statuses.add(result.status)
        if result.status == "ok":
            assert result.message == message
        else:
            assert result.message is None
    assert "damaged" in statuses and "ok" in statuses


def test_spliced_frame_reads_damaged(frames: list[np.ndarray]) -> None:
    """Halves of two frames carrying different messages: sync intact, body inconsistent."""
    first = embed(frames[0], _message(0, 8))
    second = embed(frames[0], _message(1, 8))
    spliced = first.copy()
    spliced[240:] = second[240:]
    result = extract(spliced)
    assert result.status == "damaged" and result.message is None
    assert "uncorrectable" in result.detail or "CRC" in result.detail


def test_box_partly_outside_is_clipped_on_both_sides(frames: list[np.ndarray]) -> None:
    boxes = ((-10, -5, 30, 30), (620, 470, 40, 20), (100, 100, 20, 20))
    marked = embed(frames[2], RoiMessage(1, 2, boxes))
    expected = clip_boxes(boxes, 640, 480)
    assert expected == ((0, 0, 20, 25), (620, 470, 20, 10), (100, 100, 20, 20))
    assert extract(marked).message == RoiMessage(1, 2, expected)
    with pytest.raises(StegoError, match="outside"):
        embed(frames[2], RoiMessage(1, 2, ((700, 10, 5, 5),)))


def test_tiny_frames(frames: list[np.ndarray]) -> None:
    for shape in ((4, 4, 3), (7, 640, 3), (480, 7, 3), (64, 64, 3), (0, 0, 3)):
        image = np.zeros(shape, np.uint8)
        with pytest.raises(StegoError, match="too small"):
            embed(image, RoiMessage(0, 0))
        assert extract(image).status == "none"


def test_bad_images_are_stego_errors() -> None:
    message = RoiMessage(0, 0)
    for bad in (np.zeros((480, 640), np.uint8), np.zeros((480, 640, 3), np.float32), "x"):
        with pytest.raises(StegoError):
            embed(bad, message)  # type: ignore[arg-type]
        with pytest.raises(StegoError):
            extract(bad)  # type: ignore[arg-type]


def test_bad_keys_and_messages_are_stego_errors(frames: list[np.ndarray]) -> None:
    message = _message(0, 1)
    for bad_key in ("text key", b"", 42):
        with pytest.raises(StegoError, match="key"):
            embed(frames[0], message, bad_key)  # type: ignore[arg-type]
        with pytest.raises(StegoError, match="key"):
            extract(frames[0], bad_key)  # type: ignore[arg-type]
    with pytest.raises(StegoError, match="RoiMessage"):
        embed(frames[0], ((1, 2, 3, 4),))  # type: ignore[arg-type]


def test_non_contiguous_input(frames: list[np.ndarray]) -> None:
    message = _message(4, 4)
    view = np.concatenate([frames[4], frames[4]], axis=1)[:, :640]  # strided view
    assert not view.flags["C_CONTIGUOUS"]
    marked = embed(view, message)
    assert np.array_equal(view, frames[4])  # the input is never written
    assert extract(marked[:, :]).message == message
    marked.setflags(write=False)  # e.g. a decoder's buffer: read-only input works too
    assert extract(marked).message == message
