"""The channel between U_e and U_d: what happens to a public face on its way to the decoder.

In deployment ``a`` is resized to its head box (often 10–40 px), pasted into the frame,
overlaid with the hidden ROI message and re-encoded; the reveal crops the box again and
upscales it to 64×64. :class:`Channel` simulates that in training, differentiably:

* down-scaling to a random box (``area``) and back (``bilinear``), via ``F.interpolate``:
  what deployment does with ``core.face_geometry.paste_face`` (the producer) and
  ``crop_face`` (the reveal); tests/test_face_geometry.py checks that the two agree;
* additive Gaussian noise (stands in for the stego overlay and sensor noise);
* real JPEG (OpenCV) applied straight-through: the forward pass sees the true codec
  output, the backward pass treats the codec as identity, so gradients reach U_e;
* optionally (``p_h264``) a real H.264 round trip, straight-through the same way.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from forensics_app.errors import InputError
from forensics_app.uunet.codecs import h264, jpeg


def resize_through_box(images: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """Down-scale ``N×C×64×64`` to ``height×width`` and back up to the input size."""
    if width < 1 or height < 1:
        raise InputError(f"box size must be positive, got {width}x{height}")
    size = images.shape[-2:]
    small = F.interpolate(images, size=(height, width), mode="area")
    return F.interpolate(small, size=size, mode="bilinear", align_corners=False)


def jpeg_numpy(images: np.ndarray, quality: int) -> np.ndarray:
    """Real JPEG round trip of ``N×H×W×3`` uint8 RGB images at ``quality`` (1–100)."""
    return np.ascontiguousarray(jpeg(np.asarray(images)[..., ::-1], quality)[..., ::-1])


def jpeg_straight_through(images: torch.Tensor, quality: int) -> torch.Tensor:
    """JPEG at ``quality`` in the forward pass, identity in the backward pass."""
    if not 1 <= quality <= 100:
        raise InputError(f"JPEG quality must be 1..100, got {quality}")
    with torch.no_grad():
        arr = (images.detach().clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu()
        coded = jpeg_numpy(arr.numpy(), quality)
        decoded = torch.from_numpy(coded).to(images).permute(0, 3, 1, 2) / 255.0
    return images + (decoded - images).detach()


def h264_straight_through(images: torch.Tensor, crf: int) -> torch.Tensor:
    """A real libx264 round trip (faces tiled into frames) forward, identity backward.

    Public video is usually re-encoded with H.264; JPEG alone does not teach U_d its
    artefacts (chroma subsampling, inter prediction). Off by default (``p_h264 = 0``):
    it is slower than JPEG and the shipped models were trained without it.
    """
    with torch.no_grad():
        rgb = (images.detach().clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu()
        bgr = np.ascontiguousarray(rgb.numpy()[..., ::-1])
        coded = np.ascontiguousarray(h264(bgr, crf)[..., ::-1])
        decoded = torch.from_numpy(coded).to(images).permute(0, 3, 1, 2) / 255.0
    return images + (decoded - images).detach()


@dataclass
class ChannelConfig:
    """Probabilities and ranges of the simulated channel (saved in every model card)."""

    p_scale: float = 0.9
    box_min: int = 10
    box_max: int = 64
    aspect_jitter: float = 0.2
    p_noise: float = 0.5
    noise_std_max: float = 0.02
    p_jpeg: float = 0.6
    jpeg_min: int = 40
    jpeg_max: int = 95
    p_h264: float = 0.0
    crf_min: int = 18
    crf_max: int = 30

    def to_dict(self) -> dict:
        return asdict(self)


class Channel(nn.Module):
    """Random, differentiable degradation of a batch of public faces (training only)."""

    def __init__(self, config: ChannelConfig | None = None, seed: int | None = None) -> None:
        super().__init__()
        self.config = config or ChannelConfig()
        self.rng = random.Random(seed)

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        """One random channel realisation per call (same for the whole batch, for speed)."""
        c, rng = self.config, self.rng
        out = a
        if rng.random() < c.p_scale:
            side = rng.randint(c.box_min, c.box_max)
            ratio = 1.0 + rng.uniform(-c.aspect_jitter, c.aspect_jitter)
            width = max(c.box_min, min(c.box_max, int(round(side * ratio))))
            out = resize_through_box(out, width, side)
        if rng.random() < c.p_noise:
            std = rng.uniform(0.0, c.noise_std_max)
            noise = torch.randn(out.shape, generator=None, device=out.device, dtype=out.dtype)
            out = out + std * noise
        out = out.clamp(0.0, 1.0)
        if rng.random() < c.p_jpeg:
            out = jpeg_straight_through(out, rng.randint(c.jpeg_min, c.jpeg_max))
        elif c.p_h264 > 0 and rng.random() < c.p_h264:  # no draw when off: same runs as before
            out = h264_straight_through(out, rng.randint(c.crf_min, c.crf_max))
        return out
