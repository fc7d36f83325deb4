"""A device at the till on the simulated network, driven as a cashier does (shared by the kkt tests).

``Till`` holds the clock, the mock backend, the transport and the device, and
drives them key by key: ``status_check`` («СТАТУС ГИС МТ»), ``sell`` (into cash
mode, the shift opened if needed, an amount and a scanned code), ``dismiss``
(С on a message), ``settle`` (the clock runs while the device waits). It reads
back the log (``codes``, ``notes``), the open receipt (``positions``) and the
CDN ranking (``order``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from emulator.base.clock import VirtualClock
from emulator.devices.kkt.device import KktDevice
from emulator.fronts.operator import Operator
from emulator.rules.marking import GS
from emulator.servers.trueapi import TrueApiBackend

TOKEN = "7f0c0d6e-3b1a-4c53-9a8e-5d2f0e9b1c42"
START = 1_768_456_800_000
GOOD = f"0104600000000017215Good1{GS}93abcd"


@dataclass
class Till:
    clock: VirtualClock
    backend: TrueApiBackend
    net: Any
    dev: KktDevice

    def settle(self) -> None:
        assert self.clock.run_while(lambda: self.dev.waiting, 60_000), self.dev.mode

    def wait(self, ms: int) -> None:
        self.clock.advance(ms)
        self.settle()

    def dismiss(self) -> None:
        while self.dev.mode in ("message", "cash_refused"):
            self.dev.press("С")

    def status_check(self) -> None:
        self.dismiss()
        Operator(self.dev).goto("СТАТУС ГИС МТ")
        self.dev.press("ИТ")
        self.settle()

    def sell(self, code: str = GOOD) -> None:
        d = self.dev
        self.dismiss()
        if not d.mode.startswith("cash_"):
            Operator(d).goto("КАССОВЫЙ РЕЖИМ")
            Operator(d).press_many("ИТ 0 ИТ")
            if d.mode == "cash_open_shift":
                d.press("3")
            self.settle()
            self.dismiss()
        Operator(d).press_many("1 0 0")
        d.scan(code)
        self.settle()

    @property
    def codes(self) -> list[int]:
        return [r.code for r in self.dev.logbook.records]

    @property
    def notes(self) -> list[str]:
        return [r.note for r in self.dev.logbook.records]

    def positions(self) -> list[tuple[str, int | None]]:
        r = self.dev.receipt
        return [(p.gismt, p.error) for p in r.positions] if r is not None else []

    def order(self) -> list[str]:
        return [h.name for h in self.dev.book.hosts]
