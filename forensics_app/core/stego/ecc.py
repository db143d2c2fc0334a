"""Error correction for the ROI message: Reed-Solomon over GF(256) plus bit interleaving.

The body is cut into chunks of at most 255 coded bytes, each with its own parity
(``PARITY_RATIO`` of its data, at least ``MIN_PARITY`` bytes). Decoding is errors-only first;
when that fails it retries with the least reliable bytes (from the soft decisions of the
embedding layer) marked as erasures, which RS corrects at twice the rate of unknown errors.
At most half of the parity is spent on erasures, so RS keeps some power to *detect* a word
it cannot correct. The interleaver is a fixed pseudo-random permutation of the coded bits, so a burst of
damaged blocks in one part of the frame is spread over many RS symbols.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import reedsolo

#: Parity bytes per data byte (rate 2/3 code).
PARITY_RATIO = 0.5
#: Fewest parity bytes in a chunk.
MIN_PARITY = 6
_MAX_CODEWORD = 255
_MAX_CHUNK_DATA = int(_MAX_CODEWORD / (1 + PARITY_RATIO))


def chunk_plan(data_len: int) -> tuple[tuple[int, int], ...]:
    """The ``(data bytes, parity bytes)`` of each RS chunk for a body of ``data_len`` bytes."""
    if data_len <= 0:
        raise ValueError("nothing to encode")
    n_chunks = math.ceil(data_len / _MAX_CHUNK_DATA)
    base, extra = divmod(data_len, n_chunks)
    plan = []
    for i in range(n_chunks):
        size = base + (1 if i < extra else 0)
        plan.append((size, max(MIN_PARITY, math.ceil(size * PARITY_RATIO))))
    return tuple(plan)


def coded_length(data_len: int) -> int:
    """Bytes after RS encoding of a body of ``data_len`` bytes."""
    return sum(d + p for d, p in chunk_plan(data_len))


@functools.lru_cache(maxsize=64)
def _codec(nsym: int) -> reedsolo.RSCodec:
    return reedsolo.RSCodec(nsym)


def rs_encode(data: bytes) -> bytes:
    """Reed-Solomon encode ``data`` chunk by chunk (systematic: data then parity)."""
    out = bytearray()
    pos = 0
    for size, nsym in chunk_plan(len(data)):
        out += _codec(nsym).encode(data[pos : pos + size])
        pos += size
    return bytes(out)


def _decode_chunk(word: bytes, nsym: int, reliability: np.ndarray | None) -> bytes | None:
    codec = _codec(nsym)
    try:
        return bytes(codec.decode(word)[0])
    except reedsolo.ReedSolomonError:
        pass
    if reliability is None:
        return None
    order = np.argsort(reliability, kind="stable")
    # At most half the parity as erasures: the rest still corrects (and detects) errors;
    # erasing all nsym bytes would "correct" any word whatever it holds.
    for n_erase in sorted({nsym // 4, nsym // 2}):
        if n_erase <= 0:
            continue
        try:
            erase = sorted(int(i) for i in order[:n_erase])
            return bytes(codec.decode(word, erase_pos=erase)[0])
        except reedsolo.ReedSolomonError:
            continue
    return None


def rs_decode(coded: bytes, data_len: int, reliability: np.ndarray | None = None) -> bytes | None:
    """Correct ``coded`` back to ``data_len`` data bytes, or None when it cannot.

    ``reliability`` (one value per coded byte, higher is surer) enables erasure retries.
    A success here is not proof: the caller checks the message CRC.
    """
    if len(coded) != coded_length(data_len):
        return None
    out = bytearray()
    pos = 0
    for size, nsym in chunk_plan(data_len):
        word = coded[pos : pos + size + nsym]
        rel = None if reliability is None else reliability[pos : pos + size + nsym]
        chunk = _decode_chunk(word, nsym, rel)
        if chunk is None:
            return None
        out += chunk
        pos += size + nsym
    return bytes(out)


def bytes_to_bits(data: bytes) -> np.ndarray:
    """Bits of ``data``, most significant first, as a uint8 array of 0/1."""
    return np.unpackbits(np.frombuffer(data, dtype=np.uint8))


def bits_to_bytes(bits: np.ndarray) -> bytes:
    """Inverse of :func:`bytes_to_bits` (length must be a multiple of 8)."""
    return np.packbits(bits.astype(np.uint8)).tobytes()


@functools.lru_cache(maxsize=256)
def interleaver(n_bits: int, seed: int) -> np.ndarray:
    """A fixed pseudo-random permutation of ``n_bits`` positions (read-only array)."""
    perm = np.random.default_rng(seed).permutation(n_bits)
    perm.setflags(write=False)
    return perm


def interleave(bits: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """Reorder coded bits for transmission: output position i carries ``bits[perm[i]]``."""
    return bits[perm]


def deinterleave(values: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """Undo :func:`interleave` on received values (bits or soft decisions)."""
    out = np.empty_like(values)
    out[perm] = values
    return out
