"""The driver <-> KKT serial link over real pseudo-terminals (pyserial on the driver side)."""

from __future__ import annotations

import threading
import time

import pytest
import serial

from emulator.net.serialport import DeviceSerialEndpoint, PortMap, PtyService, SerialDeviceLink, SerialLinkError
from emulator.wire import ecrframe as ef


def echo(command: str, args: dict) -> dict:
    return {"result": 0, "command": command, "args": args}


@pytest.fixture
def endpoint():
    ep = DeviceSerialEndpoint(echo)
    ep.start()
    yield ep
    ep.stop()


def test_call_round_trip_by_path_and_by_com_name(endpoint):
    with SerialDeviceLink(endpoint.path, timeout_s=3) as link:
        assert link.call("GetStatus", {"name": "Молоко"}) == {"result": 0, "command": "GetStatus",
                                                            "args": {"name": "Молоко"}}
    with SerialDeviceLink("com3", timeout_s=3, ports=PortMap({"COM3": endpoint.path})) as link:
        assert link.call("OpenShift", {})["command"] == "OpenShift"
    assert endpoint.stats["requests"] == 2


def test_missing_and_unmapped_ports_are_refused():
    with pytest.raises(SerialLinkError) as e:
        SerialDeviceLink("/dev/pts/nonexistent-port")
    assert e.value.code == "port-missing"
    with pytest.raises(SerialLinkError) as e:
        SerialDeviceLink("COM7", ports=PortMap({"COM3": "/dev/null"}))
    assert e.value.code == "port-missing" and "COM7" in e.value.text and "COM3" in e.value.text


def test_a_second_driver_finds_the_port_busy(endpoint):
    with SerialDeviceLink(endpoint.path, timeout_s=3) as first:
        with pytest.raises(SerialLinkError) as e:
            SerialDeviceLink(endpoint.path, timeout_s=3)
        assert e.value.code == "port-busy"
        assert first.call("GetStatus", {})["result"] == 0
    with SerialDeviceLink(endpoint.path, timeout_s=3) as again:   # free once closed
        assert again.call("GetStatus", {})["result"] == 0


def test_unplugged_mid_command_is_a_defined_outcome_in_bounded_time():
    entered, release = threading.Event(), threading.Event()

    def slow(command, args):
        entered.set()
        release.wait(10)
        return {"result": 0}

    ep = DeviceSerialEndpoint(slow)
    ep.start()
    try:
        link = SerialDeviceLink(ep.path, timeout_s=8)
        threading.Thread(target=lambda: (entered.wait(5), ep.unplug()), daemon=True).start()
        t = time.monotonic()
        with pytest.raises(SerialLinkError) as e:
            link.call("CloseCheck", {})
        assert e.value.code == "unplugged"
        assert time.monotonic() - t < 3
        with pytest.raises(SerialLinkError) as e:
            link.call("GetStatus", {})
        assert e.value.code == "unplugged"
        link.close()
    finally:
        release.set()
        ep.stop()


class Line(PtyService):
    """A device end that does what the test says with each chunk the driver writes."""

    name = "test-line"

    def __init__(self, respond):
        super().__init__()
        self.respond = respond
        self.seen = bytearray()

    def on_bytes(self, data):
        self.seen += data
        out = self.respond(bytes(self.seen), data)
        if out:
            self.send(out)


def test_silence_is_a_timeout_and_damaged_answers_are_garbage_both_bounded():
    for respond, code in ((lambda seen, data: b"", "timeout"),
                          (lambda seen, data: b"EC\x01\x02" + bytes(8) + b"\x00\x00", "garbage")):
        line = Line(respond)
        line.start()
        try:
            with SerialDeviceLink(line.path, timeout_s=1.0, resend_s=0.3) as link:
                t = time.monotonic()
                with pytest.raises(SerialLinkError) as e:
                    link.call("GetStatus", {})
                assert e.value.code == code, e.value.text
                assert 0.9 < time.monotonic() - t < 3
            assert line.seen.count(b"EC") >= 3                     # the request was resent each interval
        finally:
            line.stop()


