"""Fuzz target: the driver <-> KKT serial framer (``FrameReader``, ``parse_frame``) and the device's endpoint logic.

Whatever bytes arrive, in whatever chunks: the reader never raises, never holds more than one largest
frame, accounts for every byte (frames + drops + what it still buffers), and every good frame sent
between pieces of garbage comes out (after ``expire`` when a damaged header waits for bytes that
never come). The device's answer to any frame is a frame and never runs a command for a request that
is not ``{"command": str, "args": object}``. Time per case is bounded.
"""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st

from emulator.net.serialport import DeviceSerialEndpoint
from emulator.wire import ecrframe as ef
from tests.fuzz.budget import fuzz

BOUND_S = 2.0
json_values = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=20),
                           lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=8), kids,
                                                                                     max_size=3), max_leaves=8)
frames = st.one_of(
    st.builds(lambda link, seq, cmd, args: ef.request(link, seq, cmd, args), st.integers(0, 2**32 - 1),
              st.integers(0, 2**16 - 1), st.text(max_size=20), st.dictionaries(st.text(max_size=8), json_values,
                                                                               max_size=4)),
    st.builds(ef.Frame, st.sampled_from(list(ef.KINDS)), st.integers(0, 2**32 - 1), st.integers(0, 2**16 - 1),
              st.binary(max_size=200)),
)
noise = st.binary(max_size=200).map(lambda b: b.replace(ef.MAGIC, b"E?"))   # garbage that starts no frame


def flip(raw: bytes, i: int, b: int) -> bytes:
    i %= len(raw)
    return raw[:i] + bytes([b]) + raw[i + 1:]


near_frames = st.builds(lambda f, i, b: flip(f.to_bytes(), i, b), frames, st.integers(0, 10**6), st.integers(0, 255))
headers = st.builds(lambda kind, n: ef.MAGIC + bytes([1, kind]) + bytes(6) + n.to_bytes(2, "big"),
                    st.integers(0, 255), st.integers(0, 65535))


def run(reader: ef.FrameReader, data: bytes, cuts: list[int]) -> tuple[list[ef.Frame], int]:
    got: list[ef.Frame] = []
    dropped, i, k = 0, 0, 0
    while i < len(data):
        n = cuts[k % len(cuts)]
        for e in reader.feed(data[i:i + n]):
            if isinstance(e, ef.Frame):
                got.append(e)
            else:
                dropped += e.nbytes
        assert reader.buffered < ef.MAX_FRAME + max(cuts)
        i, k = i + n, k + 1
    return got, dropped


@fuzz("ecrframe", examples=10_000)
@given(st.lists(st.one_of(st.binary(max_size=300), near_frames, st.just(ef.MAGIC), headers,
                          frames.map(ef.build_frame)), max_size=12),
       st.lists(st.integers(1, 512), min_size=1, max_size=8))
def test_any_bytes_in_any_chunks(pieces, cuts):
    data = b"".join(pieces)
    reader = ef.FrameReader()
    t = time.process_time()
    got, dropped = run(reader, data, cuts)
    for _ in range(len(data) // 2 + 1):         # the line goes quiet: every stalled header is given up
        if not reader.buffered:
            break
        for e in reader.expire():
            if isinstance(e, ef.Frame):
                got.append(e)
            else:
                dropped += e.nbytes
    assert reader.buffered == 0
    assert time.process_time() - t < BOUND_S
    assert sum(len(ef.build_frame(f)) for f in got) + dropped == len(data)
    for f in got:                               # the hot path and the construct definition agree
        body = ef.FrameStruct.parse(ef.build_frame(f)).body.value
        assert (body.kind, body.link, body.seq, body.payload) == (f.kind, f.link, f.seq, f.payload)


@fuzz("ecrframe")
@given(st.lists(st.tuples(noise, frames), max_size=6), noise, st.lists(st.integers(1, 512), min_size=1, max_size=4))
def test_every_good_frame_between_garbage_is_found(parts, tail, cuts):
    for _, f in parts:
        assert ef.FrameStruct.build({"body": {"value": {"kind": f.kind, "link": f.link, "seq": f.seq,
                                                        "payload": f.payload}}}) == f.to_bytes()
    data = b"".join(n + f.to_bytes() for n, f in parts) + tail
    got, _ = run(ef.FrameReader(), data, cuts)
    assert got == [f for _, f in parts]


@fuzz("ecrframe")
@given(frames)
def test_the_device_answers_any_frame_with_a_frame_and_runs_only_commands(frame):
    ran: list[tuple[str, dict]] = []
    ep = DeviceSerialEndpoint(lambda c, a: ran.append((c, a)) or {"result": 0})
    if frame.kind != "REQUEST":
        assert ran == []
        return
    raw = ep._answer(frame)
    answer = ef.parse_frame(raw)
    assert (answer.link, answer.seq) == (frame.link, frame.seq)
    try:
        body = frame.json()
        is_command = (isinstance(body.get("command"), str) and isinstance(body.get("args", {}), dict)
                      and not set(body) - {"command", "args"})
    except ef.FrameFormatError:
        is_command = False
    assert answer.kind == ("ANSWER" if is_command else "ERROR")
    assert len(ran) == (1 if is_command else 0)
    assert ep._answer(frame) == raw and len(ran) == (1 if is_command else 0)    # a resend: the kept answer
