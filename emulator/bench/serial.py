"""The serial benchmark: a driver's round trip over the KKT's pty (framed, CRC, JSON) against a bare pty echo.

Both ends are the same machinery: a thread on the pty's master (``PtyService``) and pyserial on the
slave. The bare echo writes back each chunk it reads; the client writes a frame's worth of bytes and
reads them back. The framed link runs ``SerialDeviceLink.call`` against ``DeviceSerialEndpoint``
with a handler that answers at once (a ``GetStatus``-sized answer), so the difference is the
framing, the CRC, the JSON and the link's bookkeeping. Each figure is the best of many short rounds,
echo and link interleaved, so both are measured the same way and a round that another process
preempts (the machine is shared) is outweighed rather than averaged in.
"""

from __future__ import annotations

import time
from typing import Any

import serial

from emulator.net.serialport import DeviceSerialEndpoint, PtyService, SerialDeviceLink
from emulator.wire import ecrframe as ef

ANSWER = {"result": 0, "dateTime": "2026-01-15T12:00:00", "shiftInfo": {"isOpen": True, "num": 1},
          "checkInfo": {"isOpen": False, "num": 0, "goodsQty": 0}}
ARGS = {"sessionKey": "bench"}


class _Echo(PtyService):
    name = "bench-echo"

    def on_bytes(self, data: bytes) -> None:
        self.send(data)


def _echo_round(port: serial.Serial, payload: bytes, n: int) -> float:
    t = time.perf_counter()
    for _ in range(n):
        port.write(payload)
        got = 0
        while got < len(payload):
            got += len(port.read(len(payload) - got))
    return time.perf_counter() - t


def _link_round(link: SerialDeviceLink, n: int) -> float:
    t = time.perf_counter()
    for _ in range(n):
        link.call("GetStatus", ARGS)
    return time.perf_counter() - t


def run_serial(quick: bool = False) -> dict[str, Any]:
    n, rounds = (100, 6) if quick else (300, 20)
    frame = ef.request(1, 1, "GetStatus", ARGS).to_bytes()
    echo, device = _Echo(), DeviceSerialEndpoint(lambda command, args: ANSWER)
    echo.start()
    device.start()
    best = {"echo": float("inf"), "link": float("inf")}
    try:
        with serial.Serial(echo.path, 115200, timeout=2) as port, SerialDeviceLink(device.path, timeout_s=5) as link:
            _echo_round(port, frame, 50)
            _link_round(link, 50)
            for _ in range(rounds):
                best["echo"] = min(best["echo"], _echo_round(port, frame, n))
                best["link"] = min(best["link"], _link_round(link, n))
    finally:
        device.stop()
        echo.stop()
    if device.stats["requests"] != 50 + n * rounds:
        raise AssertionError(f"the device ran {device.stats['requests']} of {50 + n * rounds} requests")
    link_us, echo_us = best["link"] / n * 1e6, best["echo"] / n * 1e6
    return {
        "serial_frame_bytes": len(frame),
        "serial_round_trip_us": round(link_us, 1),
        "serial_echo_round_trip_us": round(echo_us, 1),
        "serial_echo_ratio": round(link_us / echo_us, 2),
    }
