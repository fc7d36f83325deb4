"""The simulated network: a ``Transport`` that calls a server model directly, on the virtual clock.

Latency, refused connections, stalls and closed connections are clock events.
The server side is any ``SimulatedServer`` (the True API backend model is one):
``handle(host, request, now_ms)`` gives a ``SimulatedReply`` naming the HTTP
answer, the latency and, instead of an answer, a transport fault (``resolve``,
``refuse``, ``close``, ``stall``).

Connections: see ``emulator.net.seam``. A server closes a kept-alive connection
after it has been idle for ``idle_timeout_ms`` (180 s); the next request on that
key opens a new connection and says so (``new_connection=True``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from emulator.base.clock import Timer, VirtualClock
from emulator.base.failures import Failure
from emulator.net.seam import ConnectionStats, Deliver, NetRequest, NetResult


class SimulatedReply(Protocol):
    @property
    def status(self) -> int: ...
    @property
    def body(self) -> bytes: ...
    @property
    def latency_ms(self) -> int: ...
    @property
    def fault(self) -> str | None: ...


class SimulatedServer(Protocol):
    def handle(self, host: str, request: NetRequest, now_ms: int) -> SimulatedReply: ...


@dataclass
class _Conn:
    host: str
    last_used: int
    in_flight: int = 0


class SimulatedNetwork:
    """A transport that calls the True API backend model directly, on the virtual clock."""

    def __init__(self, clock: VirtualClock, backend: SimulatedServer, idle_timeout_ms: int = 180_000) -> None:
        self.clock = clock
        self.backend = backend
        self.idle_timeout_ms = idle_timeout_ms
        self.stats = ConnectionStats()
        self._conns: dict[str, _Conn] = {}
        self._pending: dict[int, tuple[Timer, str | None]] = {}
        self.trace: Callable[[str, NetRequest | NetResult], None] | None = None

    def open_connections(self) -> list[str]:
        return sorted(self._conns)

    def submit(self, request: NetRequest, deliver: Deliver) -> None:
        now = self.clock.now_ms
        if self.trace:
            self.trace("send", request)
        host = request.host
        self.stats.requests[host] = self.stats.requests.get(host, 0) + 1
        new_conn = False
        if request.key is not None:
            conn = self._conns.get(request.key)
            if conn is not None and conn.host != host:
                self._conns.pop(request.key)
                conn = None
            if conn is not None and conn.in_flight == 0 and now - conn.last_used >= self.idle_timeout_ms:
                # The server dropped the idle connection; like an HTTP client library, the
                # transport notices before sending and opens a new one (new_connection=True).
                self._conns.pop(request.key)
                self.stats.closed_by_server += 1
                conn = None
            if conn is None:
                new_conn = True
        else:
            new_conn = True

        reply = self.backend.handle(host, request, now)
        if reply.fault == "resolve":
            self._schedule(request, deliver, 0, NetResult(request.id, None, failure=Failure.RESOLVE,
                                                          detail=f"unknown host {host}"))
            return
        if new_conn:
            self.stats.opened[host] = self.stats.opened.get(host, 0) + 1
            if request.key is not None:
                self._conns[request.key] = _Conn(host, now)
        if request.key is not None:
            self._conns[request.key].in_flight += 1
        latency = reply.latency_ms
        if reply.fault == "refuse":
            result = NetResult(request.id, None, failure=Failure.REFUSED, detail="connection refused")
            if request.key is not None:
                self._conns.pop(request.key, None)
        elif reply.fault == "close":
            result = NetResult(request.id, None, failure=Failure.PEER_CLOSED, detail="closed mid-answer")
            if request.key is not None:
                self._conns.pop(request.key, None)
        elif reply.fault == "stall":
            latency = request.timeout_ms
            result = NetResult(request.id, None, failure=Failure.TIMEOUT, detail="no answer")
        else:
            result = NetResult(request.id, reply.status, reply.body)
        if latency > request.timeout_ms:
            latency = request.timeout_ms
            result = NetResult(request.id, None, failure=Failure.TIMEOUT, detail="no answer")
        result = NetResult(result.request_id, result.status, result.body, result.failure, result.detail,
                           elapsed_ms=latency, new_connection=new_conn)
        self._schedule(request, deliver, latency, result)

    def _schedule(self, request: NetRequest, deliver: Deliver, latency: int, result: NetResult) -> None:
        def fire() -> None:
            self._pending.pop(request.id, None)
            conn = self._conns.get(request.key) if request.key is not None else None
            if conn is not None:
                conn.in_flight = max(0, conn.in_flight - 1)
                conn.last_used = self.clock.now_ms
            if self.trace:
                self.trace("recv", result)
            deliver(result)

        self._pending[request.id] = (self.clock.call_later(latency, fire, f"net#{request.id}"), request.key)

    def cancel(self, request_id: int) -> None:
        entry = self._pending.pop(request_id, None)
        if entry is not None:
            timer, key = entry
            timer.cancel()
            # An abandoned HTTP/1.1 request leaves its connection unusable: drop it.
            if key is not None:
                self._conns.pop(key, None)

    def close_connection(self, key: str) -> None:
        self._conns.pop(key, None)
