"""Attribute control (§IV-E) on hand-made inputs: a matcher whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from forensics_app.uunet.evaluation.attributes import (
    attribute_control,
    control_row,
    effective_s,
    label_pairs,
    matcher_responses,
)
from forensics_app.uunet.evaluation.report import attribute_markdown


class ToneMatcher(torch.nn.Module):
    """'Same tone' = both faces bright or both dark (mean of the red channel, RGB input);
    'same id' = nearly equal means. A fixed rule, so every expected r is known."""

    labels = ["id", "tone"]

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        m1, m2 = first[:, 0].mean(dim=(1, 2)), second[:, 0].mean(dim=(1, 2))
        tone = torch.sigmoid(20 * (m1 - 0.5) * (m2 - 0.5) * 4)
        same = torch.sigmoid(100 * (0.05 - (m1 - m2).abs()))
        return torch.stack([same, tone], dim=1)


def faces_of(levels: list[float]) -> np.ndarray:
    """64×64 BGR faces whose red channel (last in BGR) has the given level."""
    out = np.zeros((len(levels), 64, 64, 3), np.uint8)
    for i, v in enumerate(levels):
        out[i, ..., 2] = int(round(v * 255))
        out[i, ..., 0] = 128  # blue is ignored: a BGR/RGB mix-up would break the test
    return out


def make_set():
    """Six subjects, two frames each; bright ones labelled 'light', dark ones 'dark'."""
    levels = {"s0": 0.85, "s1": 0.8, "s2": 0.9, "s3": 0.15, "s4": 0.2, "s5": 0.1}
    subjects, lv = [], []
    for s, v in levels.items():
        subjects += [s, s]
        lv += [v, v + 0.01]
    attributes = {s: {"tone": "light" if v > 0.5 else "dark"} for s, v in levels.items()}
    gallery = np.arange(0, len(subjects), 2)
    return faces_of(lv), subjects, gallery, attributes, lv


def test_matcher_responses_reads_rgb_in_unit_range():
    x = faces_of([0.9, 0.1])
    resp = matcher_responses(ToneMatcher(), x, x[::-1].copy())
    assert resp.shape == (2, 2)
    assert resp[0, 1] < 0.1 and resp[1, 1] < 0.1  # bright vs dark: different tone
    same = matcher_responses(ToneMatcher(), x, x)
    assert same[0, 1] > 0.9 and same[0, 0] > 0.9
    with pytest.raises(ValueError, match="pair shapes differ"):
        matcher_responses(ToneMatcher(), x, x[:1])


def test_constant_responses_give_no_r_and_no_verdict():
    row = control_row(np.ones(20), np.arange(20) % 2, [f"s{i % 5}" for i in range(20)], 1)
    assert row["pearson_r"] is None and row["follows_s"] is None


def test_label_pairs_skip_unknown_and_same_subject():
    subjects = ["a", "a", "b", "b", "c", "c", "d", "d"]
    gallery = np.array([0, 2, 4, 6])
    attributes = {"a": {"g": "m"}, "b": {"g": "M "}, "c": {"g": "f"}, "d": {"g": "?"}}
    faces, refs, agree = label_pairs(subjects, gallery, attributes, "g")
    # 3 labelled subjects × 2 frames × 2 other labelled subjects; d never appears
    assert len(faces) == 12
    assert all(subjects[i] != subjects[g] for i, g in zip(faces, refs, strict=True))
    assert "d" not in {subjects[i] for i in faces} | {subjects[g] for g in refs}
    pairs = {(subjects[i], subjects[g]): v for i, g, v in zip(faces, refs, agree, strict=True)}
    assert pairs[("a", "b")] == 1.0  # values compared case- and space-insensitively
    assert pairs[("a", "c")] == 0.0


def test_control_row_signs_and_verdicts():
    rng = np.random.default_rng(0)
    subjects = [f"s{i // 10}" for i in range(200)]
    agree = rng.integers(0, 2, 200).astype(float)
    keep = agree + rng.normal(0, 0.2, 200)
    row = control_row(keep, agree, subjects, 1)
    assert row["pearson_r"] > 0.8 and row["p5"] > 0 and row["follows_s"] is True
    assert row["subjects"] == 20 and row["pairs"] == 200
    assert control_row(keep, agree, subjects, -1)["follows_s"] is False
    flip = control_row(1 - keep, agree, subjects, -1)
    assert flip["pearson_r"] < -0.8 and flip["follows_s"] is True
    assert control_row(keep, agree, subjects, 0)["follows_s"] is None
    noise = control_row(rng.normal(size=200), agree, subjects, 1)
    assert noise["follows_s"] is False  # no signal: the range straddles zero


def test_effective_s_uses_what_da_learnt():
    assert effective_s([-1, 1], ["id", "gender"], {"id": True, "gender": False}, "gender") == 0
    assert effective_s([-1, 1], ["id", "gender"], {"gender": True}, "gender") == 1
    assert effective_s([-1, -1, 1], ["id", "gender", "glasses"], None, "gender") == -1
    assert effective_s([-1, 1], ["id", "gender"], None, "glasses") == 0
    assert effective_s(None, None, None, "gender") is None


def test_attribute_control_keep_and_flip():
    x, subjects, gallery, attributes, lv = make_set()
    s_of = {"id": -1, "tone": 1}
    kept = attribute_control(ToneMatcher(), attributes, x, x.copy(), subjects, gallery, s_of)
    assert kept["tone"]["a"]["pearson_r"] > 0.9 and kept["tone"]["a"]["follows_s"] is True
    assert kept["tone"]["x_reference"]["reads_label"] is True
    assert kept["tone"]["paired_mean_da_x_a"] > 0.9
    assert "note" in kept["id"]
    flipped_faces = faces_of([1.0 - v for v in lv])  # every surrogate takes the other tone
    flipped = attribute_control(
        ToneMatcher(), attributes, x, flipped_faces, subjects, gallery, s_of
    )
    assert flipped["tone"]["a"]["pearson_r"] < -0.9
    assert flipped["tone"]["a"]["follows_s"] is False  # s asked to keep it
    asked = attribute_control(
        ToneMatcher(), attributes, x, flipped_faces, subjects, gallery, {"tone": -1}
    )
    assert asked["tone"]["a"]["follows_s"] is True
    assert asked["tone"]["paired_mean_da_x_a"] < 0.1


def test_attribute_control_one_value_only_is_not_measurable():
    x, subjects, gallery, attributes, _ = make_set()
    same = {s: {"tone": "light"} for s in attributes}
    out = attribute_control(ToneMatcher(), same, x, x, subjects, gallery, {"tone": 1})
    assert "a" not in out["tone"] and "not measurable" in out["tone"]["note"]


def test_attribute_control_skips_labels_the_matcher_never_learnt():
    x, subjects, gallery, attributes, _ = make_set()
    out = attribute_control(
        ToneMatcher(), attributes, x, x, subjects, gallery, {"tone": 1}, {"id": True, "tone": False}
    )
    assert "a" not in out["tone"] and "never saw" in out["tone"]["note"]


def test_attribute_markdown_table():
    x, subjects, gallery, attributes, _ = make_set()
    evaluated = attribute_control(
        ToneMatcher(), attributes, x, x, subjects, gallery, {"id": -1, "tone": 1}
    )
    text = attribute_markdown(
        {"evaluated": evaluated, "reader_da_sha256": "ab" * 32, "reader_is_training_da": True}
    )
    assert "| evaluated | tone | 1 | 1.000 (1.000…1.000) |" in text and "| yes |" in text
    assert "not independent of training" in text
    assert attribute_markdown({"note": "not measured: no labels"}) == "not measured: no labels"


def test_independent_reader_reads_kept_and_flipped_labels():
    from forensics_app.errors import InputError
    from forensics_app.uunet.evaluation.attributes import reader_auc, train_attribute_reader

    rng = np.random.default_rng(1)
    levels = list(rng.uniform(0.6, 0.95, 12)) + list(rng.uniform(0.05, 0.4, 20))
    values = ["light"] * 12 + ["dark"] * 20
    faces = faces_of(levels)
    faces = np.clip(faces + rng.integers(-10, 10, faces.shape), 0, 255).astype(np.uint8)
    reader = train_attribute_reader(faces, [*values[:-1], "?"], steps=60)
    assert reader.positive == "light"  # the rarer value
    new = faces_of(list(rng.uniform(0.6, 0.95, 5)) + list(rng.uniform(0.05, 0.4, 5)))
    new_values = ["light"] * 5 + ["dark"] * 5
    assert reader_auc(reader, new, new_values)["auc"] > 0.9
    flipped = faces_of([1.0 - v for v in list(rng.uniform(0.6, 0.95, 5)) + [0.2] * 5])
    assert reader_auc(reader, flipped, new_values)["auc"] < 0.1
    assert reader_auc(reader, new, ["light"] * 10)["auc"] is None
    with pytest.raises(InputError, match="exactly two values"):
        train_attribute_reader(faces, ["light"] * len(faces), steps=5)
