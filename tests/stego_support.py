"""Helpers for the steganography tests: real frames and real codecs (in memory)."""

from __future__ import annotations

import io
from pathlib import Path

import av
import cv2
import numpy as np


def real_frames(
    video: Path, count: int, size: tuple[int, int] = (640, 480), step: int = 1
) -> list[np.ndarray]:
    """``count`` frames of ``video`` (every ``step``-th from the first) resized to ``size``."""
    capture = cv2.VideoCapture(str(video))
    frames = []
    try:
        while len(frames) < count:
            for _ in range(step - 1):
                assert capture.grab(), f"{video} is too short"
            ok, frame = capture.read()
            assert ok, f"{video} is too short"
            frames.append(cv2.resize(frame, size, interpolation=cv2.INTER_AREA))
    finally:
        capture.release()
    return frames


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode ``image`` as JPEG at ``quality`` (OpenCV's libjpeg)."""
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(data, cv2.IMREAD_COLOR)


def h264(frames: list[np.ndarray], crf: int, x264_params: str | None = None) -> list[np.ndarray]:
    """Encode ``frames`` with libx264 yuv420p at ``crf`` in memory and decode them again."""
    buffer = io.BytesIO()
    height, width = frames[0].shape[:2]
    with av.open(buffer, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        if x264_params:
            stream.options["x264-params"] = x264_params
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    buffer.seek(0)
    with av.open(buffer) as source:
        return [frame.to_ndarray(format="bgr24") for frame in source.decode(video=0)]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of two uint8 images, in dB."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def random_boxes(rng: np.random.Generator, n: int, width: int, height: int) -> tuple:
    """``n`` random boxes of head size (10-40 px) inside a ``width`` x ``height`` frame."""
    boxes = []
    for _ in range(n):
        w, h = (int(v) for v in rng.integers(10, 41, 2))
        boxes.append((int(rng.integers(0, width - w)), int(rng.integers(0, height - h)), w, h))
    return tuple(boxes)
