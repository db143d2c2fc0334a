"""The head refiner's network in torch: trained by ``forensics train head-refiner``, exported
to ONNX by ``forensics train export-runtime``, and run by :class:`.head_refine.HeadRefiner`
when its card names no onnxruntime twin. Kept apart from :mod:`.head_refine` so that the
producer can refine heads without importing torch.
"""

from __future__ import annotations

import torch
from torch import nn


class HeadRefinerNet(nn.Module):
    """Three conv stages down to 4×4, then the head's box in window units and a head logit.

    Output per window: centre x, centre y (0..1 across the window), log width and log height
    (of the fraction of the window's side), and the logit of "a head lies near the window's
    centre" (trained against background and the head finder's own misplacements).
    """

    def __init__(self, width: int = 24, channels: int = 4) -> None:
        """``channels``: B, G, R and foreground, as :func:`.head_refine.crop_windows` makes
        them (:data:`.head_refine.CHANNELS`; not imported, so this module stays a leaf)."""
        super().__init__()
        w = width

        def stage(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(cin, cout, 3, padding=1),
                nn.ReLU(inplace=True),
                nn.Conv2d(cout, cout, 3, padding=1),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            )

        self.features = nn.Sequential(stage(channels, w), stage(w, 2 * w), stage(2 * w, 3 * w))
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(3 * w * 16, 128), nn.ReLU(inplace=True), nn.Linear(128, 5)
        )

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """``patches``: float ``[n, 4, 32, 32]`` in 0..1 → ``[n, 5]``: box in window units
        (see :meth:`boxes`) and the head logit."""
        return self.head(self.features(patches - 0.5))

    @staticmethod
    def boxes(out: torch.Tensor) -> torch.Tensor:
        """The raw output as ``[n, 4]`` centre x, centre y, width, height in window units."""
        return torch.cat([out[:, :2], out[:, 2:4].exp()], dim=1)


class RefinerReadout(nn.Module):
    """What the refiner reads from the network, in one graph: uint8 patches ``[n, 4, 32, 32]``
    → ``[n, 5]`` = box (centre x, centre y, width, height, window units) and P(head).

    The torch run and the exported ONNX twin are this same module, so both back ends of
    :class:`.head_refine.HeadRefiner` read the network the same way.
    """

    def __init__(self, net: HeadRefinerNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, patches_u8: torch.Tensor) -> torch.Tensor:
        raw = self.net(patches_u8.float() / 255.0)
        return torch.cat([HeadRefinerNet.boxes(raw), torch.sigmoid(raw[:, 4:5])], dim=1)


def load_refiner_readout(state_bytes: bytes, width: int) -> RefinerReadout:
    """The refiner network from safetensors bytes (already checked against the card)."""
    from safetensors.torch import load as load_safetensors

    net = HeadRefinerNet(width)
    net.load_state_dict(load_safetensors(state_bytes))
    return RefinerReadout(net).eval()
