"""The real-time driver's pace: the training console's clock (paused, real, up to ×3600)."""

from __future__ import annotations

import time

from emulator.base.clock import VirtualClock
from emulator.net.real import RealTimeDriver


def test_at_x3600_a_second_of_the_clock_takes_a_fraction_of_a_millisecond():
    driver = RealTimeDriver(VirtualClock(0))
    driver.speed = 3600
    t0 = time.monotonic()
    for _ in range(50):                    # serve's loop asks for a second of the clock at a time
        assert driver.run_while(lambda: True, 1000) is False
    assert driver.clock.now_ms == 50_000
    assert time.monotonic() - t0 < 0.5    # ~14 ms; a wait that ignored the speed took 50 x 20 ms


def test_paused_the_clock_stands_still_and_no_timer_fires():
    driver = RealTimeDriver(VirtualClock(0))
    fired = []
    driver.clock.call_at(10, lambda: fired.append(1))
    driver.speed = 0
    deadline = time.monotonic() + 0.2
    driver.run_while(lambda: time.monotonic() < deadline, 1000)
    assert driver.clock.now_ms == 0 and fired == []


def test_a_timer_that_makes_the_device_wait_slows_the_clock_to_real_time():
    driver = RealTimeDriver(VirtualClock(0))
    waiting = {"on": False}
    driver.hold = lambda: waiting["on"]
    driver.speed = 3600
    seen: dict[str, float] = {}

    def send() -> None:                    # a probe goes out: the device waits for its answer
        waiting["on"] = True
        seen["sent"] = time.monotonic()

    def deadline() -> None:
        seen["deadline"] = time.monotonic()
    driver.clock.call_at(60_000, send)
    driver.clock.call_at(60_150, deadline)   # its deadline, 150 ms of the clock later
    driver.run_while(lambda: "deadline" not in seen, 120_000)
    assert seen["deadline"] - seen["sent"] >= 0.12    # at x3600 it would be 0.04 ms
    assert driver.clock.now_ms == 60_150
