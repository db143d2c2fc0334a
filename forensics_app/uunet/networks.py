"""The four UU-Net networks, chosen by name through a registry.

* ``attribute_matcher`` (D_a): pairwise multi-label matcher of the paper's Table I.
* ``unet_encoder`` (U_e): U-Net, RGB + one U(0,1) noise channel → RGB in [0, 1].
* ``unet_decoder`` (U_d): U-Net, RGB → RGB in [0, 1]; no dropout, so eval mode is deterministic.
* ``patch_critic`` (D_f): PatchGAN critic for WGAN-GP (no batch norm: it would break the GP).
* ``identity_embedder`` (E_id, not in the paper): a small CNN distilled from dlib's 128-D face
  descriptor, so identity distance can be a differentiable training signal (see identity.py).

All take and return tensors ``N×C×64×64`` with values in [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from forensics_app.errors import ModelError
from forensics_app.uunet.blocks import ConvNormAct, DoubleConv, Down, Up, act_layer, norm_layer

IMAGE_SIZE = 64

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register_network(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Class decorator adding a network constructor to the registry under ``name``."""

    def wrap(cls: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        _REGISTRY[name] = cls
        return cls

    return wrap


def network_names() -> list[str]:
    """Names accepted by :func:`build_network`."""
    return sorted(_REGISTRY)


def build_network(name: str, **cfg: Any) -> nn.Module:
    """Build the network registered as ``name`` with keyword configuration ``cfg``."""
    if name not in _REGISTRY:
        raise ModelError(f"unknown network {name!r}; known: {', '.join(network_names())}")
    try:
        return _REGISTRY[name](**cfg)
    except TypeError as error:
        raise ModelError(f"bad configuration for network {name!r}: {error}") from None


@register_network("attribute_matcher")
class AttributeMatcher(nn.Module):
    """D_a (Table I): two faces stacked to 64×64×6 → t sigmoid "shared label" scores.

    Keras BatchNormalization(momentum=.8) keeps 80 % of the running statistic, i.e. PyTorch
    ``momentum=0.2``. ``width`` scales every convolution (1.0 = the paper's 16/64/128/64/64).
    """

    def __init__(
        self,
        labels: tuple[str, ...] | list[str] = ("id", "gender"),
        width: float = 1.0,
        dropout: float = 0.25,
        bn_momentum: float = 0.2,
        act: str = "leaky_relu",
    ) -> None:
        super().__init__()
        if not labels:
            raise ModelError("the attribute matcher needs at least one label")
        self.labels = tuple(labels)
        widths = [max(4, int(round(c * width))) for c in (16, 64, 128, 64, 64)]
        strides = (2, 1, 1, 2, 2)
        norm = norm_layer("batch", bn_momentum)
        activation = act_layer(act)
        layers: list[nn.Module] = []
        in_ch = 6
        for out_ch, stride in zip(widths, strides, strict=True):
            layers.append(
                ConvNormAct(
                    in_ch, out_ch, stride=stride, norm=norm, act=activation, dropout=dropout
                )
            )
            in_ch = out_ch
        self.features = nn.Sequential(*layers)
        side = IMAGE_SIZE // 8
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(in_ch * side * side, 128),
            nn.ReLU(inplace=True),
            nn.Linear(128, len(self.labels)),
        )

    def logits(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """Pre-sigmoid scores ``N×t`` (for a numerically stable BCE)."""
        return self.head(self.features(torch.cat([first, second], dim=1)))

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """Probabilities ``N×t`` that the pair shares each label."""
        return torch.sigmoid(self.logits(first, second))


class _UNet(nn.Module):
    """A plain U-Net with ``depth`` poolings and a sigmoid RGB head.

    ``inner_size`` < 64 runs the U-Net on an area-downscaled copy and upsamples the result
    bilinearly: the heads it sees are 10–40 px boxes upscaled to 64×64, so a 32×32 interior
    keeps nearly all their information at a quarter of the cost.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int = 3,
        base: int = 16,
        depth: int = 3,
        norm: str = "group",
        act: str = "leaky_relu",
        inner_size: int = IMAGE_SIZE,
        residual: bool = False,
    ) -> None:
        super().__init__()
        if depth < 1 or base < 4:
            raise ModelError("a U-Net needs depth >= 1 and base width >= 4")
        if inner_size % 2**depth or not 8 <= inner_size <= IMAGE_SIZE:
            raise ModelError(f"inner_size {inner_size} must be ≤ 64 and divisible by 2^depth")
        self.inner_size = inner_size
        self.residual = residual
        norm_f, act_f = norm_layer(norm), act_layer(act)
        chans = [base * 2**i for i in range(depth + 1)]
        self.inc = DoubleConv(in_ch, chans[0], norm=norm_f, act=act_f)
        self.downs = nn.ModuleList(
            Down(chans[i], chans[i + 1], norm=norm_f, act=act_f) for i in range(depth)
        )
        self.ups = nn.ModuleList(
            Up(chans[i + 1], chans[i], chans[i], norm=norm_f, act=act_f)
            for i in reversed(range(depth))
        )
        self.out = nn.Conv2d(chans[0], out_ch, 1)
        if residual:  # start as the identity on the RGB input; learn the change
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rgb = x[:, :3]
        size = x.shape[-2:]
        if self.inner_size != size[-1]:
            x = F.interpolate(x, size=(self.inner_size, self.inner_size), mode="area")
        skips = [self.inc(x)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        y = skips.pop()
        for up in self.ups:
            y = up(y, skips.pop())
        y = self.out(y)
        if y.shape[-2:] != size:
            y = F.interpolate(y, size=size, mode="bilinear", align_corners=False)
        if self.residual:
            return self.apply_residual(rgb, y)
        return torch.sigmoid(y)

    def apply_residual(self, rgb: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The output of a residual U-Net: the head's ``y`` added to ``rgb`` in logit space."""
        return torch.sigmoid(y + torch.logit(rgb.clamp(1e-3, 1 - 1e-3)))


@register_network("unet_encoder")
class UNetEncoder(_UNet):
    """U_e: ``forward(rgb, noise)`` with rgb ``N×3×64×64`` and noise ``N×1×64×64`` in [0,1]."""

    def __init__(
        self,
        base: int = 16,
        depth: int = 3,
        norm: str = "group",
        act: str = "leaky_relu",
        inner_size: int = IMAGE_SIZE,
        residual: bool = False,
    ) -> None:
        super().__init__(4, 3, base, depth, norm, act, inner_size, residual)

    def forward(self, rgb: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return super().forward(torch.cat([rgb, noise], dim=1))


def low_pass(images: torch.Tensor, grid: int) -> torch.Tensor:
    """``images`` area-averaged onto a ``grid``² raster and bilinearly back (lighting, colour
    and the coarse layout of a head, with no facial detail)."""
    size = images.shape[-2:]
    small = F.interpolate(images, size=(grid, grid), mode="area")
    return F.interpolate(small, size=size, mode="bilinear", align_corners=False)


#: Where :class:`VirtualIdentityEncoder` writes its code: all three colours, or luma only.
CODE_SPACES = ("rgb", "luma")
_LUMA = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)


@register_network("vi_encoder")
class VirtualIdentityEncoder(_UNet):
    """U_e(x, z): the surrogate takes donor z's identity and keeps x's light and layout.

    The starting point is ``a0 = low(x) + (z − low(z))``: x's ``lowpass``² raster (pose of
    the head mass, lighting, colour) under z's facial detail. A U-Net that sees
    ``[a0, x, z, noise]`` learns a residual on ``a0`` (zero at initialisation, so training
    starts from the pure donor transfer) that carries what U_d needs to rebuild x.

    The donor bank is the ``donors`` buffer (``donors`` × 3×64×64 uint8 RGB, part of the
    weights file); :func:`.donors.donor_index` maps a track seed to one of them.

    ``code="luma"`` keeps only the luma (BT.601) of the residual's change and adds it to all
    three channels: the code for U_d then lives in brightness, which a
    4:2:0 stream keeps at full resolution, instead of colour, which it halves (docs/RESULTS.md
    "Where the clip's reveal loses"). It changes no weight shapes, so ``rgb`` weights load.
    """

    def __init__(
        self,
        base: int = 12,
        depth: int = 3,
        norm: str = "none",
        act: str = "leaky_relu",
        inner_size: int = 32,
        donors: int = 1,
        lowpass: int = 8,
        code: str = "rgb",
    ) -> None:
        super().__init__(10, 3, base, depth, norm, act, inner_size, residual=True)
        if donors < 1 or not 2 <= lowpass <= IMAGE_SIZE:
            raise ModelError("vi_encoder needs donors >= 1 and 2 <= lowpass <= 64")
        if code not in CODE_SPACES:
            raise ModelError(
                f"vi_encoder code must be one of {', '.join(CODE_SPACES)}, got {code!r}"
            )
        self.lowpass = lowpass
        self.code = code
        self.register_buffer(
            "donors", torch.zeros(donors, 3, IMAGE_SIZE, IMAGE_SIZE, dtype=torch.uint8)
        )

    def apply_residual(self, rgb: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """With ``code="luma"`` only the luma of the change is kept, added to all three
        channels (grey: a0's colour stays, up to clipping at black and white)."""
        out = super().apply_residual(rgb, y)
        if self.code == "rgb":
            return out
        change = ((out - rgb) * _LUMA.to(out)).sum(1, keepdim=True)
        return (rgb + change).clamp(0.0, 1.0)

    @property
    def donor_count(self) -> int:
        return int(self.donors.shape[0])

    def set_donors(self, faces_rgb: torch.Tensor) -> None:
        """Load the bank: ``donors``×3×64×64 uint8 RGB (its size is fixed by the config)."""
        if faces_rgb.shape != self.donors.shape or faces_rgb.dtype != torch.uint8:
            raise ModelError(
                f"donor bank must be {tuple(self.donors.shape)} uint8, got "
                f"{tuple(faces_rgb.shape)} {faces_rgb.dtype}"
            )
        self.donors.copy_(faces_rgb)

    def donor(self, index: torch.Tensor) -> torch.Tensor:
        """Donor faces ``N×3×64×64`` in [0, 1] for bank indices ``N``."""
        return self.donors[index.long()].float().div(255.0)

    def start(self, rgb: torch.Tensor, donor: torch.Tensor) -> torch.Tensor:
        """``a0``: x's low-pass under the donor's detail, kept inside (0, 1)."""
        a0 = low_pass(rgb, self.lowpass) + donor - low_pass(donor, self.lowpass)
        return a0.clamp(0.02, 0.98)

    def forward(  # type: ignore[override]
        self,
        rgb: torch.Tensor,
        noise: torch.Tensor,
        index: torch.Tensor | None = None,
        donor: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``a`` for faces ``rgb`` with donors given as bank ``index`` or as images ``donor``."""
        if donor is None:
            if index is None:
                raise ModelError("vi_encoder needs a donor index or donor faces")
            donor = self.donor(index)
        return super().forward(torch.cat([self.start(rgb, donor), rgb, donor, noise], dim=1))


@register_network("unet_decoder")
class UNetDecoder(_UNet):
    """U_d: the public face ``N×3×64×64`` → the reconstruction, in [0, 1]."""

    def __init__(
        self,
        base: int = 16,
        depth: int = 3,
        norm: str = "group",
        act: str = "leaky_relu",
        inner_size: int = IMAGE_SIZE,
        residual: bool = False,
    ) -> None:
        super().__init__(3, 3, base, depth, norm, act, inner_size, residual)


@register_network("patch_critic")
class PatchCritic(nn.Module):
    """D_f: PatchGAN (pix2pix) critic giving an unbounded score per ~16×16 receptive patch.

    No batch norm (WGAN-GP penalises per-sample gradients); instance norm is the default.
    """

    def __init__(self, base: int = 32, layers: int = 3, norm: str = "instance") -> None:
        super().__init__()
        norm_f, act_f = norm_layer(norm), act_layer("leaky_relu")
        blocks: list[nn.Module] = [
            ConvNormAct(3, base, kernel=4, stride=2, padding=1, norm=norm_layer("none"), act=act_f)
        ]
        ch = base
        for i in range(1, layers):
            nxt = base * min(2**i, 8)
            stride = 2 if i < layers - 1 else 1
            blocks.append(
                ConvNormAct(ch, nxt, kernel=4, stride=stride, padding=1, norm=norm_f, act=act_f)
            )
            ch = nxt
        blocks.append(nn.Conv2d(ch, 1, 4, 1, 1))
        self.model = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Patch scores ``N×1×h×w``."""
        return self.model(x)


@register_network("identity_embedder")
class IdentityEmbedder(nn.Module):
    """E_id: 64×64 RGB face → ``dim``-D descriptor regressed onto dlib's (identity.py).

    Four stride-2 convolutions keep the spatial layout (head crops are roughly aligned),
    then two dense layers. No normalisation layer, so train and eval mode agree and the
    per-sample gradient U_e receives does not depend on the rest of the batch.
    """

    def __init__(self, base: int = 32, dim: int = 128, hidden: int = 256) -> None:
        super().__init__()
        norm, act = norm_layer("none"), act_layer("leaky_relu")
        widths = [base, base * 2, base * 4, base * 4]
        layers: list[nn.Module] = []
        in_ch = 3
        for out_ch in widths:
            layers.append(ConvNormAct(in_ch, out_ch, stride=2, norm=norm, act=act))
            in_ch = out_ch
        self.features = nn.Sequential(*layers)
        side = IMAGE_SIZE // 16
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(in_ch * side * side, hidden),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(hidden, dim),
        )

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        """Descriptors ``N×dim`` of faces ``N×3×64×64`` in [0, 1]."""
        return self.head(self.features((rgb - 0.5) * 4.0))


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters (for model cards)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


@register_network("gender_probe")
class GenderProbe(nn.Module):
    """A linear read-out of gender from E_id's features (logit > 0: female).

    ``features``: ``"descriptor"`` reads E_id's 128-D descriptor; ``"layers"`` (the
    default, 512-D) reads the descriptor, the 256-D hidden layer and the mean-pooled last
    convolution, each scaled to unit length: the descriptor alone is a student of dlib's
    *identity* space and drops part of what tells gender in small, blurred faces.
    """

    def __init__(self, dim: int = 512, features: str = "layers") -> None:
        super().__init__()
        if features not in FEATURES or FEATURES[features] != dim:
            raise ModelError(f"gender_probe: features {features!r} do not have {dim} values")
        self.features = features
        self.linear = nn.Linear(dim, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Logits ``N`` of "female" for features ``N×dim`` (:func:`_features`)."""
        return self.linear(features).squeeze(1)


#: The E_id read-outs a probe can use, and their width.
FEATURES = {"descriptor": 128, "layers": 512}
