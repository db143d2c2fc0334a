"""Each UU-Net loss on hand-made inputs with a known answer."""

from __future__ import annotations

import math

import pytest
import torch

from forensics_app.errors import InputError
from forensics_app.uunet import losses as L


def test_mse_known_value() -> None:
    x = torch.zeros(2, 3, 4, 4)
    assert float(L.mse_loss(x, x + 0.5)) == pytest.approx(0.25)
    assert float(L.mse_loss(x, x)) == 0.0


def test_attribute_bce_masks_unknown_labels() -> None:
    logits = torch.tensor([[10.0, -3.0], [-10.0, 5.0]])
    agree = torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    full = L.attribute_bce(logits, agree, torch.ones(2, 2))
    masked = L.attribute_bce(logits, agree, torch.tensor([[1.0, 0.0], [1.0, 0.0]]))
    assert float(masked) < 1e-3 < float(full)  # only the confident, correct id column left


def test_critic_and_generator_adv_losses() -> None:
    d_x, d_a, d_r = torch.full((3,), 2.0), torch.full((3,), -1.0), torch.full((3,), 0.5)
    assert float(L.critic_loss(d_x, d_a, d_r)) == pytest.approx(-4.0 - 1.0 + 0.5)
    assert float(L.generator_adv_loss(d_a, d_r)) == pytest.approx(1.0 - 0.5)


class _Linear(torch.nn.Module):
    """A linear critic w·x whose input gradient has norm ‖w‖ everywhere."""

    def __init__(self, norm: float) -> None:
        super().__init__()
        w = torch.randn(3 * 8 * 8)
        self.w = torch.nn.Parameter(w / w.norm() * norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ self.w


def _gp(*args, **kwargs) -> float:
    return float(L.gradient_penalty(*args, **kwargs).detach())


def test_gradient_penalty_zero_for_unit_lipschitz_linear_critic() -> None:
    real, fake = torch.rand(4, 3, 8, 8), torch.rand(4, 3, 8, 8)
    assert _gp(_Linear(1.0), real, fake) == pytest.approx(0.0, abs=1e-10)
    assert _gp(_Linear(2.0), real, fake) == pytest.approx(1.0, rel=1e-5)
    assert _gp(_Linear(0.01), real, fake, target_norm=0.01) == pytest.approx(0.0, abs=1e-12)


def test_gradient_penalty_is_differentiable_wrt_critic() -> None:
    critic = _Linear(3.0)
    gp = L.gradient_penalty(critic, torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8))
    gp.backward()
    # d/dw (‖w‖−1)² = 2(‖w‖−1) w/‖w‖ → norm 2·(3−1) = 4
    assert float(critic.w.grad.norm()) == pytest.approx(4.0, rel=1e-4)


def test_s_vector_rules() -> None:
    labels = ["id", "gender"]
    assert L.check_s_vector([-1, 1], labels).tolist() == [-1.0, 1.0]
    with pytest.raises(InputError, match="s_id"):
        L.check_s_vector([1, 1], labels)
    with pytest.raises(InputError, match="-1, 0 or 1"):
        L.check_s_vector([-1, 2], labels)
    with pytest.raises(InputError, match="labels"):
        L.check_s_vector([-1], labels)


def test_anonymization_loss_sign_follows_s() -> None:
    same = torch.tensor([[1.0, 1.0]])  # D_a: the pair shares id and gender
    s_keep_gender = torch.tensor([-1.0, 1.0])
    s_change_all = torch.tensor([-1.0, -1.0])
    # sharing the id is penalised (+1), sharing gender rewarded (−1) → 0
    assert float(L.anonymization_loss(same, s_keep_gender)) == pytest.approx(0.0)
    assert float(L.anonymization_loss(same, s_change_all)) == pytest.approx(2.0)
    assert float(L.anonymization_loss(same, -s_change_all)) == pytest.approx(-2.0)
    differ = torch.tensor([[0.0, 0.0]])
    assert float(L.anonymization_loss(differ, s_change_all)) == pytest.approx(-2.0)


def test_consistency_and_diversity_losses() -> None:
    p = torch.tensor([[1.0, 0.5], [0.0, 0.5]])
    assert float(L.consistency_loss(p)) == pytest.approx(-1.0)
    assert float(L.diversity_loss(p)) == pytest.approx(1.0)
    assert float(L.diversity_loss(p, torch.tensor([1.0, 0.0]))) == pytest.approx(1.5)


def test_soft_histogram_is_a_distribution() -> None:
    h = L.soft_histogram(torch.rand(2, 3, 16, 16), bins=8)
    assert h.shape == (2, 3, 8)
    assert torch.allclose(h.sum(-1), torch.ones(2, 3))


def test_chi_square_zero_for_identical_and_grows_with_shift() -> None:
    x = torch.rand(1, 3, 32, 32) * 0.5
    assert float(L.distribution_loss(x, x.clone())) == pytest.approx(0.0, abs=1e-7)
    d = [float(L.distribution_loss(x, x + s)) for s in (0.05, 0.15, 0.3, 0.5)]
    assert all(b > a for a, b in zip(d, d[1:], strict=False)), d
    assert d[-1] <= 2.0 + 1e-6  # χ² of two densities is bounded by 2


def test_chi_square_formula() -> None:
    h1, h2 = torch.tensor([0.5, 0.5, 0.0]), torch.tensor([0.0, 0.5, 0.5])
    assert float(L.chi_square(h1, h2)) == pytest.approx(0.25 / 0.5 + 0 + 0.25 / 0.5)


def test_gradient_flows_through_distribution_loss() -> None:
    a = (torch.rand(2, 3, 16, 16) * 0.3).requires_grad_(True)
    x = torch.rand(2, 3, 16, 16) * 0.3 + 0.6
    loss = L.distribution_loss(x, a)
    loss.backward()
    assert a.grad is not None and float(a.grad.abs().sum()) > 0
    with torch.no_grad():  # a step along −grad brings the histograms closer
        stepped = a - 0.5 * a.grad / a.grad.abs().max() * 0.05
    assert float(L.distribution_loss(x, stepped)) < float(loss.detach())
    assert not math.isnan(float(loss.detach()))


def test_chroma_loss_sees_hue_not_brightness() -> None:
    """L_chroma (ours): the code U_e adds to its donor transfer may change brightness but
    not hue, so it does not show as false colour."""
    torch.manual_seed(0)
    a0 = torch.rand(4, 3, 16, 16)
    assert L.chroma(torch.full((1, 3, 4, 4), 0.3)).abs().max() < 1e-6  # grey has no chroma
    assert L.chroma_loss(a0, a0) == 0
    brighter = (a0 + 0.1).clamp(0, 1)  # the same shift on R, G and B: luma only
    bluer = a0.clone()
    bluer[:, 2] = (bluer[:, 2] + 0.1).clamp(0, 1)
    assert L.chroma_loss(bluer, a0) > 5 * L.chroma_loss(brighter, a0)
    assert "chroma" in L.GENERATOR_LOSSES and L.DEFAULT_WEIGHTS["chroma"] == 0.0
