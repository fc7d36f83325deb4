"""Fuzz target: the technological server's session (``Session.handle`` over a real SQLite model).

Any sequence of frames from a peer: every request gets exactly one reply with
its seq; no reply names a Python exception; the server stores nothing before
a HELLO with the registered key; every seq a LOG_ACK lists is held with the
text sent; nothing held is ever changed or dropped.
"""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from emulator.servers.techserver.model import TechServer
from emulator.servers.techserver.session import Session
from emulator.wire.techframes import Frame, FrameReader, parse_frame
from tests.fuzz.budget import fuzz
from tests.servers.techserver.keys import key_for

T0 = 1712141750370
SERIAL = "00106700000001"
u32 = st.integers(0, 2 ** 32 - 1)
times = st.one_of(st.integers(0, 2 ** 64 - 1), st.just(2 ** 62), st.just(2 ** 63), st.just(T0))
keys = st.sampled_from([key_for(SERIAL), "x" * 40, "", "short"])
texts = st.one_of(st.sampled_from(["ГИС МТ\t758\t[1]", "a", "", " " * 50]), st.text(max_size=30))
requests = st.one_of(
    st.builds(lambda k, s: Frame("HELLO", 1, {"serial": s, "model": "M", "inn": "7701234567", "firmware": "f",
                                             "device_key": k, "device_time_ms": T0, "pending_records": 0}),
              keys, st.sampled_from([SERIAL, "0002", "", "bad serial!"])),
    st.builds(lambda recs: Frame("LOG_RECORDS", 2, {"records": [
        {"seq": q, "time_ms": t, "code": c, "text": x} for q, t, c, x in recs]}),
        st.lists(st.tuples(st.integers(0, 12), times, st.integers(0, 65535), texts), max_size=5)),
    st.just(Frame("GET_SETTINGS", 3)),
    st.builds(lambda t, a, c: Frame("SETTINGS_RESULT", 4, {"task_id": t, "applied": a, "code": c}),
              st.integers(0, 5), st.booleans(), st.integers(0, 65535)),
    st.just(Frame("BYE", 5)),
    st.builds(lambda c: Frame("ERROR", 6, {"code": c, "text": "x"}), st.integers(0, 9)),
)


@fuzz("techsession")
@given(st.lists(st.lists(requests, max_size=8), min_size=1, max_size=4))
def test_any_frames_from_a_peer(sessions):
    model = TechServer(":memory:", clock=lambda: T0)
    try:
        model.hello(SERIAL, "M", "7701234567", "1", T0, key_for(SERIAL))
        model.set_setting(SERIAL, "sale_ban", "ВКЛЮЧЕН")
        model.send_all_settings(SERIAL)
        held: dict[tuple[str, int], str] = {}
        for frames in sessions:
            s = Session(model, lambda: T0)
            for f in frames:
                f = FrameReader().feed(f.to_bytes())[0]          # what the wire carries
                before = {(r.serial, r.seq): r.text for d in model.devices() for r in model.records(d.serial)}
                registered = s.serial
                replies, close = s.handle(f)
                assert len(replies) == 1 and replies[0].seq == f.seq
                reply = parse_frame(replies[0].to_bytes())       # every reply fits the wire format
                if reply.type == "ERROR":
                    assert not re.search(r"[A-Z][a-z]+Error|Traceback|Exception", reply.payload["text"])
                after = {(r.serial, r.seq): r.text for d in model.devices() for r in model.records(d.serial)}
                assert all(after.get(k) == v for k, v in before.items())      # nothing held changes
                if registered is None and f.type != "HELLO":
                    assert after == before
                if reply.type == "LOG_ACK":
                    sent = {r["seq"]: r["text"] for r in f.payload["records"]}
                    conflicts = {(c.seq, c.text) for c in model.conflicts(s.serial)}
                    for q in reply.payload["stored"]:
                        assert after.get((s.serial, q)) == sent[q] or (q, sent[q]) in conflicts
                held = after
                if close:
                    break
        assert held is not None
    finally:
        model.close()
