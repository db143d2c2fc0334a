"""Inference API over the released weights, for the producer, the reveal and the GUI.

Faces cross this boundary as ``N×64×64×3`` uint8 **BGR** arrays (the ``core`` convention);
the networks see RGB in [0, 1]. Everything runs on CPU in eval mode under
``torch.inference_mode``, in batches, so the same input always gives the same bytes.

The encoder's noise channel (and, for the virtual-identity encoder, its donor) comes from a
per-track seed: one subject keeps one surrogate for as long as the tracker keeps its id.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from forensics_app import MODELS_DIR
from forensics_app.core.face_geometry import FACE_SIZE
from forensics_app.errors import InputError
from forensics_app.uunet.donors import DONOR_CANDIDATES, donor_index
from forensics_app.uunet.export import load_model, module_from_bytes
from forensics_app.uunet.gender import setup_gender_control


def _check_faces(faces: np.ndarray) -> np.ndarray:
    faces = np.asarray(faces)
    if faces.ndim == 3:
        faces = faces[None]
    if faces.ndim != 4 or faces.shape[1:] != (FACE_SIZE, FACE_SIZE, 3):
        raise InputError(f"faces must be N×64×64×3, got shape {tuple(faces.shape)}")
    if faces.dtype != np.uint8:
        raise InputError(f"faces must be uint8, got {faces.dtype}")
    return faces


def bgr_to_tensor(faces: np.ndarray) -> torch.Tensor:
    """``N×64×64×3`` uint8 BGR → ``N×3×64×64`` float RGB in [0, 1]."""
    rgb = np.ascontiguousarray(faces[..., ::-1])
    return torch.from_numpy(rgb).permute(0, 3, 1, 2).float().div_(255.0)


def tensor_to_bgr(images: torch.Tensor) -> np.ndarray:
    """``N×3×64×64`` RGB in [0, 1] → ``N×64×64×3`` uint8 BGR (rounded)."""
    arr = images.clamp(0, 1).mul(255.0).round().byte().permute(0, 2, 3, 1).cpu().numpy()
    return np.ascontiguousarray(arr[..., ::-1])


def noise_map(seed: int) -> np.ndarray:
    """The U(0,1) ``64×64`` noise channel for a track seed (same seed → same map)."""
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"a track seed must be a non-negative integer, got {seed!r}")
    return np.random.default_rng(int(seed)).random((FACE_SIZE, FACE_SIZE), dtype=np.float32)


class _Runner:
    def __init__(self, module: torch.nn.Module, card: dict[str, Any], batch_size: int = 64):
        self.module = module.eval().cpu()
        self.card = card
        self.sha256: str = card["sha256"]
        self.batch_size = batch_size


class FaceEncoder(_Runner):
    """U_e: original head crops → de-identified surrogates.

    A virtual-identity U_e picks each track's donor. With ``s_gender`` (see
    :func:`.gender.setup_gender_control`: ``None`` keeps x's gender when the card carries
    donor tags and the reader is installed, ``+1``/``-1`` keep/flip or fail, ``0`` ignores
    gender) the donor comes from the half of the bank of the wanted gender (with
    ``donor_candidates`` > 1, the least like the track's faces of that many drawn by its
    seed; an experiment, see :data:`.donors.DONOR_CANDIDATES`); ``gender_note`` says which
    mode runs. The track's gender is decided the first time its seed is seen
    and kept for the life of this encoder, so one track keeps one donor.
    """

    def __init__(
        self,
        module: torch.nn.Module,
        card: dict[str, Any],
        batch_size: int = 64,
        s_gender: int | None = None,
        models_dir: Path | None = None,
        donor_candidates: int = DONOR_CANDIDATES,
    ) -> None:
        super().__init__(module, card, batch_size)
        faces = None
        if self.donor_count and donor_candidates > 1:
            faces = self.module.donors.permute(0, 2, 3, 1).numpy()  # N×64×64×3 RGB
        self.gender, self.gender_note = setup_gender_control(
            self.donor_count, card, s_gender, models_dir or DEFAULT_MODELS,
            donor_candidates, faces,
        )  # fmt: skip

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        s_gender: int | None = None,
        models_dir: Path | None = None,
        donor_candidates: int = DONOR_CANDIDATES,
    ) -> FaceEncoder:
        """Load ``X.safetensors`` + card; the gender reader from ``models_dir`` (default:
        this install's ``models/``)."""
        module, card = load_model(Path(path), expected_role="encoder")
        return cls(module, card, s_gender=s_gender, models_dir=models_dir,
                   donor_candidates=donor_candidates)  # fmt: skip

    @classmethod
    def from_bytes(
        cls,
        blob: bytes,
        card: dict[str, Any],
        s_gender: int | None = None,
        models_dir: Path | None = None,
        donor_candidates: int = DONOR_CANDIDATES,
    ) -> FaceEncoder:
        """Build from safetensors bytes held in memory (a sealed encoder) and its card."""
        module = module_from_bytes(blob, card, expected_role="encoder")
        return cls(module, card, s_gender=s_gender, models_dir=models_dir,
                   donor_candidates=donor_candidates)  # fmt: skip

    def encode(self, faces_bgr: np.ndarray, seeds: Sequence[int]) -> np.ndarray:
        """De-identify ``N`` faces; ``seeds[i]`` is the track seed of face ``i``.

        Under gender control a seed's first call fixes its track's gender (read from its
        faces in that call), so the same faces give the same bytes on a fresh encoder.
        """
        faces = _check_faces(faces_bgr)
        if len(seeds) != len(faces):
            raise InputError(f"{len(faces)} faces but {len(seeds)} seeds")
        for seed in seeds:
            if not isinstance(seed, int | np.integer) or seed < 0:
                raise InputError(f"a track seed must be a non-negative integer, got {seed!r}")
        out = np.empty_like(faces)
        donors = self.donor_indices(faces, seeds) if self.donor_count else []
        with torch.inference_mode():
            for i in range(0, len(faces), self.batch_size):
                chunk = bgr_to_tensor(faces[i : i + self.batch_size])
                noise = torch.from_numpy(
                    np.stack([noise_map(s) for s in seeds[i : i + self.batch_size]])
                ).unsqueeze(1)
                if self.donor_count:  # U_e(x, z): the track seed (and gender) picks the donor
                    index = torch.tensor(donors[i : i + len(chunk)])
                    out[i : i + len(chunk)] = tensor_to_bgr(self.module(chunk, noise, index))
                else:
                    out[i : i + len(chunk)] = tensor_to_bgr(self.module(chunk, noise))
        return out

    def donor_indices(self, faces_bgr: np.ndarray, seeds: Sequence[int]) -> list[int]:
        """The donor of each face: gender-aware when :attr:`gender` runs, else the seed's
        hash over the whole bank (:func:`.donors.donor_index`)."""
        if self.gender is not None:
            return self.gender.donors(faces_bgr, seeds)
        return [donor_index(s, self.donor_count) for s in seeds]

    @property
    def donor_count(self) -> int:
        """Size of the donor bank of a virtual-identity encoder (0 for the paper's U_e)."""
        return int(getattr(self.module, "donor_count", 0))


class FaceDecoder(_Runner):
    """U_d: public (de-identified) faces → reconstructions of the originals."""

    @classmethod
    def from_file(cls, path: str | Path) -> FaceDecoder:
        module, card = load_model(Path(path), expected_role="decoder")
        return cls(module, card)

    @classmethod
    def from_bytes(cls, blob: bytes, card: dict[str, Any]) -> FaceDecoder:
        """Build from decrypted safetensors bytes held in memory (never touches disk)."""
        return cls(module_from_bytes(blob, card, expected_role="decoder"), card)

    def decode(self, faces_bgr: np.ndarray) -> np.ndarray:
        """Reconstruct ``N`` faces (deterministic: same input → same bytes)."""
        faces = _check_faces(faces_bgr)
        out = np.empty_like(faces)
        with torch.inference_mode():
            for i in range(0, len(faces), self.batch_size):
                chunk = bgr_to_tensor(faces[i : i + self.batch_size])
                out[i : i + len(chunk)] = tensor_to_bgr(self.module(chunk))
        return out


#: The shipped models: models/ of the checkout, or the copy inside an installed wheel.
DEFAULT_MODELS = MODELS_DIR


def default_encoder_path() -> Path:
    """``models/ue.safetensors`` of this checkout / install."""
    return DEFAULT_MODELS / "ue.safetensors"


def default_decoder_path() -> Path:
    """``models/ud.safetensors`` of this checkout / install."""
    return DEFAULT_MODELS / "ud.safetensors"
