"""The UU-Net losses (paper eqs. 3, 5–12), each a named, separately tested function.

Every function returns a scalar tensor to *minimise*. Where the paper's printed formula would
minimise to the opposite of what its text says, the text wins and the docstring says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.nn import functional as F

from forensics_app.errors import InputError

#: Names of the generator loss terms, in the order they are logged. ``id`` is ours, not the
#: paper's: it is used only when phase 2 is given an identity embedder (identity.py).
GENERATOR_LOSSES = ("mse", "adv", "ano", "con", "div", "dis", "id", "idz", "chroma")
#: Paper §IV-A weights, plus the weight of ``id`` when it is enabled.
DEFAULT_WEIGHTS = {
    "mse": 50.0, "adv": 1.0, "ano": 1.0, "con": 1.0, "div": 1.0, "dis": 1.0, "id": 1.0,
    "idz": 1.0, "chroma": 0.0,
}  # fmt: skip


def attribute_bce(logits: torch.Tensor, agree: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Eq. 3: binary cross-entropy of D_a's per-label agreement scores.

    ``agree`` is b (1 where the pair shares the label); ``mask`` is 0 where a label is
    unknown for the pair, so partly annotated data can be used.
    """
    per = F.binary_cross_entropy_with_logits(logits, agree.float(), reduction="none")
    weight = mask.float()
    return (per * weight).sum() / weight.sum().clamp_min(1.0)