def test_a_lost_answer_is_resent_and_the_command_runs_once():
    runs = []

    def count(command, args):
        runs.append(command)
        return {"result": 0, "n": len(runs)}

    ep = DeviceSerialEndpoint(count)
    real_answer = ep._answer
    lost = []

    def lose_first(frame):
        raw = real_answer(frame)
        if not lost:
            lost.append(raw)
            return b"\x00garbled\x00"                               # the first answer is damaged on the line
        return raw
    ep._answer = lose_first
    ep.start()
    try:
        with SerialDeviceLink(ep.path, timeout_s=5, resend_s=0.3) as link:
            assert link.call("CloseCheck", {}) == {"result": 0, "n": 1}
            assert link.call("GetStatus", {}) == {"result": 0, "n": 2}
        assert runs == ["CloseCheck", "GetStatus"] and ep.stats["resent"] == 1
    finally:
        ep.stop()


def test_a_damaged_request_gets_a_nak_and_is_resent_at_once(monkeypatch):
    from emulator.net import serialport

    real_write = serialport._write_all
    sent = []

    def damage_first(port, data, deadline):
        if not sent:
            sent.append(data)
            data = data[:-1] + bytes([data[-1] ^ 0xFF])
        real_write(port, data, deadline)
    monkeypatch.setattr(serialport, "_write_all", damage_first)
    ep = DeviceSerialEndpoint(echo)
    ep.start()
    try:
        with SerialDeviceLink(ep.path, timeout_s=5, resend_s=4) as link:
            t = time.monotonic()
            assert link.call("GetStatus", {})["command"] == "GetStatus"
            assert time.monotonic() - t < 2                          # not the 4 s resend interval: the NAK
        assert ep.stats["naks"] == 1 and len(sent) == 1
    finally:
        ep.stop()


def test_a_request_that_is_not_a_command_is_refused_by_the_device():
    ep = DeviceSerialEndpoint(echo)
    ep.start()
    try:
        with serial.Serial(ep.path, 115200, timeout=2) as s:
            s.write(ef.Frame("REQUEST", 5, 9, b'{"cmd": 1}').to_bytes())
            reader = ef.FrameReader()
            got = []
            deadline = time.monotonic() + 3
            while not got and time.monotonic() < deadline:
                got = [f for f in reader.feed(s.read(64)) if isinstance(f, ef.Frame)]
        assert got[0].kind == "ERROR" and got[0].json()["code"] == "bad-request" and (got[0].link, got[0].seq) == (5, 9)
        assert ep.stats["refused"] == 1 and ep.stats["requests"] == 0
    finally:
        ep.stop()


def test_a_request_over_the_frame_limit_is_refused_before_sending(endpoint):
    with SerialDeviceLink(endpoint.path, timeout_s=3) as link:
        with pytest.raises(SerialLinkError) as e:
            link.call("PrintText", {"text": "x" * (ef.MAX_PAYLOAD + 1)})
        assert e.value.code == "too-large"
        assert link.call("GetStatus", {})["result"] == 0


def test_an_answer_that_cannot_be_encoded_is_a_device_error_frame():
    cyclic: dict = {}
    cyclic["self"] = cyclic
    for bad in (cyclic, {"when": object()}, {"n": float("nan"), "x": {1, 2}}):
        with pytest.raises((TypeError, ValueError, RecursionError)):
            ef.encode_json(bad)
        ep = DeviceSerialEndpoint(lambda c, a, bad=bad: bad)
        answer = ef.parse_frame(ep._answer(ef.request(5, 9, "GetStatus", {})))
        assert (answer.kind, answer.seq, answer.json()["code"]) == ("ERROR", 9, "device-error")
    assert ef.encode_json({"ok": True, "n": [1, 2.5, None]}) == b'{"ok":true,"n":[1,2.5,null]}'   # still usable
