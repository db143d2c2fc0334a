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
    box_bits,
    clip_boxes,
    pack_body,
    unpack_body,
)
from forensics_app.errors import StegoError

KEY = b"camera-7 secret key"
MESSAGE = RoiMessage(7, 123456, ((10, 20, 30, 40), (600, 400, 39, 79)))
SIZE = (640, 480)


def test_body_round_trip_without_and_with_key() -> None:
    flags, body = pack_body(MESSAGE, None, *SIZE)
    assert flags == 0 and len(body) == body_length(2, False, *SIZE)
    result = unpack_body(body, flags, 2, None, *SIZE)
    assert result.status == "ok" and result.message == MESSAGE

    flags, body = pack_body(MESSAGE, KEY, *SIZE)
    assert flags == FLAG_MAC and len(body) == body_length(2, True, *SIZE)
    result = unpack_body(body, flags, 2, KEY, *SIZE)
    assert result.status == "ok" and result.message == MESSAGE and "verified" in result.detail
    unverified = unpack_body(body, flags, 2, None, *SIZE)
    assert unverified.status == "ok" and "not verified" in unverified.detail


def test_flipped_body_byte_fails_crc() -> None:
    flags, body = pack_body(MESSAGE, None, *SIZE)
    for position in range(len(body)):
        tampered = bytearray(body)
        tampered[position] ^= 0x01
        result = unpack_body(bytes(tampered), flags, 2, None, *SIZE)
        assert result.status == "damaged" and result.message is None


def test_wrong_header_fails_crc() -> None:
    flags, body = pack_body(MESSAGE, None, *SIZE)
    assert unpack_body(body, FLAG_MAC, 2, None, *SIZE).status == "damaged"
    # One box fewer: the body is cut to the length of a one-box message, CRC kept.
    short = body[: body_length(1, False, *SIZE) - 4] + body[-4:]
    assert unpack_body(short, flags, 1, None, *SIZE).status == "damaged"
    # Another block grid: fewer coordinate bits (wrong length) or the same bits (CRC).
    assert unpack_body(body, flags, 2, None, 320, 240).status == "damaged"
    assert body_length(2, False, 648, 480) == len(body)
    assert unpack_body(body, flags, 2, None, 648, 480).status == "damaged"
    # The partial edge blocks do not count: the same grid reads the same message.
    assert unpack_body(body, flags, 2, None, 647, 487).message == MESSAGE


def test_box_bits_follow_the_block_grid() -> None:
    assert box_bits(640, 480) == (10, 9)
    assert box_bits(767, 575) == (10, 10)  # up to 767 x 575 pixels on this grid
    assert box_bits(1024, 768) == (11, 10)
    assert box_bits(1920, 1080) == (11, 11)
    # 8 boxes of 38 bits (38 bytes) at 640x480, plus ids, MAC and CRC.
    assert body_length(8, True, 640, 480) == 8 + 38 + 8 + 4
    # Extreme boxes survive the packing: the whole frame, the last pixel.
    for size in ((640, 480), (767, 575), (1921, 1081)):
        width, height = size
        edge = RoiMessage(1, 2, ((0, 0, width, height), (width - 1, height - 1, 1, 1)))
        flags, body = pack_body(edge, KEY, *size)
        assert unpack_body(body, flags, 2, KEY, *size).message == edge


def test_nonzero_padding_bits_are_damaged() -> None:
    import zlib

    message = RoiMessage(7, 9, ((10, 20, 30, 40),))  # 38 bits of boxes: 2 padding bits
    flags, body = pack_body(message, None, *SIZE)
    forged = bytearray(body)
    forged[8 + 4] |= 0x01  # last byte of the packed box: a padding bit
    header = struct.pack("<BBHHH", 2, flags, 1, 80, 60)
    crc = zlib.crc32(b"UUNF-ROI" + header + bytes(forged[:-4])) & 0xFFFFFFFF
    forged[-4:] = struct.pack("<I", crc)
    result = unpack_body(bytes(forged), flags, 1, None, *SIZE)
    assert result.status == "damaged" and "padding" in result.detail


