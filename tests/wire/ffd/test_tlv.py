"""TLV/STLV framing: offsets of errors in nested input, the bounds, unknown tags, the construct class."""

from __future__ import annotations

import time
import tracemalloc

import pytest
from construct import Int16ul, Prefixed, Struct

from emulator.wire.ffd.tlv import (
    MAX_DEPTH,
    MAX_INPUT,
    TLV_RECORDS,
    FfdError,
    decode_fields,
    encode_fields,
    header,
)


def tlv(tag: int, value: bytes) -> bytes:
    return header(tag, len(value)) + value


def test_header_is_tag_and_length_little_endian() -> None:
    assert header(1000, 12) == bytes.fromhex("e8030c00")


@pytest.mark.parametrize(("data", "offset", "words"), [
    (b"\xe8", 0, "truncated TLV header: 1 byte(s) left"),
    (tlv(1000, b"ab") + b"\xe8\x03\x05", 6, "truncated TLV header"),
    (b"\xe8\x03\x05\x00abc", 0, "tag 1000: length 5 but only 3 byte(s) left"),
    (tlv(1000, b"ab") + b"\xfc\x03\x09\x00\x01", 6, "tag 1020: length 9 but only 1"),
])
def test_framing_errors_name_their_offset(data: bytes, offset: int, words: str) -> None:
    with pytest.raises(FfdError) as exc:
        decode_fields(data)
    assert exc.value.offset == offset and words in exc.value.text
    assert str(exc.value).startswith(f"at byte {offset}: ")


def test_offsets_inside_nested_stlvs_are_absolute() -> None:
    bad_bool = tlv(1056, b"\x07")
    item = tlv(1030, b"abc") + tlv(1260, tlv(1262, b"030") + bad_bool)
    data = tlv(1000, b"x") + tlv(1059, item)
    # 1000: 0..4, 1059 header 5..8, 1030 at 9..15, 1260 header at 16, 1262 at 20..26, 1056 at 27, value at 31
    with pytest.raises(FfdError) as exc:
        decode_fields(data)
    assert exc.value.offset == 31 and "tag 1056" in exc.value.text


def test_framing_error_inside_an_stlv_is_absolute() -> None:
    data = tlv(1000, b"x") + tlv(1059, header(1030, 9) + b"ab")   # 1030 claims 9 bytes, 2 follow
    with pytest.raises(FfdError) as exc:
        decode_fields(data)
    assert exc.value.offset == 9 and exc.value.text == "tag 1030: length 9 but only 2 byte(s) left"


def test_unknown_tags_decode_as_bytes_and_round_trip() -> None:
    data = tlv(9999, b"\x00\xffraw") + tlv(1059, tlv(4321, b"") + tlv(1030, "Хлеб".encode("cp866")))
    fields = decode_fields(data)
    assert fields == ((9999, b"\x00\xffraw"), (1059, ((4321, b""), (1030, "Хлеб"))))
    assert encode_fields(fields) == data


def test_nesting_depth_is_bounded() -> None:
    inner = tlv(1030, b"x")
    for _ in range(MAX_DEPTH):
        inner = tlv(1059, inner)
    assert decode_fields(inner)                     # MAX_DEPTH levels: fine
    with pytest.raises(FfdError) as exc:
        decode_fields(tlv(1059, inner))
    assert "nested deeper" in exc.value.text and exc.value.offset == 4 * MAX_DEPTH
    deep: object = ((1030, "x"),)
    for _ in range(MAX_DEPTH + 1):
        deep = ((1059, deep),)
    with pytest.raises(FfdError, match="nested deeper"):
        encode_fields(deep)  # type: ignore[arg-type]


def test_stlv_longer_than_its_tag_allows_is_refused() -> None:
    big = tlv(1265, b"a" * 256) + tlv(1264, b"b" * 32) + tlv(1262, b"030")
    data = tlv(1260, big + tlv(1263, b"21.11.2023") + tlv(1263, b"21.11.2023"))    # 331 > 317
    with pytest.raises(FfdError) as exc:
        decode_fields(data)
    assert exc.value.offset == 0 and "at most 317" in exc.value.text
    with pytest.raises(FfdError, match="at most 317"):
        encode_fields([(1260, ((1265, "a" * 256), (1264, "b" * 32), (1262, "030"), (1263, "21.11.2023"),
                               (1264, "12")))])


def test_input_over_the_bound_is_refused_at_once() -> None:
    t = time.process_time()
    with pytest.raises(FfdError) as exc:
        decode_fields(b"\0" * (MAX_INPUT + 1))
    assert exc.value.offset == MAX_INPUT and time.process_time() - t < 0.5


@pytest.mark.parametrize("make", [
    lambda: b"\x0f\x27\x00\x00" * (MAX_INPUT // 4),                  # 16 K empty unknown TLVs
    lambda: tlv(3, tlv(1059, tlv(1030, b"x") * 10) * 500),            # a receipt of 500 items
    lambda: (tlv(1030, b"\x80" * 128)) * (MAX_INPUT // 132),          # long strings
])
def test_pathological_input_is_bounded_in_time_and_memory(make) -> None:  # type: ignore[no-untyped-def]
    data = make()
    assert len(data) <= MAX_INPUT
    tracemalloc.start()
    t = time.process_time()
    try:
        decode_fields(data)
    except FfdError:
        pass
    elapsed = time.process_time() - t
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 2.0
    assert peak < 64 * len(data) + 1_000_000, peak     # linear in the input


def test_encoder_refuses_malformed_fields() -> None:
    with pytest.raises(FfdError, match="pair"):
        encode_fields([(1000,)])  # type: ignore[list-item]
    with pytest.raises(FfdError, match="not a number"):
        encode_fields([(70000, b"")])
    with pytest.raises(FfdError, match="not in the tag table"):
        encode_fields([(9999, "text")])
    with pytest.raises(FfdError, match="tuple of fields"):
        encode_fields([(1059, "x")])
    with pytest.raises(FfdError, match="iterable"):
        encode_fields(5)  # type: ignore[arg-type]
    with pytest.raises(FfdError, match="at most 65535"):
        encode_fields([(9999, b"x" * 70000)])


def test_decoder_refuses_what_is_not_bytes() -> None:
    with pytest.raises(FfdError, match="bytes expected"):
        decode_fields("e803")  # type: ignore[arg-type]


def test_tlv_records_composes_with_other_constructs() -> None:
    doc = Struct("tag" / Int16ul, "fields" / Prefixed(Int16ul, TLV_RECORDS))
    raw = tlv(3, tlv(1000, b"ab") + tlv(1020, b"\x01"))
    parsed = doc.parse(raw)
    assert parsed.tag == 3 and parsed.fields == [(1000, 0, b"ab"), (1020, 6, b"\x01")]
    assert doc.build({"tag": 3, "fields": [(1000, b"ab"), (1020, b"\x01")]}) == raw
