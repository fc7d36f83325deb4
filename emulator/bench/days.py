"""``kkt-emu bench``: a store simulated over many days on virtual time.

One shift a day (09:00-21:00 Moscow time), ``receipts`` receipts a shift spread
evenly over it, each with ``marked`` marked positions (every fifth receipt
also has an unmarked one), driven through the keypad and the scanner as a
cashier would. Every receipt and shift report is a fiscal document in an
in-memory fiscal drive, printed (text form; no QR image without a device
directory) and delivered to the in-process mock OFD, and every marked
position is an ОИСМ exchange (81 → 83) before its GIS MT check. The CDN list is refreshed at each shift opening (more than 6 h
have passed), block probes run on the clock, and a few host faults are
injected: a host answering 500 twice (blocked, failover), a host turning slow
(three late answers, blocked), a 5000 answer, an emergency day.

Figures are ratios measured in the same run:

* ``speedup``: virtual seconds simulated per wall second;
* ``device_overhead``: wall time per marked position through the whole device
  (keys, display, ОИСМ, GIS MT session, decision, receipt) divided by the wall
  time of the same ``codes/check`` call made straight on the backend model —
  the baseline measured first, in this run.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime

from emulator.base.moscow import MSK
from emulator.fronts.operator import Operator
from emulator.net.seam import NetRequest
from emulator.rules.marking import GS
from emulator.servers.trueapi import TrueApiBackend
from emulator.world.root import World

TOKEN = "7f0c0d6e-3b1a-4c53-9a8e-5d2f0e9b1c42"
DAY_MS = 86_400_000


@dataclass(frozen=True)
class BenchConfig:
    days: int = 30
    receipts: int = 300
    marked: int = 2
    seed: int = 1


def _codes(n: int) -> list[str]:
    # Unknown codes answer found = false (751): use catalogue codes that pass instead.
    return [f"010460000000{i % 10:02d}0021bench{i:06d}{GS}93dGVz" for i in range(n)]


def _world(seed: int, codes: list[str]) -> TrueApiBackend:
    from emulator.servers.trueapi.catalogue import CatalogueEntry

    backend = TrueApiBackend(seed=seed)
    backend.add_token("prod", TOKEN)
    for i, name in enumerate(backend.cdn_hosts("prod")):
        backend.host(name).faults.latency_ms = 40 + 30 * i
    for c in codes:
        backend.add_code(CatalogueEntry(code=c, groupIds=(8,)))
    return backend


def _baseline(backend: TrueApiBackend, codes: list[str], n: int) -> float:
    """Seconds per ``codes/check`` handled straight by the backend model."""
    host = backend.cdn_hosts("prod")[0]
    headers = (("X-API-KEY", TOKEN), ("Content-Type", "application/json; charset=utf-8"))
    t0 = time.perf_counter()
    for i in range(n):
        body = json.dumps({"codes": [codes[i % len(codes)]]}).encode()
        backend.handle(host, NetRequest(i, "POST", host, "/api/v4/true-api/codes/check", headers, body, "k"), 0)
    return (time.perf_counter() - t0) / n


def run(cfg: BenchConfig = BenchConfig()) -> dict[str, object]:
    codes = _codes(500)
    baseline_s = _baseline(_world(cfg.seed, codes), codes, 4000)

    backend = _world(cfg.seed, codes)
    start = int(datetime(2026, 3, 2, 8, 0, tzinfo=MSK).timestamp() * 1000)
    world = World.build("simulated", start, backend)
    clock = world.clock
    dev = world.new_device(None, keep_events=False)
    dev.settings.token = TOKEN
    op = Operator(dev, lambda: clock.run_while(lambda: dev.waiting, 60_000))
    hosts = backend.cdn_hosts("prod")

    t0 = time.perf_counter()
    op.status_check()
    op.press("С")
    positions = receipts = 0
    shift_ms = 12 * 3600_000
    gap = shift_ms // cfg.receipts
    for day in range(cfg.days):
        day_start = start + day * DAY_MS + 3600_000  # 09:00
        clock.run_until(max(clock.now_ms, day_start))
        op.open_shift()
        _inject_faults(backend, hosts, day)  # after the shift-opening refresh, so the checks meet them
        for r in range(cfg.receipts):
            clock.run_until(max(clock.now_ms, day_start + r * gap))
            for m in range(cfg.marked):
                code = codes[(day * cfg.receipts * cfg.marked + r * cfg.marked + m) % len(codes)]
                op.sell(code, 15000)
                op.dismiss()
                positions += 1
            if r % 5 == 0:
                op.sell_free(4900)
            op.press("ИТ")          # closes the receipt (nothing happens when every position was refused)
            op.dismiss()
            receipts += 1
        op.leave_cash()
        op.close_shift()
        if dev.emergency:
            dev.set_emergency(False)
    if dev.fiscal is not None:
        clock.run_while(lambda: dev.fiscal is not None and dev.fiscal.busy, 60_000)  # the last documents' acks
    wall = time.perf_counter() - t0
    virtual_s = (clock.now_ms - start) / 1000
    closed = sum(1 for r in dev.receipts if r.state == "closed")
    marked_positions = sum(1 for r in dev.receipts for p in r.positions if p.marking)
    checks = dev.gismt.stats.checks
    fiscal = dev.fiscal
    fiscal_figures = {} if fiscal is None else {
        "fiscal_documents": fiscal.drive.last_fd, "ofd_acknowledged": fiscal.delivered,
        "ofd_pending": len(fiscal.drive.pending()), "oism_requests": fiscal.oism_requests}
    return {
        "days": cfg.days, "receipts": receipts, "receipts_closed": closed, "marked_positions": marked_positions,
        "gismt_checks": checks, "gismt_requests": dev.gismt.stats.requests,
        "cdn_refreshes": dev.gismt.stats.refreshes, "probes": dev.gismt.stats.probes,
        "log_records": len(dev.logbook.records), "clock_timers": clock.fired, **fiscal_figures,
        "wall_s": round(wall, 3), "virtual_s": round(virtual_s, 1),
        "speedup": round(virtual_s / wall, 1), "receipts_per_s": round(receipts / wall, 1),
        "positions_per_s": round(positions / wall, 1),
        "baseline_backend_check_us": round(baseline_s * 1e6, 2),
        "device_position_us": round(wall / max(positions, 1) * 1e6, 2),
        "device_overhead": round((wall / max(positions, 1)) / baseline_s, 2),
        "target_wall_s": 5.0, "target_met": wall < 5.0,
    }


def _inject_faults(backend: TrueApiBackend, hosts: list[str], day: int) -> None:
    """A few host faults over the month, on fixed days so runs compare."""
    first = hosts[0]
    if day == 4:
        backend.host(first).faults.plan([500, 500])           # twice in a row: blocked, failover
    elif day == 11:
        backend.host(first).faults.latency_seq = [1700, 1700, 1700, 40]  # three late answers: blocked
    elif day == 17:
        backend.host(first).faults.plan(["5000", "5000"])     # not the host's fault: no block
    elif day == 23:
        backend.set_emergency("prod", True)             # one emergency day
    elif day == 24:
        backend.set_emergency("prod", False)
