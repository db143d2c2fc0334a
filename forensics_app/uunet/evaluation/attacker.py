"""A second, independent identity attacker for the leakage experiment.

dlib is the paper's kind of independent embedder, but once phase 2 trains with E_id
(a student of dlib, ``uunet/identity.py``) dlib has shaped U_e and is no longer independent
of it. This attacker is: a CNN trained here, from scratch, only on the *original* faces of
the training subjects with their subject labels (cosine-softmax classification; nothing of
dlib, D_a or U_e goes into it), then used as an embedder on the held-back subjects. It is
the re-identification attacker of a lab that owns labelled footage of the same cameras.

``forensics eval --attacker-steps N`` trains it (deterministic for a seed) and adds its
x↔x / x↔a / x↔r rows next to dlib's.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from forensics_app.errors import InputError
from forensics_app.uunet.faces import faces_to_tensor
from forensics_app.uunet.networks import build_network

#: Name recorded in eval.json for the attacker's rows.
NAME = "attacker CNN (cosine softmax on the training subjects' original faces)"


class AttackerEmbedder:
    """L2-normalised descriptors of ``N×64×64×3`` uint8 BGR faces, like ``DlibEmbedder``."""

    name = NAME

    def __init__(self, model: nn.Module, report: dict[str, float | int]) -> None:
        self.model = model.eval()
        self.report = report

    def __call__(self, faces_bgr: np.ndarray) -> np.ndarray:
        faces = np.asarray(faces_bgr)
        if faces.ndim != 4 or faces.shape[-1] != 3 or faces.dtype != np.uint8:
            raise InputError(f"faces must be uint8 N×H×W×3, got {faces.dtype} {faces.shape}")
        out = []
        with torch.inference_mode():
            for i in range(0, len(faces), 256):
                x = faces_to_tensor(faces[i : i + 256, :, :, ::-1])  # BGR → RGB
                out.append(F.normalize(self.model(x), dim=1))
        return torch.cat(out).numpy().astype(np.float64)


def train_attacker(
    faces_rgb: np.ndarray,
    subjects: list[str],
    steps: int = 1500,
    seed: int = 0,
    batch_size: int = 128,
    log: Callable[[str], None] = lambda _: None,
) -> AttackerEmbedder:
    """Train the attacker on ``faces_rgb`` (``N×64×64×3`` uint8 RGB) labelled by subject."""
    names = sorted(set(subjects))
    if len(names) < 2 or len(faces_rgb) != len(subjects):
        raise InputError("the attacker needs faces of at least two subjects, one label each")
    if steps < 1:
        raise InputError(f"attacker steps must be positive, got {steps}")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    label_of = {s: i for i, s in enumerate(names)}
    y_all = torch.tensor([label_of[s] for s in subjects])
    x_all = faces_to_tensor(faces_rgb)
    model = build_network("identity_embedder", base=32, dim=128, hidden=256)
    classes = nn.Parameter(torch.randn(len(names), 128, generator=gen) * 0.01)
    opt = torch.optim.Adam([*model.parameters(), classes], lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    model.train()
    loss = torch.tensor(0.0)
    for step in range(steps):
        pick = torch.randint(len(x_all), (batch_size,), generator=gen)
        x, y = x_all[pick], y_all[pick]
        flip = torch.rand(len(x), generator=gen) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
        gain = 1.0 + 0.3 * (torch.rand(len(x), 1, 1, 1, generator=gen) - 0.5)
        x = ((x - 0.5) * gain + 0.5).clamp(0, 1)
        logits = 16.0 * F.normalize(model(x), dim=1) @ F.normalize(classes, dim=1).T
        loss = F.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % 250 == 0:
            log(f"attacker step {step}/{steps}: loss {loss.item():.3f}")
    report = {
        "train_subjects": len(names),
        "train_faces": int(len(faces_rgb)),
        "steps": steps,
        "seed": seed,
        "final_loss": round(float(loss.detach()), 4),
    }
    return AttackerEmbedder(model, report)
