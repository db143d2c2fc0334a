"""Face geometry: the networks' input size and the one way a head box becomes a face and back.

The producer crops each carried head box to ``FACE_SIZE``×``FACE_SIZE`` for U_e and pastes the
surrogate back into the box; the reveal crops the public box again for U_d and pastes the
reconstruction back. Both go through :func:`crop_face` and :func:`paste_face` here.

The rule, per resize: :data:`cv2.INTER_AREA` when no side grows (a true average of the pixels,
as torch's ``area``), else the caller's ``grow`` interpolation. Where the training channel
(:func:`forensics_app.uunet.channel.resize_through_box`) models a step, deployment does what it
does: the surrogate is pasted into its (smaller) box by area, and the reveal grows the public
box back to the network's size bilinearly (:data:`DECODER_GROW`, half-pixel centres like
torch's ``bilinear`` with ``align_corners=False``), which is what U_d was trained on.

The producer's crop of the original face (x, for U_e) is not part of the channel: it grows by
bicubic (:data:`ENCODER_GROW`). Measured end to end on the sample clip
(``benchmarks/bench_reveal_quality.py``, docs/RESULTS.md "Face geometry"), a bilinear x crop
costs about 0.3 dB of r vs x at CRF 23 and 28; bicubic for U_d's crop as well changes nothing
measurable, so U_d keeps the channel's bilinear. Boxes larger than the network (never seen in
training) are shrunk by area, so they do not alias.

Boxes here are :data:`Rect` tuples ``(x, y, w, h)`` in integer pixels, the form the hidden ROI
messages, ``reveal.json`` and the producer's plans carry (``core.detect.Box`` is the detector's
richer dataclass, with a score; its ``as_tuple()`` gives a :data:`Rect`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

from forensics_app.errors import InputError

#: A box as ``(x, y, w, h)`` in integer pixels (ROI messages, reveal.json, producer plans).
Rect = tuple[int, int, int, int]

#: How :func:`crop_face` grows a box for U_d (the training channel's ``bilinear``) and, by
#: default, how :func:`paste_face` grows a face into a box larger than the network.
DECODER_GROW = cv2.INTER_LINEAR
#: How the producer grows a head box for U_e: bicubic, measured better than bilinear for the
#: reconstruction (see the module docstring).
ENCODER_GROW = cv2.INTER_CUBIC

#: Side of the square face U_e and U_d take and return. The shipped cards (``models/ue.json``,
#: ``models/ud.json``, format ``uunet-model-card/1``) do not state it: they were trained on
#: 64×64 crops (their ``architecture.config.inner_size`` of 32 is the networks' inner grid).
FACE_SIZE = 64


def face_size(card: Mapping[str, Any] | None) -> int:
    """The face side a model card declares (``architecture.input_size``), else :data:`FACE_SIZE`.

    The producer and the reveal size their crops by the card of the network they run, so a
    future card trained at another size is read from the card, not from a constant here.
    """
    if not card:
        return FACE_SIZE
    architecture = card.get("architecture") or {}
    value = architecture.get("input_size", FACE_SIZE) if isinstance(architecture, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"model card input_size must be a positive integer, got {value!r}")
    return value


def _resize(image: np.ndarray, width: int, height: int, grow: int) -> np.ndarray:
    """``image`` resized to ``width``×``height``: area when no side grows, else ``grow``."""
    src_h, src_w = image.shape[:2]
    interp = grow if width > src_w or height > src_h else cv2.INTER_AREA
    return cv2.resize(np.ascontiguousarray(image), (width, height), interpolation=interp)


def _check_box(image: np.ndarray, box: Rect) -> Rect:
    x, y, w, h = (int(v) for v in box)
    height, width = image.shape[:2]
    if w < 1 or h < 1:
        raise InputError(f"a face box needs a positive size, got {w}x{h}")
    if x < 0 or y < 0 or x + w > width or y + h > height:
        raise InputError(f"face box {(x, y, w, h)} is outside the {width}x{height} image")
    return x, y, w, h


def crop_face(
    image: np.ndarray, box: Rect, size: int = FACE_SIZE, grow: int = DECODER_GROW
) -> np.ndarray:
    """The pixels of ``box`` (inside ``image``) resized to the network's ``size``×``size``:
    by area when the box is larger on both sides, else by ``grow`` (an OpenCV interpolation:
    :data:`DECODER_GROW` for U_d's input, :data:`ENCODER_GROW` for U_e's).

    Raises :class:`InputError` for an empty box or one not wholly inside the image: callers
    clip boxes to the frame first (the ROI message and the producer's plan do), so a box
    outside is a bug, not something to pad silently.
    """
    x, y, w, h = _check_box(image, box)
    return _resize(image[y : y + h, x : x + w], size, size, grow)


def paste_face(
    image: np.ndarray, box: Rect, face: np.ndarray, grow: int = DECODER_GROW
) -> np.ndarray:
    """Resize ``face`` (the network's square output) to ``box`` and write it into ``image``:
    by area (the channel's way) when the box is no larger than the face, else by ``grow``.

    ``image`` is changed in place; the pasted pixels (the face at the box's own size) are
    returned, since the reveal keeps them as the face's reconstructed crop.
    """
    x, y, w, h = _check_box(image, box)
    if face.ndim != image.ndim or face.shape[2:] != image.shape[2:]:
        raise InputError(f"face of shape {face.shape} does not fit an image of {image.shape}")
    pixels = _resize(face, w, h, grow)
    image[y : y + h, x : x + w] = pixels
    return pixels
