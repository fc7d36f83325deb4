"""The device's CDN list: ranking by measured latency, blocks and failover.

Pure state; the device feeds it events with the current time.

* ``replace(hosts, latencies)`` installs a freshly ranked list: hosts that
  answered ``health/check`` are ranked by the latency the device measured (the
  ``avgTimeMs`` in the body is ignored, as the operator requires); hosts that
  did not answer within the 2 s timeout start blocked for 15 minutes.
* ``active(now)`` is the best-ranked host that is not blocked.
* ``record_slow`` counts answers later than the 1.5 s decision deadline; the
  third in a row blocks the host. ``record_error`` counts 429/5xx answers; the
  second in a row blocks it. ``record_ok`` resets both counters. A
  ``{"code":5000}`` answer is not the host's fault and is not recorded here.
* ``clear_blocks()`` is what the device does when every host is blocked (after
  refreshing the list).
* When a block expires the device probes the host with ``health/check``; the
  host stays unavailable (``probing``) until the probe has answered, and checks
  go to the next host meanwhile. ``reblock(host, now)`` blocks it for another 15 minutes when it does not
  answer; when it answers, ``unblock(host, latency)`` puts it back at once and
  the device measures every other host that is not blocked with
  ``health/check`` too: ``remeasured(results, now)`` then re-ranks *all* hosts
  by their new latencies, as the operator's guide asks ("an answer → unblock
  and re-rank all hosts by latency"). A host that does not answer that
  ``health/check`` is blocked for 15 minutes, as at the initial ranking.
* ``fallback`` says the list is the operator's fallback list (``cdn/info`` has
  not answered since the list was made), not one ``cdn/info`` gave; the client
  then tries the fallback hosts again at the next refresh that ``cdn/info``
  fails. It lives in RAM only: after a restart a saved list is a cached list.
"""

from __future__ import annotations

from dataclasses import dataclass

BLOCK_MS = 15 * 60_000
SLOW_LIMIT = 3
ERROR_LIMIT = 2


@dataclass
class CdnHost:
    name: str
    latency_ms: int | None = None
    blocked_until: int | None = None
    slow_in_row: int = 0
    errors_in_row: int = 0
    probing: bool = False        # the block ran out; the unblock probe has not answered yet

    def blocked(self, now: int) -> bool:
        """Unavailable: blocked, or its block ran out and its probe has not answered."""
        return self.blocked_until is not None and (now < self.blocked_until or self.probing)


class CdnBook:
    def __init__(self) -> None:
        self.hosts: list[CdnHost] = []
        self.refreshed_at: int | None = None  # last ranking: cdn/info's list, or the fallback list
        self.fallback = False                 # the list is the operator's fallback list

    @property
    def has_list(self) -> bool:
        return bool(self.hosts)

    def replace(self, names: list[str], latencies: dict[str, int | None], now: int,
                fallback: bool = False) -> None:
        hosts = []
        for name in names:
            lat = latencies.get(name)
            h = CdnHost(name, lat)
            if lat is None:
                h.blocked_until = now + BLOCK_MS
            hosts.append(h)
        self.hosts = hosts
        self.rerank()
        self.refreshed_at = now
        self.fallback = fallback

    def rerank(self) -> None:
        # Stable sort: equal latencies keep the order cdn/info gave.
        self.hosts.sort(key=lambda h: (h.latency_ms is None, h.latency_ms or 0))

    def get(self, name: str) -> CdnHost | None:
        for h in self.hosts:
            if h.name == name:
                return h
        return None

    def active(self, now: int) -> CdnHost | None:
        for h in self.hosts:
            if not h.blocked(now):
                return h
        return None

    def all_blocked(self, now: int) -> bool:
        return bool(self.hosts) and all(h.blocked(now) for h in self.hosts)

    def block(self, host: CdnHost, now: int) -> None:
        host.blocked_until = now + BLOCK_MS
        host.probing = False
        host.slow_in_row = 0
        host.errors_in_row = 0

    def record_ok(self, host: CdnHost) -> None:
        host.slow_in_row = 0
        host.errors_in_row = 0

    def record_slow(self, host: CdnHost, now: int) -> bool:
        """True when this made the host blocked."""
        host.slow_in_row += 1
        if host.slow_in_row >= SLOW_LIMIT:
            self.block(host, now)
            return True
        return False

    def record_error(self, host: CdnHost, now: int) -> bool:
        host.errors_in_row += 1
        if host.errors_in_row >= ERROR_LIMIT:
            self.block(host, now)
            return True
        return False

    def clear_blocks(self) -> None:
        for h in self.hosts:
            h.blocked_until = None
            h.probing = False
            h.slow_in_row = 0
            h.errors_in_row = 0

    def unblock(self, host: CdnHost, latency_ms: int) -> None:
        host.blocked_until = None
        host.probing = False
        host.latency_ms = latency_ms
        self.rerank()

    def reblock(self, host: CdnHost, now: int) -> None:
        host.blocked_until = now + BLOCK_MS
        host.probing = False

    def remeasured(self, results: list[tuple[CdnHost, int | None]], now: int) -> list[CdnHost]:
        """New ``health/check`` latencies (None: no answer) after a probe; re-rank all hosts.

        Results for hosts no longer in the list (it was replaced meanwhile) are
        ignored. A host that did not answer ranks last, as at the initial
        ranking, and is blocked for 15 minutes unless it already is; those newly
        blocked are returned (the device probes them when the block expires).
        """
        blocked = []
        for host, latency in results:
            if not any(h is host for h in self.hosts):
                continue
            host.latency_ms = latency
            if latency is None and not host.blocked(now):
                self.block(host, now)
                blocked.append(host)
        self.rerank()
        return blocked

    def snapshot(self, now: int) -> list[dict[str, object]]:
        return [{"host": h.name, "latency_ms": h.latency_ms, "blocked": h.blocked(now),
                 "blocked_until": h.blocked_until, "slow_in_row": h.slow_in_row,
                 "errors_in_row": h.errors_in_row} for h in self.hosts]
