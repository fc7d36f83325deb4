"""The real network: the device's requests over real sockets and real TLS.

Two parts, both behind the interfaces the simulated network already uses:

``RealTimeDriver`` steps the virtual clock with the wall clock. The device
core stays single-threaded: worker threads never call it; they ``post``
results, and the driver runs them on its own thread at the matching virtual
time, together with whatever timers (the 1.5 s decision deadline, the 2 s
health-check timeout) fell due meanwhile. Virtual time may still jump
(``clock.advance`` between inputs), so a scenario that waits 15 minutes for a
block to expire does not wait 15 real minutes.

``RealNetwork`` implements ``Transport`` with httpx:

* host names resolve through a table (``name -> (ip, port)``), not DNS: the
  mock hosts live on 127.0.0.x; the request goes to that address with the real
  name in ``Host`` and in the TLS SNI, so certificate host-name checks happen;
* a connection key gets its own ``httpx.Client`` holding one kept-alive
  connection (one per receipt and host, as the device wants); ``key=None`` is a
  one-shot client with ``Connection: close`` (health checks);
* TLS comes from a context factory (the device's ``TlsStore`` with option 92):
  a ``TlsError`` there (no roots: 651) fails the request before any socket;
* failures are classified from the real exception by ``tls_store.errors``
  into ``Failure`` values (so 654-658 and 748 come from what really happened);
  the phase (connect, handshake, write, read) is known from httpcore's trace
  events, which also say whether a new connection was opened;
* a cancelled request's answer is dropped by request, not by id: ids restart
  with each device instance (a power cycle), so a late answer to a request of
  the old device must not swallow the answer to the new device's request
  that happens to have the same id, nor the other way round.
"""

from __future__ import annotations

import queue
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from emulator.base.clock import VirtualClock
from emulator.base.failures import Failure
from emulator.net.seam import ConnectionStats, Deliver, NetRequest, NetResult
from emulator.net.workers import LinkWorkers
from tls_store.errors import TlsError, classify_detail

Resolver = Callable[[str], tuple[str, int] | None]


class RealTimeDriver:
    """Runs the virtual clock at wall-clock pace and hands posted work to the device thread.

    ``speed`` is the pace of an idle device (``serve``'s training console sets it): 1 is
    real time, 0 stands the clock still, 3600 runs an hour a second. While ``hold()`` is
    true (the device waits for an answer from the network) the clock runs at 1 whatever
    the speed, so a deadline means what it means on a real till; at another speed than 1
    the timers fire one at a time and the clock stops racing at the first that sends
    something.
    """

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self._q: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self.speed = 1.0
        self.hold: Callable[[], bool] = _never

    def post(self, fn: Callable[[], None]) -> None:
        """Thread-safe: run ``fn`` on the driver's thread, at the virtual time it arrives."""
        self._q.put(fn)

    def now_ms(self) -> int:
        return self.clock.now_ms

    def _drain(self) -> None:
        while True:
            try:
                fn = self._q.get_nowait()
            except queue.Empty:
                return
            fn()

    def _rate(self) -> float:
        return 1.0 if self.speed == 1.0 or self.hold() else self.speed

    def _run_to(self, target: int) -> bool:
        """The clock on to ``target``; at another speed, timer by timer, False when one set ``hold``."""
        if self.speed == 1.0:
            self.clock.run_until(max(target, self.clock.now_ms))
            return True
        while True:
            due = self.clock.next_due()
            if due is None or due > target:
                break
            self.clock.step()
            if self.hold():
                return False
        self.clock.run_until(max(target, self.clock.now_ms))
        return True

    def run_while(self, condition: Callable[[], bool], max_ms: int, poll_ms: int = 20) -> bool:
        """Let wall time pass (mapped onto the clock at ``speed``) while ``condition()`` holds, at most ``max_ms``."""
        end = self.clock.now_ms + max_ms
        last = time.monotonic()
        virt = float(self.clock.now_ms)

        def catch_up() -> int:
            nonlocal last, virt
            now = time.monotonic()
            virt = max(virt, float(self.clock.now_ms)) + (now - last) * 1000 * self._rate()
            last = now
            target = min(end, int(virt))
            if not self._run_to(target):
                virt = float(self.clock.now_ms)
            return target

        while True:
            target = catch_up()
            self._drain()
            if not condition():
                return True
            if target >= end:
                return False
            nd = self.clock.next_due()
            rate = max(self._rate(), 1e-9)
            wait_ms = min(poll_ms, max(0.0, (end - self.clock.now_ms) / rate))
            if nd is not None:
                wait_ms = max(0.0, min(wait_ms, (nd - self.clock.now_ms) / rate))
            try:
                fn = self._q.get(timeout=wait_ms / 1000)
            except queue.Empty:
                continue
            catch_up()
            fn()

    def run_forever(self, stop: threading.Event, poll_ms: int = 50) -> None:
        """For ``serve``: keep the clock on wall time until ``stop`` is set."""
        while not stop.is_set():
            self.run_while(lambda: not stop.is_set(), 1000, poll_ms)


