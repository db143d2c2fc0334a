"""Temporal consistency statistics on hand-made embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from forensics_app.errors import InputError
from forensics_app.uunet.evaluation.temporal import consistency, within_and_between


def test_pairs_are_counted_once() -> None:
    emb = np.array([[0.0], [1.0], [10.0], [12.0]])
    within, between = within_and_between(emb, ["a", "a", "b", "b"])
    assert sorted(within.tolist()) == [1.0, 2.0]
    assert sorted(between.tolist()) == [9.0, 10.0, 11.0, 12.0]


def test_consistent_vs_scrambled_surrogates() -> None:
    rng = np.random.default_rng(5)
    centres = rng.normal(0, 1, (20, 16))
    ids = [f"s{k}" for k in range(20) for _ in range(4)]
    stable = np.repeat(centres, 4, axis=0) + rng.normal(0, 0.05, (80, 16))
    good = consistency(stable, ids)
    assert good["auc"] > 0.99 and good["ks_statistic"] > 0.9 and good["ks_p_value"] < 1e-6
    # tampered: a new random surrogate every frame → no consistency left
    scrambled = consistency(rng.normal(0, 1, (80, 16)), ids)
    assert 0.35 < scrambled["auc"] < 0.65 and scrambled["ks_p_value"] > 1e-3


def test_bad_input() -> None:
    with pytest.raises(InputError):
        within_and_between(np.zeros((3, 2)), ["a", "b", "c"])
    with pytest.raises(InputError):
        within_and_between(np.zeros((3, 2)), ["a", "b"])


def test_targets_are_judged_from_the_measured_figures() -> None:
    from forensics_app.uunet.evaluation.suite import targets

    def results(ratio: float, auc_xa: float, psnr: float, same: float = 0.02) -> dict:
        leak = {"x↔x": {"auc": 0.9}, "x↔a": {"auc": auc_xa}, "x↔r": {"auc": 0.88}}
        rec = {"lossless": {"r_vs_x": {"psnr": psnr}}, "h264 crf23": {"r_vs_x": {"psnr": 28.5}}}
        det = {"a = U_e(x)": {"rate_ratio_to_x": ratio}}
        sface = {"leakage": {"x↔a": {"auc": auc_xa}}, "same_person_x_a": same}
        return {
            "detection": det,
            "leakage": leak,
            "reconstruction": rec,
            "independent_judges": {"sface": sface},
        }

    good = targets(results(0.95, 0.55, 33.0))
    assert all(t["met"] for t in good.values()) and len(good) == 7
    bad = targets(results(0.80, 0.90, 25.0, same=0.3))
    assert [k for k, t in bad.items() if not t["met"]] == [
        "detection_rate_ratio_a_to_x >= 0.90",
        "auc_x_a <= 0.60",
        "psnr_lossless >= 30 dB",
        "sface_auc_x_a <= 0.60",
        "sface_same_person_x_a <= 5 %",
    ]
    old = results(0.95, 0.55, 33.0)
    del old["independent_judges"]  # an eval.json from before the judges
    assert len(targets(old)) == 5
    assert bad["auc_x_r >= 0.95 * auc_x_x"]["measured"] == pytest.approx(0.88 / 0.9, abs=1e-4)
