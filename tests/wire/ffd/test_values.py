"""The FFD value types: the reference's golden values, the decoder's checks, the encoder's refusals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from emulator.rules.ffdtags import TAGS
from emulator.wire.ffd.tlv import FfdError, decode_fields, encode_fields
from emulator.wire.ffd.values import decode_value, encode_value


def tlv(tag: int, value: bytes) -> bytes:
    return tag.to_bytes(2, "little") + len(value).to_bytes(2, "little") + value


@pytest.mark.parametrize(("tag", "value", "raw"), [
    (1020, 0x12345678, "78563412"),                 # VLN, coop-fd test_vln
    (1020, 0x123456, "563412"),
    (1020, 0, ""),                                  # VLN 0 is the empty value
    (1023, Decimal(0x123456).scaleb(-5), "05563412"),   # FVLN, coop-fd test_fvln
    (1023, Decimal("1.000"), "03e803"),
    (1023, Decimal("2"), "0002"),
    (1038, 0, "00000000"),                          # U32, coop-fd test_u32
    (1040, 1, "01000000"),                          # dump: номер ФД 1
    (1012, dt.datetime(2017, 3, 3, 11, 38), "9855b958"),   # dump: UNIXTIME as local time
    (1048, "ООО РАПКАТ-центр ", "8e8e8e2090808f8a80922de6a5ade2e020"),   # dump, trailing space kept
    (1056, False, "00"), (1109, True, "01"), (1062, 6, "06"),
    (1077, bytes.fromhex("2104aa107541"), "2104aa107541"),
    (1018, "7702203276", "37373032323033323736" "2020"),   # fixed 12, space-padded
])
def test_golden_values(tag: int, value: object, raw: str) -> None:
    spec = TAGS[tag]
    assert encode_value(spec, value) == bytes.fromhex(raw)
    back = decode_value(spec, bytes.fromhex(raw))
    assert back == value and type(back) is type(value)
    if isinstance(value, Decimal):
        assert back.as_tuple() == value.as_tuple()     # the point is kept: 1.000 stays 1.000


def test_string_keeps_cr_lf_and_trailing_spaces() -> None:
    text = "111141 г.Москва\r\nд.20А  "
    fields = ((1187, text),)
    assert decode_fields(encode_fields(fields)) == fields


@pytest.mark.parametrize(("tag", "raw", "offset", "words"), [
    (1020, "780000", 6, "not minimal"),           # a trailing zero byte: offset of that byte
    (1020, "01020304050607", 4, "at most 6"),
    (1023, "", 4, "point byte"),
    (1023, "030100", 6, "not minimal"),
    (1056, "02", 4, "0 or 1"),
    (1056, "0000", 4, "1 byte"),
    (1062, "", 4, "1 byte"),
    (1040, "010000", 4, "4 bytes"),
    (1012, "0102030405", 4, "4 bytes"),
    (1018, "373730", 4, "fixed length 12"),
    (1262, "30333030", 4, "maximum 3"),
    (1077, "0102", 4, "fixed length 6"),
])
def test_bad_values_name_their_offset(tag: int, raw: str, offset: int, words: str) -> None:
    data = tlv(tag, bytes.fromhex(raw))
    with pytest.raises(FfdError) as exc:
        decode_fields(data)
    assert exc.value.offset == offset
    assert words in exc.value.text and f"tag {tag}" in exc.value.text


@pytest.mark.parametrize(("tag", "value", "words"), [
    (1062, 256, "out of range 0..255"),
    (1062, -1, "out of range"),
    (1062, True, "an integer expected"),
    (1040, 2 ** 32, "out of range"),
    (1020, 2 ** 48, "out of range"),              # VLN of at most 6 bytes
    (1020, "12", "an integer expected"),
    (1023, Decimal("-1"), "negative"),
    (1023, Decimal("NaN"), "finite"),
    (1023, Decimal(2 ** 60), "mantissa needs 8 bytes, at most 7"),
    (1023, Decimal("1E-300"), "digits after the point"),
    (1023, 1.5, "a Decimal expected"),
    (1056, 1, "a bool expected"),
    (1012, dt.datetime(1969, 12, 31), "out of range"),
    (1012, dt.datetime(2024, 1, 1, tzinfo=dt.UTC), "naive"),
    (1012, "2024-01-01", "a datetime expected"),
    (1018, "7702203276123", "fixed length 12"),
    (1262, "0300", "over the maximum 3"),
    (1030, "€", "no CP866 code"),
    (1030, b"x", "a string expected"),
    (1077, b"\x01" * 5, "fixed length 6"),
])
def test_encoder_refuses_out_of_range(tag: int, value: object, words: str) -> None:
    with pytest.raises(FfdError) as exc:
        encode_fields([(1000, "x"), (tag, value)])
    assert words in exc.value.text, exc.value.text
    assert exc.value.offset == 5                  # the second TLV starts at byte 5


def test_fvln_with_a_positive_exponent_encodes_as_an_integer() -> None:
    assert encode_value(TAGS[1023], Decimal("1E+2")) == bytes.fromhex("0064")


def test_unixtime_drops_the_sub_second_part() -> None:
    when = dt.datetime(2017, 3, 3, 11, 38, 0, 999_000)
    assert encode_value(TAGS[1012], when) == bytes.fromhex("9855b958")
