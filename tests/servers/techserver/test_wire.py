"""Frames of the modelled KKT <-> technological-server exchange."""

import struct
import zlib

import pytest
from construct import ConstructError
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.wire.techframes import (
    MAX_FRAME,
    Frame,
    FrameReader,
    build_frame,
    parse_frame,
    record_batches,
)


# ------------------------------------------------------------ independent encoder (struct + zlib only)
def _s(text: str) -> bytes:
    b = text.encode("utf-8")
    return struct.pack(">H", len(b)) + b


def _frame(msg_type: int, seq: int, payload: bytes, version: int = 1) -> bytes:
    body = b"KT" + struct.pack(">BBIH", version, msg_type, seq, len(payload)) + payload
    return body + struct.pack(">I", zlib.crc32(body))


HELLO_HEX = (
    "4b540101000000070063000830303131323233330016d09cd0b5d180d0bad183d180d0b8d0b92d313835d0a4000a"
    "373730313233343536370005312e322e3300204b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b"
    "4b4b4b4b4b0000018ea399d06200000002689af723"
)
HELLO = Frame("HELLO", 7, {"serial": "00112233", "model": "Меркурий-185Ф", "inn": "7701234567",
                           "firmware": "1.2.3", "device_key": "K" * 32, "device_time_ms": 1712141750370,
                           "pending_records": 2})
LOG_ACK_HEX = "4b54010400000003000c000200002654000016670001b76a5d23"
LOG_ACK = Frame("LOG_ACK", 3, {"stored": [9812, 5735], "duplicates": 1})
GET_SETTINGS_HEX = "4b540105000000010000353ec155"
SETTINGS_HEX = "4b5401060000000900150000002a0002010005300302010104000439323d31e22876d0"
SETTINGS = Frame("SETTINGS", 9, {"task_id": 42, "items": [{"kind": "cert", "value": bytes.fromhex("3003020101")},
                                                          {"kind": "option", "value": "92=1"}]})


def test_golden_vectors_match_an_independent_encoder():
    hello_payload = (_s("00112233") + _s("Меркурий-185Ф") + _s("7701234567") + _s("1.2.3") + _s("K" * 32)
                     + struct.pack(">QI", 1712141750370, 2))
    assert _frame(1, 7, hello_payload).hex() == HELLO_HEX
    assert _frame(4, 3, struct.pack(">HIIH", 2, 9812, 5735, 1)).hex() == LOG_ACK_HEX
    assert _frame(5, 1, b"").hex() == GET_SETTINGS_HEX
    der = bytes.fromhex("3003020101")
    settings_payload = (struct.pack(">IH", 42, 2) + bytes([1]) + struct.pack(">H", len(der)) + der
                        + bytes([4]) + _s("92=1"))
    assert _frame(6, 9, settings_payload).hex() == SETTINGS_HEX


@pytest.mark.parametrize("frame, hexdata", [
    (HELLO, HELLO_HEX), (LOG_ACK, LOG_ACK_HEX), (Frame("GET_SETTINGS", 1), GET_SETTINGS_HEX),
    (SETTINGS, SETTINGS_HEX),
])
def test_golden_build_and_parse(frame, hexdata):
    assert build_frame(frame).hex() == hexdata
    assert parse_frame(bytes.fromhex(hexdata)) == frame


EVERY_TYPE = [
    HELLO,
    Frame("HELLO_ACK", 7, {"session_id": 12, "server_time_ms": 1712141750999, "settings_waiting": True,
                           "log_next_seq": 9813}),
    Frame("LOG_RECORDS", 8, {"records": [
        {"seq": 9812, "time_ms": 1712141750370, "code": 758,
         "text": "ГИС МТ\t758\t[9812]\n\t\tНайден:Да\nЦена:24800 Макс:14000"},
        {"seq": 9813, "time_ms": 1712141750371, "code": 748, "text": ""}]}),
    LOG_ACK,
    Frame("GET_SETTINGS", 10),
    SETTINGS,
    Frame("SETTINGS", 11, {"task_id": 0, "items": []}),
    Frame("SETTINGS", 12, {"task_id": 5, "items": [
        {"kind": "token", "value": "abc.def-123"}, {"kind": "gismt_host", "value": "markirovka.sandbox.crptech.ru"},
        {"kind": "poll_period", "value": "10"}, {"kind": "sale_ban", "value": "ПРЕДУПРЕЖДЕНИЕ"}]}),
    Frame("SETTINGS_RESULT", 13, {"task_id": 5, "applied": False, "code": 650}),
    Frame("BYE", 14),
    Frame("ERROR", 0, {"code": 1, "text": "bad frame: crc"}),
]


