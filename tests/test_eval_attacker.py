"""The independent re-identification attacker: it learns identities and refuses bad input."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from forensics_app.errors import InputError
from forensics_app.uunet.evaluation.attacker import train_attacker
from forensics_app.uunet.evaluation.metrics import roc_auc


def _people(n: int, frames: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """Synthetic 'people': a head of each person's own shape and colours, jittered per frame."""
    rng = np.random.default_rng(seed)
    looks = np.random.default_rng(7).integers(30, 225, (n, 2, 3))
    faces, labels = [], []
    for p in range(n):
        for _ in range(frames):
            img = np.full((64, 64, 3), int(rng.integers(60, 200)), np.uint8)
            cx, cy = 32 + int(rng.integers(-3, 4)), 32 + int(rng.integers(-3, 4))
            cv2.ellipse(img, (cx, cy), (10 + p % 4 * 3, 20), 0, 0, 360, looks[p, 0].tolist(), -1)
            cv2.rectangle(img, (cx - 8, cy - 6), (cx + 8, cy - 2), looks[p, 1].tolist(), -1)
            faces.append(img)
            labels.append(f"p{p}")
    return np.stack(faces), labels


def test_attacker_learns_to_tell_people_apart() -> None:
    faces, labels = _people(6, 12, seed=1)
    embed = train_attacker(faces, labels, steps=120, batch_size=32)
    test, test_labels = _people(6, 4, seed=2)  # new frames of the same people
    emb = embed(np.ascontiguousarray(test[..., ::-1]))  # the embedder takes BGR
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0)
    d = np.linalg.norm(emb[:, None] - emb[None], axis=-1)
    iu = np.triu_indices(len(emb), 1)
    same = (np.array(test_labels)[:, None] == np.array(test_labels)[None])[iu]
    assert roc_auc(d[iu][same], d[iu][~same]) > 0.9
    assert embed.report["train_subjects"] == 6 and embed.report["steps"] == 120


def test_attacker_bad_input() -> None:
    faces, labels = _people(2, 2, seed=0)
    with pytest.raises(InputError, match="two subjects"):
        train_attacker(faces, ["p0"] * len(faces), steps=1)
    with pytest.raises(InputError, match="steps"):
        train_attacker(faces, labels, steps=0)
    embed = train_attacker(faces, labels, steps=1, batch_size=4)
    with pytest.raises(InputError, match="uint8"):
        embed(faces.astype(np.float32))
