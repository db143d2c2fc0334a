"""Image transforms of the evaluation: the channel conditions a public face goes through, and
the paper's non-reversible de-identification baselines.

All take and return ``N×64×64×3`` uint8 BGR stacks (the ``core`` convention). The channel
uses OpenCV area down-scaling and linear up-scaling, as the producer pastes a face into its
head box and the reveal crops it back; JPEG is the real OpenCV codec and H.264 the real
libx264 (PyAV) on frames tiled from the faces.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import cv2
import numpy as np
from skimage.color import label2rgb
from skimage.segmentation import slic

from forensics_app.errors import InputError

Transform = Callable[[np.ndarray], np.ndarray]


def _check(faces: np.ndarray) -> np.ndarray:
    faces = np.asarray(faces)
    if faces.ndim != 4 or faces.shape[-1] != 3 or faces.dtype != np.uint8:
        raise InputError(f"faces must be uint8 N×H×W×3, got {faces.dtype} {faces.shape}")
    return faces


def down_up(faces: np.ndarray, width: int, height: int) -> np.ndarray:
    """Area-downscale each face to ``width×height`` and linearly upscale it back."""
    faces = _check(faces)
    if width < 1 or height < 1:
        raise InputError(f"box size must be positive, got {width}x{height}")
    h, w = faces.shape[1:3]
    out = np.empty_like(faces)
    for i, face in enumerate(faces):
        small = cv2.resize(face, (width, height), interpolation=cv2.INTER_AREA)
        out[i] = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return out


def resize_faces(faces: np.ndarray, side: int, interpolation: int = cv2.INTER_AREA) -> np.ndarray:
    """Every face resized to ``side×side`` (area when shrinking to a head box, linear when
    the reveal scales a box back up to the network's 64×64)."""
    faces = _check(faces)
    if side < 1:
        raise InputError(f"face side must be positive, got {side}")
    return np.stack([cv2.resize(f, (side, side), interpolation=interpolation) for f in faces])


def jpeg(faces: np.ndarray, quality: int) -> np.ndarray:
    """A real JPEG round trip at ``quality`` (1–100) of every face."""
    faces = _check(faces)
    if not 1 <= quality <= 100:
        raise InputError(f"JPEG quality must be 1..100, got {quality}")
    out = np.empty_like(faces)
    params = [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)]
    for i, face in enumerate(faces):
        ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(face), params)
        if not ok:
            raise InputError("JPEG encoding failed")
        out[i] = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return out


def superpixel(faces: np.ndarray, segments: int) -> np.ndarray:
    """Replace every SLIC superpixel by its mean colour (Butler et al.'s baseline)."""
    faces = _check(faces)
    if segments < 1:
        raise InputError(f"superpixel segments must be ≥ 1, got {segments}")
    out = np.empty_like(faces)
    for i, face in enumerate(faces):
        labels = slic(face, n_segments=segments, compactness=10.0, start_label=0)
        avg = label2rgb(labels, face.astype(np.float64), kind="avg", bg_label=-1)
        out[i] = np.clip(np.round(avg), 0, 255).astype(np.uint8)
    return out


def channel_conditions() -> dict[str, Transform]:
    """The channel conditions of the reconstruction table, by name."""
    return {
        "lossless": lambda f: _check(f).copy(),
        "box16": lambda f: down_up(f, 16, 16),
        "box24": lambda f: down_up(f, 24, 24),
        "box32": lambda f: down_up(f, 32, 32),
        "jpeg90": lambda f: jpeg(f, 90),
        "jpeg75": lambda f: jpeg(f, 75),
        "jpeg50": lambda f: jpeg(f, 50),
        "h264 crf18": lambda f: h264(f, 18),
        "h264 crf23": lambda f: h264(f, 23),
        "h264 crf28": lambda f: h264(f, 28),
    }


def baselines() -> dict[str, Transform]:
    """The paper's non-reversible baselines (sizes are width×height), by name."""
    return {
        "blur 5x3 (Ryoo)": lambda f: down_up(f, 5, 3),
        "blur 7x4 (Ryoo)": lambda f: down_up(f, 7, 4),
        "superpixel 8 (Butler)": lambda f: superpixel(f, 8),
        "superpixel 16 (Butler)": lambda f: superpixel(f, 16),
    }


def h264(faces: np.ndarray, crf: int, grid: int = 8) -> np.ndarray:
    """A real H.264 round trip (libx264, yuv420p, ``crf``) of the faces tiled into frames.

    ``grid×grid`` faces make one frame, consecutive frames hold consecutive faces, so the
    codec sees a public video of faces (intra and inter prediction, chroma subsampling).
    """
    import av

    faces = _check(faces)
    if not 0 <= crf <= 51:
        raise InputError(f"H.264 CRF must be 0..51, got {crf}")
    n, h, w = faces.shape[:3]
    per = grid * grid
    frames = []
    for start in range(0, n, per):
        mosaic = np.zeros((grid * h, grid * w, 3), np.uint8)
        for k, face in enumerate(faces[start : start + per]):
            r, c = divmod(k, grid)
            mosaic[r * h : (r + 1) * h, c * w : (c + 1) * w] = face
        frames.append(mosaic)
    buf = io.BytesIO()
    with av.open(buf, "w", format="matroska") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = grid * w, grid * h, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "medium"}
        for mosaic in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(mosaic, format="bgr24")))
        out.mux(stream.encode(None))
    buf.seek(0)
    with av.open(buf, "r") as src:
        decoded = [f.to_ndarray(format="bgr24") for f in src.decode(video=0)]
    if len(decoded) != len(frames):
        raise InputError(f"H.264 round trip returned {len(decoded)} of {len(frames)} frames")
    out_faces = np.empty_like(faces)
    for i in range(n):
        frame, k = divmod(i, per)
        r, c = divmod(k, grid)
        out_faces[i] = decoded[frame][r * h : (r + 1) * h, c * w : (c + 1) * w]
    return out_faces
