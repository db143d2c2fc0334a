"""Channel conditions and the non-reversible baselines of the evaluation suite."""

from __future__ import annotations

import numpy as np
import pytest

from forensics_app.errors import InputError
from forensics_app.uunet.evaluation.transforms import (
    baselines,
    channel_conditions,
    down_up,
    h264,
    jpeg,
    superpixel,
)


def _faces(n: int = 2) -> np.ndarray:
    return np.random.default_rng(3).integers(0, 256, (n, 64, 64, 3), dtype=np.uint8)


def test_down_up_keeps_flat_images_and_removes_detail() -> None:
    flat = np.full((1, 64, 64, 3), 90, np.uint8)
    assert np.array_equal(down_up(flat, 5, 3), flat)
    faces = _faces()
    blurred = down_up(faces, 5, 3)
    assert blurred.shape == faces.shape and blurred.dtype == np.uint8
    assert blurred.std() < 0.2 * faces.std()  # 15 cells cannot carry random detail


def test_jpeg_is_a_real_lossy_codec() -> None:
    faces = _faces()
    q90, q50 = jpeg(faces, 90), jpeg(faces, 50)
    err90 = np.abs(q90.astype(int) - faces).mean()
    err50 = np.abs(q50.astype(int) - faces).mean()
    assert 0 < err90 < err50
    with pytest.raises(InputError):
        jpeg(faces, 0)


def test_h264_is_a_real_lossy_codec_over_tiled_frames() -> None:
    # smooth faces (a codec's normal input) over more than one 8×8 mosaic frame
    faces = down_up(_faces(70), 16, 16)
    crf18, crf28 = h264(faces, 18), h264(faces, 28)
    assert crf18.shape == faces.shape
    err18 = np.abs(crf18.astype(int) - faces).mean()
    err28 = np.abs(crf28.astype(int) - faces).mean()
    assert 0 < err18 < err28 < 20
    assert np.abs(crf18[69].astype(int) - faces[69]).mean() < 20  # last, partial frame
    with pytest.raises(InputError):
        h264(faces, 60)


def test_superpixel_averages_segments() -> None:
    img = np.zeros((1, 64, 64, 3), np.uint8)
    img[:, :, :32] = (200, 40, 10)
    img[:, :, 32:] = (10, 40, 200)
    noisy = np.clip(img.astype(int) + np.random.default_rng(4).integers(-5, 6, img.shape), 0, 255)
    out = superpixel(noisy.astype(np.uint8), 8)
    colours = np.unique(out.reshape(-1, 3), axis=0)
    assert 2 <= len(colours) <= 16  # one flat colour per segment, noise averaged away
    assert np.abs(out[0, 10, 5].astype(int) - (200, 40, 10)).max() <= 3
    assert np.abs(out[0, 10, 60].astype(int) - (10, 40, 200)).max() <= 3


def test_registries_and_bad_input() -> None:
    assert set(channel_conditions()) == {
        "lossless", "box16", "box24", "box32", "jpeg90", "jpeg75", "jpeg50",
        "h264 crf18", "h264 crf23", "h264 crf28",
    }  # fmt: skip
    assert len(baselines()) == 4
    faces = _faces(1)
    for fn in list(channel_conditions().values()) + list(baselines().values()):
        assert fn(faces).shape == faces.shape
    with pytest.raises(InputError):
        down_up(faces[0], 5, 3)
    with pytest.raises(InputError):
        down_up(faces, 0, 3)
    with pytest.raises(InputError):
        superpixel(faces.astype(np.float32), 8)
