"""Irreversible de-identification: what the producer does with what it cannot carry.

A head that cannot be replaced by a reversible surrogate (too unsure, too small, beyond
the ROI message's capacity) and a frame the decoder had to conceal are pixelated: the
region is averaged into a few coarse cells, which no decoder can undo. Privacy comes before
reversibility.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from forensics_app.core.detect import Box

#: A head region is enlarged by this much before pixelation: an unsure box may be off.
OBSCURE_MARGIN = 1.6
#: Cells across the longer side of a pixelated head: 4 cells of a 12 px head hold no identity.
HEAD_CELLS = 4
#: Around every carried head a ring out to this size of its box is pixelated too: a head
#: box may sit a few pixels off a 10 px head, and the part it misses must not go out as
#: filmed. The ring lies outside the ROI box, so the reversal inside it is untouched.
HALO = 2.0
#: Pixel size of the cells when a whole frame is pixelated (a frame the decoder concealed).
FRAME_CELL = 16


def pixelate(image: np.ndarray, box: Box, cells: int = HEAD_CELLS) -> Box:
    """Replace ``box`` of ``image`` (in place) by ``cells`` coarse cells across its longer side.

    Returns the region that was changed (the box clipped to the image).
    """
    height, width = image.shape[:2]
    region = box.clip(width, height)
    if region.w == 0 or region.h == 0:
        return region
    cell = max(1.0, max(region.w, region.h) / max(1, cells))
    small = (max(1, math.ceil(region.w / cell)), max(1, math.ceil(region.h / cell)))
    patch = image[region.y : region.y2, region.x : region.x2]
    coarse = cv2.resize(patch, small, interpolation=cv2.INTER_AREA)
    image[region.y : region.y2, region.x : region.x2] = cv2.resize(
        coarse, (region.w, region.h), interpolation=cv2.INTER_NEAREST
    )
    return region


def obscure_head(image: np.ndarray, box: Box) -> Box:
    """Pixelate a head region enlarged by :data:`OBSCURE_MARGIN`; returns what was changed."""
    return pixelate(image, box.expand(OBSCURE_MARGIN))


def obscure_frame(image: np.ndarray) -> None:
    """Pixelate a whole frame (in place) into cells of :data:`FRAME_CELL` pixels."""
    height, width = image.shape[:2]
    cells = max(1, math.ceil(max(width, height) / FRAME_CELL))
    pixelate(image, Box(0, 0, width, height), cells=cells)


def obscure_halo(image: np.ndarray, box: Box) -> Box:
    """Pixelate the ring around a carried head (the head itself is pasted over afterwards)."""
    return pixelate(image, box.expand(HALO))