@pytest.mark.parametrize("frame", EVERY_TYPE, ids=lambda f: f.type)
def test_round_trip_every_type(frame):
    data = frame.to_bytes()
    assert parse_frame(data) == frame
    assert FrameReader().feed(data) == [frame]


def test_reader_whole_byte_by_byte_and_split():
    stream = b"".join(f.to_bytes() for f in EVERY_TYPE)
    assert FrameReader().feed(stream) == EVERY_TYPE
    r = FrameReader()
    out = []
    for i in range(len(stream)):
        out += r.feed(stream[i:i + 1])
    assert out == EVERY_TYPE
    assert r.errors == [] and r.buffered == 0


def test_trailing_junk_and_leading_garbage_are_reported_not_raised():
    r = FrameReader()
    assert r.feed(b"\x00\xffgarbage K" + HELLO.to_bytes() + b"junk!") == [HELLO]
    kinds = [e.kind for e in r.take_errors()]
    assert kinds == ["garbage", "garbage"]
    assert r.stats["garbage"] == 2 and r.buffered == 0
    # a lone "K" at the end may start a magic: kept until the next byte decides
    assert r.feed(b"xxK") == [] and r.buffered == 1
    assert r.feed(b"T" + LOG_ACK.to_bytes()[2:]) == [LOG_ACK]


def test_crc_error_drops_that_frame_only():
    bad = bytearray(HELLO.to_bytes())
    bad[20] ^= 0x01
    r = FrameReader()
    assert r.feed(bytes(bad) + LOG_ACK.to_bytes()) == [LOG_ACK]
    errors = r.take_errors()
    assert errors[0].kind == "crc" and errors[0].seq == 7
    assert r.stats["crc"] == 1 and r.stats["frames"] == 1


def test_corrupt_length_does_not_swallow_the_next_frames():
    bad = bytearray(LOG_ACK.to_bytes())
    bad[9] = 0x05   # length 12 -> 5: the "frame" ends early, CRC fails, resync finds the next magic
    r = FrameReader()
    assert r.feed(bytes(bad) + HELLO.to_bytes() + SETTINGS.to_bytes()) == [HELLO, SETTINGS]
    assert r.stats["crc"] >= 1


def test_length_type_and_version_errors():
    # CRC fine, but the HELLO payload ends inside a string: a length error
    short = _frame(1, 5, _s("0011"))
    # CRC fine, but a LOG_ACK with bytes left over after its fields
    extra = _frame(4, 6, struct.pack(">HIH", 1, 1, 0) + b"\x00")
    unknown = _frame(200, 7, b"")
    v2 = _frame(1, 8, b"", version=2)
    r = FrameReader()
    assert r.feed(short + extra + unknown + v2 + LOG_ACK.to_bytes()) == [LOG_ACK]
    kinds = [e.kind for e in r.take_errors()]
    assert kinds[:3] == ["length", "length", "type"]
    assert "version" in kinds
    with pytest.raises(ConstructError):
        parse_frame(short)


def test_buffer_cap_drops_and_reports():
    r = FrameReader(max_buffer=64)
    big = Frame("LOG_RECORDS", 1, {"records": [{"seq": 1, "time_ms": 1, "code": 758, "text": "x" * 200}]})
    assert r.feed(big.to_bytes()) == []
    errors = r.take_errors()
    assert [e.kind for e in errors] == ["length", "garbage"]
    assert errors[0].seq == 1 and sum(e.nbytes for e in errors) == len(big.to_bytes())
    assert r.buffered == 0
    assert r.feed(Frame("BYE", 2).to_bytes()) == [Frame("BYE", 2)]
    assert FrameReader().feed(big.to_bytes()) == [big]