def mse_loss(x: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Eq. 5: reconstruction fidelity; the mean squared error between x and r = U_d(U_e(x))."""
    return F.mse_loss(r, x)


def critic_loss(d_x: torch.Tensor, d_a: torch.Tensor, d_r: torch.Tensor) -> torch.Tensor:
    """Eq. 6 (without the constraint): ``-2 E D_f(x) + E D_f(a) + E D_f(r)``."""
    return -2.0 * d_x.mean() + d_a.mean() + d_r.mean()


def generator_adv_loss(d_a: torch.Tensor, d_r: torch.Tensor) -> torch.Tensor:
    """Eq. 8: the generators' side, ``-E D_f(a) - E D_f(r)``."""
    return -d_a.mean() - d_r.mean()


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    target_norm: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """WGAN-GP penalty ``E[(‖∇D(x̂)‖₂ − target)²]`` on random interpolates x̂ of real and fake.

    A real penalty: gradients are taken with ``create_graph=True`` so the critic's update
    sees it. The paper's δ_gp bounds the critic's gradient; the trainer passes it as
    ``target_norm``.
    """
    fake = fake.detach()
    eps = torch.rand(real.shape[0], 1, 1, 1, device=real.device, generator=generator)
    mixed = (eps * real.detach() + (1 - eps) * fake).requires_grad_(True)
    score = critic(mixed)
    (grad,) = torch.autograd.grad(score.sum(), mixed, create_graph=True)
    norms = grad.flatten(1).norm(2, dim=1)
    return ((norms - target_norm) ** 2).mean()


def check_s_vector(s: Sequence[float], labels: Sequence[str]) -> torch.Tensor:
    """Validate s ∈ {−1, 0, 1}^t with s_id = −1 (de-identification is not optional)."""
    if len(s) != len(labels):
        raise InputError(f"s has {len(s)} entries but there are {len(labels)} labels")
    if any(v not in (-1, 0, 1) for v in s):
        raise InputError(f"s must contain only -1, 0 or 1, got {list(s)}")
    if "id" in labels and s[list(labels).index("id")] != -1:
        raise InputError("s_id must be -1: the identity of a de-identified face must differ")
    return torch.tensor([float(v) for v in s])


def anonymization_loss(da_x_a: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """Eq. 9 with the text's semantics: minimising drives label i to agree if s_i=+1, to
    disagree if s_i=−1. The printed ``s ⊙ (2D_a−1)`` minimised would do the opposite, so the
    sign is flipped: ``−E s ⊙ (2 D_a(x, a) − 1)``.
    """
    return -((2.0 * da_x_a - 1.0) * s.to(da_x_a)).sum(dim=1).mean()


def consistency_loss(da_a_a: torch.Tensor) -> torch.Tensor:
    """Eq. 10: frames of one sequence share every label, ``−E 1 ⊙ D_a(a_k, a_k')``."""
    return -da_a_a.sum(dim=1).mean()


def diversity_loss(da_a_a: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 11: different sequences of one subject get different surrogates,
    ``E 1 ⊙ D_a(a_j, a_j')``; ``mask`` drops samples without a second sequence."""
    per = da_a_a.sum(dim=1)
    if mask is None:
        return per.mean()
    weight = mask.float()
    return (per * weight).sum() / weight.sum().clamp_min(1.0)


def soft_histogram(images: torch.Tensor, bins: int = 16, bandwidth: float | None = None):
    """Differentiable per-channel colour histogram ``N×C×bins`` (each row sums to 1).

    Every pixel value votes for every bin with a Gaussian kernel normalised over bins, so
    the histogram moves smoothly when a pixel changes (a hard histogram has zero gradient).
    """
    sigma = bandwidth if bandwidth is not None else 0.5 / bins
    centres = (torch.arange(bins, device=images.device, dtype=images.dtype) + 0.5) / bins
    values = images.flatten(2).unsqueeze(-1)  # N×C×P×1
    votes = torch.softmax(-((values - centres) ** 2) / (2 * sigma**2), dim=-1)
    return votes.mean(dim=2)


def chi_square(h1: torch.Tensor, h2: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """χ² distance ``Σ (h1−h2)² / (h1+h2)`` over the last axis (0 for identical histograms)."""
    return ((h1 - h2) ** 2 / (h1 + h2 + eps)).sum(dim=-1)


def distribution_loss(
    x: torch.Tensor, a: torch.Tensor, bins: int = 16, pool: int = 1
) -> torch.Tensor:
    """Eq. 12: χ² between the soft colour histograms of x and a, mean over channels/batch.

    ``pool`` > 1 averages ``pool×pool`` blocks first (cheaper; the colour distribution of a
    face upscaled from a small head box barely changes).
    """
    if pool > 1:
        x, a = F.avg_pool2d(x, pool), F.avg_pool2d(a, pool)
    return chi_square(soft_histogram(x, bins), soft_histogram(a, bins)).mean()


def identity_loss(emb_x: torch.Tensor, emb_a: torch.Tensor, margin: float) -> torch.Tensor:
    """Ours: push a's identity descriptor at least ``margin`` away from x's.

    ``mean(relu(margin − ‖e(x) − e(a)‖₂)) / margin``: 1 when a has x's descriptor, 0 once
    every surrogate is ``margin`` or further away (dlib calls two faces the same person
    below 0.6). A hinge, not an unbounded push, so U_e stops changing a face once it no
    longer matches and the other terms (realism, reconstruction) take over.
    """
    if margin <= 0:
        raise InputError(f"the identity margin must be positive, got {margin}")
    distance = (emb_x - emb_a).pow(2).sum(dim=1).clamp_min(1e-12).sqrt()
    return F.relu(margin - distance).mean() / margin


def donor_identity_loss(emb_z: torch.Tensor, emb_a: torch.Tensor, margin: float) -> torch.Tensor:
    """Ours (virtual-identity U_e): pull a's identity descriptor to within ``margin`` of its
    donor z's, ``mean(relu(‖e(z) − e(a)‖₂ − margin)) / margin``.

    The hinge stops pulling once a *is* the donor to the recogniser, so the residual that
    carries x for U_d is not ironed out beyond what identity needs.
    """
    if margin <= 0:
        raise InputError(f"the donor margin must be positive, got {margin}")
    distance = (emb_z - emb_a).pow(2).sum(dim=1).clamp_min(1e-12).sqrt()
    return F.relu(distance - margin).mean() / margin


def chroma(rgb: torch.Tensor) -> torch.Tensor:
    """The Cb and Cr planes (BT.601, full range) of ``N×3×H×W`` RGB in [0, 1]."""
    r, g, b = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    cb = -0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 0.5 * r - 0.418688 * g - 0.081312 * b
    return torch.stack([cb, cr], dim=1)


def chroma_loss(a: torch.Tensor, a0: torch.Tensor) -> torch.Tensor:
    """Ours: keep the surrogate's colour that of its donor transfer ``a0``.

    ``mean |chroma(a) − chroma(a0)|``: the residual U_e adds to ``a0`` (what U_d needs) may
    change brightness but not hue, so the code hidden in ``a`` does not show as false
    colour (weight ``chroma``, 0 by default).
    """
    return (chroma(a) - chroma(a0)).abs().mean()
