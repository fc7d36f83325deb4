"""The driver <-> KKT serial link over real pseudo-terminals (pyserial on the driver side)."""

from __future__ import annotations

import threading
import time

import pytest

from emulator.net.serialport import DeviceSerialEndpoint, PortMap, SerialDeviceLink, SerialLinkError


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
