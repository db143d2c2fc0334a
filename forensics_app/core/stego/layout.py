"""Where and how strongly a frame carries its ROI message.

A frame of ``W x H`` pixels has ``N = (W // 8) * (H // 8)`` whole 8x8 luma blocks (partial
blocks at the right and bottom edges are ignored, so odd sizes work). Each block carries at
most one bit, by quantisation-index modulation (QIM) of one of its two lowest AC DCT
coefficients, (0, 1) or (1, 0), picked per block by a fixed pseudo-random draw. A fixed
pseudo-random order of the blocks (seeded by the block grid, not by any key, so the boxes
can be read without the camera key) gives:

* the first ``P`` blocks: the *sync pattern*, one of ``2 * (capacity + 1)`` known
  pseudo-random bit patterns, which both says whether a message is present and carries the
  header (MAC flag, number of boxes);
* the next ``S`` blocks: the LDPC-coded body, repeated ``R`` times.

The message is deliberately sparse and strong rather than dense and weak. H.264 codes a
frame as a prediction from other frames plus a quantised residual, and x264 drops a residual
that is small for its quantiser (B-frames, quantised hardest, most of all). Where a block
carries the same bit as the frames it is predicted from, the prediction already holds the
mark; where the bit differs (about half the body bits, as each frame's message differs), the
residual is half a QIM step, and once it is dropped the block shows the reference frame's
bit instead. Only a large step survives that, so the body carries as few bits as it can:
the boxes are bit-packed (message.py) and the errors that remain are corrected by a binary
LDPC code (ecc.py). The step of the body follows from a fixed distortion budget
(``MSE_BUDGET``, about 40.7 dB PSNR): short messages get few, strong, repeated blocks; long
ones many, weaker blocks. The sync pattern is the same in every frame of a stream (one
header), so prediction carries it; with its ``N / 24`` blocks it outlives the body under
compression and noise alike, so a frame whose body is lost reads ``damaged``, not ``none``.
"""

from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass

import numpy as np

from forensics_app.core.stego import ecc
from forensics_app.core.stego.message import FLAG_MAC, FORMAT_VERSION, MAX_BOXES, body_length

BLOCK = 8
#: Mean squared luma change the embedding may cause, per pixel (about 40.7 dB PSNR).
MSE_BUDGET = 5.5
#: QIM step of the sync pattern (in orthonormal 8x8 DCT units); strong enough that, under
#: noise, the body gives way before the sync pattern does.
SYNC_STEP = 128.0
#: Strongest and weakest body step; a message that would need a weaker one does not fit,
#: one that could have a stronger one is repeated instead.
MAX_STEP = 240.0
MIN_STEP = 48.0
#: Frames with fewer whole blocks than this carry no message.
MIN_BLOCKS = 256
_SOFT_SD = math.sqrt(0.5)  # sd of cos(uniform phase): the soft value of an unmarked slot


def _seed(*parts: object) -> int:
    text = "/".join(str(p) for p in ("uunf-roi", FORMAT_VERSION, *parts))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def _dct_basis() -> np.ndarray:
    k = np.arange(BLOCK)
    d = np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / (2 * BLOCK)) * math.sqrt(2 / BLOCK)
    d[0] /= math.sqrt(2)
    rows = [np.outer(d[u], d[v]).ravel() for u, v in ((0, 1), (1, 0))]
    return np.stack(rows).astype(np.float32)


#: The two DCT basis images a block may be marked in, flattened: shape (2, 64).
BASIS = _dct_basis()


@dataclass(frozen=True)
class BodyPlan:
    """How a body of a given header is laid out: coded bits, repetitions and QIM step."""

    flags: int
    n_boxes: int
    data_len: int
    n_bits: int
    repeats: int
    step: float

    @property
    def n_slots(self) -> int:
        return self.n_bits * self.repeats


