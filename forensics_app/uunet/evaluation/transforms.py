"""Image transforms of the evaluation: the channel conditions a public face goes through, and
the paper's non-reversible de-identification baselines.

All take and return ``N×64×64×3`` uint8 BGR stacks (the ``core`` convention). The channel
uses OpenCV area down-scaling and linear up-scaling, as the producer pastes a face into its
head box and the reveal crops it back; JPEG is the real OpenCV codec and H.264 the real
libx264 (PyAV) on frames tiled from the faces (both in :mod:`forensics_app.uunet.codecs`,
shared with the training channel, and re-exported here).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
from skimage.color import label2rgb
from skimage.segmentation import slic

from forensics_app.errors import InputError
from forensics_app.uunet.codecs import h264, jpeg
from forensics_app.uunet.faces import check_faces as _check

__all__ = [
    "Transform",
    "baselines",
    "channel_conditions",
    "down_up",
    "h264",
    "jpeg",
    "resize_faces",
    "superpixel",
]

Transform = Callable[[np.ndarray], np.ndarray]


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
