"""Head boxes put right by a small learned network: the last few pixels that placement misses.

:class:`~forensics_app.core.heads.HeadDetector` places a head in each person box from the
box's proportions and the top of the moving silhouette. On 10–14 px heads that placement is
often 3–5 px off (a hood, a raised arm, two people in one box, a white hood against a white
wall), and a box that far off no longer covers its head. :class:`HeadRefiner` looks at a
window three head-heights wide around each placed head — colour and the foreground mask —
and says where the head in it is and how sure it is that the window holds one.

The network (:class:`HeadRefinerNet`, 0.26 M parameters, about 0.5 ms a head on two cores) is
trained by ``forensics train head-refiner`` on hand-labelled heads of the sample clip
(frames 0–299 of vtest.avi only) and shipped as ``models/heads/refiner.safetensors`` with a
model card whose sha256 is checked before the weights are read, like every detector here.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from safetensors.torch import load as load_safetensors
from torch import nn

from forensics_app import MODELS_DIR
from forensics_app.core.detect import Box
from forensics_app.core.model_files import load_verified_model
from forensics_app.errors import DetectionError

#: Side of the network's input, pixels.
INPUT = 32
#: The window's side, in heights of the head placed before refinement.
WINDOW = 3.0
#: Channels: B, G, R, foreground.
CHANNELS = 4


def default_refiner_card() -> Path:
    """``models/heads/refiner.json``: the card that pins the refiner's sha256."""
    return MODELS_DIR / "heads" / "refiner.json"


def window_at(
    cx: float, cy: float, size: float, window: float = WINDOW
) -> tuple[float, float, float]:
    """The square window ``(x, y, side)`` centred on (cx, cy), ``window`` × ``size`` wide
    (at least 4 px of size): what the network looks at, in training and at run time."""
    side = window * max(size, 4.0)
    return cx - side / 2, cy - side / 2, side


def window_of(guess: Box, window: float = WINDOW) -> tuple[float, float, float]:
    """The window around a placed head (:func:`window_at` of its centre and larger side)."""
    cx, cy = guess.center
    return window_at(cx, cy, max(guess.h, guess.w), window)


def crop_windows(
    image: np.ndarray, mask: np.ndarray | None, windows: list[tuple[float, float, float]]
) -> np.ndarray:
    """``uint8`` patches ``[n, 4, INPUT, INPUT]`` (B, G, R, foreground × 255) of the windows.

    Pixels outside the frame repeat its border (colour) or are background (mask). ``mask`` is
    the foreground at full frame size (0/1), or None when the background model is not ready:
    the channel is then all zero, as the network also saw in training.
    """
    out = np.zeros((len(windows), CHANNELS, INPUT, INPUT), np.uint8)
    for i, (x, y, side) in enumerate(windows):
        s = INPUT / side
        matrix = np.array([[s, 0.0, -x * s], [0.0, s, -y * s]], np.float64)
        patch = cv2.warpAffine(
            image,
            matrix,
            (INPUT, INPUT),
            flags=cv2.INTER_AREA if s < 0.5 else cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        out[i, :3] = patch.transpose(2, 0, 1)
        if mask is not None:
            fg = cv2.warpAffine(
                mask,
                matrix,
                (INPUT, INPUT),
                flags=cv2.INTER_NEAREST,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=0,
            )
            out[i, 3] = (fg > 0).astype(np.uint8) * 255
    return out


class HeadRefinerNet(nn.Module):
    """Three conv stages down to 4×4, then the head's box in window units and a head logit.

    Output per window: centre x, centre y (0..1 across the window), log width and log height
    (of the fraction of the window's side), and the logit of "a head lies near the window's
    centre" (trained against background and the head finder's own misplacements).
    """

    def __init__(self, width: int = 24) -> None:
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

        self.features = nn.Sequential(stage(CHANNELS, w), stage(w, 2 * w), stage(2 * w, 3 * w))
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


class HeadRefiner:
    """Moves placed head boxes onto the head in their window (see the module docstring).

    A refined box may move at most ``max_shift`` placed-head heights from where it was and
    change its size by at most ``max_scale`` either way: the refiner corrects placement, it
    does not go looking for a different person.
    """

    def __init__(
        self,
        card: str | Path | None = None,
        *,
        max_shift: float = 1.0,
        max_scale: float = 1.5,
    ) -> None:
        self.card_path = Path(card) if card is not None else default_refiner_card()
        data, self.card = load_verified_model(self.card_path, "head refiner")
        self.sha256 = str(self.card["sha256"])
        try:
            state = load_safetensors(data)
            self.net = HeadRefinerNet(int(self.card.get("config", {}).get("width", 24)))
            self.net.load_state_dict(state)
        except Exception as error:  # safetensors/torch raise several untyped errors
            raise DetectionError(f"cannot load the head refiner: {error}") from error
        self.net.eval()
        self.window = float(self.card.get("config", {}).get("window", WINDOW))
        self.max_shift = float(max_shift)
        self.max_scale = float(max_scale)

    def refine(self, image: np.ndarray, mask: np.ndarray | None, heads: list[Box]) -> list[Box]:
        """The heads moved onto the head the network sees in each one's window (same scores)."""
        return [box for box, _ in self.refine_scored(image, mask, heads)]

    def refine_scored(
        self, image: np.ndarray, mask: np.ndarray | None, heads: list[Box]
    ) -> list[tuple[Box, float]]:
        """:meth:`refine`, with the network's probability that each window holds a head."""
        if not heads:
            return []
        windows = [window_of(h, self.window) for h in heads]
        patches = torch.from_numpy(crop_windows(image, mask, windows)).float() / 255.0
        with torch.inference_mode():
            raw = self.net(patches)
            pred = HeadRefinerNet.boxes(raw).numpy().astype(np.float64)
            headness = torch.sigmoid(raw[:, 4]).numpy().astype(np.float64)
        out = []
        for head, (x, y, side), (cx, cy, w, h), p in zip(
            heads, windows, pred, headness, strict=True
        ):
            limit = self.max_shift * head.h
            ox, oy = head.center
            nx = float(np.clip(x + cx * side, ox - limit, ox + limit))
            ny = float(np.clip(y + cy * side, oy - limit, oy + limit))
            nw = float(np.clip(w * side, head.w / self.max_scale, head.w * self.max_scale))
            nh = float(np.clip(h * side, head.h / self.max_scale, head.h * self.max_scale))
            box = Box.from_xyxy(nx - nw / 2, ny - nh / 2, nx + nw / 2, ny + nh / 2, head.score)
            out.append((box, float(p)))
        return out
