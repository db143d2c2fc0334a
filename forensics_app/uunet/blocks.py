"""Small typed building blocks for the UU-Net networks.

Norm and activation layers are injected by name (``norm="batch"|"group"|"instance"|"none"``,
``act="relu"|"leaky_relu"|"silu"``) so every network can be re-configured without editing
its code, in the spirit of pix2pix/timm.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from forensics_app.errors import ModelError

NormFactory = Callable[[int], nn.Module]
ActFactory = Callable[[], nn.Module]


def _group_norm(channels: int) -> nn.Module:
    groups = 8 if channels % 8 == 0 else (4 if channels % 4 == 0 else 1)
    return nn.GroupNorm(groups, channels)


def norm_layer(name: str, bn_momentum: float = 0.1) -> NormFactory:
    """A factory ``channels -> nn.Module`` for the named normalisation."""
    if name == "batch":
        return lambda c: nn.BatchNorm2d(c, momentum=bn_momentum)
    if name == "group":
        return _group_norm
    if name == "instance":
        return lambda c: nn.InstanceNorm2d(c, affine=True)
    if name == "none":
        return lambda c: nn.Identity()
    raise ModelError(f"unknown norm layer {name!r} (batch, group, instance, none)")


def act_layer(name: str) -> ActFactory:
    """A factory ``() -> nn.Module`` for the named activation."""
    table: dict[str, ActFactory] = {
        "relu": lambda: nn.ReLU(inplace=True),
        "leaky_relu": lambda: nn.LeakyReLU(0.2, inplace=True),
        "silu": lambda: nn.SiLU(inplace=True),
    }
    if name not in table:
        raise ModelError(f"unknown activation {name!r} ({', '.join(table)})")
    return table[name]


class ConvNormAct(nn.Sequential):
    """Conv → norm → activation (→ dropout): the unit every network here is made of."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        *,
        kernel: int = 3,
        stride: int = 1,
        norm: NormFactory,
        act: ActFactory | None,
        dropout: float = 0.0,
        padding: int | None = None,
    ) -> None:
        pad = kernel // 2 if padding is None else padding
        layers: list[nn.Module] = [nn.Conv2d(in_ch, out_ch, kernel, stride, pad)]
        layers.append(norm(out_ch))
        if act is not None:
            layers.append(act())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        super().__init__(*layers)


class DoubleConv(nn.Sequential):
    """Two 3×3 ConvNormAct units: one U-Net stage."""

    def __init__(self, in_ch: int, out_ch: int, *, norm: NormFactory, act: ActFactory) -> None:
        super().__init__(
            ConvNormAct(in_ch, out_ch, norm=norm, act=act),
            ConvNormAct(out_ch, out_ch, norm=norm, act=act),
        )


class Down(nn.Module):
    """Halve the resolution (max-pool) then a DoubleConv."""

    def __init__(self, in_ch: int, out_ch: int, *, norm: NormFactory, act: ActFactory) -> None:
        super().__init__()
        self.conv = DoubleConv(in_ch, out_ch, norm=norm, act=act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.max_pool2d(x, 2))


class Up(nn.Module):
    """Bilinear ×2 upsampling, concatenation with the skip, then a DoubleConv."""

    def __init__(
        self, in_ch: int, skip_ch: int, out_ch: int, *, norm: NormFactory, act: ActFactory
    ) -> None:
        super().__init__()
        self.conv = DoubleConv(in_ch + skip_ch, out_ch, norm=norm, act=act)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.conv(torch.cat([x, skip], dim=1))
