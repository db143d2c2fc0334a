"""Scalar statistics of the evaluation: separability of two distance distributions, image
quality and correlation.

Distances are "smaller means more alike" (genuine pairs should be small). The AUC is the
probability that a random genuine pair is closer than a random impostor pair (ties count one
half), computed from the Mann–Whitney rank statistic, so it is exact and needs no threshold
sweep. 0.5 means the embedder cannot tell the two apart (what de-identification wants for
x↔a); 1.0 means perfect separation.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from forensics_app.errors import InputError


def _scores(values: np.ndarray | list[float], name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.size == 0:
        raise InputError(f"{name} distances are empty")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} distances contain NaN or infinity")
    return arr


def roc_auc(genuine: np.ndarray | list[float], impostor: np.ndarray | list[float]) -> float:
    """P(genuine distance < impostor distance) + ½·P(tie), via the rank-sum statistic."""
    g = _scores(genuine, "genuine")
    i = _scores(impostor, "impostor")
    ranks = rankdata(np.concatenate([-g, -i]))  # larger similarity = higher rank
    rank_sum = ranks[: g.size].sum()
    u = rank_sum - g.size * (g.size + 1) / 2.0
    return float(u / (g.size * i.size))


def decidability(genuine: np.ndarray | list[float], impostor: np.ndarray | list[float]) -> float:
    """Daugman's d′ = |μ_g − μ_i| / √((σ_g² + σ_i²) / 2); 0 when both are constant and equal."""
    g = _scores(genuine, "genuine")
    i = _scores(impostor, "impostor")
    spread = np.sqrt((g.var() + i.var()) / 2.0)
    gap = abs(g.mean() - i.mean())
    if spread == 0.0:
        return 0.0 if gap == 0.0 else float("inf")
    return float(gap / spread)


def roc_curve(
    genuine: np.ndarray | list[float], impostor: np.ndarray | list[float]
) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-accept rates as the accept threshold on distance sweeps all values."""
    g = _scores(genuine, "genuine")
    i = _scores(impostor, "impostor")
    thresholds = np.unique(np.concatenate([g, i, [-np.inf]]))
    tpr = np.array([(g <= t).mean() for t in thresholds])
    fpr = np.array([(i <= t).mean() for t in thresholds])
    return fpr, tpr


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
