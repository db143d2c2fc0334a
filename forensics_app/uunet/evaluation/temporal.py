"""Temporal consistency (paper §IV-D): does one person keep one surrogate over a track?

For a stack of embeddings with subject ids, every pair of *different frames of the same
subject* is a within-track pair and every pair of different subjects an impostor pair. A
consistent de-identifier keeps within-track surrogates close (the distributions separate:
high AUC, large Kolmogorov–Smirnov statistic), as the originals are.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import ks_2samp

from forensics_app.errors import InputError
from forensics_app.uunet.evaluation.metrics import decidability, roc_auc


def within_and_between(embeddings: np.ndarray, ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Distances of all within-subject pairs and all between-subject pairs (each pair once)."""
    emb = np.asarray(embeddings, dtype=np.float64)
    if emb.ndim != 2 or len(ids) != len(emb):
        raise InputError(f"need N×D embeddings and N ids, got {emb.shape} and {len(ids)}")
    dist = np.linalg.norm(emb[:, None, :] - emb[None, :, :], axis=2)
    labels = np.asarray(ids)
    same = labels[:, None] == labels[None, :]
    upper = np.triu(np.ones_like(same), k=1)
    within, between = dist[same & upper], dist[~same & upper]
    if within.size == 0 or between.size == 0:
        raise InputError("temporal consistency needs two frames of a subject and two subjects")
    return within, between


def consistency(embeddings: np.ndarray, ids: list[str]) -> dict[str, float | int]:
    """KS statistic and p-value, AUC and d′ of within-track vs impostor distances."""
    within, between = within_and_between(embeddings, ids)
    ks = ks_2samp(within, between)
    return {
        "ks_statistic": round(float(ks.statistic), 4),
        "ks_p_value": float(f"{ks.pvalue:.3g}"),
        "auc": round(roc_auc(within, between), 4),
        "d_prime": round(decidability(within, between), 4),
        "within_mean": round(float(within.mean()), 4),
        "between_mean": round(float(between.mean()), 4),
        "within_pairs": int(within.size),
        "between_pairs": int(between.size),
    }
