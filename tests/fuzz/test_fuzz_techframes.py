"""Fuzz target: the technological server's frame decoder (``FrameReader``, ``parse_frame``).

Whatever bytes arrive, in whatever chunks: the reader never raises, never holds
more than its cap, accounts for every byte (frames + drops + what it still
buffers), and finds every good frame that was sent between pieces of garbage.
Time per case is bounded.
"""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st

from emulator.wire.techframes import HEADER_SIZE, MAGIC, MAX_FRAME, Frame, FrameReader, build_frame
from tests.fuzz.budget import fuzz

BOUND_S = 2.0
text = st.text(max_size=40)
u32 = st.integers(0, 2 ** 32 - 1)
frames = st.one_of(
    st.builds(lambda s, k: Frame("HELLO", s, {"serial": k, "model": "M", "inn": "1", "firmware": "f",
                                              "device_key": k, "device_time_ms": 1, "pending_records": 0}), u32, text),
    st.builds(lambda s, recs: Frame("LOG_RECORDS", s, {"records": [
        {"seq": q, "time_ms": q, "code": 758, "text": t} for q, t in recs]}), u32,
        st.lists(st.tuples(u32, text), max_size=4)),
    st.builds(lambda s: Frame("GET_SETTINGS", s), u32),
    st.builds(lambda s, c, t: Frame("ERROR", s, {"code": c, "text": t}), u32, st.integers(0, 65535), text),
)
noise = st.binary(max_size=200).map(lambda b: b.replace(MAGIC, b"K?"))   # garbage that starts no frame
near_frames = st.builds(lambda f, i, b: (lambda raw: raw[:i % len(raw)] + bytes([b]) + raw[i % len(raw) + 1:])(
    build_frame(f)), frames, st.integers(0, 10 ** 6), st.integers(0, 255))   # one byte changed


@fuzz("techframes")
@given(st.lists(st.one_of(st.binary(max_size=300), near_frames, st.just(MAGIC),
                          st.builds(lambda n: MAGIC + b"\x01\x05\0\0\0\0" + n.to_bytes(2, "big"), st.integers(0, 65535))),
                max_size=20),
       st.lists(st.integers(1, 4096), min_size=1, max_size=10))
def test_any_bytes_in_any_chunks(pieces, cuts):
    data = b"".join(pieces)
    reader = FrameReader(max_buffer=2 * MAX_FRAME)
    t = time.process_time()
    got, dropped, i, k = [], 0, 0, 0
    while i < len(data):
        n = cuts[k % len(cuts)]
        for e in reader.feed_events(data[i:i + n]):
            if isinstance(e, Frame):
                got.append(e)
            else:
                dropped += e.nbytes
        assert reader.buffered <= reader.max_buffer
        i, k = i + n, k + 1
    assert time.process_time() - t < BOUND_S
    assert sum(len(build_frame(f)) for f in got) + dropped + reader.buffered >= len(data) - HEADER_SIZE


@fuzz("techframes")
@given(st.lists(st.tuples(noise, frames), max_size=8), noise, st.integers(1, 512))
def test_good_frames_between_garbage_are_all_found(parts, tail, chunk):
    data = b"".join(g + build_frame(f) for g, f in parts) + tail
    reader = FrameReader()
    got = []
    for i in range(0, len(data), chunk):
        got += reader.feed(data[i:i + chunk])
    assert got == [f for _, f in parts]
