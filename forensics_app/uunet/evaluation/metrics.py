"""Scalar statistics of the evaluation: separability of two distance distributions, image
quality and correlation.

The separability figures (ROC AUC by the rank statistic, decidability d′, the ROC curve) live
in :mod:`forensics_app.uunet.separability`, below training and evaluation alike, and are
re-exported here.
"""

from __future__ import annotations

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from forensics_app.errors import InputError
from forensics_app.uunet.separability import decidability, roc_auc, roc_curve

__all__ = ["decidability", "image_quality", "pearson", "roc_auc", "roc_curve"]


def pearson(x: np.ndarray | list[float], y: np.ndarray | list[float]) -> float | None:
    """Pearson correlation of two equal-length series; ``None`` where one is constant."""
    a = np.asarray(x, dtype=np.float64).ravel()
    b = np.asarray(y, dtype=np.float64).ravel()
    if a.size != b.size or a.size < 2:
        raise InputError(f"pearson needs two series of the same length ≥ 2, got {a.size}/{b.size}")
    if a.std() == 0.0 or b.std() == 0.0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def image_quality(reference: np.ndarray, test: np.ndarray) -> dict[str, float]:
    """Mean PSNR (dB) and SSIM of ``N×H×W×3`` uint8 ``test`` images against ``reference``."""
    ref = np.asarray(reference)
    out = np.asarray(test)
    if ref.shape != out.shape or ref.ndim != 4 or ref.dtype != np.uint8 or out.dtype != np.uint8:
        raise InputError(
            f"image_quality needs two uint8 N×H×W×3 stacks, got {ref.shape}/{out.shape}"
        )
    psnr = []
    for a, b in zip(ref, out, strict=True):
        # identical images have infinite PSNR; cap at 100 dB so means stay finite
        psnr.append(
            100.0 if np.array_equal(a, b) else peak_signal_noise_ratio(a, b, data_range=255)
        )
    ssim = [
        structural_similarity(a, b, channel_axis=2, data_range=255, win_size=7)
        for a, b in zip(ref, out, strict=True)
    ]
    return {"psnr": float(np.mean(psnr)), "ssim": float(np.mean(ssim))}
