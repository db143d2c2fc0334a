"""Hide an :class:`RoiMessage` in a frame's luma and read it back.

Only the blocks the layout uses are touched: they are gathered (8 pixels per index), their
luma ``Y = 0.114 B + 0.587 G + 0.299 R`` is projected on one DCT basis image each (a batch
dot product, no loop over blocks), the coefficient is moved to the QIM lattice of its bit,
and the change is added equally to B, G and R. Because the luma weights sum to one, that
changes the luma by exactly the intended amount and leaves the chroma as it was.

Reading uses soft decisions: each block gives ``cos(2 pi (c / step - dither))``, +1 on the
lattice of bit 0 and -1 on that of bit 1; repeated blocks of one bit are averaged, and the
LDPC decoder (ecc.py) takes the soft values as they are.
"""

from __future__ import annotations

import numpy as np

from forensics_app.core.stego import ecc
from forensics_app.core.stego.layout import BASIS, BLOCK, SYNC_STEP, Layout, layout_for
from forensics_app.core.stego.message import (
    ExtractResult,
    RoiMessage,
    check_key,
    clip_boxes,
    pack_body,
    unpack_body,
)
from forensics_app.errors import StegoError

_LUMA = np.array([0.114, 0.587, 0.299], dtype=np.float32)  # BGR weights (BT.601)
_OFFSETS = np.arange(BLOCK)
_ROW = np.dtype((np.void, BLOCK * 3))


def _check_image(bgr: object) -> np.ndarray:
    if not isinstance(bgr, np.ndarray) or bgr.dtype != np.uint8:
        raise StegoError("a frame must be a uint8 numpy array (BGR)")
    if bgr.ndim != 3 or bgr.shape[2] != 3:
        raise StegoError(f"a frame must be H x W x 3 (BGR), got shape {bgr.shape}")
    return bgr


def _row_view(image: np.ndarray) -> np.ndarray:
    """The frame as an (H, W // 8) array of 24-byte items: 8 BGR pixels of one block row.

    Gathering whole block rows moves 8 pixels per index, an order of magnitude faster than
    indexing single bytes; it works for any width (the row stride need not be a multiple).
    """
    height, width = image.shape[:2]
    return np.ndarray(
        shape=(height, width // BLOCK),
        dtype=_ROW,
        buffer=image,
        strides=(width * 3, BLOCK * 3),
    )


def _block_index(layout: Layout, sl: slice) -> tuple[np.ndarray, np.ndarray]:
    rows = layout.rows[sl][:, None] + _OFFSETS
    return rows, (layout.cols[sl] // BLOCK)[:, None]


def _gather(image: np.ndarray, index: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The blocks at ``index`` as an (n, 64, 3) uint8 array (a copy)."""
    return _row_view(image)[index].view(np.uint8).reshape(-1, BLOCK * BLOCK, 3)


def _coefficients(pixels: np.ndarray, coef: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The chosen DCT coefficient of each block's luma, and the (n, 64) basis images used."""
    luma = pixels.astype(np.float32) @ _LUMA
    basis = BASIS[coef]
    return np.einsum("np,np->n", luma, basis), basis


def _soft(bgr: np.ndarray, layout: Layout, sl: slice, step: float) -> np.ndarray:
    c, _ = _coefficients(
        _gather(np.ascontiguousarray(bgr), _block_index(layout, sl)), layout.coef[sl]
    )
    return np.cos(2.0 * np.pi * (c / step - layout.dither[sl]))


def embed(bgr: np.ndarray, message: RoiMessage, key: bytes | None = None) -> np.ndarray:
    """Return a copy of ``bgr`` carrying ``message`` (boxes clipped to the frame first).

    With ``key`` the message gets a truncated HMAC-SHA256 that :func:`extract` checks.
    Raises StegoError when the frame is too small or the boxes exceed :func:`capacity`.
    """
    _check_image(bgr)
    key = check_key(key)
    if not isinstance(message, RoiMessage):
        raise StegoError(f"embed needs a RoiMessage, got {type(message).__name__}")
    height, width = bgr.shape[:2]
    layout = layout_for(width, height)
    if layout is None:
        raise StegoError(f"a {width}x{height} frame is too small to carry an ROI message")
    if len(message.boxes) > layout.capacity:
        raise StegoError(
            f"{len(message.boxes)} boxes exceed the capacity of a {width}x{height} frame "
            f"({layout.capacity} boxes)"
        )
    boxes = clip_boxes(message.boxes, width, height)
    clipped = RoiMessage(message.stream_id, message.frame_index, boxes)
    flags, body = pack_body(clipped, key, width, height)
    plan = layout.body_plan(flags, len(boxes))
    if plan is None:  # pragma: no cover - capacity is computed from the same plans
        raise StegoError(f"the message does not fit a {width}x{height} frame")
    header = layout.header_index[(flags, len(boxes))]
    sync_bits = (layout.patterns[header] < 0).astype(np.float32)
    body_bits = np.tile(ecc.encode(body), plan.repeats).astype(np.float32)
    n_used = layout.n_sync + plan.n_slots
    bits = np.concatenate([sync_bits, body_bits])
    step = np.concatenate(
        [
            np.full(layout.n_sync, SYNC_STEP, np.float32),
            np.full(plan.n_slots, plan.step, np.float32),
        ]
    )
    used = slice(0, n_used)
    index = _block_index(layout, used)
    out = np.ascontiguousarray(bgr).copy()
    pixels = _gather(out, index)
    c, basis = _coefficients(pixels, layout.coef[used])
    offset = (layout.dither[used] + 0.5 * bits) * step
    target = np.round((c - offset) / step) * step + offset
    # p + rint(change) == rint(p + change) for integer p: add in int16, in place.
    change = np.rint((target - c)[:, None] * basis).astype(np.int16)[:, :, None]
    marked = pixels.astype(np.int16)
    marked += change
    marked = np.clip(marked, 0, 255, out=marked).astype(np.uint8)
    _row_view(out)[index] = marked.reshape(n_used, BLOCK, BLOCK * 3).view(_ROW)[..., 0]
    return out


def extract(bgr: np.ndarray, key: bytes | None = None) -> ExtractResult:
    """Read the ROI message of a frame: ``ok`` (checked), ``none`` or ``damaged``.

    Never returns boxes that fail the CRC, nor (with ``key``) the MAC.
    """
    _check_image(bgr)
    key = check_key(key)
    height, width = bgr.shape[:2]
    layout = layout_for(width, height)
    if layout is None:
        return ExtractResult("none", None, f"a {width}x{height} frame is too small to carry one")
    sync = _soft(bgr, layout, slice(0, layout.n_sync), SYNC_STEP)
    scores = layout.patterns @ sync / layout.n_sync
    best = int(np.argmax(scores))
    score = float(scores[best])
    if score < layout.threshold:
        return ExtractResult("none", None, f"no sync pattern (score {score:.2f})")
    flags, n_boxes = layout.headers[best]
    plan = layout.body_plan(flags, n_boxes)
    if plan is None:  # pragma: no cover - headers are built from fitting plans only
        return ExtractResult("damaged", None, "header names a message that cannot fit")
    start = layout.n_sync
    soft = _soft(bgr, layout, slice(start, start + plan.n_slots), plan.step)
    body = ecc.decode(soft.reshape(plan.repeats, plan.n_bits).mean(axis=0), plan.data_len)
    if body is None:
        return ExtractResult(
            "damaged", None, f"sync found (score {score:.2f}) but the body is uncorrectable"
        )
    return unpack_body(body, flags, n_boxes, key, width, height)
