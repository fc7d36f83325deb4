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

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from emulator.base.failures import Failure


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
