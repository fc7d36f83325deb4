"""The ФН ↔ ККТ frame [3P]: round trips and the CRC (no golden vector exists)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.wire.ffd.fnframe import FnFrame, FnFrameError, decode_frame, encode_frame
from emulator.wire.ffd.session import crc16_ccitt_false


def test_layout_and_crc():
    raw = encode_frame(0x30, b"\x01\x02")
    assert raw[:4] == b"\x04\x03\x00\x30" and raw[4:6] == b"\x01\x02"
    assert int.from_bytes(raw[-2:], "little") == crc16_ccitt_false(raw[1:-2])
    assert crc16_ccitt_false(b"123456789") == 0x29B1
    assert decode_frame(encode_frame(0)) == FnFrame(0, b"")


@given(st.integers(0, 255), st.binary(max_size=600))
def test_round_trip(code, data):
    assert decode_frame(encode_frame(code, data)) == FnFrame(code, data)


@pytest.mark.parametrize("raw, offset", [
    (b"\x05\x01\x00\x00\x00\x00", 0), (b"\x04\x02\x00\x00\x00\x00", 1), (b"\x04", 1),
])
def test_bad_frames(raw, offset):
    with pytest.raises(FnFrameError) as e:
        decode_frame(raw)
    assert e.value.offset == offset


def test_every_single_bit_flip_is_caught():
    raw = encode_frame(0x21, b"hello")
    for i in range(len(raw) * 8):
        bad = bytearray(raw)
        bad[i // 8] ^= 1 << (i % 8)
        with pytest.raises(FnFrameError):
            decode_frame(bytes(bad))
