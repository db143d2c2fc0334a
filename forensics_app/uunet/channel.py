"""The channel between U_e and U_d: what happens to a public face on its way to the decoder.

In deployment ``a`` is resized to its head box (often 10–40 px), pasted into the frame,
overlaid with the hidden ROI message and re-encoded; the reveal crops the box again and
upscales it to 64×64. :class:`Channel` simulates that in training, differentiably:

* down-scaling to a random box (``area``) and back (``bilinear``), via ``F.interpolate``:
  what deployment does with ``core.face_geometry.paste_face`` (the producer) and
  ``crop_face`` (the reveal); tests/test_face_geometry.py checks that the two agree;
* optionally (``p_chroma420``), *at the box's own size*, the 4:2:0 chroma subsampling of the
  public H.264 stream, modelled differentiably (:func:`subsample_chroma`): a 14-px head keeps
  only 7×7 colour samples, so a code written into colour is lost there however good the
  codec is. The real codec steps below run on the 64-px face, where 4:2:0 costs little, and
  their gradient is the identity, so without this step U_e never learns that loss;
* additive Gaussian noise (stands in for the stego overlay and sensor noise);
* real JPEG (OpenCV) applied straight-through: the forward pass sees the true codec
  output, the backward pass treats the codec as identity, so gradients reach U_e;
* optionally (``p_h264``) a real H.264 round trip, straight-through the same way.

By default the noise and codecs act on the 64-px face grown back from the box, where a
codec costs far less than on the box itself. With ``codec_at_box`` they act on the box's
own pixels before it is grown back, as in deployment (the producer pastes a into the frame
at box size and the stream is coded there); the random draws are the same either way.
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
from forensics_app.uunet.losses import chroma


def _ycc_to_rgb(y: torch.Tensor, cbcr: torch.Tensor) -> torch.Tensor:
    """RGB from BT.601 luma ``N×1×H×W`` and the (Cb, Cr) of :func:`.losses.chroma`."""
    cb, cr = cbcr[:, 0:1], cbcr[:, 1:2]
    return torch.cat([y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb], 1)


def subsample_chroma(images: torch.Tensor, phase_x: int = 0, phase_y: int = 0) -> torch.Tensor:
    """4:2:0 chroma of ``N×3×H×W`` RGB images, differentiably: what a yuv420p stream keeps.

    Luma stays; each 2×2 block of chroma becomes its mean and is replicated back (FFmpeg's
    decoder to BGR does the same). ``phase_x``/``phase_y`` (0 or 1) say where the frame's
    2×2 grid falls on the box: a box at an odd column shares its first chroma sample with
    the pixel left of it (here the edge pixel, replicated). Odd sizes are handled.
    Measured against a real libx264 CRF 0 round trip of 16-px faces: mean error 2.1 grey
    levels, against 16.5 for no model (tests/test_uunet_channel.py).
    """
    if phase_x not in (0, 1) or phase_y not in (0, 1):
        raise InputError(f"chroma phase must be 0 or 1, got {phase_x}, {phase_y}")
    r, g, b = images[:, 0:1], images[:, 1:2], images[:, 2:3]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    height, width = images.shape[-2:]
    padded = F.pad(chroma(images), (phase_x, 0, phase_y, 0), mode="replicate")
    small = F.avg_pool2d(padded, 2, ceil_mode=True)
    big = small.repeat_interleave(2, -1).repeat_interleave(2, -2)
    big = big[..., phase_y : phase_y + height, phase_x : phase_x + width]
    return _ycc_to_rgb(y, big).clamp(0.0, 1.0)


def resize_through_box(
    images: torch.Tensor,
    width: int,
    height: int,
    chroma_phase: tuple[int, int] | None = None,
) -> torch.Tensor:
    """Down-scale ``N×C×64×64`` to ``height×width`` and back up to the input size.

    With ``chroma_phase`` ``(x, y)``, the box also loses its chroma to 4:2:0 at its own size
    (:func:`subsample_chroma`), as it does in a yuv420p stream.
    """
    if width < 1 or height < 1:
        raise InputError(f"box size must be positive, got {width}x{height}")
    size = images.shape[-2:]
    small = F.interpolate(images, size=(height, width), mode="area")
    if chroma_phase is not None:
        small = subsample_chroma(small, *chroma_phase)
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
    p_chroma420: float = 0.0
    #: apply noise, JPEG and H.264 to the box's own pixels (between shrinking and growing
    #: back), where deployment's codec acts, instead of to the 64-px face; same draws
    codec_at_box: bool = False

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
        out, box = a, None
        if rng.random() < c.p_scale:
            side = rng.randint(c.box_min, c.box_max)
            ratio = 1.0 + rng.uniform(-c.aspect_jitter, c.aspect_jitter)
            width = max(c.box_min, min(c.box_max, int(round(side * ratio))))
            phase = None
            if c.p_chroma420 > 0 and rng.random() < c.p_chroma420:  # no draw when off
                phase = (rng.randint(0, 1), rng.randint(0, 1))
            if c.codec_at_box:  # noise and codec act on the box's own pixels, as deployed
                box = F.interpolate(out, size=(side, width), mode="area")
                out = box if phase is None else subsample_chroma(box, *phase)
            else:
                out = resize_through_box(out, width, side, phase)
        if rng.random() < c.p_noise:
            std = rng.uniform(0.0, c.noise_std_max)
            noise = torch.randn(out.shape, generator=None, device=out.device, dtype=out.dtype)
            out = out + std * noise
        out = out.clamp(0.0, 1.0)
        if rng.random() < c.p_jpeg:
            out = jpeg_straight_through(out, rng.randint(c.jpeg_min, c.jpeg_max))
        elif c.p_h264 > 0 and rng.random() < c.p_h264:  # no draw when off: same runs as before
            out = h264_straight_through(out, rng.randint(c.crf_min, c.crf_max))
        if box is not None:  # the reveal grows the box back to the network's size
            out = F.interpolate(out, size=a.shape[-2:], mode="bilinear", align_corners=False)
        return out
