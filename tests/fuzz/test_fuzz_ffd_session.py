"""Fuzz target: the session framer (``SessionFramer``) and the whole-message decoder.

Whatever bytes arrive, in whatever chunks: the framer never raises, never holds
more than its cap, accounts for every byte exactly (messages + drops + what it
still buffers), and finds every good message sent between pieces of garbage.
``decode_message`` raises nothing but ``FfdError``. Time per case is bounded.
"""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st

from emulator.wire.ffd.session import (
    HEADER_SIZE,
    OFD_S_VERSION,
    OFD_SIGNATURE,
    OISM_S_VERSION,
    OISM_SIGNATURE,
    SIGNATURES,
    FramingError,
    SessionFramer,
    SessionMessage,
    decode_message,
    encode_message,
)
from emulator.wire.ffd.values import FfdError
from tests.fuzz.budget import fuzz

BOUND_S = 2.0
fns = st.text("0123456789", min_size=16, max_size=16)
messages = st.builds(
    lambda ofd, fn, flags, body: SessionMessage(OFD_SIGNATURE if ofd else OISM_SIGNATURE,
                                                OFD_S_VERSION if ofd else OISM_S_VERSION, b"\x01\x20", fn,
                                                flags, body),
    st.booleans(), fns, st.sampled_from([0x14, 0x15, 0x16, 0x04, 0x10]), st.binary(max_size=60))


def _clean(b: bytes) -> bytes:
    for s in SIGNATURES:
        b = b.replace(s, s[:3] + b"?")
    return b


noise = st.binary(max_size=80).map(_clean)
near = st.builds(lambda m, i, b: (lambda raw: raw[:i % len(raw)] + bytes([b]) + raw[i % len(raw) + 1:])(
    encode_message(m)), messages, st.integers(0, 10 ** 6), st.integers(0, 255))
pieces = st.one_of(st.binary(max_size=60), near, st.sampled_from(SIGNATURES), messages.map(encode_message),
                   st.builds(lambda n: OFD_SIGNATURE + b"\x81\xa2\x01\x20" + b"1" * 16 + n.to_bytes(2, "little")
                             + b"\x14\x00\x00\x00", st.integers(0, 65535)))


@fuzz("ffd_session", examples=10_000)
@given(st.lists(pieces, max_size=6), st.lists(st.integers(1, 300), min_size=1, max_size=6),
       st.integers(0, 400))
def test_any_bytes_in_any_chunks(parts, cuts, max_body):
    data = b"".join(parts)
    framer = SessionFramer(max_body=max_body)
    t = time.process_time()
    taken, i, k = 0, 0, 0
    while i < len(data):
        n = cuts[k % len(cuts)]
        for e in framer.feed(data[i:i + n]):
            if isinstance(e, FramingError):
                assert e.nbytes > 0 and e.offset == taken
                taken += e.nbytes
            else:
                assert isinstance(e, SessionMessage) and len(e.body) <= max_body
                taken += HEADER_SIZE + len(e.body)
        assert framer.buffered <= framer.max_buffer
        i, k = i + n, k + 1
    assert time.process_time() - t < BOUND_S
    assert taken + framer.buffered == len(data)
    try:
        decode_message(data)
    except FfdError:
        pass


@fuzz("ffd_session")
@given(st.lists(st.tuples(noise, messages), max_size=5), noise, st.integers(1, 200))
def test_good_messages_between_garbage_are_all_found(parts, tail, chunk):
    data = b"".join(g + encode_message(m) for g, m in parts) + tail
    framer = SessionFramer()
    got = []
    for i in range(0, len(data), chunk):
        got += [e for e in framer.feed(data[i:i + chunk]) if isinstance(e, SessionMessage)]
    assert [(m.signature, m.fn_number, m.flags, m.body) for m in got] == [
        (m.signature, m.fn_number, m.flags, m.body) for _, m in parts]
    for m in got:
        assert decode_message(encode_message(m)).body == m.body
