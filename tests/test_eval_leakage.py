"""Identity leakage: genuine/impostor pairing and the offline dlib embedder."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from forensics_app.errors import InputError
from forensics_app.uunet.evaluation.leakage import DlibEmbedder, leakage_row, pair_distances
from forensics_app.uunet.evaluation.transforms import down_up, jpeg


def astronaut_face() -> np.ndarray:
    """A real face: the head of skimage's astronaut image as a 64×64 BGR crop."""
    bgr = np.ascontiguousarray(data.astronaut()[20:180, 140:300, ::-1])
    return cv2.resize(bgr, (64, 64), interpolation=cv2.INTER_AREA)


def test_pair_distances_hand_made() -> None:
    gallery = np.array([[0.0, 0.0], [10.0, 0.0]])
    probes = np.array([[0.0, 1.0], [10.0, 2.0], [0.0, 3.0]])
    genuine, impostor = pair_distances(gallery, ["a", "b"], probes, ["a", "b", "a"])
    assert sorted(genuine.tolist()) == [1.0, 2.0, 3.0]
    assert impostor.size == 3 and impostor.min() > 9.9
    row = leakage_row("x↔x", gallery, ["a", "b"], probes, ["a", "b", "a"])
    summary = row.summary()
    assert summary["auc"] == 1.0 and summary["genuine_pairs"] == 3
    # tampered: labels swapped → genuine pairs become the far ones
    swapped = leakage_row("x↔x", gallery, ["b", "a"], probes, ["a", "b", "a"])
    assert swapped.auc == 0.0


def test_pair_distances_bad_input() -> None:
    g = np.zeros((2, 4))
    with pytest.raises(InputError, match="two subjects"):
        pair_distances(g, ["a", "a"], g, ["a", "a"])
    with pytest.raises(InputError):
        pair_distances(g, ["a"], g, ["a", "b"])
    with pytest.raises(InputError):
        pair_distances(g, ["a", "b"], np.zeros((2, 3)), ["a", "b"])


def test_dlib_embedder_runs_offline_on_a_real_face() -> None:
    embed = DlibEmbedder()
    face = astronaut_face()
    faces = np.stack([face, face, jpeg(face[None], 90)[0], down_up(face[None], 5, 3)[0]])
    e = embed(faces)
    assert e.shape == (4, 128) and np.all(np.isfinite(e))
    assert np.array_equal(e[0], e[1])  # deterministic
    near = np.linalg.norm(e[0] - e[2])
    far = np.linalg.norm(e[0] - e[3])
    assert near < 0.2 < far  # JPEG keeps the identity, a 5×3 blur destroys it
    with pytest.raises(InputError):
        embed(faces.astype(np.float32))
