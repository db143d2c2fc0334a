"""Separability and quality statistics of the evaluation suite on hand-made inputs."""

from __future__ import annotations

import numpy as np
import pytest

from forensics_app.errors import InputError
from forensics_app.uunet.evaluation.metrics import (
    decidability,
    image_quality,
    pearson,
    roc_auc,
    roc_curve,
)


def test_auc_separated_reversed_and_identical() -> None:
    genuine, impostor = np.array([0.1, 0.2, 0.3]), np.array([0.7, 0.8, 0.9, 1.0])
    assert roc_auc(genuine, impostor) == 1.0
    assert roc_auc(impostor, genuine) == 0.0  # genuine pairs farther apart than impostors
    same = np.array([0.4, 0.5, 0.6])
    assert roc_auc(same, same) == pytest.approx(0.5)
    assert roc_auc([0.5] * 4, [0.5] * 7) == pytest.approx(0.5)  # ties count one half


def test_auc_matches_brute_force_pair_count() -> None:
    rng = np.random.default_rng(1)
    g, i = rng.normal(0.4, 0.1, 57).round(2), rng.normal(0.6, 0.15, 83).round(2)
    wins = (g[:, None] < i[None, :]).sum() + 0.5 * (g[:, None] == i[None, :]).sum()
    assert roc_auc(g, i) == pytest.approx(wins / (g.size * i.size))


def test_decidability_exact_and_for_two_normals() -> None:
    # means 0 and 2, both variances exactly 1 → d′ = 2
    assert decidability([-1.0, 1.0], [1.0, 3.0]) == pytest.approx(2.0)
    rng = np.random.default_rng(0)
    g, i = rng.normal(0.0, 1.0, 20000), rng.normal(1.5, 1.0, 20000)
    assert decidability(g, i) == pytest.approx(1.5, abs=0.05)
    assert decidability([0.3, 0.3], [0.3, 0.3]) == 0.0
    assert decidability([0.2, 0.2], [0.5, 0.5]) == float("inf")


def test_roc_curve_runs_from_origin_to_one() -> None:
    fpr, tpr = roc_curve([0.1, 0.2], [0.3, 0.4])
    assert (fpr[0], tpr[0]) == (0.0, 0.0) and (fpr[-1], tpr[-1]) == (1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    assert tpr[np.searchsorted(fpr, 0.0, side="right") - 1] == 1.0  # perfect separation


def test_bad_distances_are_one_line_errors() -> None:
    with pytest.raises(InputError, match="empty"):
        roc_auc([], [0.1])
    with pytest.raises(InputError, match="NaN"):
        decidability([0.1, float("nan")], [0.2])


def test_pearson() -> None:
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert pearson([1, 2, 3], [5, 5, 5]) is None
    with pytest.raises(InputError):
        pearson([1, 2], [1, 2, 3])


def test_image_quality_identical_and_tampered() -> None:
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    same = image_quality(x, x.copy())
    assert same == {"psnr": 100.0, "ssim": pytest.approx(1.0)}
    noisy = np.clip(x.astype(int) + rng.integers(-8, 9, x.shape), 0, 255).astype(np.uint8)
    q = image_quality(x, noisy)
    # uniform integer noise in [-8, 8] has variance (17² − 1) / 12 = 24 → 10·log10(255² / 24)
    assert q["psnr"] == pytest.approx(10 * np.log10(255**2 / 24), abs=0.3)
    assert q["ssim"] < 0.999
    with pytest.raises(InputError):
        image_quality(x, x[:2])


def test_area_under_the_roc_curve_equals_the_rank_auc() -> None:
    rng = np.random.default_rng(6)
    g, i = rng.normal(0.4, 0.1, 40).round(2), rng.normal(0.5, 0.1, 60).round(2)
    fpr, tpr = roc_curve(g, i)
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))  # trapezoids handle ties
    assert area == pytest.approx(roc_auc(g, i))
