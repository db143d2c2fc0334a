"""Moving-foreground evidence for fixed cameras: OpenCV's MOG2 background model.

Surveillance cameras rarely move, so whatever differs from the learnt background is a
candidate person. The head finder uses the mask three times: to place a head on top of the
silhouette inside a person box (the skyline of the mask is sharper than a person box's top
edge), to tell a person who moved from a rock that returns every run (scenery), and to find
moving people no head box covers. The model runs on a frame shrunk to ``scale`` (about
4 ms per 768×576 frame at 0.5) and must see *every* frame, detector frame or not.
"""

from __future__ import annotations

import cv2
import numpy as np

from forensics_app.core.detect import Box, as_bgr
from forensics_app.errors import InputError

#: MOG2 marks pixels it judges shadow with 127 and foreground with 255.
_FOREGROUND = 255


class ForegroundModel:
    """A MOG2 background model fed one frame at a time; :meth:`mask` is the last foreground.

    ``history`` frames shape the background (500 frames: a person standing still for a
    minute at 10 fps fades out slowly, and the person detector still sees them);
    ``var_threshold`` is MOG2's squared Mahalanobis distance for foreground (32 keeps the
    compression noise of surveillance codecs out of the mask). MOG2 keeps about 100 bytes
    per pixel, so large frames are shrunk further, to at most ``max_pixels`` (a 4000×3000
    frame is modelled at 0.115, 16 MB instead of 300 MB at half size).
    """

    def __init__(
        self,
        scale: float = 0.5,
        history: int = 500,
        var_threshold: float = 32.0,
        max_pixels: int = 160_000,
    ) -> None:
        if not 0.01 <= scale <= 1.0:
            raise InputError(f"foreground scale must be in [0.01, 1], got {scale}")
        if history < 2:
            raise InputError(f"foreground history must be at least 2 frames, got {history}")
        if max_pixels < 1_000:
            raise InputError(f"foreground max_pixels must be at least 1000, got {max_pixels}")
        self.scale = float(scale)
        self.max_pixels = int(max_pixels)
        self._model = cv2.createBackgroundSubtractorMOG2(
            history=int(history), varThreshold=float(var_threshold), detectShadows=True
        )
        self._kernel = np.ones((3, 3), np.uint8)
        self._mask: np.ndarray | None = None
        self._size: tuple[int, int] | None = None
        self.frames_seen = 0

    def apply(self, bgr: np.ndarray) -> None:
        """Learn from one frame and keep its foreground mask (frames must keep one size)."""
        image = as_bgr(bgr)
        height, width = image.shape[:2]
        if self._size is not None and self._size != (width, height):
            raise InputError(
                f"frame size changed from {self._size[0]}x{self._size[1]} to {width}x{height}"
            )
        if self._size is None:
            self.scale = min(self.scale, (self.max_pixels / float(width * height)) ** 0.5)
        self._size = (width, height)
        small_size = (max(1, round(width * self.scale)), max(1, round(height * self.scale)))
        small = cv2.resize(image, small_size, interpolation=cv2.INTER_AREA)
        raw = self._model.apply(small)
        fg = (raw == _FOREGROUND).astype(np.uint8)
        self._mask = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, self._kernel)
        self.frames_seen += 1

    @property
    def ready(self) -> bool:
        """Whether the model has seen enough frames for its mask to mean anything."""
        return self.frames_seen >= 10

    def mask(self) -> np.ndarray | None:
        """The last frame's foreground (0/1 ``uint8``) at full frame size, or None before any."""
        if self._mask is None or self._size is None:
            return None
        return cv2.resize(self._mask, self._size, interpolation=cv2.INTER_NEAREST)

    def last_small_mask(self) -> np.ndarray | None:
        """The last foreground at the model's own scale (:attr:`scale` of the frame)."""
        return self._mask

    def fraction(self, box: Box) -> float:
        """Share of the box's pixels that are foreground in the last frame (0 before any)."""
        if self._mask is None or self._size is None:
            return 0.0
        s = self.scale
        small = self._mask
        x1, y1 = int(box.x * s), int(box.y * s)
        x2 = max(x1 + 1, int(np.ceil(box.x2 * s)))
        y2 = max(y1 + 1, int(np.ceil(box.y2 * s)))
        region = small[max(y1, 0) : max(y2, 0), max(x1, 0) : max(x2, 0)]
        return float(region.mean()) if region.size else 0.0
