"""Reconstruction at box resolution: r and x compared at the head box's own size."""

from __future__ import annotations

import numpy as np
from skimage import data

from forensics_app.uunet.evaluation.suite import box_resolution, targets
from forensics_app.uunet.evaluation.transforms import resize_faces


class _Identity:
    """A 'decoder' that returns its input: r is whatever survived the box and the codec."""

    def decode(self, faces: np.ndarray) -> np.ndarray:
        return faces.copy()


class _Grey:
    """A decoder that has learnt nothing: mid-grey whatever it is given."""

    def decode(self, faces: np.ndarray) -> np.ndarray:
        return np.full_like(faces, 128)


def _faces(n: int = 8) -> np.ndarray:
    photo = np.ascontiguousarray(data.astronaut()[20:180, 140:300][..., ::-1])
    crops = [photo[3 * k :, 2 * k :] for k in range(n)]
    return resize_faces(np.stack([c[:128, :128] for c in crops]), 64)


def test_box_figures_credit_only_what_the_box_holds() -> None:
    x = _faces()
    good = box_resolution(x, x, _Identity())
    bad = box_resolution(x, x, _Grey())
    figures = good["figures"]
    assert figures["side"] == 24
    # a = x through a 24-px box and back up: at box size little is lost
    assert figures["lossless"]["psnr"] > 28
    assert figures["h264 crf23"]["psnr"] > 24
    assert figures["h264 crf23"]["psnr"] <= figures["lossless"]["psnr"]
    assert bad["figures"]["lossless"]["psnr"] < 15
    x_box, a_box, r_box = good["faces"]
    assert x_box.shape == a_box.shape == r_box.shape == (8, 24, 24, 3)


def test_box_targets_are_reported_when_measured() -> None:
    box = box_resolution(_faces(), _faces(), _Grey())["figures"]
    results = {
        "detection": {"a = U_e(x)": {"rate_ratio_to_x": 1.0}},
        "leakage": {k: {"auc": 0.9} for k in ("x↔a", "x↔r", "x↔x")},
        "reconstruction": {"lossless": {"r_vs_x": {"psnr": 31.0}}, "box24": box},
    }
    out = targets(results)
    assert out["psnr_box24_lossless >= 30 dB"]["met"] is False
    assert out["psnr_box24_h264_crf23 >= 28 dB"]["measured"] == box["h264 crf23"]["psnr"]
    del results["reconstruction"]["box24"]
    assert not any("box24" in k for k in targets(results))
