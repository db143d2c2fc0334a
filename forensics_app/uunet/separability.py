"""How well two distance distributions separate: ROC AUC, decidability d′ and the ROC curve.

Distances are "smaller means more alike" (genuine pairs should be small). The AUC is the
probability that a random genuine pair is closer than a random impostor pair (ties count one
half), computed from the Mann–Whitney rank statistic, so it is exact and needs no threshold
sweep. 0.5 means the embedder cannot tell the two apart (what de-identification wants for
x↔a); 1.0 means perfect separation.

Used by E_id's fidelity figures (:mod:`forensics_app.uunet.identity`) and by the evaluation
(:mod:`forensics_app.uunet.evaluation.metrics` re-exports them), so neither imports the other.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

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