def _never() -> bool:
    return False


class _Trace:
    """Follows httpcore's trace events of one request: the phase reached, a new connection."""

    def __init__(self, on_connect: Callable[[], None]) -> None:
        self.phase = "connect"
        self.new_connection = False
        self._on_connect = on_connect

    def __call__(self, name: str, info: dict[str, Any]) -> None:
        if name.startswith("connection.connect_tcp.started"):
            self.new_connection = True
            self.phase = "connect"
            self._on_connect()
        elif name.startswith("connection.start_tls.started"):
            self.phase = "handshake"
        elif name.startswith("http11.send_request"):
            self.phase = "write"
        elif name.startswith("http11.receive_response"):
            self.phase = "read"


class _Flight:
    """One submitted request, until its answer is handed over or it is cancelled."""

    __slots__ = ("cancelled", "key")

    def __init__(self, key: str | None) -> None:
        self.key = key
        self.cancelled = False


class RealNetwork:
    def __init__(self, driver: RealTimeDriver, resolve: Resolver | dict[str, tuple[str, int]],
                 ssl_context: Callable[[], ssl.SSLContext], *, workers: int = 16,
                 route: Callable[[NetRequest], tuple[str, int] | None] | None = None) -> None:
        """``resolve`` maps a host name to (ip, port); ``route``, when given, maps a whole request
        instead (``TrueApiServers.route``: the resolver table with the faults that act before
        a connection)."""
        self.driver = driver
        self._resolve: Resolver = resolve.get if isinstance(resolve, dict) else resolve
        self._route = route
        self._ssl_context = ssl_context
        self.stats = ConnectionStats()
        self._clients: dict[str, httpx.Client] = {}
        self._busy: dict[int, int] = {}          # id(client) -> requests a worker is running on it
        self._inflight: dict[int, _Flight] = {}     # by id: the device's own requests now in flight
        self._lock = threading.Lock()
        self._workers = LinkWorkers(driver.post, workers, "kkt-net")
        self.trace: Callable[[str, NetRequest | NetResult], None] | None = None

    # -- Transport ----------------------------------------------------------
    def submit(self, request: NetRequest, deliver: Deliver) -> None:
        flight = _Flight(request.key)
        with self._lock:
            self._inflight[request.id] = flight
        host = request.host
        self.stats.requests[host] = self.stats.requests.get(host, 0) + 1
        if self.trace:
            self.trace("send", request)
        name = host.split(":", 1)[0]
        address = self._route(request) if self._route is not None else (self._resolve(host) or self._resolve(name))
        if address is None:
            self._post(flight, deliver, NetResult(request.id, None, failure=Failure.RESOLVE,
                                                  detail=f"unknown host {host}"))
            return
        try:
            ctx = self._ssl_context()
        except TlsError as exc:
            failure = Failure.TLS_SETTINGS if exc.code == 651 else Failure.TLS_INPUT
            self._post(flight, deliver, NetResult(request.id, None, failure=failure, detail=str(exc)))
            return
        with self._lock:
            client = self._clients.get(request.key) if request.key is not None else None
            kept = client is not None           # the request goes on the key's kept-alive client
            if client is None:
                client = self._new_client(ctx, request.timeout_ms)
                if request.key is not None:
                    self._clients[request.key] = client
            self._busy[id(client)] = self._busy.get(id(client), 0) + 1
        self._workers.submit(lambda: self._do(request, flight, client, address, name, deliver, kept))

    # A client is never closed while a worker is reading its socket: closing frees the
    # descriptor at once, a new connection may get the same number, and the worker's late
    # read would then take the new connection's bytes. Such a client is only forgotten
    # here; the worker closes it when its request returns.
    def _release(self, key: str) -> None:
        with self._lock:
            client = self._clients.pop(key, None)
            busy = client is not None and self._busy.get(id(client), 0) > 0
        if client is not None and not busy:
            client.close()

    @property
    def in_flight(self) -> bool:
        """A request is out, or its answer has not been handed to the device yet."""
        with self._lock:
            return bool(self._inflight)

    def cancel(self, request_id: int) -> None:
        with self._lock:
            flight = self._inflight.pop(request_id, None)
            if flight is not None:
                flight.cancelled = True
        if flight is not None and flight.key is not None:
            self._release(flight.key)  # an abandoned HTTP/1.1 request leaves its connection unusable

    def close_connection(self, key: str) -> None:
        self._release(key)

    def open_connections(self) -> list[str]:
        with self._lock:
            return sorted(self._clients)

    def close(self) -> None:
        with self._lock:
            clients = list(self._clients.values())
            self._clients.clear()
        for c in clients:
            c.close()
        self._workers.shutdown()

    # -- plumbing --------------------------------------------------------------
    @staticmethod
    def _new_client(ctx: ssl.SSLContext, timeout_ms: int) -> httpx.Client:
        t = timeout_ms / 1000
        return httpx.Client(verify=ctx, timeout=httpx.Timeout(t, connect=t), trust_env=False,
                            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1,
                                                keepalive_expiry=None),
                            headers={"User-Agent": "kkt-emu"})

    def _do(self, request: NetRequest, flight: _Flight, client: httpx.Client, address: tuple[str, int],
            name: str, deliver: Deliver, kept: bool = False) -> None:
        ip, port = address

        def count_connection() -> None:
            with self._lock:
                self.stats.opened[request.host] = self.stats.opened.get(request.host, 0) + 1

        trace = _Trace(count_connection)
        t0 = time.monotonic()
        headers = [("Host", request.host)] + [(k, v) for k, v in request.headers]
        try:
            resp = client.request(request.method, f"https://{ip}:{port}{request.path}", headers=headers,
                                  content=request.body or None,
                                  extensions={"sni_hostname": name, "trace": trace})
            elapsed = int((time.monotonic() - t0) * 1000)
            result = NetResult(request.id, resp.status_code, resp.content, elapsed_ms=elapsed,
                               new_connection=trace.new_connection)
        except Exception as exc:  # every transport failure becomes a classified result
            elapsed = int((time.monotonic() - t0) * 1000)
            failure, detail = classify_detail(exc, trace.phase)
            new_connection = trace.new_connection
            if failure is Failure.REFUSED and kept and new_connection:
                # A refused connect instead of the key's kept-alive connection (a `refuse` plan item
                # routes it to a closed port): no connection was opened; the kept one is gone,
                # as on the simulated network.
                new_connection = False
                with self._lock:
                    self.stats.opened[request.host] -= 1
            result = NetResult(request.id, None, failure=failure, detail=detail, elapsed_ms=elapsed,
                               new_connection=new_connection)
            if request.key is not None:
                with self._lock:  # its connection is unusable now
                    if self._clients.get(request.key) is client:
                        del self._clients[request.key]
        finally:
            with self._lock:
                self._busy[id(client)] -= 1
                idle = self._busy[id(client)] == 0
                if idle:
                    del self._busy[id(client)]
                registered = request.key is not None and self._clients.get(request.key) is client
            if idle and not registered:
                client.close()   # one-shot, failed, abandoned or released while we were reading
        self._post(flight, deliver, result)

    def _post(self, flight: _Flight, deliver: Deliver, result: NetResult) -> None:
        def fire() -> None:
            with self._lock:
                if flight.cancelled:
                    return
                if self._inflight.get(result.request_id) is flight:
                    del self._inflight[result.request_id]
            if self.trace:
                self.trace("recv", result)
            deliver(result)

        self.driver.post(fire)
