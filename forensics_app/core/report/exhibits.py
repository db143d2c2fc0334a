"""Exhibit images: reading them as stored, and the derived views a report or export shows.

Images enter a report exactly as the reveal wrote them (the bytes are hashed and embedded
unchanged); derived views — the side-by-side composite and the enlarged face crops — are new
images made here, enlarged by pixel replication so that no detail is invented.
"""

from __future__ import annotations

import struct

import cv2
import numpy as np

from forensics_app.core.report.model import Exhibit, FacePair, ImageRef
from forensics_app.errors import InputError

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Outline of a face box (BGR amber), outside the box so no face pixel is covered.
BOX_BGR = (0, 200, 255)
#: Outline and label of a box an analyst flagged as not a person (BGR magenta).
FLAG_BGR = (255, 0, 255)
#: The words drawn above a flagged box in every view a report or export derives.
FLAG_LABEL = "not a person: public pixels"


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


def flagged(exhibit: Exhibit) -> list[FacePair]:
    """The exhibit's faces an analyst flagged as not a person."""
    return [face for face in exhibit.faces if face.flag]


def _outline(canvas: np.ndarray, face: FacePair, dx: int = 0) -> None:
    """Outline ``face``'s box (shifted ``dx`` px right) just outside it and write its number
    on a dark plate above it (below, at the top edge), so no pixel inside the box changes.

    A flagged box is outlined in magenta, two pixels thick, and its plate adds
    :data:`FLAG_LABEL`; the others in amber. The numbers are the face numbers of the
    enlarged pairs, the GUI and the files (from 1).
    """
    x, y, w, h = face.box
    colour, thick = (FLAG_BGR, 2) if face.flag else (BOX_BGR, 1)
    pad = 1 + thick
    cv2.rectangle(
        canvas, (dx + x - pad, y - pad), (dx + x + w + pad - 1, y + h + pad - 1), colour, thick
    )
    label = f"{face.number} {FLAG_LABEL}" if face.flag else str(face.number)
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.55
    (tw, th), base = cv2.getTextSize(label, font, scale, 1)
    high = th + base + 3
    top = y - pad - high - 1 if y - pad - high - 1 >= 0 else y + h + pad
    left = max(0, min(dx + x - pad, canvas.shape[1] - tw - 4))
    cv2.rectangle(canvas, (left, top), (left + tw + 3, top + high), (0, 0, 0), -1)
    cv2.putText(canvas, label, (left + 2, top + th + 1), font, scale, colour, 1, cv2.LINE_AA)


def _public_in_flagged(recon: np.ndarray, public: np.ndarray, exhibit: Exhibit) -> None:
    """Put the public pixels back into every flagged box of ``recon`` (in place): a box an
    analyst flagged as not a person is never shown reconstructed in a derived view."""
    for face in flagged(exhibit):
        x, y, w, h = face.box
        recon[y : y + h, x : x + w] = public[y : y + h, x : x + w]


def numbered_frame(exhibit: Exhibit, reconstructed: bool) -> bytes:
    """The public or reconstructed whole frame as a report shows it: a derived image with
    every face box outlined and numbered (:func:`_outline`), and in the reconstruction each
    flagged box holding its public pixels. The frame's pixels sit at (0, 0), scale 1, in the
    marked and the plain images alike, so the box coordinates apply as they are.

    Encoded at PNG compression 6 (lossless; 9 saved 3 % for ten times the time on video
    frames): the report embeds these bytes as they are.
    """
    public = decode_png(exhibit.public.png)
    if reconstructed:
        canvas = decode_png(exhibit.reconstructed.png)
        _public_in_flagged(canvas, public, exhibit)
    else:
        canvas = public
    for face in exhibit.faces:
        _outline(canvas, face)
    return encode_png(canvas, 6)


def side_by_side(exhibit: Exhibit, gap: int = 8, fast: bool = False) -> bytes:
    """PNG of the public frame (left) and the reconstructed frame (right), a white gap between.

    The two halves are the stored pixels, unscaled, so each half can be compared with its
    own file; the face boxes are outlined and numbered on both halves, outside the face. A box
    flagged as not a person shows its public pixels on the right too, outlined in magenta and
    labelled on both halves (its reveal file keeps the model output; the manifest lists the
    flag).
    """
    public = decode_png(exhibit.public.png)
    recon = decode_png(exhibit.reconstructed.png)
    _public_in_flagged(recon, public, exhibit)
    height = max(public.shape[0], recon.shape[0])
    canvas = np.full((height, public.shape[1] + gap + recon.shape[1], 3), 255, np.uint8)
    canvas[: public.shape[0], : public.shape[1]] = public
    offset = public.shape[1] + gap
    canvas[: recon.shape[0], offset : offset + recon.shape[1]] = recon
    for face in exhibit.faces:
        for dx in (0, offset):
            _outline(canvas, face, dx)
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
