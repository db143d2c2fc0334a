"""The differentiable channel between U_e and U_d."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from forensics_app.errors import InputError
from forensics_app.uunet.channel import (
    Channel,
    ChannelConfig,
    h264_straight_through,
    jpeg_numpy,
    jpeg_straight_through,
    resize_through_box,
    subsample_chroma,
)


def _smooth(n: int = 2) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 64), torch.linspace(0, 1, 64), indexing="ij")
    base = torch.stack([xx, yy, (xx + yy) / 2])
    return base.expand(n, 3, 64, 64).clone()


def test_resize_through_box_keeps_shape_and_full_box_is_identity() -> None:
    x = torch.rand(2, 3, 64, 64)
    assert torch.allclose(resize_through_box(x, 64, 64), x, atol=1e-6)
    small = resize_through_box(x, 12, 16)
    assert small.shape == x.shape
    assert float((small - x).abs().mean()) > 0.05  # detail is really lost
    with pytest.raises(InputError):
        resize_through_box(x, 0, 10)


def test_real_jpeg_changes_noise_and_keeps_smooth_images() -> None:
    rng = np.random.default_rng(0)
    noisy = rng.integers(0, 256, (1, 64, 64, 3), dtype=np.uint8)
    coded = jpeg_numpy(noisy, 30)
    assert coded.shape == noisy.shape and np.abs(coded.astype(int) - noisy).mean() > 10
    smooth = (_smooth(1).permute(0, 2, 3, 1).numpy() * 255).astype(np.uint8)
    assert np.abs(jpeg_numpy(smooth, 95).astype(int) - smooth).mean() < 2


def test_jpeg_straight_through_forward_is_codec_backward_is_identity() -> None:
    x = torch.rand(2, 3, 64, 64, requires_grad=True)
    y = jpeg_straight_through(x, 50)
    assert not torch.allclose(y, x)
    (y * 2).sum().backward()
    assert torch.allclose(x.grad, torch.full_like(x, 2.0))
    with pytest.raises(InputError):
        jpeg_straight_through(x, 0)


def test_gradient_flows_through_the_whole_channel() -> None:
    config = ChannelConfig(p_scale=1.0, p_noise=1.0, p_jpeg=1.0)
    channel = Channel(config, seed=3)
    a = (_smooth() * 0.8 + 0.1).requires_grad_(True)
    out = channel(a)
    assert out.shape == a.shape
    assert float(out.detach().min()) >= 0.0 and float(out.detach().max()) <= 1.0
    out.mean().backward()
    assert a.grad is not None and float(a.grad.abs().sum()) > 0


def test_channel_is_reproducible_with_a_seed() -> None:
    a = _smooth()
    config = ChannelConfig(p_noise=0.0)
    assert torch.equal(Channel(config, seed=5)(a), Channel(config, seed=5)(a))


def test_h264_straight_through_forward_is_codec_backward_is_identity() -> None:
    x = (_smooth(3) * 0.6 + 0.2 + 0.1 * torch.rand(3, 3, 64, 64)).requires_grad_(True)
    y = h264_straight_through(x, 30)
    assert y.shape == x.shape and not torch.allclose(y, x)
    assert float((y - x).detach().abs().mean()) < 0.05  # a codec, not noise: close to the input
    (y * 3).sum().backward()
    assert torch.allclose(x.grad, torch.full_like(x, 3.0))


def test_h264_in_the_channel_is_off_by_default_and_keeps_old_runs_identical() -> None:
    a = _smooth()
    assert ChannelConfig().p_h264 == 0.0
    on = Channel(ChannelConfig(p_scale=0.0, p_noise=0.0, p_jpeg=0.0, p_h264=1.0), seed=1)(a)
    off = Channel(ChannelConfig(p_scale=0.0, p_noise=0.0, p_jpeg=0.0), seed=1)(a)
    assert torch.equal(off, a.clamp(0, 1)) and not torch.equal(on, off)


def _colour_faces() -> np.ndarray:
    """64 smooth random colour faces of 16 px (uint8 BGR), sharp enough to have colour detail."""
    import cv2

    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (64, 8, 8, 3)).astype(np.uint8)
    return np.stack([cv2.resize(b, (16, 16), interpolation=cv2.INTER_CUBIC) for b in base])


def test_subsample_chroma_models_a_real_yuv420_stream() -> None:
    """Against libx264 at CRF 0 (luma near lossless, chroma 4:2:0) the model is close and
    doing nothing is far: the 4:2:0 loss is what the step teaches U_e about."""
    from forensics_app.uunet.codecs import h264

    faces = _colour_faces()
    coded = h264(faces, 0)[..., ::-1].astype(np.float64)  # faces on an even grid: phase 0
    rgb = torch.from_numpy(faces[..., ::-1].copy()).permute(0, 3, 1, 2).float() / 255
    model = subsample_chroma(rgb).permute(0, 2, 3, 1).numpy() * 255
    assert np.abs(model - coded).mean() < 3.0
    assert np.abs(faces[..., ::-1] - coded).mean() > 10.0


def test_subsample_chroma_keeps_luma_and_grey_and_passes_gradients() -> None:
    grey = torch.rand(2, 1, 13, 15).expand(2, 3, 13, 15)
    for phase in ((0, 0), (1, 0), (0, 1), (1, 1)):
        assert torch.allclose(subsample_chroma(grey, *phase), grey, atol=1e-5)  # odd sizes too
    x = torch.rand(2, 3, 13, 15, requires_grad=True)
    y = subsample_chroma(x, 1, 1)
    luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    inner = (slice(None), slice(None), slice(2, -2), slice(2, -2))  # clamp-free away from 0/1
    assert torch.allclose((y * luma).sum(1)[inner[2:]], (x * luma).sum(1)[inner[2:]], atol=0.02)
    y.sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    with pytest.raises(InputError, match="chroma phase"):
        subsample_chroma(x, 2, 0)


def test_chroma_step_is_off_by_default_and_keeps_old_runs_identical() -> None:
    """Off, the channel draws exactly what it drew before the step existed (the same boxes
    from the same seed); on, each box also loses its colour detail."""
    import random

    assert ChannelConfig().p_chroma420 == 0.0
    a = torch.rand(2, 3, 64, 64)
    config = ChannelConfig(p_scale=1.0, p_noise=0.0, p_jpeg=0.0)
    off, rng = Channel(config, seed=3), random.Random(3)
    on = Channel(ChannelConfig(**{**config.to_dict(), "p_chroma420": 1.0}), seed=3)
    for _ in range(3):
        rng.random()  # the draws of the code before the chroma step: scale, side, ratio,
        side = rng.randint(config.box_min, config.box_max)  # noise, jpeg
        width = max(10, min(64, round(side * (1.0 + rng.uniform(-0.2, 0.2)))))
        rng.random(), rng.random()
        expected = resize_through_box(a, width, side).clamp(0, 1)
        assert torch.equal(off(a), expected)
        coloured = on(a)
        assert coloured.shape == a.shape and not torch.allclose(coloured, expected, atol=1e-3)


def test_codec_at_box_codes_the_boxs_own_pixels_with_the_same_draws() -> None:
    """With ``codec_at_box`` the JPEG runs on the shrunk box (as the public stream codes
    it) and the result is grown back; the boxes and qualities drawn are the same as off."""
    import random

    from torch.nn import functional as F

    assert ChannelConfig().codec_at_box is False
    a = (_smooth(3) * 0.6 + 0.2 + 0.1 * torch.rand(3, 3, 64, 64)).requires_grad_(True)
    config = ChannelConfig(p_scale=1.0, p_noise=0.0, p_jpeg=1.0, jpeg_min=30, jpeg_max=30)
    off = Channel(config, seed=4)(a)
    on = Channel(ChannelConfig(**{**config.to_dict(), "codec_at_box": True}), seed=4)(a)
    rng = random.Random(4)
    rng.random()
    side = rng.randint(config.box_min, config.box_max)
    width = max(10, min(64, round(side * (1.0 + rng.uniform(-0.2, 0.2)))))
    box = F.interpolate(a.detach(), size=(side, width), mode="area").clamp(0, 1)
    coded = jpeg_straight_through(box, 30)
    expected = F.interpolate(coded, size=(64, 64), mode="bilinear", align_corners=False)
    assert torch.allclose(on.detach(), expected, atol=1e-6)
    assert torch.allclose(
        off.detach(), jpeg_straight_through(resize_through_box(a.detach(), width, side), 30)
    )
    assert not torch.allclose(on.detach(), off.detach(), atol=1e-3)
    on.mean().backward()  # straight through the codec, through the resize
    assert a.grad is not None and float(a.grad.abs().sum()) > 0
