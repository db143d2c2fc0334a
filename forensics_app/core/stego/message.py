"""The ROI message: what a frame hides, and its versioned, checked byte layout.

The message is split in two parts (see docs/FORMATS.md, "ROI message"):

* the *header* (format version, flags, number of boxes) is not sent as bytes: it selects
  which pseudo-random sync pattern the frame carries, so the reader learns it from the same
  correlation that tells it whether a message is there at all;
* the *body* (stream id, frame index, boxes, optional truncated HMAC-SHA256, CRC32) is sent
  as bytes under Reed-Solomon protection. The CRC covers the header too, so a header read
  wrongly can never yield boxes.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import zlib
from dataclasses import dataclass
from typing import Literal

from forensics_app.errors import StegoError

#: Version of the message layout and of the embedding (bump both together).
FORMAT_VERSION = 1
#: Header flag: the body carries a truncated HMAC-SHA256 made with a camera key.
FLAG_MAC = 0x01
#: Most boxes one message can name (the header is chosen among this many patterns).
MAX_BOXES = 255
#: Length of the truncated HMAC-SHA256 tag, in bytes.
MAC_BYTES = 8
_CRC_PREFIX = b"UUNF-ROI"
_MAC_CONTEXT = b"UUNF-ROI-MAC/v1"
_U32 = 0xFFFFFFFF
_U16 = 0xFFFF

Box = tuple[int, int, int, int]
Status = Literal["ok", "none", "damaged"]


@dataclass(frozen=True)
class RoiMessage:
    """The face boxes of one frame of one stream; boxes are ``(x, y, w, h)`` in pixels."""

    stream_id: int
    frame_index: int
    boxes: tuple[Box, ...] = ()

    def __post_init__(self) -> None:
        for name, value in (("stream_id", self.stream_id), ("frame_index", self.frame_index)):
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _U32:
                raise StegoError(f"{name} must be an integer in 0..{_U32}, got {value!r}")
        boxes: list[Box] = []
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


def clip_boxes(boxes: tuple[Box, ...], width: int, height: int) -> tuple[Box, ...]:
    """Clip boxes to a ``width`` x ``height`` frame, as :func:`embed` stores them.

    A box partly outside the frame keeps only its inside part; an empty box or one wholly
    outside the frame is an error (there is nothing of it to hide).
    """
    clipped: list[Box] = []
    for x, y, w, h in boxes:
        if w <= 0 or h <= 0:
            raise StegoError(f"box {(x, y, w, h)} has no area (w and h must be positive)")
        x0, y0 = max(0, x), max(0, y)
        x1, y1 = min(width, x + w), min(height, y + h)
        if x1 <= x0 or y1 <= y0:
            raise StegoError(f"box {(x, y, w, h)} lies outside the {width}x{height} frame")
        clipped.append((x0, y0, x1 - x0, y1 - y0))
    return tuple(clipped)


def body_length(n_boxes: int, has_mac: bool) -> int:
    """Bytes of the body (before error correction) of a message with ``n_boxes`` boxes."""
    return 8 + 8 * n_boxes + (MAC_BYTES if has_mac else 0) + 4


def _header_bytes(flags: int, n_boxes: int) -> bytes:
    return struct.pack("<BBH", FORMAT_VERSION, flags, n_boxes)


def check_key(key: object) -> bytes | None:
    """A camera MAC key is ``None`` or non-empty bytes; anything else is a StegoError."""
    if key is None:
        return None
    if not isinstance(key, bytes | bytearray) or not key:
        raise StegoError("a camera key must be non-empty bytes (or None for no MAC)")
    return bytes(key)


def _mac(key: bytes, header: bytes, fields: bytes) -> bytes:
    return hmac.new(key, _MAC_CONTEXT + header + fields, hashlib.sha256).digest()[:MAC_BYTES]


def pack_body(message: RoiMessage, key: bytes | None) -> tuple[int, bytes]:
    """Serialise a (clipped) message: returns ``(flags, body)``; boxes must fit uint16."""
    key = check_key(key)
    flags = FLAG_MAC if key else 0
    parts = [struct.pack("<II", message.stream_id, message.frame_index)]
    for box in message.boxes:
        if not all(0 <= v <= _U16 for v in box):
            raise StegoError(f"box {box} does not fit 16-bit coordinates")
        parts.append(struct.pack("<4H", *box))
    fields = b"".join(parts)
    header = _header_bytes(flags, len(message.boxes))
    if key:
        fields += _mac(key, header, fields)
    crc = zlib.crc32(_CRC_PREFIX + header + fields) & _U32
    return flags, fields + struct.pack("<I", crc)


def unpack_body(body: bytes, flags: int, n_boxes: int, key: bytes | None) -> ExtractResult:
    """Check and parse a corrected body; never returns boxes that fail the CRC or MAC."""
    key = check_key(key)
    has_mac = bool(flags & FLAG_MAC)
    if len(body) != body_length(n_boxes, has_mac):
        return ExtractResult("damaged", None, "message body has the wrong length")
    header = _header_bytes(flags, n_boxes)
    fields, (crc,) = body[:-4], struct.unpack("<I", body[-4:])
    if zlib.crc32(_CRC_PREFIX + header + fields) & _U32 != crc:
        return ExtractResult("damaged", None, "CRC mismatch after error correction")
    tag = b""
    if has_mac:
        fields, tag = fields[:-MAC_BYTES], fields[-MAC_BYTES:]
    stream_id, frame_index = struct.unpack("<II", fields[:8])
    boxes = tuple(struct.unpack_from("<4H", fields, 8 + 8 * i) for i in range(n_boxes))
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
