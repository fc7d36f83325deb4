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

Where the time of the fiscal half goes, also measured in the same run:

* ``device_only_wall_s``: the same load with no fiscal half (no drive, no OFD,
  no ОИСМ), run second; ``fiscal_wall_s`` is the difference.
* ``fiscal_exchanges``: the messages the device exchanged with the mock OFD and
  ОИСМ (each a request and its answer); ``fiscal_us_per_exchange`` is
  ``fiscal_wall_s`` over them: the drive, the print form, the envelopes, the
  codec on both sides and the device's bookkeeping.
* ``codec_us_per_exchange`` and ``struct_floor_us_per_exchange``: the
  documents of every 50th exchange (both directions, kept while the run goes)
  decoded and encoded once each with the codec, and with the hand-written
  ``struct`` baseline of ``bench/ffd.py`` (no envelope, no checks beyond the
  tag table); ``struct_floor_s`` is that baseline times the exchanges: what the
  documents alone would cost with no ``construct`` and no framing at all.
* ``fiscal_budget_us_per_exchange``: what an exchange could cost for the whole
  run to meet ``target_wall_s`` — (target − device-only wall) ÷ exchanges.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from emulator.base.moscow import MSK
from emulator.bench.ffd import baseline_decode, baseline_encode
from emulator.fronts.operator import Operator
from emulator.net.ofdlink import FiscalServer, ServerAnswer, SimFiscalLink
from emulator.net.seam import NetRequest
from emulator.rules.marking import GS
from emulator.servers.trueapi import TrueApiBackend
from emulator.wire.ffd.document import Document
from emulator.wire.ffd.envelope import open_message
from emulator.wire.ffd.values import FfdError
from emulator.world.root import World

TOKEN = "7f0c0d6e-3b1a-4c53-9a8e-5d2f0e9b1c42"
DAY_MS = 86_400_000


@dataclass(frozen=True)
class BenchConfig:
    days: int = 30
    receipts: int = 300
    marked: int = 2
    seed: int = 1
    fiscal: bool = True          # with the fiscal half (and then the same load without it, for the split)
    sample_every: int = 50       # every N-th fiscal exchange kept for the codec figures


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


class _Sampler:
    """Stands between a simulated fiscal link and its server model: counts the
    exchanges and keeps the messages of every ``every``-th (both directions)."""

    def __init__(self, server: FiscalServer, every: int) -> None:
        self.server = server
        self.every = max(1, every)
        self.exchanges = 0
        self.kept: list[bytes] = []

    def exchange(self, message: bytes, now_ms: int) -> ServerAnswer:
        answer = self.server.exchange(message, now_ms)
        self.exchanges += 1
        if self.exchanges % self.every == 1 % self.every:
            self.kept.append(message)
            if answer.reply is not None:
                self.kept.append(answer.reply)
        return answer


def _documents(messages: list[bytes]) -> list[bytes]:
    out = []
    for m in messages:
        try:
            out.append(open_message(m).document)
        except FfdError:
            continue          # a fault's garbage answer: no document in it
    return out


def _codec_figures(samplers: list[_Sampler]) -> dict[str, object]:
    """µs per exchange for the sampled documents: the codec, and the ``struct`` baseline."""
    docs = _documents([m for s in samplers for m in s.kept])
    exchanges = sum(s.exchanges for s in samplers)
    sampled = sum(len(range(1, s.exchanges + 1, s.every)) for s in samplers)
    if not docs or not sampled:
        return {"fiscal_exchanges": exchanges}
    decoded = [Document.decode(d) for d in docs]
    assert [baseline_encode(d) for d in decoded] == docs, "the baseline does not give the codec's bytes"

    def timed(fn: Callable[[], object]) -> float:
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
        return best / sampled * 1e6

    codec = timed(lambda: [Document.decode(d).encode() for d in docs])
    floor = timed(lambda: [baseline_encode(baseline_decode(d)) for d in docs])
    return {"fiscal_exchanges": exchanges, "codec_us_per_exchange": round(codec, 1),
            "struct_floor_us_per_exchange": round(floor, 1),
            "struct_floor_s": round(floor * exchanges / 1e6, 3)}


def run(cfg: BenchConfig = BenchConfig()) -> dict[str, object]:
    result, samplers = _simulate(cfg)
    if not cfg.fiscal:
        return result
    alone, _ = _simulate(replace(cfg, fiscal=False))
    figures = _codec_figures(samplers)
    wall, device_only = _num(result["wall_s"]), _num(alone["wall_s"])
    exchanges = int(_num(figures["fiscal_exchanges"]))
    result.update({"device_only_wall_s": device_only, "fiscal_wall_s": round(wall - device_only, 3), **figures})
    if exchanges:
        result["fiscal_us_per_exchange"] = round((wall - device_only) / exchanges * 1e6, 1)
        budget = (_num(result["target_wall_s"]) - device_only) / exchanges * 1e6
        result["fiscal_budget_us_per_exchange"] = round(budget, 1)
    return result


def _num(value: object) -> float:
    assert isinstance(value, (int, float))
    return float(value)


def _simulate(cfg: BenchConfig) -> tuple[dict[str, object], list[_Sampler]]:
    codes = _codes(500)
    baseline_s = _baseline(_world(cfg.seed, codes), codes, 4000)

    backend = _world(cfg.seed, codes)
    start = int(datetime(2026, 3, 2, 8, 0, tzinfo=MSK).timestamp() * 1000)
    world = World.build("simulated", start, backend, fiscal=cfg.fiscal)
    samplers: list[_Sampler] = []
    if world.fiscal is not None:
        for link in (world.fiscal.ofd_link, world.fiscal.oism_link):
            assert isinstance(link, SimFiscalLink)
            sampler = _Sampler(link.server, cfg.sample_every)
            link.server = sampler
            samplers.append(sampler)
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
    }, samplers


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