def test_build_refuses_what_does_not_fit():
    with pytest.raises(ValueError):
        build_frame(Frame("NOPE", 1))
    with pytest.raises(ValueError):
        build_frame(Frame("LOG_RECORDS", 1, {"records": [{"seq": 1, "time_ms": 1, "code": 1, "text": "x" * 70000}]}))


def test_record_batches_fit_in_frames():
    recs = [{"seq": i, "time_ms": i, "code": 758, "text": "ГИС МТ\t758\t" + "Я" * 300} for i in range(500)]
    batches = record_batches(recs)
    assert len(batches) > 1 and sum(len(b) for b in batches) == 500
    for b in batches:
        assert len(Frame("LOG_RECORDS", 1, {"records": b}).to_bytes()) <= MAX_FRAME


# ------------------------------------------------------------ Hypothesis
u16, u32, u64 = (st.integers(0, 2**16 - 1), st.integers(0, 2**32 - 1), st.integers(0, 2**64 - 1))
text = st.text(max_size=40)
item = st.one_of(
    st.builds(lambda v: {"kind": "cert", "value": v}, st.binary(max_size=64)),
    st.builds(lambda k, v: {"kind": k, "value": v},
              st.sampled_from(["token", "gismt_host", "option", "poll_period", "sale_ban"]), text),
)
record = st.fixed_dictionaries({"seq": u32, "time_ms": u64, "code": u16, "text": text})
payloads = {
    "HELLO": st.fixed_dictionaries({"serial": text, "model": text, "inn": text, "firmware": text,
                                    "device_key": text, "device_time_ms": u64, "pending_records": u32}),
    "HELLO_ACK": st.fixed_dictionaries({"session_id": u32, "server_time_ms": u64, "settings_waiting": st.booleans(),
                                        "log_next_seq": u32}),
    "LOG_RECORDS": st.fixed_dictionaries({"records": st.lists(record, max_size=5)}),
    "LOG_ACK": st.fixed_dictionaries({"stored": st.lists(u32, max_size=10), "duplicates": u16}),
    "GET_SETTINGS": st.just({}),
    "SETTINGS": st.fixed_dictionaries({"task_id": u32, "items": st.lists(item, max_size=5)}),
    "SETTINGS_RESULT": st.fixed_dictionaries({"task_id": u32, "applied": st.booleans(), "code": u16}),
    "BYE": st.just({}),
    "ERROR": st.fixed_dictionaries({"code": u16, "text": text}),
}
frames = st.sampled_from(sorted(payloads)).flatmap(
    lambda t: st.builds(Frame, st.just(t), u32, payloads[t]))


@settings(max_examples=150, deadline=None)
@given(frames)
def test_hypothesis_round_trip(frame):
    assert parse_frame(frame.to_bytes()) == frame


@settings(max_examples=60, deadline=None)
@given(st.lists(frames, min_size=1, max_size=6), st.lists(st.integers(1, 50), min_size=1, max_size=30),
       st.binary(max_size=20))
def test_hypothesis_stream_in_random_chunks(fs, cuts, garbage):
    stream = garbage.replace(b"K", b"k") + b"".join(f.to_bytes() for f in fs)
    r = FrameReader()
    out, pos, i = [], 0, 0
    while pos < len(stream):
        n = cuts[i % len(cuts)]
        out += r.feed(stream[pos:pos + n])
        pos, i = pos + n, i + 1
    assert out == fs
    assert r.buffered == 0


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_hypothesis_random_bytes_never_raise(data):
    r = FrameReader(max_buffer=128)
    r.feed(data)
    r.feed(HELLO.to_bytes()[:5])
    assert r.buffered <= 128
