"""The modelled driver <-> KKT frame: layout and CRC, the construct definition, resynchronisation."""

from __future__ import annotations

import json

import pytest
from construct import ConstructError
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.wire import ecrframe as ef

json_values = st.recursive(st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=False)
                           | st.text(max_size=12),
                           lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids,
                                                                                     max_size=3), max_leaves=10)
objects = st.dictionaries(st.text(max_size=6), json_values, max_size=5)


def test_the_layout_is_the_documented_one_and_the_construct_definition_agrees():
    f = ef.request(0x01020304, 0x0506, "GetStatus", {})
    raw = f.to_bytes()
    assert raw[:12] == b"EC\x01\x01\x01\x02\x03\x04\x05\x06" + len(f.payload).to_bytes(2, "big")
    assert raw[12:-2] == b'{"command":"GetStatus","args":{}}'
    assert int.from_bytes(raw[-2:], "big") == ef.crc16(raw[:-2])
    assert ef.crc16(b"123456789") == 0x29B1              # CRC-16/CCITT-FALSE check value
    full = ef.FrameStruct.build({"body": {"value": {"kind": "REQUEST", "link": f.link, "seq": f.seq,
                                                    "payload": f.payload}}})
    assert full == raw
    c = ef.FrameStruct.parse(raw)
    assert (c.body.value.kind, c.body.value.payload) == ("REQUEST", f.payload)
    assert ef.parse_frame(raw) == f and f.json() == {"command": "GetStatus", "args": {}}


def test_parse_refuses_what_the_construct_definition_refuses():
    raw = ef.Frame("ANSWER", 1, 2, b'{"result":0}').to_bytes()
    for bad in (raw[:-1] + bytes([raw[-1] ^ 1]), raw[:5], b"ED" + raw[2:], raw[:2] + b"\x02" + raw[3:]):
        with pytest.raises(ConstructError):
            ef.parse_frame(bad)
        with pytest.raises(ConstructError):
            ef.FrameStruct.parse(bad)
    with pytest.raises(ConstructError):
        ef.parse_frame(raw + b"x")           # exactly one frame: trailing bytes are not ignored


def test_build_refuses_an_oversized_payload_and_unknown_kinds():
    with pytest.raises(ef.FrameFormatError, match="limit"):
        ef.Frame("REQUEST", 1, 1, b"x" * (ef.MAX_PAYLOAD + 1)).to_bytes()
    with pytest.raises(ef.FrameFormatError):
        ef.Frame("HELLO", 1, 1).to_bytes()
    with pytest.raises(ef.FrameFormatError):
        ef.Frame("NAK", 1 << 32, 1).to_bytes()


def test_payloads_that_are_not_json_objects():
    for payload in (b"\xff", b"[1]", b"nul", b"1" * 3):
        with pytest.raises(ef.FrameFormatError):
            ef.Frame("ANSWER", 1, 1, payload).json()


def test_resynchronisation_after_garbage_a_bad_crc_and_a_lying_length():
    good = [ef.request(7, n, "GetStatus", {"n": n}).to_bytes() for n in range(3)]
    damaged = bytearray(good[1])
    damaged[15] ^= 0x40
    liar = b"EC\x01\x01\0\0\0\x07\0\x09\x3f\xff"        # declares 16383 payload bytes that never come
    stream = b"noise" + good[0] + b"E" + bytes(damaged) + b"\x00EC" + good[2] + liar + good[1]
    r = ef.FrameReader()
    items = []
    for i in range(0, len(stream), 7):
        items += r.feed(stream[i:i + 7])
    frames = [i for i in items if isinstance(i, ef.Frame)]
    assert [f.seq for f in frames] == [0, 2]                # good[1] after the liar waits for the liar's length
    assert r.stats["crc"] == 1 and r.stats["garbage"] >= 2
    rest = r.expire()                                        # the line went quiet: the liar is given up
    assert [f.seq for f in rest if isinstance(f, ef.Frame)] == [1]
    assert r.buffered == 0 and r.stats["stalled"] == 1


def test_a_header_with_an_impossible_length_kind_or_version_is_skipped_at_once():
    good = ef.request(1, 1, "X", {}).to_bytes()
    for head in (b"EC\x01\x01\0\0\0\0\0\0\xff\xff", b"EC\x01\x09" + bytes(8), b"EC\x07\x01" + bytes(8)):
        r = ef.FrameReader()
        assert [i for i in r.feed(head + good) if isinstance(i, ef.Frame)] == [ef.parse_frame(good)]


@settings(max_examples=300, deadline=None)
@given(objects, st.integers(0, 2**32 - 1), st.integers(0, 2**16 - 1), st.integers(0, 10**6), st.integers(1, 255))
def test_the_hot_paths_give_what_the_general_ones_give(value, link, seq, at, bit):
    payload = ef.encode_json(value)
    assert payload == json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    frame = ef.Frame("ANSWER", link, seq, payload)
    assert frame.json() == json.loads(payload) == value
    raw = ef.frame_bytes("ANSWER", link, seq, payload)
    assert raw == frame.to_bytes() == ef.FrameStruct.build({"body": {"value": {
        "kind": "ANSWER", "link": link, "seq": seq, "payload": payload}}})
    assert ef.request_bytes(link, seq, "GetStatus", value) == ef.request(link, seq, "GetStatus", value).to_bytes()
    damaged = bytearray(raw)
    damaged[at % len(raw)] ^= bit
    for data in (raw, bytes(damaged)):       # one read of a whole frame (the fast path) or byte by byte
        whole, split = ef.FrameReader(), ef.FrameReader()
        items = whole.feed(data) + whole.expire()
        items2 = [i for k in range(len(data)) for i in split.feed(data[k:k + 1])] + split.expire()
        frames = [i for i in items if isinstance(i, ef.Frame)]
        assert frames == [i for i in items2 if isinstance(i, ef.Frame)]
        assert whole.stats["frames"] == split.stats["frames"] and whole.stats["crc"] == split.stats["crc"]
        if data == raw:
            assert frames == [frame]


def test_json_payloads_with_whitespace_or_trailing_data():
    assert ef.Frame("ANSWER", 1, 1, b' \n{"a": 1}\t').json() == {"a": 1}
    for payload in (b'{"a":1} x', b'{"a":1}{"b":2}', b'{"a":', b'{"a":1,}', b"{" * 5000):
        with pytest.raises(ef.FrameFormatError):
            ef.Frame("ANSWER", 1, 1, payload).json()

