"""Robust ROI steganography: hide each frame's face boxes in its own luma.

Public API (docs/ARCHITECTURE.md): :class:`RoiMessage`, :func:`embed`, :func:`extract`
returning an :class:`ExtractResult`, :func:`capacity`; plus :func:`clip_boxes`, which tells
a producer exactly which boxes a frame will carry. Byte layout: docs/FORMATS.md.
"""

from forensics_app.core.stego.embed import embed, extract
from forensics_app.core.stego.layout import capacity
from forensics_app.core.stego.message import (
    FORMAT_VERSION,
    MAX_BOXES,
    ExtractResult,
    RoiMessage,
    clip_boxes,
)

__all__ = [
    "FORMAT_VERSION",
    "MAX_BOXES",
    "ExtractResult",
    "RoiMessage",
    "capacity",
    "clip_boxes",
    "embed",
    "extract",
]
