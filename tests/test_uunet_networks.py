"""Shapes, value ranges and configuration of the four UU-Net networks."""

from __future__ import annotations

import pytest
import torch

from forensics_app.errors import ModelError
from forensics_app.uunet.networks import build_network, network_names


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def test_registry_names_and_unknown_name() -> None:
    assert network_names() == [
        "attribute_matcher",
        "gender_probe",
        "identity_embedder",
        "patch_critic",
        "unet_decoder",
        "unet_encoder",
        "vi_encoder",
    ]
    with pytest.raises(ModelError, match="unknown network"):
        build_network("resnet")
    with pytest.raises(ModelError, match="bad configuration"):
        build_network("unet_decoder", widthh=3)


def test_attribute_matcher_table_one() -> None:
    da = build_network("attribute_matcher", labels=["id", "gender", "hairstyle"]).eval()
    x = torch.rand(5, 3, 64, 64)
    with torch.no_grad():
        out = da(x, x.flip(0))
    assert out.shape == (5, 3)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    convs = [m for m in da.features.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [16, 64, 128, 64, 64]
    assert [c.stride[0] for c in convs] == [2, 1, 1, 2, 2]
    bns = [m for m in da.features.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert all(abs(b.momentum - 0.2) < 1e-9 for b in bns)  # Keras momentum .8
    drops = [m for m in da.features.modules() if isinstance(m, torch.nn.Dropout)]
    assert len(drops) == 5 and all(d.p == 0.25 for d in drops)
    assert da.head[1].out_features == 128 and da.head[3].out_features == 3


def test_encoder_takes_noise_and_outputs_unit_range() -> None:
    ue = build_network("unet_encoder", base=8, depth=3)
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        a1 = ue(x, torch.rand(2, 1, 64, 64))
        a2 = ue(x, torch.rand(2, 1, 64, 64))
    assert a1.shape == (2, 3, 64, 64)
    assert float(a1.min()) >= 0.0 and float(a1.max()) <= 1.0
    assert not torch.equal(a1, a2), "the noise channel must change the output"


def test_decoder_deterministic_in_eval_mode() -> None:
    ud = build_network("unet_decoder", base=8, depth=3, norm="batch").eval()
    a = torch.rand(3, 3, 64, 64)
    with torch.inference_mode():
        r1, r2 = ud(a), ud(a.clone())
    assert r1.shape == (3, 3, 64, 64)
    assert torch.equal(r1, r2)
    assert not any(isinstance(m, torch.nn.Dropout) for m in ud.modules())


def test_patch_critic_gives_patch_scores() -> None:
    df = build_network("patch_critic", base=16, layers=3)
    out = df(torch.rand(4, 3, 64, 64))
    assert out.shape[0:2] == (4, 1) and out.shape[2] > 1 and out.shape[3] > 1
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in df.modules())


@pytest.mark.parametrize("norm", ["batch", "group", "instance", "none"])
def test_unet_norm_injection(norm: str) -> None:
    ud = build_network("unet_decoder", base=8, depth=2, norm=norm)
    assert ud(torch.rand(2, 3, 64, 64)).shape == (2, 3, 64, 64)


def test_inner_size_and_residual_identity_at_init() -> None:
    ud = build_network("unet_decoder", base=8, depth=3, inner_size=32, residual=True).eval()
    a = torch.rand(2, 3, 64, 64) * 0.9 + 0.05
    with torch.no_grad():
        r = ud(a)
    assert r.shape == a.shape
    assert torch.allclose(r, a, atol=1e-5)  # zero-initialised head: starts as the identity
    with pytest.raises(ModelError, match="inner_size"):
        build_network("unet_decoder", depth=3, inner_size=36)


def test_bad_norm_and_activation_names() -> None:
    with pytest.raises(ModelError, match="norm"):
        build_network("unet_decoder", norm="layer")
    with pytest.raises(ModelError, match="activation"):
        build_network("unet_decoder", act="gelu2")
