"""The session header, CRC-16/CCITT-FALSE and the stream framer."""

import time

import pytest

from emulator.wire.ffd.session import (
    CRC_HEADER,
    CRC_HEADER_BODY,
    FFD12_PA_VERSION,
    HEADER_SIZE,
    OFD_S_VERSION,
    OFD_SIGNATURE,
    OISM_S_VERSION,
    OISM_SIGNATURE,
    FramingError,
    SessionError,
    SessionFramer,
    SessionMessage,
    crc16_ccitt_false,
    decode_message,
    encode_message,
)
from tests.wire.ffd.test_golden import v2

FN = "9999078900005488"
V2 = v2()


def msg(body: bytes = b"\x01\x02\x03", flags: int = 0x14, sig: bytes = OFD_SIGNATURE) -> SessionMessage:
    ver = OFD_S_VERSION if sig == OFD_SIGNATURE else OISM_S_VERSION
    return SessionMessage(sig, ver, FFD12_PA_VERSION, FN, flags, body)


def test_crc_check_value():
    assert crc16_ccitt_false(b"123456789") == 0x29B1
    assert crc16_ccitt_false(b"") == 0xFFFF
    # incremental = whole
    assert crc16_ccitt_false(b"6789", crc16_ccitt_false(b"12345")) == 0x29B1


def test_v2_session_header_decodes_and_reencodes():
    m = decode_message(V2)
    assert (m.signature, m.s_version, m.pa_version) == (OFD_SIGNATURE, OFD_S_VERSION, b"\x00\x01")
    assert m.fn_number == FN and m.flags == 0x14 and m.crc == 0 and m.crc_mode == 0
    assert len(m.body) == 436 and m.peer == "ofd"
    assert encode_message(m) == V2


@pytest.mark.parametrize("mode", [CRC_HEADER, CRC_HEADER_BODY])
def test_session_crc_modes_round_trip_and_catch_damage(mode):
    raw = encode_message(msg(flags=0x14 | mode))
    assert int.from_bytes(raw[28:30], "little") != 0
    assert decode_message(raw).body == b"\x01\x02\x03"
    damaged = raw[:-1] + b"\x04"      # the body's last byte
    if mode == CRC_HEADER_BODY:
        with pytest.raises(SessionError) as e:
            decode_message(damaged)
        assert e.value.kind == "crc" and e.value.offset == 28
    else:
        assert decode_message(damaged).body == b"\x01\x02\x04"
    with pytest.raises(SessionError, match="crc"):
        decode_message(raw[:10] + b"8" + raw[11:])


@pytest.mark.parametrize("bad, kind", [
    (V2[:29], "truncated"), (V2[:-1], "length"), (V2 + b"\x00", "length"),
    (V2[:8] + b"99990789000054x8" + V2[24:], "header"), (V2[:26] + b"\x17\x00" + V2[28:], "header"),
])
def test_decode_message_refuses_with_a_kind_and_offset(bad, kind):
    with pytest.raises(SessionError) as e:
        decode_message(bad)
    assert e.value.kind == kind and 0 <= e.value.offset <= len(bad)


def test_encode_refuses_bad_fields():
    with pytest.raises(SessionError):
        encode_message(SessionMessage(OFD_SIGNATURE, OFD_S_VERSION, FFD12_PA_VERSION, "123", 0x14, b""))
    with pytest.raises(SessionError):
        encode_message(msg(body=bytes(70000)))
    with pytest.raises(SessionError):
        encode_message(msg(flags=0x17))


def test_framer_byte_by_byte_and_two_peers():
    a, b = encode_message(msg(b"a" * 40)), encode_message(msg(b"b", 0x15, OISM_SIGNATURE))
    f = SessionFramer()
    out = []
    for byte in a + b:
        out.extend(f.feed(bytes([byte])))
    assert [m.body for m in out if isinstance(m, SessionMessage)] == [b"a" * 40, b"b"]
    assert out[1].peer == "oism" and f.buffered == 0
    assert decode_message(V2) == SessionFramer().feed(V2)[0]


def test_framer_resyncs_after_garbage_and_damage():
    good = encode_message(msg(b"good", 0x16))
    bad_crc = bytearray(encode_message(msg(b"evil", 0x16)))
    bad_crc[-1] ^= 0xFF
    fake = OFD_SIGNATURE + b"\x00" * 20           # a signature followed by no header
    huge = bytearray(encode_message(msg(b"x")))
    huge[24:26] = (0xFFFF).to_bytes(2, "little")  # declares a body over the limit
    stream = b"junk" + good + bytes(bad_crc) + fake + good + bytes(huge) + good + b"tail"
    events = SessionFramer().feed(stream)
    msgs = [e for e in events if isinstance(e, SessionMessage)]
    errs = [e for e in events if isinstance(e, FramingError)]
    assert [m.body for m in msgs] == [b"good"] * 3
    kinds = {e.kind for e in errs}
    assert {"garbage", "crc", "header", "length"} <= kinds
    assert errs[0].offset == 0 and errs[0].nbytes == 4


def test_framer_buffer_is_bounded_and_garbage_is_linear():
    f = SessionFramer(max_body=1000)
    # a header that declares 1000 bytes, then only part of it: waits with a bounded buffer
    part = encode_message(msg(bytes(1000)))[:500]
    assert f.feed(part) == [] and f.buffered == 500
    # 2 MB of the same false start: every start is dropped, memory stays bounded, time linear
    f2 = SessionFramer()
    noise = (OFD_SIGNATURE + b"\xff" * 26) * 70_000
    t = time.process_time()
    events = f2.feed(noise)
    assert time.process_time() - t < 2.0
    assert f2.buffered <= f2.max_buffer and all(isinstance(e, FramingError) for e in events)
    # 4 MB of signature-free bytes: one garbage report
    f3 = SessionFramer()
    events = f3.feed(b"\x00" * 4_000_000)
    assert [e.kind for e in events] == ["garbage"] and f3.buffered == 0
    # a message right after the noise is still found
    assert isinstance(f2.feed(b"\x00" * HEADER_SIZE + encode_message(msg()))[-1], SessionMessage)
