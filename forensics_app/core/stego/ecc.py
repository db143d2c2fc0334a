"""Error correction for the ROI message: a binary LDPC code decoded with soft decisions.

Each block of the frame carries one coded bit, and what H.264 does to a block is close to
independent from block to block: a B-frame that drops the small residual of a block shows
the mark of its reference frame instead, a confident but wrong bit. Against scattered bit
errors a binary code beats Reed-Solomon over bytes (one wrong bit spoils a whole RS symbol),
and soft belief propagation uses the reliability of every block.

The code is an irregular repeat-accumulate LDPC code (the kind DVB-S2 uses): each of the
``k`` data bits enters ``DATA_DEGREE`` of the ``m = ceil(PARITY_RATIO * k)`` parity checks,
spread evenly and pseudo-randomly (seeded by the format version, ``k`` and ``m``), and the
parity bits form an accumulator, ``p[j] = p[j-1] xor (sum of the data bits of check j)``, so
encoding is a cumulative XOR and needs no matrix inversion. Decoding is normalised min-sum
belief propagation, vectorised over the edges of the graph, stopped as soon as every check
holds. A word it cannot correct comes back as None; a word it "corrects" into another
codeword is caught by the message CRC (and MAC), never returned as boxes.
"""

from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass

import numpy as np

from forensics_app.core.stego.message import FORMAT_VERSION

#: Parity bits per data bit (a rate 4/7 code).
PARITY_RATIO = 0.75
#: Parity checks each data bit takes part in.
DATA_DEGREE = 4
#: Most belief-propagation iterations before a word is declared uncorrectable.
MAX_ITERATIONS = 40
#: Min-sum normalisation (offsets min-sum's overconfidence in check-to-bit messages).
_ALPHA = 0.75


def parity_bits(data_bits: int) -> int:
    """Parity bits the code adds to ``data_bits`` data bits."""
    if data_bits <= 0:
        raise ValueError("nothing to encode")
    return max(16, math.ceil(PARITY_RATIO * data_bits))


def coded_bits(data_len: int) -> int:
    """Coded bits of a body of ``data_len`` bytes."""
    return 8 * data_len + parity_bits(8 * data_len)


@dataclass(frozen=True)
class _Graph:
    """The Tanner graph of one code, edges sorted by check (see the module docstring)."""

    k: int
    m: int
    var: np.ndarray  # bit of each edge (data bits 0..k-1, parity bits k..k+m-1)
    chk: np.ndarray  # check of each edge
    pos: np.ndarray  # position of each edge among the edges of its check
    width: int  # most edges of one check
    data_edges: np.ndarray  # mask of the edges that join a data bit


@functools.lru_cache(maxsize=64)
def _graph(k: int, m: int) -> _Graph:
    digest = hashlib.sha256(f"uunf-roi/{FORMAT_VERSION}/ldpc/{k}/{m}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    bits = np.repeat(np.arange(k), DATA_DEGREE)
    checks = np.tile(np.arange(m), -(-bits.size // m))[: bits.size]
    rng.shuffle(checks)
    for _ in range(20):  # move a bit's repeated check elsewhere (a double edge is no edge)
        pairs = bits * m + checks
        dup = np.setdiff1d(np.arange(pairs.size), np.unique(pairs, return_index=True)[1])
        if dup.size == 0:
            break
        other = rng.integers(0, pairs.size, dup.size)
        checks[dup], checks[other] = checks[other], checks[dup].copy()
    keep = np.unique(bits * m + checks)  # whatever duplicate is left is dropped (both sides)
    bits, checks = keep // m, keep % m
    var = np.concatenate([bits, k + np.arange(m), k + np.arange(m - 1)])
    chk = np.concatenate([checks, np.arange(m), np.arange(1, m)])
    order = np.argsort(chk, kind="stable")
    var, chk = var[order], chk[order]
    degree = np.bincount(chk, minlength=m)
    pos = np.arange(var.size) - np.repeat(np.cumsum(degree) - degree, degree)
    graph = _Graph(k, m, var, chk, pos, int(degree.max()), var < k)
    for array in (graph.var, graph.chk, graph.pos, graph.data_edges):
        array.setflags(write=False)
    return graph


def encode(data: bytes) -> np.ndarray:
    """The codeword of ``data``: its bits (MSB first) then the parity bits, uint8 0/1."""
    bits = bytes_to_bits(data)
    graph = _graph(bits.size, parity_bits(bits.size))
    edges = graph.data_edges
    sums = np.bincount(graph.chk[edges], bits[graph.var[edges]], graph.m).astype(np.uint8)
    parity = np.bitwise_xor.accumulate(sums & 1)
    return np.concatenate([bits, parity])


def decode(soft: np.ndarray, data_len: int) -> bytes | None:
    """The ``data_len`` data bytes of a received word, or None when it cannot be corrected.

    ``soft`` holds one value per coded bit: positive for 0, negative for 1, the magnitude
    saying how sure. A success here is not proof: the caller checks the message CRC.
    """
    k = 8 * data_len
    graph = _graph(k, parity_bits(k))
    n, m, width = k + graph.m, graph.m, graph.width
    if soft.shape != (n,):
        return None
    var, chk, pos = graph.var, graph.chk, graph.pos
    slot = chk * width + pos
    rows = np.arange(m)
    llr = soft.astype(np.float64)
    c2v = np.zeros(var.size)
    for _ in range(MAX_ITERATIONS + 1):
        total = llr + np.bincount(var, c2v, n)
        hard = total < 0
        if not (np.bincount(chk, hard[var], m).astype(np.int64) & 1).any():
            return bits_to_bytes(hard[:k])
        v2c = total[var] - c2v
        edges = np.full(m * width, np.inf)
        edges[slot] = np.abs(v2c)
        magnitude = edges.reshape(m, width)
        negative = np.zeros(m * width, bool)
        negative[slot] = v2c < 0
        parity = np.bitwise_xor.reduce(negative.reshape(m, width), axis=1)
        first = np.argmin(magnitude, axis=1)
        smallest = magnitude[rows, first]
        magnitude[rows, first] = np.inf
        second = magnitude.min(axis=1)
        # Each edge hears the smallest magnitude of the *other* edges of its check.
        size = np.where(pos == first[chk], second[chk], smallest[chk])
        c2v = _ALPHA * np.where(parity[chk] ^ (v2c < 0), -size, size)
    return None


def bytes_to_bits(data: bytes) -> np.ndarray:
    """Bits of ``data``, most significant first, as a uint8 array of 0/1."""
    return np.unpackbits(np.frombuffer(data, dtype=np.uint8))


def bits_to_bytes(bits: np.ndarray) -> bytes:
    """Inverse of :func:`bytes_to_bits` (length must be a multiple of 8)."""
    return np.packbits(bits.astype(np.uint8)).tobytes()
