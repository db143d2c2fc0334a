"""Exhibit images: reading them as stored, and the derived views a report or export shows.

Images enter a report exactly as the reveal wrote them (the bytes are hashed and embedded
unchanged); derived views — the side-by-side composite and the enlarged face crops — are new
images made here, enlarged by pixel replication so that no detail is invented.
"""

from __future__ import annotations

import struct

import cv2
import numpy as np

from forensics_app.core.report.model import Exhibit, ImageRef
from forensics_app.errors import InputError

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk, without decoding; InputError if not a PNG."""
    if len(data) < 24 or not data.startswith(_PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise InputError("not a PNG image")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def image_ref(name: str, png: bytes) -> ImageRef:
    """An :class:`ImageRef` for PNG bytes as stored (checks it is a PNG)."""
    width, height = png_size(png)
    return ImageRef(name=name, png=png, width=width, height=height)


def encode_png(bgr: np.ndarray, compression: int = 3, fast: bool = False) -> bytes:
    """PNG bytes of a BGR uint8 image (deterministic for the same pixels and settings).

    ``fast`` uses the SUB row filter only: about half the time of the adaptive filter for
    nearly the same size, for the many derived images of an export.
    """
    params = [cv2.IMWRITE_PNG_COMPRESSION, compression]
    if fast:
        params += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_SUB]
    ok, buf = cv2.imencode(".png", bgr, params)
    if not ok:  # pragma: no cover - OpenCV only fails on invalid arrays
        raise InputError("cannot encode image as PNG")
    return buf.tobytes()


def decode_png(png: bytes) -> np.ndarray:
    """BGR uint8 pixels of PNG bytes; InputError if they do not decode."""
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError("image does not decode")
    return image


def enlarge(png: bytes, min_side: int = 96) -> bytes:
    """The image enlarged by an integer factor with nearest-neighbour (pixel replication)."""
    image = decode_png(png)
    height, width = image.shape[:2]
    factor = max(1, -(-min_side // max(1, min(height, width))))
    if factor == 1:
        return png
    big = cv2.resize(image, (width * factor, height * factor), interpolation=cv2.INTER_NEAREST)
    return encode_png(big)


def side_by_side(exhibit: Exhibit, gap: int = 8, fast: bool = False) -> bytes:
    """PNG of the public frame (left) and the reconstructed frame (right), a white gap between.

    The two halves are the stored pixels, unscaled, so each half can be compared with its
    own file; the face boxes are outlined on both halves in a colour outside the face.
    """
    public = decode_png(exhibit.public.png)
    recon = decode_png(exhibit.reconstructed.png)
    height = max(public.shape[0], recon.shape[0])
    canvas = np.full((height, public.shape[1] + gap + recon.shape[1], 3), 255, np.uint8)
    canvas[: public.shape[0], : public.shape[1]] = public
    offset = public.shape[1] + gap
    canvas[: recon.shape[0], offset : offset + recon.shape[1]] = recon
    for face in exhibit.faces:
        x, y, w, h = face.box
        for dx in (0, offset):
            cv2.rectangle(
                canvas, (dx + x - 2, y - 2), (dx + x + w + 1, y + h + 1), (0, 200, 255), 1
            )
    return encode_png(canvas, 1 if fast else 3, fast=fast)


def enlarge_by(png: bytes, factor: int) -> bytes:
    """The image enlarged by exactly ``factor`` with nearest neighbour (pixel replication)."""
    if factor <= 1:
        return png
    image = decode_png(png)
    height, width = image.shape[:2]
    big = cv2.resize(image, (width * factor, height * factor), interpolation=cv2.INTER_NEAREST)
    return encode_png(big, 6)


def _factor(png: bytes, min_side: int) -> int:
    width, height = png_size(png)
    return max(1, -(-min_side // max(1, min(height, width))))


def face_crop_strip(
    exhibit: Exhibit, min_side: int = 96, limit: int = 8
) -> list[tuple[bytes, bytes, int]]:
    """(public, reconstructed, factor) of the exhibit's first ``limit`` faces.

    A marked reconstruction (reveal.json v2) is already enlarged, with its band: it is used
    as stored, and the public crop is enlarged by the same factor so the two match. From a
    version-1 reveal both crops are enlarged here to ``min_side``. The factor is stated.
    """
    out = []
    for face in exhibit.faces[:limit]:
        if face.unmarked is not None:
            factor = face.enlargement
            out.append((enlarge_by(face.public.png, factor), face.reconstructed.png, factor))
        else:
            factor = _factor(face.public.png, min_side)
            out.append(
                (
                    enlarge_by(face.public.png, factor),
                    enlarge_by(face.reconstructed.png, factor),
                    factor,
                )
            )
    return out