@dataclass(frozen=True)
class Layout:
    """The fixed block layout of one frame size (see the module docstring)."""

    width: int
    height: int
    blocks_y: int
    blocks_x: int
    rows: np.ndarray  # top pixel row of each block, in layout order
    cols: np.ndarray  # left pixel column of each block, in layout order
    coef: np.ndarray  # 0 or 1: which basis image each block uses
    dither: np.ndarray  # QIM dither of each block, as a fraction of the step
    n_sync: int
    headers: tuple[tuple[int, int], ...]  # (flags, n_boxes) of each sync pattern
    patterns: np.ndarray  # (len(headers), n_sync) float32 of +1 (bit 0) / -1 (bit 1)
    threshold: float  # sync correlation above which a message is taken to be present
    capacity: int  # most boxes a message with a MAC can name in this frame
    header_index: dict[tuple[int, int], int]  # (flags, n_boxes) -> row of ``patterns``

    @property
    def n_blocks(self) -> int:
        return self.blocks_y * self.blocks_x

    def body_plan(self, flags: int, n_boxes: int) -> BodyPlan | None:
        """The body layout for this header, or None if it does not fit this frame."""
        return _body_plan(self.width, self.height, flags, n_boxes)


def _energy(n_blocks: int, n_sync: int) -> float:
    """QIM energy (sum of step squared) left for the body under ``MSE_BUDGET``."""
    return 12.0 * BLOCK * BLOCK * n_blocks * MSE_BUDGET - n_sync * SYNC_STEP**2


def _n_sync(n_blocks: int) -> int:
    return int(min(384, max(64, n_blocks // 24)))


@functools.lru_cache(maxsize=1024)
def _body_plan(width: int, height: int, flags: int, n_boxes: int) -> BodyPlan | None:
    n_blocks = (width // BLOCK) * (height // BLOCK)
    n_sync = _n_sync(n_blocks)
    data_len = body_length(n_boxes, bool(flags & FLAG_MAC), width, height)
    n_bits = ecc.coded_bits(data_len)
    available = n_blocks - n_sync
    energy = _energy(n_blocks, n_sync)
    if n_bits > available or energy <= 0:
        return None
    repeats = max(1, min(available // n_bits, int(energy // (MAX_STEP**2 * n_bits))))
    step = min(MAX_STEP, math.sqrt(energy / (repeats * n_bits)))
    if step < MIN_STEP:
        return None
    return BodyPlan(flags, n_boxes, data_len, n_bits, repeats, step)


@functools.lru_cache(maxsize=16)
def layout_for(width: int, height: int) -> Layout | None:
    """The layout of a ``width`` x ``height`` frame, or None if it is too small."""
    blocks_y, blocks_x = height // BLOCK, width // BLOCK
    n_blocks = blocks_y * blocks_x
    if blocks_y < 1 or blocks_x < 1 or n_blocks < MIN_BLOCKS or max(width, height) > 0xFFFF:
        return None
    capacity = -1
    while capacity < MAX_BOXES and _body_plan(width, height, FLAG_MAC, capacity + 1):
        capacity += 1
    if capacity < 0:
        return None
    rng = np.random.default_rng(_seed("layout", blocks_y, blocks_x))
    order = rng.permutation(n_blocks)
    coef = rng.integers(0, 2, n_blocks).astype(np.intp)
    dither = rng.random(n_blocks).astype(np.float32)
    n_sync = _n_sync(n_blocks)
    headers = tuple((flags, n) for flags in (0, FLAG_MAC) for n in range(capacity + 1))
    patterns = np.stack(
        [
            1.0 - 2.0 * np.random.default_rng(_seed("sync", f, n)).integers(0, 2, n_sync)
            for f, n in headers
        ]
    ).astype(np.float32)
    # Null correlation of one pattern ~ N(0, sd/sqrt(P)); take the max over all patterns into
    # account and keep a wide margin (4.5 sd) so an unmarked frame reads "none".
    spread = _SOFT_SD / math.sqrt(n_sync)
    threshold = spread * (math.sqrt(2 * math.log(len(headers))) + 4.5)
    for array in (order, coef, dither, patterns):
        array.setflags(write=False)
    return Layout(
        width=width,
        height=height,
        blocks_y=blocks_y,
        blocks_x=blocks_x,
        rows=(order // blocks_x) * BLOCK,
        cols=(order % blocks_x) * BLOCK,
        coef=coef[order],
        dither=dither[order],
        n_sync=n_sync,
        headers=headers,
        patterns=patterns,
        threshold=float(threshold),
        capacity=capacity,
        header_index={header: i for i, header in enumerate(headers)},
    )


def capacity(width: int, height: int) -> int:
    """Most boxes a ``width`` x ``height`` frame can carry (with a MAC); 0 if it carries none.

    A frame too small for any message also gives 0; :func:`embed` then says so.
    """
    layout = layout_for(int(width), int(height))
    return 0 if layout is None else layout.capacity
