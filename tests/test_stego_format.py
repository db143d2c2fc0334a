"""The ROI message format and its error correction (no images involved)."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from forensics_app.core.stego import ecc
from forensics_app.core.stego.message import (
    FLAG_MAC,
    MAX_BOXES,
    RoiMessage,
    body_length,
    clip_boxes,
    pack_body,
    unpack_body,
)
from forensics_app.errors import StegoError

KEY = b"camera-7 secret key"
MESSAGE = RoiMessage(7, 123456, ((10, 20, 30, 40), (600, 400, 39, 79)))


def test_body_round_trip_without_and_with_key() -> None:
    flags, body = pack_body(MESSAGE, None)
    assert flags == 0 and len(body) == body_length(2, False)
    result = unpack_body(body, flags, 2, None)
    assert result.status == "ok" and result.message == MESSAGE

    flags, body = pack_body(MESSAGE, KEY)
    assert flags == FLAG_MAC and len(body) == body_length(2, True)
    result = unpack_body(body, flags, 2, KEY)
    assert result.status == "ok" and result.message == MESSAGE and "verified" in result.detail
    unverified = unpack_body(body, flags, 2, None)
    assert unverified.status == "ok" and "not verified" in unverified.detail


def test_flipped_body_byte_fails_crc() -> None:
    flags, body = pack_body(MESSAGE, None)
    for position in range(len(body)):
        tampered = bytearray(body)
        tampered[position] ^= 0x01
        result = unpack_body(bytes(tampered), flags, 2, None)
        assert result.status == "damaged" and result.message is None


def test_wrong_header_fails_crc() -> None:
    flags, body = pack_body(MESSAGE, None)
    assert unpack_body(body, FLAG_MAC, 2, None).status == "damaged"
    assert unpack_body(body[:-12] + body[-4:], flags, 1, None).status == "damaged"


def test_mac_checks() -> None:
    flags, body = pack_body(MESSAGE, KEY)
    wrong = unpack_body(body, flags, 2, b"another key")
    assert wrong.status == "damaged" and "MAC" in wrong.detail and wrong.message is None
    # A forger who recomputes the CRC still cannot make the MAC.
    forged = bytearray(body)
    forged[8] ^= 0x05  # first box x
    import zlib

    header = struct.pack("<BBH", 1, flags, 2)
    crc = zlib.crc32(b"UUNF-ROI" + header + bytes(forged[:-4])) & 0xFFFFFFFF
    forged[-4:] = struct.pack("<I", crc)
    assert unpack_body(bytes(forged), flags, 2, KEY).status == "damaged"
    # A key given for a message without MAC: unauthenticated, so not accepted.
    flags, body = pack_body(MESSAGE, None)
    stripped = unpack_body(body, flags, 2, KEY)
    assert stripped.status == "damaged" and "no MAC" in stripped.detail


def test_message_validation() -> None:
    with pytest.raises(StegoError, match="stream_id"):
        RoiMessage(-1, 0)
    with pytest.raises(StegoError, match="frame_index"):
        RoiMessage(0, 2**32)
    with pytest.raises(StegoError, match="four integers"):
        RoiMessage(0, 0, ((1, 2, 3),))
    with pytest.raises(StegoError, match="at most"):
        RoiMessage(0, 0, ((0, 0, 1, 1),) * (MAX_BOXES + 1))
    with pytest.raises(StegoError, match="16-bit"):
        pack_body(RoiMessage(0, 0, ((70000, 0, 5, 5),)), None)


def test_clip_boxes() -> None:
    assert clip_boxes(((-5, -6, 20, 20), (630, 470, 20, 20)), 640, 480) == (
        (0, 0, 15, 14),
        (630, 470, 10, 10),
    )
    with pytest.raises(StegoError, match="outside"):
        clip_boxes(((700, 10, 20, 20),), 640, 480)
    with pytest.raises(StegoError, match="no area"):
        clip_boxes(((10, 10, 0, 20),), 640, 480)


@pytest.mark.parametrize("data_len", [12, 84, 200, 700])
def test_reed_solomon_corrects_errors_and_erasures(data_len: int) -> None:
    rng = np.random.default_rng(data_len)
    data = rng.integers(0, 256, data_len, dtype=np.uint8).tobytes()
    coded = ecc.rs_encode(data)
    assert len(coded) == ecc.coded_length(data_len)
    assert ecc.rs_decode(coded, data_len) == data
    plan = ecc.chunk_plan(data_len)
    assert all(d + p <= 255 for d, p in plan) and sum(d for d, _ in plan) == data_len
    # Errors up to half the parity of each chunk are corrected.
    damaged = bytearray(coded)
    pos = 0
    for size, nsym in plan:
        for i in rng.choice(size + nsym, nsym // 2, replace=False):
            damaged[pos + i] ^= int(rng.integers(1, 256))
        pos += size + nsym
    assert ecc.rs_decode(bytes(damaged), data_len) == data
    # More bad bytes than errors-only can fix are corrected when the reliabilities point
    # at them (erasures: 2 e + s <= nsym).
    damaged = bytearray(coded)
    reliability = np.ones(len(coded))
    pos = 0
    for size, nsym in plan:
        bad = rng.choice(size + nsym, nsym // 2 + nsym // 4, replace=False)
        for j, i in enumerate(bad):
            damaged[pos + i] ^= int(rng.integers(1, 256))
            if j < nsym // 2:  # these are known to be unsure; nsym // 4 more are not
                reliability[pos + i] = 0.1
        pos += size + nsym
    assert ecc.rs_decode(bytes(damaged), data_len) != data  # too many for errors-only
    assert ecc.rs_decode(bytes(damaged), data_len, reliability) == data


def test_reed_solomon_gives_up_on_garbage() -> None:
    rng = np.random.default_rng(1)
    garbage = rng.integers(0, 256, ecc.coded_length(84), dtype=np.uint8).tobytes()
    assert ecc.rs_decode(garbage, 84) is None
    assert ecc.rs_decode(garbage[:-1], 84) is None  # wrong length


def test_interleaver_is_a_fixed_permutation() -> None:
    perm = ecc.interleaver(1000, 42)
    assert sorted(perm.tolist()) == list(range(1000))
    assert np.array_equal(perm, ecc.interleaver(1000, 42))
    assert not np.array_equal(perm, np.arange(1000))
    bits = np.random.default_rng(0).integers(0, 2, 1000).astype(np.uint8)
    assert np.array_equal(ecc.deinterleave(ecc.interleave(bits, perm), perm), bits)
    # A burst of 100 consecutive transmitted bits is spread over many bytes.
    burst = perm[300:400]
    assert len(set((burst // 8).tolist())) > 60  # of 125 bytes; ~69 expected
    assert ecc.bits_to_bytes(ecc.bytes_to_bits(b"\x01\xfe")) == b"\x01\xfe"
