"""The ROI message: what a frame hides, and its versioned, checked byte layout.

The message is split in two parts (see docs/FORMATS.md, "ROI message"):

* the *header* (format version, flags, number of boxes, block grid) is not sent as bytes:
  the grid is the frame's own, and the rest selects which pseudo-random sync pattern the
  frame carries, so the reader learns it from the same correlation that tells it whether a
  message is there at all;
* the *body* (stream id, frame index, boxes, optional truncated HMAC-SHA256, CRC32) is sent
  under error correction (ecc.py). The CRC covers the header too, so a header read wrongly
  can never yield boxes.

Boxes are bit-packed, each coordinate in just the bits the frame's 8x8 block grid needs
(enough for any width or height with that grid; 10 bits for x and w - 1 and 9 for y and
h - 1 at 640x480; 38 bits a box instead of 64): every bit left out of the body buys the
remaining ones a stronger mark under the same distortion budget. The block grid is therefore
part of the (checked and authenticated) header; like the embedding, it ignores the partial blocks at the edges, so
cropping into those keeps the message readable.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import struct
import zlib
from dataclasses import dataclass
from typing import Literal

import numpy as np

from forensics_app.core.face_geometry import Rect
from forensics_app.errors import StegoError

#: Version of the message layout and of the embedding (bump both together).
FORMAT_VERSION = 2
#: Header flag: the body carries a truncated HMAC-SHA256 made with a camera key.
FLAG_MAC = 0x01
#: Most boxes one message can name (the header is chosen among this many patterns).
MAX_BOXES = 255
#: Length of the truncated HMAC-SHA256 tag, in bytes.
MAC_BYTES = 8
_CRC_PREFIX = b"UUNF-ROI"
_MAC_CONTEXT = b"UUNF-ROI-MAC/v2"
_U32 = 0xFFFFFFFF
_U16 = 0xFFFF

Status = Literal["ok", "none", "damaged"]


@dataclass(frozen=True)
class RoiMessage:
    """The face boxes of one frame of one stream; boxes are ``(x, y, w, h)`` in pixels."""

    stream_id: int
    frame_index: int
    boxes: tuple[Rect, ...] = ()

    def __post_init__(self) -> None:
        for name, value in (("stream_id", self.stream_id), ("frame_index", self.frame_index)):
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _U32:
                raise StegoError(f"{name} must be an integer in 0..{_U32}, got {value!r}")
        boxes: list[Rect] = []
        for box in self.boxes:
            try:
                x, y, w, h = (int(v) for v in box)
            except (TypeError, ValueError):
                raise StegoError(f"a box must be four integers (x, y, w, h), got {box!r}") from None
            boxes.append((x, y, w, h))
        if len(boxes) > MAX_BOXES:
            raise StegoError(f"a message names at most {MAX_BOXES} boxes, got {len(boxes)}")
        object.__setattr__(self, "boxes", tuple(boxes))


@dataclass(frozen=True)
class ExtractResult:
    """What a frame's hidden message says: ``ok`` with a message, ``none`` or ``damaged``."""

    status: Status
    message: RoiMessage | None
    detail: str = ""


def clip_boxes(boxes: tuple[Rect, ...], width: int, height: int) -> tuple[Rect, ...]:
    """Clip boxes to a ``width`` x ``height`` frame, as :func:`embed` stores them.

    A box partly outside the frame keeps only its inside part; an empty box or one wholly
    outside the frame is an error (there is nothing of it to hide).
    """
    clipped: list[Rect] = []
    for x, y, w, h in boxes:
        if w <= 0 or h <= 0:
            raise StegoError(f"box {(x, y, w, h)} has no area (w and h must be positive)")
        x0, y0 = max(0, x), max(0, y)
        x1, y1 = min(width, x + w), min(height, y + h)
        if x1 <= x0 or y1 <= y0:
            raise StegoError(f"box {(x, y, w, h)} lies outside the {width}x{height} frame")
        clipped.append((x0, y0, x1 - x0, y1 - y0))
    return tuple(clipped)


