"""E_id: a differentiable stand-in for dlib's face descriptor, and how it is trained.

Why this exists (a departure from the paper, docs/ARCHITECTURE.md): the paper's only identity
signal for U_e is D_a's "same identity" score. A small D_a trained on little data is easy to
fool — U_e learnt to tint the face and paint the mouth, D_a said "different person" and dlib
still matched 96 % of the surrogates to their originals. E_id regresses dlib's 128-D
descriptor (the embedder the evaluation uses, docs/RESULTS.md) with a small CNN, so phase 2
can push the *descriptor distance* between x and a past a margin (:func:`losses.identity_loss`).

A student can be fooled too. Phase 2 therefore keeps it honest ("oracle in the loop"): every
``id_refresh_every`` steps it asks real dlib for the descriptors of the current surrogates and
fits E_id to them, so a change of U_e that fools E_id but not dlib is corrected within a few
refreshes. Because E_id learns from dlib, dlib distances measured afterwards are not an
independent test; the closing figures say so.

``forensics train identity`` (phase 1b) computes the teacher descriptors once (cached in the
output folder, keyed by the face's pixels), trains E_id and exports ``identity.safetensors``
with a card giving how well its distances follow dlib's on held-back subjects.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from forensics_app.core.atomic import PUBLIC, atomic_open
from forensics_app.errors import InputError, ModelError
from forensics_app.uunet import runtime
from forensics_app.uunet.data import FaceIndex
from forensics_app.uunet.export import export_model
from forensics_app.uunet.faces import DlibEmbedder, faces_to_tensor
from forensics_app.uunet.networks import build_network

#: Embedder whose descriptor E_id regresses (the same as the evaluation's).
TEACHER = "dlib_face_recognition_resnet_model_v1"


class DlibTeacher:
    """dlib's descriptor of RGB tensors or uint8 RGB arrays (64×64), as float32 arrays."""

    def __init__(self) -> None:
        self._embedder = DlibEmbedder()  # raises ModelError when dlib is not installed

    def faces(self, rgb_u8: np.ndarray) -> np.ndarray:
        """``N×64×64×3`` uint8 RGB → ``N×128`` float32."""
        bgr = np.ascontiguousarray(np.asarray(rgb_u8)[..., ::-1])
        return self._embedder(bgr).astype(np.float32)

    def tensors(self, rgb: torch.Tensor) -> torch.Tensor:
        """``N×3×64×64`` in [0, 1] → ``N×128`` float32 tensor (on the input's device)."""
        u8 = (rgb.detach().clamp(0, 1) * 255.0).round().byte().permute(0, 2, 3, 1)
        return torch.from_numpy(self.faces(u8.cpu().numpy())).to(rgb.device)


def face_key(rgb_u8: np.ndarray) -> str:
    """Cache key of one face: a hash of its pixels (so a cache survives re-scanning)."""
    return hashlib.sha1(np.ascontiguousarray(rgb_u8).tobytes()).hexdigest()[:20]


def teacher_descriptors(
    faces: np.ndarray,
    cache_path: Path,
    teacher: DlibTeacher | None = None,
    progress: Callable[[int, int], None] | None = None,
    batch: int = 64,
) -> np.ndarray:
    """dlib descriptors of ``faces`` (``N×64×64×3`` uint8 RGB), computed once and cached.

    The cache (``.npz``: keys, descriptors) is extended and rewritten atomically after
    every batch, so an interrupted run keeps what it had computed.
    """
    keys = [face_key(f) for f in faces]
    known: dict[str, np.ndarray] = {}
    cache_path = Path(cache_path)
    if cache_path.is_file():
        with np.load(cache_path) as saved:
            known = dict(zip(saved["keys"].tolist(), saved["descriptors"], strict=True))
    todo = [i for i, k in enumerate(keys) if k not in known]
    if todo and teacher is None:
        teacher = DlibTeacher()
    for start in range(0, len(todo), batch):
        idx = todo[start : start + batch]
        for i, d in zip(idx, teacher.faces(faces[idx]), strict=True):  # type: ignore[union-attr]
            known[keys[i]] = d
        _write_cache(cache_path, known)
        if progress is not None:
            progress(min(start + batch, len(todo)), len(todo))
    return np.stack([known[k] for k in keys]).astype(np.float32)


def _write_cache(path: Path, known: dict[str, np.ndarray]) -> None:
    with atomic_open(path, PUBLIC) as handle:
        np.savez(handle, keys=np.array(list(known)), descriptors=np.stack(list(known.values())))


