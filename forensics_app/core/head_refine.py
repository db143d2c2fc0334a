"""Head boxes put right by a small learned network: the last few pixels that placement misses.

:class:`~forensics_app.core.heads.HeadDetector` places a head in each person box from the
box's proportions and the top of the moving silhouette. On 10–14 px heads that placement is
often 3–5 px off (a hood, a raised arm, two people in one box, a white hood against a white
wall), and a box that far off no longer covers its head. :class:`HeadRefiner` looks at a
window three head-heights wide around each placed head — colour and the foreground mask —
and says where the head in it is and how sure it is that the window holds one.

The network (:class:`.head_refine_net.HeadRefinerNet`, 0.26 M parameters, about 0.5 ms a
head on two cores) is trained by ``forensics train head-refiner`` on hand-labelled heads of
the sample clip (frames 0–299 of vtest.avi only) and shipped as
``models/heads/refiner.safetensors`` with a model card whose sha256 is checked before the
weights are read, like every detector here. The card also pins the network's onnxruntime
twin (``refiner.onnx``, written by ``forensics train export-runtime``), which the producer
runs so that it never imports torch; without a twin the torch network runs.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from forensics_app import MODELS_DIR
from forensics_app.core.detect import Box
from forensics_app.core.model_files import (
    check_runtime,
    load_runtime_twin,
    load_verified_model,
    open_onnx_session,
)
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
        runtime: str = "auto",
    ) -> None:
        check_runtime(runtime)
        self.card_path = Path(card) if card is not None else default_refiner_card()
        data, self.card = load_verified_model(self.card_path, "head refiner")
        self.sha256 = str(self.card["sha256"])
        twin = None
        if runtime != "torch":
            twin = load_runtime_twin(self.card, self.card_path.parent, "head refiner")
        if twin is None and runtime == "onnxruntime":
            raise DetectionError(f"{self.card_path} names no onnxruntime twin of the refiner")
        try:
            if twin is not None:
                self._session = open_onnx_session(twin[0])
                self._readout = None
                self.runtime = "onnxruntime"
            else:
                from forensics_app.core.head_refine_net import load_refiner_readout

                width = int(self.card.get("config", {}).get("width", 24))
                self._readout = load_refiner_readout(data, width)
                self.runtime = "torch"
        except Exception as error:  # onnxruntime/safetensors/torch raise untyped errors
            raise DetectionError(f"cannot load the head refiner: {error}") from error
        self.window = float(self.card.get("config", {}).get("window", WINDOW))
        self.max_shift = float(max_shift)
        self.max_scale = float(max_scale)

    def read(self, patches: np.ndarray) -> np.ndarray:
        """The network's reading of uint8 patches ``[n, 4, 32, 32]`` (:func:`crop_windows`):
        ``[n, 5]`` float64 = box centre x, centre y, width, height in window units, P(head)."""
        if self._readout is None:
            out = self._session.run(None, {"patches": patches})[0]
        else:
            import torch

            with torch.inference_mode():
                out = self._readout(torch.from_numpy(patches)).numpy()
        return np.asarray(out, np.float64)

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
        reading = self.read(crop_windows(image, mask, windows))
        pred, headness = reading[:, :4], reading[:, 4]
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