def test_mac_checks() -> None:
    flags, body = pack_body(MESSAGE, KEY, *SIZE)
    wrong = unpack_body(body, flags, 2, b"another key", *SIZE)
    assert wrong.status == "damaged" and "MAC" in wrong.detail and wrong.message is None
    # A forger who recomputes the CRC still cannot make the MAC.
    forged = bytearray(body)
    forged[8] ^= 0x05  # first box x
    import zlib

    header = struct.pack("<BBHHH", 2, flags, 2, 80, 60)
    crc = zlib.crc32(b"UUNF-ROI" + header + bytes(forged[:-4])) & 0xFFFFFFFF
    forged[-4:] = struct.pack("<I", crc)
    assert unpack_body(bytes(forged), flags, 2, KEY, *SIZE).status == "damaged"
    # A key given for a message without MAC: unauthenticated, so not accepted.
    flags, body = pack_body(MESSAGE, None, *SIZE)
    stripped = unpack_body(body, flags, 2, KEY, *SIZE)
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
    with pytest.raises(StegoError, match="inside"):
        pack_body(RoiMessage(0, 0, ((630, 0, 11, 5),)), None, *SIZE)
    with pytest.raises(StegoError, match="cannot carry"):
        pack_body(RoiMessage(0, 0), None, 70000, 480)


def test_clip_boxes() -> None:
    assert clip_boxes(((-5, -6, 20, 20), (630, 470, 20, 20)), 640, 480) == (
        (0, 0, 15, 14),
        (630, 470, 10, 10),
    )
    with pytest.raises(StegoError, match="outside"):
        clip_boxes(((700, 10, 20, 20),), 640, 480)
    with pytest.raises(StegoError, match="no area"):
        clip_boxes(((10, 10, 0, 20),), 640, 480)


@pytest.mark.parametrize("data_len", [12, 58, 200, 700])
def test_ldpc_corrects_bit_errors(data_len: int) -> None:
    rng = np.random.default_rng(data_len)
    data = rng.integers(0, 256, data_len, dtype=np.uint8).tobytes()
    coded = ecc.encode(data)
    n = ecc.coded_bits(data_len)
    assert coded.shape == (n,) and n == 8 * data_len + ecc.parity_bits(8 * data_len)
    assert ecc.bits_to_bytes(coded[: 8 * data_len]) == data  # systematic
    assert np.array_equal(coded, ecc.encode(data))  # a fixed code
    soft = 1.0 - 2.0 * coded
    assert ecc.decode(soft, data_len) == data
    # 3 % of the bits flipped with full confidence (what a dropped B-frame residual does).
    flipped = soft.copy()
    bad = rng.choice(n, int(0.03 * n), replace=False)
    flipped[bad] *= -1
    assert ecc.decode(flipped, data_len) == data
    # Soft decisions: 15 % of the bits wrong but unsure, among sure right ones.
    unsure = soft.copy()
    bad = rng.choice(n, int(0.15 * n), replace=False)
    unsure[bad] *= -0.1
    assert ecc.decode(unsure, data_len) == data
    # Half the bits flipped: far beyond the code; it must say so, not guess.
    hopeless = soft.copy()
    hopeless[rng.choice(n, n // 2, replace=False)] *= -1
    assert ecc.decode(hopeless, data_len) is None


def test_ldpc_gives_up_on_garbage() -> None:
    rng = np.random.default_rng(1)
    n = ecc.coded_bits(58)
    assert ecc.decode(rng.normal(0, 1, n), 58) is None
    assert ecc.decode(np.ones(n - 1), 58) is None  # wrong length


def test_bits_round_trip() -> None:
    assert ecc.bits_to_bytes(ecc.bytes_to_bits(b"\x01\xfe")) == b"\x01\xfe"
    assert ecc.bytes_to_bits(b"\x80").tolist() == [1, 0, 0, 0, 0, 0, 0, 0]
