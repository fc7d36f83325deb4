"""Requests and results as data: the seam between the device core and a network.

The device never opens a socket. It hands a ``NetRequest`` to a ``Transport``
together with a ``deliver`` callback, and later receives exactly one
``NetResult`` through it (unless it cancels the request first). Deadlines are
the device's own clock timers, not blocking timeouts.

Two transports sit behind this interface:

* ``SimulatedNetwork`` (this module): calls the mock backends directly; latency,
  refused connections, stalls and closed connections are clock events.
* the real adapter (httpx over TLS to servers on loopback), which posts results
  back onto the clock's thread.

Connections. A request names a connection ``key``; the first request with a
key opens the connection (counted in ``stats.opened``), later ones reuse it
until the device calls ``close_connection(key)``. A request with ``key=None``
is a one-shot connection (``Connection: close``), as the True API asks for
``cdn/health/check``. A server closes a kept-alive connection after it has been
idle for ``idle_timeout_ms`` (180 s); the next request on that key then opens
a new connection and says so (``new_connection=True``), as httpx does on the
real network.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from . import errors as E
from .clock import Timer, VirtualClock

if TYPE_CHECKING:
    from .trueapi.backend import TrueApiBackend


class Failure(enum.Enum):
    """Why no HTTP answer arrived. Each maps to one device error code."""

    RESOLVE = "resolve"              # host name unknown
    REFUSED = "refused"              # TCP connection refused / unreachable
    TIMEOUT = "timeout"              # transport gave up waiting
    TLS_SETTINGS = "tls-settings"    # no usable root certificates
    TLS_INPUT = "tls-input"          # bad host / port given to the TLS layer
    TLS_HANDSHAKE = "tls-handshake"  # handshake failed or stalled
    TLS_CERT = "tls-cert"            # certificate check failed
    TLS_READ = "tls-read"
    TLS_WRITE = "tls-write"
    PEER_CLOSED = "peer-closed"      # server closed the connection

    @property
    def device_code(self) -> int:
        return _FAILURE_CODES[self]


_FAILURE_CODES = {
    Failure.RESOLVE: E.NO_CONNECTION,
    Failure.REFUSED: E.NO_CONNECTION,
    Failure.TIMEOUT: E.NO_CONNECTION,
    Failure.TLS_SETTINGS: E.TLS_SETTINGS,
    Failure.TLS_INPUT: E.TLS_INPUT,
    Failure.TLS_HANDSHAKE: E.TLS_CONNECT,
    Failure.TLS_CERT: E.TLS_CERT_CHECK,
    Failure.TLS_READ: E.TLS_READ,
    Failure.TLS_WRITE: E.TLS_WRITE,
    Failure.PEER_CLOSED: E.TLS_PEER_CLOSED,
}


@dataclass(frozen=True)
class NetRequest:
    id: int
    method: str
    host: str                      # host name as configured on the device, no scheme
    path: str                      # path and query, e.g. /api/v4/true-api/codes/check
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    key: str | None = None         # kept-alive connection key; None = one-shot
    timeout_ms: int = 10_000       # when the transport may give up (device deadlines are shorter)


@dataclass(frozen=True)
class NetResult:
    request_id: int
    status: int | None             # HTTP status; None when ``failure`` is set
    body: bytes = b""
    failure: Failure | None = None
    detail: str = ""
    elapsed_ms: int = 0            # send to answer, as measured on the device side
    new_connection: bool = False

    @property
    def ok(self) -> bool:
        return self.failure is None


Deliver = Callable[[NetResult], None]


class Transport(Protocol):
    def submit(self, request: NetRequest, deliver: Deliver) -> None: ...

    def cancel(self, request_id: int) -> None: ...

    def close_connection(self, key: str) -> None: ...


@dataclass
class ConnectionStats:
    opened: dict[str, int] = field(default_factory=dict)   # per host
    closed_by_server: int = 0
    requests: dict[str, int] = field(default_factory=dict)  # per host

    def total_opened(self) -> int:
        return sum(self.opened.values())


@dataclass
class _Conn:
    host: str
    last_used: int
    in_flight: int = 0


class SimulatedNetwork:
    """A transport that calls the True API backend model directly, on the virtual clock."""

    def __init__(self, clock: VirtualClock, backend: TrueApiBackend, idle_timeout_ms: int = 180_000) -> None:
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
