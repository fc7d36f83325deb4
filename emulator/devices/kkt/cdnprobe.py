"""Probes of blocked CDN hosts: ``health/check`` when a block runs out, then a re-ranking.

``CdnProbes`` sits between ``cdnrefresh.GisMtLink`` (the request plumbing and
the list) and ``gismt.GisMtClient`` (the checks). When a host's 15-minute
block runs out (guide §1.4.3):

* the device sends ``health/check`` to it; until that probe has answered the
  host stays unavailable (``CdnHost.probing``) and checks go to the next host
  that is not blocked;
* no answer within the 2 s timeout blocks it another 15 minutes;
* an answer unblocks it and sends ``health/check`` to every other host that
  is not blocked, then re-ranks all of them (``CdnBook.remeasured``).

No GIS MT request goes out while emergency mode is on (only a «СТАТУС ГИС МТ»
the user asks for): a block that runs out then leaves its host unavailable,
and the probe goes out when emergency mode is switched off
(``resume_probes``); no re-measuring round starts either.
"""

from __future__ import annotations

from emulator.base.clock import Timer, VirtualClock
from emulator.devices.kkt.cdn import CdnBook, CdnHost
from emulator.devices.kkt.cdnrefresh import GisMtHost, GisMtLink
from emulator.net.seam import Transport


class CdnProbes(GisMtLink):
    def __init__(self, clock: VirtualClock, transport: Transport, host: GisMtHost, book: CdnBook) -> None:
        super().__init__(clock, transport, host, book)
        self._probes: dict[str, Timer] = {}
        self._deferred: dict[str, CdnHost] = {}   # probes held back by emergency mode
        self._remeasuring = False   # a probe's round of health checks is in flight

    def _schedule_probe(self, host: CdnHost) -> None:
        if host.blocked_until is None:
            return
        old = self._probes.pop(host.name, None)
        if old:
            old.cancel()
        self._deferred.pop(host.name, None)
        expected = host.blocked_until

        def due() -> None:
            self._probes.pop(host.name, None)
            if self._closed:
                return
            if host.blocked_until != expected or self.book.get(host.name) is not host:
                return  # cleared or replaced meanwhile
            host.probing = True     # unavailable until the probe answers
            if self.host.emergency:
                self._deferred[host.name] = host
                return
            self._probe(host)

        self._probes[host.name] = self.clock.call_at(expected, due, f"probe {host.name}")

    def _probe(self, host: CdnHost) -> None:
        self.stats.probes += 1
        self._health(host.name, lambda name, latency: self._probed(host, latency), [False])

    def _probed(self, host: CdnHost, latency: int | None) -> None:
        if self.book.get(host.name) is not host:
            return
        if latency is None:
            self.book.reblock(host, self.clock.now_ms)
            self._schedule_probe(host)
        else:
            self.book.unblock(host, latency)
            self._remeasure(host)

    def resume_probes(self) -> None:
        """Emergency mode is off: the probes it held back go out now."""
        deferred, self._deferred = list(self._deferred.values()), {}
        for host in deferred:
            if not self._closed and self.book.get(host.name) is host and host.probing:
                self._probe(host)

    def _remeasure(self, probed: CdnHost) -> None:
        """After a probe answered: ``health/check`` every other host that is not blocked, then re-rank all.

        The checks go out at once, as at the initial ranking. While one such round
        is in flight another successful probe only unblocks its host (with the
        latency its probe measured); the round in flight re-ranks the whole list
        when it ends. In emergency mode no round starts.
        """
        if self._remeasuring or self._closed or self.host.emergency:
            return
        # Not blocked: no block time set. A host whose block ran out a moment ago still has
        # one until its own probe answers (the probes of blocks that ended together).
        hosts = [h for h in self.book.hosts if h is not probed and h.blocked_until is None]
        if not hosts:
            return
        self._remeasuring = True

        def measured(latencies: dict[str, int | None], emergency: bool) -> None:
            self._remeasuring = False
            if emergency:
                return   # emergency mode is on (203): no checks go out, nothing to rank for
            for h in self.book.remeasured([(h, latencies[h.name]) for h in hosts], self.clock.now_ms):
                self._schedule_probe(h)

        self._measure([h.name for h in hosts], measured)

    def cancel_probes(self) -> None:
        for t in self._probes.values():
            t.cancel()
        self._probes.clear()
        self._deferred.clear()