def distillation_loss(student: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Regress the descriptors and, above all, their pairwise distances.

    ``mse(student, target) + mean((‖s_i − s_j‖ − ‖t_i − t_j‖)²)`` over the batch: what
    phase 2 uses is distances, so they are what must match dlib's.
    """
    pair = (torch.cdist(student, student) - torch.cdist(target, target)).pow(2).mean()
    return F.mse_loss(student, target) + pair


@dataclass
class IdentityConfig(runtime.TrainConfig):
    """Resolved phase-1b configuration (saved as config.json beside the outputs)."""

    base: int = 32
    dim: int = 128
    hidden: int = 256
    batch_size: int = 128
    steps: int = 3000
    lr: float = 1e-3
    log_every: int = 50


def _faces_of(index: FaceIndex) -> tuple[np.ndarray, list[str]]:
    faces, subjects = [], []
    for seq in index.sequences:
        faces.append(seq.frames)
        subjects += [seq.subject] * len(seq.frames)
    if not faces:
        return np.zeros((0, 64, 64, 3), np.uint8), []
    return np.concatenate(faces), subjects


def fidelity(
    model: torch.nn.Module, faces: np.ndarray, target: np.ndarray, subjects: list[str]
) -> dict[str, float]:
    """How well E_id stands in for dlib on ``faces``: Pearson r of the pairwise distances,
    descriptor RMSE, and the same/different-subject ROC AUC of each embedder's distances."""
    from forensics_app.uunet.separability import roc_auc  # scipy, only when measured

    model.eval()
    with torch.inference_mode():
        pred = torch.cat(
            [model(faces_to_tensor(faces[i : i + 256])) for i in range(0, len(faces), 256)]
        )
    pred_np = pred.numpy().astype(np.float64)
    iu = np.triu_indices(len(faces), 1)
    d_s = np.linalg.norm(pred_np[:, None] - pred_np[None], axis=-1)[iu]
    d_t = np.linalg.norm(target[:, None].astype(np.float64) - target[None], axis=-1)[iu]
    labels = np.asarray(subjects)
    same = (labels[:, None] == labels[None])[iu]
    out = {
        "pairs": int(len(d_s)),
        "distance_pearson_r": float(np.corrcoef(d_s, d_t)[0, 1]),
        "descriptor_rmse": float(np.sqrt(np.mean((pred_np - target) ** 2))),
    }
    if same.any() and (~same).any():
        # roc_auc(genuine, impostor): how often a genuine distance is below an impostor one
        out["auc_same_vs_other_student"] = float(roc_auc(d_s[same], d_s[~same]))
        out["auc_same_vs_other_dlib"] = float(roc_auc(d_t[same], d_t[~same]))
    return out


def train_identity(
    data: Path, out: Path, config: IdentityConfig, quiet: bool = False
) -> dict[str, object]:
    """Distil dlib into E_id on ``data``; export ``out/identity.safetensors`` + card."""
    run = runtime.TrainRun(
        config, data, out,
        single_process="train identity runs in one process (it is small); drop torchrun",
    )  # fmt: skip
    dist, out = run.dist, run.out
    out.mkdir(parents=True, exist_ok=True)
    run.save_config()
    train_index, eval_index = run.split()
    faces, _ = _faces_of(train_index)
    if len(faces) < 2:
        raise InputError(f"{data}: too few training faces to distil the identity embedder")
    faces = np.concatenate([faces, faces[:, :, ::-1]])  # flips: dlib sees them as new faces
    eval_faces, eval_subjects = _faces_of(eval_index)
    cache = out / "teacher_descriptors.npz"
    bar = tqdm(total=len(faces) + len(eval_faces), disable=quiet, desc="dlib descriptors")

    def tick(done: int, total: int) -> None:
        bar.n = done
        bar.refresh()

    teacher = DlibTeacher()
    target = teacher_descriptors(faces, cache, teacher, tick)
    eval_target = teacher_descriptors(eval_faces, cache, teacher) if len(eval_faces) else None
    bar.close()

    arch = {"base": config.base, "dim": config.dim, "hidden": config.hidden}
    model = build_network("identity_embedder", **arch).to(dist.device)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, config.steps))
    x_all, t_all = faces_to_tensor(faces), torch.from_numpy(target)
    gen = torch.Generator().manual_seed(config.seed)
    model.train()
    for step, _, _ in run.steps("E_id", quiet):
        pick = torch.randint(len(x_all), (config.batch_size,), generator=gen)
        x = x_all[pick].to(dist.device)
        # identity-preserving jitter: brightness/contrast within ±10 %
        gain = 1.0 + 0.2 * (torch.rand(len(x), 1, 1, 1, generator=gen) - 0.5)
        x = ((x - 0.5) * gain.to(x) + 0.5).clamp(0, 1)
        loss = distillation_loss(model(x), t_all[pick].to(dist.device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        run.show(loss=loss.item())
        if step % config.log_every == 0:
            run.log.write({"phase": "identity", "step": step, "loss": loss.item()})
    seconds = run.seconds
    model = model.cpu().eval()
    metrics: dict[str, object] = {}
    if eval_target is not None and len(eval_faces) >= 2:
        metrics["heldout"] = fidelity(model, eval_faces, eval_target, eval_subjects)
    card = export_model(
        model,
        "identity_embedder",
        arch,
        out / "identity.safetensors",
        role="identity_embedder",
        data={
            "root": str(data),
            "teacher": TEACHER,
            "train_faces": int(len(faces)),
            "train_subjects": len(train_index.subjects),
            "heldout_subjects": eval_index.subjects,
        },
        training={**asdict(config), "steps_done": run.next_step, "seconds": round(seconds, 1)},
        metrics=metrics,
    )
    return {"sha256": card["sha256"], "seconds": round(seconds, 1), **metrics}


def load_identity(folder_or_file: Path) -> tuple[torch.nn.Module, dict]:
    """E_id from a folder holding ``identity.safetensors`` (or that file itself)."""
    from forensics_app.uunet.export import load_model

    path = Path(folder_or_file)
    if path.is_dir():
        path = path / "identity.safetensors"
    if not path.is_file():
        raise ModelError(f"no identity embedder at {path} (train one: forensics train identity)")
    return load_model(path, "identity_embedder")
