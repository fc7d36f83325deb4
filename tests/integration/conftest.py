"""A whole world on real sockets: the device, the real network and the mock True API as HTTPS servers.

``make_world(...)`` builds, per test:

* a ``TrueApiBackend`` whose prod contour (``cdn.crpt.ru`` and three CDN hosts,
  20/200/400 ms, so that ranking by measured latency has one answer) knows the
  device's token and a good marked code;
* ``TrueApiServers`` for those four hosts on 127.0.0.x with a fresh ``LabCA``;
* a ``VirtualClock`` stepped with the wall clock by a ``RealTimeDriver``;
* a ``RealNetwork`` whose resolver is a plain dict (``world.resolve``) that a
  test may change: point a name at one of its own raw servers, or drop it;
* a ``KktDevice`` in a temporary directory whose TLS store holds the lab CA
  root (unless ``load_ca=False``), and, unless ``status=False``, a finished
  «СТАТУС ГИС МТ» (menu, ИТ, the driver running while the device is busy).

``RawServer`` is a tiny TCP server on 127.0.0.1 for faults the HTTPS servers do
not make (garbage instead of a ServerHello, a corrupted TLS record).

Teardown closes the network, stops the servers and the raw servers, and checks
that no thread was left behind (the count returns to where it started, give or
take one pool worker still on its way out).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from emulator.base.clock import VirtualClock
from emulator.devices.kkt.device import KktDevice
from emulator.devices.kkt.settings import Settings, SettingsStore
from emulator.fronts.operator import Operator
from emulator.net.oism import SimOismLink
from emulator.net.real import RealNetwork, RealTimeDriver
from emulator.servers.oism.model import OismModel
from emulator.servers.trueapi import TrueApiBackend
from emulator.servers.trueapi.servers import TrueApiServers
from tests.rawtls import RawServer
from tls_store.lab_ca import LabCA

TOKEN = "7f0c0d6e-3b1a-4c53-9a8e-5d2f0e9b1c42"
BASE = "cdn.crpt.ru"
CDN1, CDN2, CDN3 = "cdn01.crpt.ru", "cdn02.crpt.ru", "cdn03.crpt.ru"
CDN_HOSTS = (CDN1, CDN2, CDN3)
HOSTS = (BASE, *CDN_HOSTS)
LATENCY_MS = {BASE: 0, CDN1: 20, CDN2: 200, CDN3: 400}
GOOD_CODE = "0104600000000017215Good1\x1d93abcd"
# Sellable codes for `World.sell()` without a code: each call scans the next one, since one code
# twice in a receipt is refused at the scan (790) before any request.
GOOD_CODES = (GOOD_CODE, *(f"0104600000000017215Good{i}\x1d93abcd" for i in range(2, 41)))
START_MS = 1_767_225_600_000     # 2026-01-01 00:00 UTC
SETTLE_MAX_MS = 30_000


@dataclass
class World:
    clock: VirtualClock
    driver: RealTimeDriver
    backend: TrueApiBackend
    ca: LabCA
    servers: TrueApiServers
    resolve: dict[str, tuple[str, int]]
    net: RealNetwork
    directory: Path
    device: KktDevice = field(init=False)
    raw_servers: list[RawServer] = field(default_factory=list)
    sold: int = 0                       # scans made by sell() without a code

    # -- the world -----------------------------------------------------------
    def change(self, fn: Callable[[TrueApiBackend], Any]) -> None:
        """Change the backend while the servers run: under their lock, then apply ``down`` flags at once."""
        with self.servers.lock:
            fn(self.backend)
        self.servers.sync_faults()

    def plan(self, host: str, items: list[int | str]) -> None:
        self.change(lambda b: b.host(host).faults.plan(items))

    def raw_server(self, handler: Callable[[socket.socket, threading.Event], None]) -> RawServer:
        srv = RawServer(handler)
        self.raw_servers.append(srv)
        return srv

    def point(self, host: str, address: tuple[str, int]) -> None:
        """Resolve ``host`` to ``address`` from now on (the device's next request goes there)."""
        self.resolve[host] = address

    # -- the device ------------------------------------------------------------
    def settle(self, max_ms: int = SETTLE_MAX_MS) -> None:
        d = self.device
        done = self.driver.run_while(lambda: d.busy or d.gismt.busy, max_ms)
        assert done, f"the device is still busy after {max_ms} ms (mode {d.mode!r}, display {d.display.text!r})"

    def wait_wall(self, seconds: float) -> None:
        """Let ``seconds`` of wall time pass, the virtual clock keeping pace."""
        self.driver.run_while(lambda: True, int(seconds * 1000))

    def dismiss(self) -> None:
        d = self.device
        for _ in range(5):
            if d.mode not in ("message", "cash_refused"):
                return
            d.press("С")

    def status_check(self) -> None:
        d = self.device
        self.dismiss()
        Operator(d).goto("СТАТУС ГИС МТ")
        d.press("ИТ")
        self.settle()

    def enter_cash(self) -> None:
        d = self.device
        self.dismiss()
        if d.mode == "cash_ready":
            return
        Operator(d).goto("КАССОВЫЙ РЕЖИМ")
        d.press("ИТ")
        for ch in str(d.settings.options.get(2, 0)):
            d.press(ch)
        d.press("ИТ")
        if d.mode == "cash_open_shift":
            d.press("3")
        self.settle()
        self.dismiss()
        assert d.mode == "cash_ready", f"cash mode did not open: {d.mode!r} {d.display.text!r}"

    def sell(self, code: str | None = None, price_keys: str = "100") -> None:
        """Scan a marked code (by default the next of ``GOOD_CODES``) at ``price_keys`` roubles in cash mode
        and wait for the outcome."""
        if code is None:
            code = GOOD_CODES[self.sold % len(GOOD_CODES)]
            self.sold += 1
        self.enter_cash()
        d = self.device
        for ch in price_keys:
            d.press(ch)
        d.scan(code)
        self.settle()

    def close_receipt(self) -> None:
        """Close the open receipt (ИТ in cash mode): its kept-alive connections end with it."""
        d = self.device
        self.dismiss()
        assert d.mode == "cash_ready" and d.receipt is not None and d.receipt.positions
        d.press("ИТ")
        self.dismiss()

    def set_option(self, number: int, value: int) -> None:
        d = self.device
        self.dismiss()
        Operator(d).goto("ОПЦИИ")
        d.press("ИТ")
        for ch in str(number):
            d.press(ch)
        d.press("ИТ")
        for ch in str(value):
            d.press(ch)
        d.press("ИТ")
        self.dismiss()
        assert d.settings.options.get(number) == value

    # -- observations ------------------------------------------------------------
    @property
    def codes(self) -> list[int]:
        return [r.code for r in self.device.logbook.records]

    @property
    def notes(self) -> list[str]:
        return [r.note for r in self.device.logbook.records]

    def positions(self) -> list[tuple[str, int | None]]:
        r = self.device.receipt
        return [(p.gismt, p.error) for p in r.positions] if r is not None else []

    def blocked(self) -> list[str]:
        now = self.clock.now_ms
        return sorted(h.name for h in self.device.book.hosts if h.blocked(now))

    def active(self) -> str | None:
        h = self.device.book.active(self.clock.now_ms)
        return h.name if h else None

    def close(self) -> None:
        self.net.close()
        self.servers.stop()
        for srv in self.raw_servers:
            srv.stop()
        with contextlib.suppress(Exception):
            self.device.logbook.close()


@pytest.fixture
def make_world(tmp_path: Path) -> Iterator[Callable[..., World]]:
    """``make_world(idle_timeout_s=180, load_ca=True, register_token=True, status=True, latency=None)``."""
    threads_before = threading.active_count()
    worlds: list[World] = []

    def build(*, idle_timeout_s: float = 180.0, load_ca: bool = True, register_token: bool = True,
              status: bool = True, latency: dict[str, int] | None = None) -> World:
        clock = VirtualClock(START_MS)
        driver = RealTimeDriver(clock)
        backend = TrueApiBackend(seed=1)
        if register_token:
            backend.add_token("prod", TOKEN)
        for good in GOOD_CODES:
            backend.add_code({"code": good, "groupIds": [8]})
        for name, ms in {**LATENCY_MS, **(latency or {})}.items():
            backend.host(name).faults.latency_ms = ms
        ca = LabCA.create(common_name="integration lab CA")
        servers = TrueApiServers(backend, ca, HOSTS, now_ms=lambda: clock.now_ms, idle_timeout_s=idle_timeout_s,
                                 stall_s=10.0).start()
        resolve = servers.resolver()
        directory = tmp_path / f"device{len(worlds)}"
        directory.mkdir()
        SettingsStore(directory).save(Settings(token=TOKEN))
        holder: list[KktDevice] = []
        net = RealNetwork(driver, resolve, lambda: holder[0].tls_context())
        world = World(clock, driver, backend, ca, servers, resolve, net, directory)
        worlds.append(world)
        device = KktDevice(clock, net, directory, oism=SimOismLink(OismModel()))
        holder.append(device)
        world.device = device
        if load_ca:
            device.load_certificate(servers.ca_pem)
        if status:
            world.status_check()
        return world

    yield build

    for w in worlds:
        w.close()
    deadline = time.monotonic() + 5.0
    while threading.active_count() > threads_before and time.monotonic() < deadline:
        time.sleep(0.02)
    left = [t.name for t in threading.enumerate()]
    assert threading.active_count() <= threads_before + 1, f"threads left behind: {left}"


@pytest.fixture
def world(make_world: Callable[..., World]) -> World:
    """The default world: CA loaded, token registered, «СТАТУС ГИС МТ» done."""
    return make_world()