def box_bits(width: int, height: int) -> tuple[int, int]:
    """Bits of each x and w - 1 (first) and of each y and h - 1 (second) in a frame.

    They follow from the 8x8 block grid, not the exact size: enough for the widest frame
    with the same grid, ``8 * (width // 8) + 7`` pixels (and likewise for the height).
    """
    return (8 * (width // 8) + 6).bit_length(), (8 * (height // 8) + 6).bit_length()


def body_length(n_boxes: int, has_mac: bool, width: int, height: int) -> int:
    """Bytes of the body (before error correction) of a message in a ``width`` x ``height``
    frame with ``n_boxes`` boxes."""
    bx, by = box_bits(width, height)
    return 8 + math.ceil(n_boxes * 2 * (bx + by) / 8) + (MAC_BYTES if has_mac else 0) + 4


def _header_bytes(flags: int, n_boxes: int, width: int, height: int) -> bytes:
    return struct.pack("<BBHHH", FORMAT_VERSION, flags, n_boxes, width // 8, height // 8)


def _field_shifts(n_boxes: int, width: int, height: int) -> np.ndarray:
    """For each packed bit, its place value (as a shift) within its field, MSB first."""
    bx, by = box_bits(width, height)
    widths = np.tile(np.array([bx, by, bx, by]), n_boxes)
    ends = np.cumsum(widths)
    return np.repeat(ends, widths) - 1 - np.arange(int(ends[-1]) if n_boxes else 0)


def _pack_boxes(boxes: tuple[Rect, ...], width: int, height: int) -> bytes:
    values = np.array([(x, y, w - 1, h - 1) for x, y, w, h in boxes], np.int64).reshape(-1)
    bx, by = box_bits(width, height)
    widths = np.tile([bx, by, bx, by], len(boxes))
    bits = (np.repeat(values, widths) >> _field_shifts(len(boxes), width, height)) & 1
    return np.packbits(bits.astype(np.uint8)).tobytes()


def _unpack_boxes(data: bytes, n_boxes: int, width: int, height: int) -> tuple[Rect, ...] | None:
    """The boxes packed in ``data``; None if the padding bits are not zero."""
    shifts = _field_shifts(n_boxes, width, height)
    bits = np.unpackbits(np.frombuffer(data, np.uint8)).astype(np.int64)
    if bits[shifts.size :].any():
        return None
    values = bits[: shifts.size] << shifts
    ends = np.flatnonzero(shifts == 0)  # the last bit of each field
    fields = np.add.reduceat(values, np.concatenate([[0], ends[:-1] + 1])) if n_boxes else values
    fields = fields.reshape(n_boxes, 4) + np.array([0, 0, 1, 1])
    return tuple((int(x), int(y), int(w), int(h)) for x, y, w, h in fields)


def check_key(key: object) -> bytes | None:
    """A camera MAC key is ``None`` or non-empty bytes; anything else is a StegoError."""
    if key is None:
        return None
    if not isinstance(key, bytes | bytearray) or not key:
        raise StegoError("a camera key must be non-empty bytes (or None for no MAC)")
    return bytes(key)


def _mac(key: bytes, header: bytes, fields: bytes) -> bytes:
    return hmac.new(key, _MAC_CONTEXT + header + fields, hashlib.sha256).digest()[:MAC_BYTES]


def _check_frame_size(width: int, height: int) -> None:
    if not (0 < width <= _U16 and 0 < height <= _U16):
        raise StegoError(f"a {width}x{height} frame cannot carry an ROI message")


def pack_body(message: RoiMessage, key: bytes | None, width: int, height: int) -> tuple[int, bytes]:
    """Serialise a message for a ``width`` x ``height`` frame: returns ``(flags, body)``.

    The boxes must already lie inside the frame (:func:`clip_boxes`).
    """
    key = check_key(key)
    _check_frame_size(width, height)
    flags = FLAG_MAC if key else 0
    for x, y, w, h in message.boxes:
        if not (0 <= x and 0 <= y and 0 < w and 0 < h and x + w <= width and y + h <= height):
            raise StegoError(f"box {(x, y, w, h)} does not lie inside the {width}x{height} frame")
    header = _header_bytes(flags, len(message.boxes), width, height)
    fields = struct.pack("<II", message.stream_id, message.frame_index)
    fields += _pack_boxes(message.boxes, width, height)
    if key:
        fields += _mac(key, header, fields)
    crc = zlib.crc32(_CRC_PREFIX + header + fields) & _U32
    return flags, fields + struct.pack("<I", crc)


def unpack_body(
    body: bytes, flags: int, n_boxes: int, key: bytes | None, width: int, height: int
) -> ExtractResult:
    """Check and parse a corrected body; never returns boxes that fail the CRC or MAC."""
    key = check_key(key)
    _check_frame_size(width, height)
    has_mac = bool(flags & FLAG_MAC)
    if len(body) != body_length(n_boxes, has_mac, width, height):
        return ExtractResult("damaged", None, "message body has the wrong length")
    header = _header_bytes(flags, n_boxes, width, height)
    fields, (crc,) = body[:-4], struct.unpack("<I", body[-4:])
    if zlib.crc32(_CRC_PREFIX + header + fields) & _U32 != crc:
        return ExtractResult("damaged", None, "CRC mismatch after error correction")
    tag = b""
    if has_mac:
        fields, tag = fields[:-MAC_BYTES], fields[-MAC_BYTES:]
    stream_id, frame_index = struct.unpack("<II", fields[:8])
    boxes = _unpack_boxes(fields[8:], n_boxes, width, height)
    if boxes is None:
        return ExtractResult("damaged", None, "box padding bits are not zero")
    message = RoiMessage(stream_id, frame_index, boxes)
    if key and not has_mac:
        return ExtractResult("damaged", None, "message carries no MAC but a key was given")
    if has_mac and key:
        if not hmac.compare_digest(tag, _mac(key, header, fields)):
            return ExtractResult("damaged", None, "MAC mismatch: wrong key or forged message")
        return ExtractResult("ok", message, "MAC verified")
    if has_mac:
        return ExtractResult("ok", message, "MAC present but not verified (no key given)")
    return ExtractResult("ok", message, "no MAC")
