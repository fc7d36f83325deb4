"""The ECR JSON framing: 0x00-terminated UTF-8 JSON, the leading 0x00 of PingDevice, bad frames as events."""

from __future__ import annotations

import json

from emulator.wire.ecrjson import MAX_MESSAGE, Bad, Message, Splitter, decode, encode


def test_a_message_ends_with_one_nul_and_ping_starts_with_one() -> None:
    raw = encode(Message("Purchase", {"amount": "0.60", "merchantId": "0"}))
    assert raw.endswith(b"\x00") and raw.count(b"\x00") == 1
    assert json.loads(raw[:-1]) == {"method": "Purchase", "step": 0, "params": {"amount": "0.60", "merchantId": "0"}}
    ping = encode(Message("PingDevice"), leading_nul=True)
    assert ping.startswith(b"\x00{") and ping.endswith(b"}\x00")


def test_answers_carry_error_and_description_in_utf8() -> None:
    raw = encode(Message("Purchase", {"responseCode": "1001"}, 0, True, "Операцію скасовано"))
    assert "Операцію".encode() in raw
    back = decode(raw[:-1])
    assert back.error is True and back.description == "Операцію скасовано" and back.params["responseCode"] == "1001"


def test_frames_split_across_chunks_and_empty_frames_skipped() -> None:
    data = encode(Message("PingDevice"), True) + encode(Message("A", {"x": "1"})) + encode(Message("B"))
    s = Splitter()
    got = [e for i in range(len(data)) for e in s.feed(data[i:i + 1])]
    assert [m.method for m in got if isinstance(m, Message)] == ["PingDevice", "A", "B"]
    assert s.buffered == 0


def test_bad_frames_are_events_not_exceptions() -> None:
    s = Splitter()
    events = s.feed(b"\xff\xfe\x00[1]\x00{\"method\":1}\x00{\"method\":\"A\",\"params\":{\"a\":1}}\x00"
                    b"{\"method\":\"A\",\"step\":\"x\"}\x00" + b"[" * 5000 + b"\x00" + encode(Message("Ok")))
    reasons = [e.reason for e in events if isinstance(e, Bad)]
    assert reasons == ["not UTF-8", "not a JSON object", "no method", "params is not an object of strings",
                       "step is not a number", "not JSON"]
    assert isinstance(events[-1], Message) and events[-1].method == "Ok"


def test_an_over_long_frame_is_dropped_up_to_the_next_nul_and_the_buffer_stays_bounded() -> None:
    s = Splitter(max_message=100)
    events = []
    for _ in range(50):
        events += s.feed(b"x" * 40)
        assert s.buffered <= 100
    events += s.feed(b"tail\x00" + encode(Message("Next")))
    assert isinstance(events[0], Bad) and events[0].reason == "message too long" and events[0].nbytes == 2004
    assert isinstance(events[1], Message) and events[1].method == "Next"
    assert Splitter().max_message == MAX_MESSAGE
