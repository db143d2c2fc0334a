"""Inference API over the released weights, for the producer, the reveal and the GUI.

Faces cross this boundary as ``N×64×64×3`` uint8 **BGR** arrays (the ``core`` convention);
the networks see RGB in [0, 1]. Everything runs on CPU in batches, so the same input always
gives the same bytes. U_e runs as its onnxruntime twin when its card pins one (the producer
then never imports torch, see :mod:`.onnx_twins`); a U_e without a twin, and U_d always, run
in torch under ``torch.inference_mode``.

The encoder's noise channel (and, for the virtual-identity encoder, its donor) comes from a
per-track seed: one subject keeps one surrogate for as long as the tracker keeps its id.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from forensics_app import MODELS_DIR
from forensics_app.core.face_geometry import FACE_SIZE
from forensics_app.core.model_files import check_runtime
from forensics_app.errors import InputError, ModelError
from forensics_app.uunet.donors import DONOR_CANDIDATES, donor_index
from forensics_app.uunet.gender_control import setup_gender_control

if TYPE_CHECKING:  # torch is imported only where a torch network runs
    import torch


def _check_faces(faces: np.ndarray) -> np.ndarray:
    faces = np.asarray(faces)
    if faces.ndim == 3:
        faces = faces[None]
    if faces.ndim != 4 or faces.shape[1:] != (FACE_SIZE, FACE_SIZE, 3):
        raise InputError(f"faces must be N×64×64×3, got shape {tuple(faces.shape)}")
    if faces.dtype != np.uint8:
        raise InputError(f"faces must be uint8, got {faces.dtype}")
    return faces


def bgr_to_float(faces: np.ndarray) -> np.ndarray:
    """``N×64×64×3`` uint8 BGR → ``N×3×64×64`` float32 RGB in [0, 1]."""
    rgb = faces[..., ::-1].transpose(0, 3, 1, 2)
    return np.ascontiguousarray(rgb, np.float32) / np.float32(255.0)


def float_to_bgr(images: np.ndarray) -> np.ndarray:
    """``N×3×64×64`` RGB in [0, 1] → ``N×64×64×3`` uint8 BGR (rounded half to even)."""
    arr = np.rint(np.clip(images, 0.0, 1.0) * np.float32(255.0)).astype(np.uint8)
    return np.ascontiguousarray(arr.transpose(0, 2, 3, 1)[..., ::-1])


def torch_forward(module: torch.nn.Module) -> Callable[..., np.ndarray]:
    """A torch network called with numpy arrays (what :class:`.onnx_twins.OnnxEncoderNet`
    is), under ``torch.inference_mode``."""
    import torch

    def forward(*arrays: np.ndarray | None) -> np.ndarray:
        with torch.inference_mode():
            tensors = [torch.from_numpy(np.ascontiguousarray(a)) for a in arrays if a is not None]
            return module(*tensors).numpy()

    return forward


def noise_map(seed: int) -> np.ndarray:
    """The U(0,1) ``64×64`` noise channel for a track seed (same seed → same map)."""
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"a track seed must be a non-negative integer, got {seed!r}")
    return np.random.default_rng(int(seed)).random((FACE_SIZE, FACE_SIZE), dtype=np.float32)


class _Runner:
    def __init__(self, module: Any, card: dict[str, Any], batch_size: int = 64):
        if hasattr(module, "eval"):  # a torch module (else an onnxruntime twin)
            self.module = module.eval().cpu()
            self.forward = torch_forward(self.module)
            self.runtime = "torch"
        else:
            self.module = None
            self.forward = module
            self.runtime = "onnxruntime"
        self.card = card
        self.sha256: str = card["sha256"]
        self.batch_size = batch_size


class FaceEncoder(_Runner):
    """U_e: original head crops → de-identified surrogates.

    A virtual-identity U_e picks each track's donor. With ``s_gender`` (see
    :func:`.gender_control.setup_gender_control`: ``None`` keeps x's gender when the card
    carries donor tags and the reader is installed, ``+1``/``-1`` keep/flip or fail, ``0``
    ignores gender) the donor comes from the half of the bank of the wanted gender (with
    ``donor_candidates`` > 1, the least like the track's faces of that many drawn by its
    seed; an experiment, see :data:`.donors.DONOR_CANDIDATES`); ``gender_note`` says which
    mode runs. The track's gender is decided the first time its seed is seen
    and kept for the life of this encoder, so one track keeps one donor.

    ``module`` is the torch network or its onnxruntime twin
    (:class:`.onnx_twins.OnnxEncoderNet`); :attr:`runtime` says which.
    """

    def __init__(
        self,
        module: Any,
        card: dict[str, Any],
        batch_size: int = 64,
        s_gender: int | None = None,
        models_dir: Path | None = None,
        donor_candidates: int = DONOR_CANDIDATES,
        runtime: str = "auto",
    ) -> None:
        super().__init__(module, card, batch_size)
        faces = None
        if self.donor_count and donor_candidates > 1:
            faces = self.donor_faces_rgb()
        self.gender, self.gender_note = setup_gender_control(
            self.donor_count, card, s_gender, models_dir or DEFAULT_MODELS,
            donor_candidates, faces, runtime,
        )  # fmt: skip

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        s_gender: int | None = None,
        models_dir: Path | None = None,
        donor_candidates: int = DONOR_CANDIDATES,
        runtime: str = "auto",
    ) -> FaceEncoder:
        """Load ``X.safetensors`` + card; the gender reader from ``models_dir`` (default:
        this install's ``models/``).

        ``runtime``: ``auto`` runs the card's onnxruntime twin when it pins one, else
        torch; ``onnxruntime`` insists on the twin; ``torch`` never uses it. The reader
        of x follows the same rule (donor candidates > 1 read E_id in torch).
        """
        check_runtime(runtime)
        if runtime != "torch":
            from forensics_app.uunet.onnx_twins import load_encoder_twin

            twin = load_encoder_twin(Path(path))
            if twin is not None:
                return cls(twin[0], twin[1], s_gender=s_gender, models_dir=models_dir,
                           donor_candidates=donor_candidates, runtime=runtime)  # fmt: skip
        if runtime == "onnxruntime":
            raise ModelError(f"{Path(path).with_suffix('.json')} names no onnxruntime twin of U_e")
        from forensics_app.uunet.export import load_model

        module, card = load_model(Path(path), expected_role="encoder")
        return cls(module, card, s_gender=s_gender, models_dir=models_dir,
                   donor_candidates=donor_candidates, runtime=runtime)  # fmt: skip

    @classmethod
    def from_bytes(
        cls,
        blob: bytes,
        card: dict[str, Any],
        s_gender: int | None = None,
        models_dir: Path | None = None,
        donor_candidates: int = DONOR_CANDIDATES,
    ) -> FaceEncoder:
        """Build from safetensors bytes held in memory (a sealed encoder) and its card
        (the torch network: a sealed file carries no twin)."""
        from forensics_app.uunet.export import module_from_bytes

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
        for i in range(0, len(faces), self.batch_size):
            chunk = bgr_to_float(faces[i : i + self.batch_size])
            noise = np.stack([noise_map(s) for s in seeds[i : i + self.batch_size]])[:, None]
            index = None
            if self.donor_count:  # U_e(x, z): the track seed (and gender) picks the donor
                index = np.asarray(donors[i : i + len(chunk)], np.int64)
            out[i : i + len(chunk)] = float_to_bgr(self.forward(chunk, noise, index))
        return out

    def donor_indices(self, faces_bgr: np.ndarray, seeds: Sequence[int]) -> list[int]:
        """The donor of each face: gender-aware when :attr:`gender` runs, else the seed's
        hash over the whole bank (:func:`.donors.donor_index`)."""
        if self.gender is not None:
            return self.gender.donors(faces_bgr, seeds)
        return [donor_index(s, self.donor_count) for s in seeds]

    def donor_faces_rgb(self) -> np.ndarray:
        """The donor bank as ``N×64×64×3`` uint8 RGB faces (empty for the paper's U_e)."""
        if self.module is None:
            bank = self.forward.donors
        else:
            bank = getattr(self.module, "donors", None)
            bank = None if bank is None else bank.numpy()
        if bank is None:
            return np.zeros((0, FACE_SIZE, FACE_SIZE, 3), np.uint8)
        return np.ascontiguousarray(bank.transpose(0, 2, 3, 1))

    @property
    def donor_count(self) -> int:
        """Size of the donor bank of a virtual-identity encoder (0 for the paper's U_e)."""
        if self.module is None:
            return int(self.forward.donor_count)
        return int(getattr(self.module, "donor_count", 0))


class FaceDecoder(_Runner):
    """U_d: public (de-identified) faces → reconstructions of the originals."""

    @classmethod
    def from_file(cls, path: str | Path) -> FaceDecoder:
        """Load ``X.safetensors`` + card (torch)."""
        from forensics_app.uunet.export import load_model

        module, card = load_model(Path(path), expected_role="decoder")
        return cls(module, card)

    @classmethod
    def from_bytes(cls, blob: bytes, card: dict[str, Any]) -> FaceDecoder:
        """Build from decrypted safetensors bytes held in memory (never touches disk)."""
        from forensics_app.uunet.export import module_from_bytes

        return cls(module_from_bytes(blob, card, expected_role="decoder"), card)

    def decode(self, faces_bgr: np.ndarray) -> np.ndarray:
        """Reconstruct ``N`` faces (deterministic: same input → same bytes)."""
        faces = _check_faces(faces_bgr)
        out = np.empty_like(faces)
        for i in range(0, len(faces), self.batch_size):
            chunk = bgr_to_float(faces[i : i + self.batch_size])
            out[i : i + len(chunk)] = float_to_bgr(self.forward(chunk))
        return out


#: The shipped models: models/ of the checkout, or the copy inside an installed wheel.
DEFAULT_MODELS = MODELS_DIR


def default_encoder_path() -> Path:
    """``models/ue.safetensors`` of this checkout / install."""
    return DEFAULT_MODELS / "ue.safetensors"


def default_decoder_path() -> Path:
    """``models/ud.safetensors`` of this checkout / install."""
    return DEFAULT_MODELS / "ud.safetensors"
