"""The mock True API as real HTTPS servers on loopback, over the same backend model.

``TrueApiServers(backend, ca)`` serves every host of the backend (base and CDN
hosts of both contours, or the ``hosts`` given) with our own HTTP/1.1
protocol over h11 (``http11.Http11Connection``: keep-alive, the connection's
transport for the faults) and the ASGI front of ``asgi.py``. Each host gets
its own loopback address, ``127.0.0.2`` upward in
the backend's order (prod base, prod CDNs, sandbox base, sandbox CDNs; Linux
routes all of 127.0.0.0/8 to ``lo``), and a port (``port=0``: an ephemeral
one, reported by ``resolver()`` and kept for the life of the object, so a host
reopens on the same ip:port). Nothing binds outside 127.0.0.0/8.

No ASGI server's internals are used. The listening sockets are ours: an accept
callback on the loop hands each accepted socket to
``loop.connect_accepted_socket`` with the host's ``SSLContext`` and our own
asyncio ``Protocol`` (``http11.py``), which joins the host's
``ConnectionGroup``. So every socket is known, also while its TLS handshake
runs, every open connection and request task is known after it, and one host
can be closed, reopened or switched to another certificate without touching
the others. A reset is ``http11.reset_connection`` (SO_LINGER 0, then close).

Clients reach a host through ``resolver()`` (host name -> ``(ip, port)``), no
``/etc/hosts`` editing: connect to the address, send SNI and ``Host`` of the
real name (``url()`` and ``client_kwargs()`` do that for httpx) and trust
``ca_pem``.

Threads. All servers share one background thread running one asyncio event
loop; the public methods may be called from any other thread and return once
the change is in effect. The backend is not thread-safe: the front holds
``lock`` while ``backend.handle`` runs; callers that change the backend while
the servers run should hold it too (``with servers.lock: ...``).

TLS. Each host presents a certificate for its own name issued by the lab CA
(no IP address in it; TLS 1.2 minimum, from ``LabCA.server_context``). SNI
check: the host's ``SSLContext.sni_callback`` aborts the handshake when the
ClientHello names another host, or no host at all (``require_sni=False`` lets a
ClientHello without SNI through), so a client that connects to cdn02's address
asking for cdn01 fails the handshake. The callback asks OpenSSL for an
``unrecognized_name`` alert, but asyncio drops the connection without flushing
it: the client sees the connection end during the handshake (``SSLEOFError``).

Logging: requests ended on purpose (``DropConnection``, cancelled by
``stop()`` or a restart) are logged at debug level only; an app that fails
is logged as "Exception in ASGI application".

Transport faults, per host, switchable at run time:

* ``set_down(host, True)`` sets the backend's ``ServedHost.faults.down`` and closes the
  host's listening socket and drops its open connections (TCP RST): a connect
  gets a real ``ECONNREFUSED``. ``set_down(host, False)`` listens again on the
  same ip:port. ``ServedHost.faults.down`` is the single source of truth: a watcher in
  the server thread polls it every ``watch_interval_s`` (50 ms) and applies
  changes made directly on the backend; ``sync_faults()`` applies them at once.
  A request that reaches an open connection of a down host before the watcher
  acts gets the backend's ``refuse``: the connection is reset.
* ``set_cert_fault(host, "unknown-ca" | "expired" | "wrong-host" | None)``
  restarts the host's TLS (open connections are dropped) with a certificate
  from a second, untrusted lab CA / one that expired yesterday (validity is
  real wall-clock time, not the virtual clock) / one for ``WRONG_HOST_NAME``.
* ``set_handshake_stall(host, True)`` replaces the host's server by a raw
  listener on the same ip:port that accepts TCP, reads and never answers: no
  ServerHello ever comes, the client's connect/handshake timeout fires.

The TLS faults are also the backend's ``ServedHost.faults.tls_fault`` (``"stall"`` for
the handshake): a scenario or ``serve``'s configuration sets them there and
the watcher applies them like ``down``.

A ``refuse`` at the head of a host's plan acts before the connection: the
device's resolver table is ``route(request)``, which hands such a request to
the backend (consuming the item) and answers with a port on the host's
address that is bound but not listening — the connect gets a real
ECONNREFUSED. The other plan items and the backend's faults arrive per
request, after the connection is up (see ``asgi.py``); a ``refuse`` that
still reaches a server (a client that resolves by itself) resets the
connection before any response byte; ``close`` sends the headers and half of
the body, then closes; ``stall`` sends nothing until the client gives up (at
most ``stall_s``).

Keep-alive (also on the clock: ``expire_idle()`` closes connections idle for
``idle_timeout_s`` of the clock's time, for scenarios that advance it — at
once, a FIN without close_notify, and returns when the sockets are closed): a
connection idle for ``idle_timeout_s`` (the operator's 180 s by
default) is closed by the server (``Http11Connection``'s keep-alive timer): it sends
a TLS close_notify at once and drops the TCP connection when the client
answers it, or ``TLS_SHUTDOWN_TIMEOUT_S`` later.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from emulator.net.faults import CERT_FAULTS
from emulator.net.seam import NetRequest
from emulator.servers.trueapi.asgi import TrueApiApp
from emulator.servers.trueapi.http11 import DEFAULT_LIMITS, ConnectionGroup, Http11Connection, Limits, reset_connection
from emulator.servers.trueapi.routes import TrueApiBackend, error_body
from tls_store.lab_ca import LabCA

WRONG_HOST_NAME = "wrong-host.invalid"
DEFAULT_IDLE_TIMEOUT_S = 180.0
TLS_SHUTDOWN_TIMEOUT_S = 1.0     # after its close_notify the server waits this long for the client's, then drops TCP

log = logging.getLogger(__name__)
T = TypeVar("T")


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


class _SilentProtocol(asyncio.Protocol):
    """Accepts a connection and never says a word (a TLS handshake that stalls)."""

    def __init__(self, host: _Host) -> None:
        self.host = host

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.host.handshake_stalls += 1

    def data_received(self, data: bytes) -> None:
        pass


@dataclass(eq=False)
class _Host:
    name: str
    ip: str
    port: int
    app: TrueApiApp
    down: bool = False
    cert_fault: str | None = None
    handshake_stall: bool = False
    mode: tuple[str, str | None] | None = None        # what runs now: ("http", fault) / ("stall", None)
    listener: socket.socket | None = None
    group: ConnectionGroup = field(default_factory=ConnectionGroup)   # open HTTP connections, request tasks
    accepted: set[socket.socket] = field(default_factory=set)   # every accepted socket not yet closed
    setups: set[asyncio.Task[Any]] = field(default_factory=set)  # TLS handshakes in progress
    handshake_stalls: int = 0

    def wanted(self) -> tuple[str, str | None] | None:
        if self.down:
            return None
        if self.handshake_stall:
            return ("stall", None)
        return ("http", self.cert_fault)


class TrueApiServers:
    """HTTPS servers for the hosts of a ``TrueApiBackend`` on 127.0.0.x (see the module docstring)."""

    def __init__(self, backend: TrueApiBackend, ca: LabCA, hosts: Iterable[str] | None = None, *,
                 now_ms: Callable[[], int] = wall_clock_ms, port: int | Mapping[str, int] = 0,
                 first_ip: int = 2, idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S, stall_s: float = 60.0,
                 watch_interval_s: float = 0.05, require_sni: bool = True,
                 lock: threading.RLock | None = None, limits: Limits = DEFAULT_LIMITS) -> None:
        self.backend = backend
        self.limits = limits
        self.ca = ca
        self.now_ms = now_ms
        self.idle_timeout_s = float(idle_timeout_s)
        self.stall_s = float(stall_s)
        self.watch_interval_s = float(watch_interval_s)
        self.require_sni = require_sni
        self.lock = lock if lock is not None else threading.RLock()
        names = [n.strip().lower() for n in hosts] if hosts is not None else self._backend_order()
        known = set(backend.hosts())
        for n in names:
            if n not in known:
                raise KeyError(f"unknown host {n!r}")
        if len(set(names)) != len(names):
            raise ValueError("a host is named twice")
        if not 1 <= first_ip <= 255 - len(names):
            raise ValueError(f"first_ip {first_ip}: not enough room in 127.0.0.0/24 for {len(names)} hosts")
        self._hosts: dict[str, _Host] = {}
        self._refusers: dict[str, socket.socket] = {}   # ip -> a bound, never listening socket (see route)
        for i, name in enumerate(names):
            p = port.get(name, 0) if isinstance(port, Mapping) else int(port)
            app = TrueApiApp(backend, name, now_ms, lock=self.lock, stall_s=self.stall_s)
            self._hosts[name] = _Host(name, f"127.0.0.{first_ip + i}", p, app)
        self._contexts: dict[tuple[str, str | None], ssl.SSLContext] = {}
        self._rogue_ca: LabCA | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._watcher: asyncio.Task[None] | None = None

    def _backend_order(self) -> list[str]:
        out: list[str] = []
        for contour in self.backend.contours.values():
            out.append(contour.base_host)
            out.extend(contour.cdn_hosts)
        return out

    # -- lifecycle -------------------------------------------------------
    def start(self) -> TrueApiServers:
        if self._thread is not None:
            raise RuntimeError("already started")
        for h in self._hosts.values():                      # certificates before the thread: errors surface here
            self._context(h.name, None)
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(_quiet_exception_handler)
        self._loop = loop
        self._thread = threading.Thread(target=self._run_loop, name="trueapi-servers", daemon=True)
        self._thread.start()
        try:
            self._call(self._start_all())
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Close every listener and connection and end the thread (quick: well under 2 s)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            if thread.is_alive():
                with contextlib.suppress(Exception):
                    self._call(self._stop_all(), timeout=5)
                loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=5)
        finally:
            self._loop = None
            self._thread = None
            for sock in self._refusers.values():
                sock.close()
            self._refusers.clear()

    def __enter__(self) -> TrueApiServers:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run_loop(self) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def _require_running(self) -> None:
        if self._loop is None or self._thread is None:
            raise RuntimeError("the servers are not running (call start())")

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        loop = self._loop
        if loop is None or self._thread is None:
            coro.close()
            raise RuntimeError("the servers are not running (call start())")
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("TrueApiServers methods must not be called from the server thread")
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)

    # -- addresses -------------------------------------------------------
    @property
    def hosts(self) -> list[str]:
        return list(self._hosts)

    def _host(self, name: str) -> _Host:
        h = self._hosts.get(name.strip().lower())
        if h is None:
            raise KeyError(f"host {name!r} is not served here")
        return h

    def address(self, host: str) -> tuple[str, int]:
        h = self._host(host)
        return (h.ip, h.port)

    def resolver(self) -> dict[str, tuple[str, int]]:
        """Host name -> (ip, port) for every served host the backend still knows (ports are real after start())."""
        known = set(self.backend.hosts())
        return {n: (h.ip, h.port) for n, h in self._hosts.items() if n in known}

    def url(self, host: str, path: str = "/") -> str:
        """``https://127.0.0.x:port/path`` for ``host``; send it with ``client_kwargs(host)``."""
        ip, port = self.address(host)
        if not path.startswith("/"):
            path = "/" + path
        return f"https://{ip}:{port}{path}"

    def client_kwargs(self, host: str) -> dict[str, Any]:
        """httpx request arguments that give the real name as ``Host`` and SNI (and so as the checked name)."""
        name = self._host(host).name
        return {"headers": {"Host": name}, "extensions": {"sni_hostname": name}}

    @property
    def ca_pem(self) -> bytes:
        """The lab CA certificate a client must trust."""
        return self.ca.cert_pem

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client context trusting only the lab CA (hostname checking on)."""
        return ssl.create_default_context(cadata=self.ca_pem.decode("ascii"))

    # -- statistics ------------------------------------------------------
    def connections_opened(self, host: str) -> int:
        """HTTP connections accepted by ``host`` so far (TLS handshake done), over all restarts."""
        return self._host(host).group.opened

    def open_connections(self, host: str) -> int:
        return len(self._host(host).group.connections)

    def requests(self, host: str) -> int:
        """Requests the front handed to the backend for ``host``."""
        return self._host(host).app.requests

    # -- faults ----------------------------------------------------------
    def set_down(self, host: str, down: bool) -> None:
        h = self._host(host)
        self._require_running()
        with self.lock, contextlib.suppress(KeyError):
            self.backend.host(h.name).faults.down = bool(down)
        self._call(self._set(h, down=bool(down)))

    def route(self, request: NetRequest) -> tuple[str, int] | None:
        """The device's resolver table, with the one fault that must act before a connection.

        A ``refuse`` at the head of a host's plan cannot be served by a server that is
        listening: the request is handed to the backend here (which consumes the item
        and counts the request, as the simulated network does) and the device is sent
        to a port on the host's address that is bound but not listening, so its connect
        gets a real ECONNREFUSED from the kernel. Every other request goes to the host.
        """
        name = request.host.split(":", 1)[0]
        h = self._hosts.get(name)
        if h is None or name not in set(self.backend.hosts()):
            return None
        if self._loop is None:
            return h.ip, h.port                 # stopped: the connect is refused anyway
        with self.lock:
            state = self.backend.host(name)
            if state.faults.head() == "refuse" and not state.faults.down:
                self.backend.handle(name, request, self.now_ms())
                return self._refusing_address(h.ip)
        return h.ip, h.port

    def _refusing_address(self, ip: str) -> tuple[str, int]:
        sock = self._refusers.get(ip)
        if sock is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((ip, 0))                  # bound, never listening: connects are refused
            self._refusers[ip] = sock
        return ip, sock.getsockname()[1]

    def expire_idle(self) -> int:
        """Close every kept-alive connection idle for ``idle_timeout_s`` of the *clock's* time.

        The connections' own keep-alive timer runs on wall time; a scenario that advances the
        virtual clock past 180 s calls this so that the servers close what the simulated
        network would consider closed. Returns how many connections were closed.
        """
        return self._call(self._expire_idle())

    async def _expire_idle(self) -> int:
        now = self.now_ms()
        limit = int(self.idle_timeout_s * 1000)
        closing: list[tuple[_Host, Http11Connection]] = []
        for h in self._hosts.values():
            for p in list(h.group.connections):
                if (p.idle_since is not None and now - p.idle_since >= limit
                        and p.transport is not None and not p.transport.is_closing()):
                    # Closed at once (FIN, no close_notify): unlike the graceful keep-alive close, whose
                    # close_notify the client may not have read by its next request, the socket is
                    # closed when this returns, so the client finds it closed, always.
                    p.expire()
                    closing.append((h, p))
        deadline = time.monotonic() + 2.0
        while any(p in h.group.connections for h, p in closing):
            if time.monotonic() > deadline:
                log.warning("idle connections still open 2 s after they were closed")
                break
            await asyncio.sleep(0.002)          # connection_lost closes the socket on the loop
        return len(closing)

    def sync_faults(self) -> None:
        """Apply the backend's ``ServedHost.faults.down`` flags now (the watcher does it within ``watch_interval_s``)."""
        self._call(self._sync())

    def set_cert_fault(self, host: str, fault: str | None) -> None:
        if fault is not None and fault not in CERT_FAULTS:
            raise ValueError(f"unknown certificate fault {fault!r}: one of {', '.join(CERT_FAULTS)} or None")
        self._set_tls_fault(host, fault)

    def set_handshake_stall(self, host: str, on: bool) -> None:
        self._set_tls_fault(host, "stall" if on else None)

    def _set_tls_fault(self, host: str, fault: str | None) -> None:
        """Record the fault on the backend's host (the single source of truth) and apply it now.

        A host has one TLS fault at a time: a certificate fault replaces a stall and the
        other way round; clearing either clears the host's TLS fault.
        """
        h = self._host(host)
        self._require_running()
        with self.lock, contextlib.suppress(KeyError):
            self.backend.host(h.name).faults.tls_fault = fault
        if fault in CERT_FAULTS:
            self._context(h.name, fault)               # make the certificate here, not on the loop
        self._call(self._set(h, cert_fault=fault if fault in CERT_FAULTS else None,
                             handshake_stall=fault == "stall"))

    def cert_fault(self, host: str) -> str | None:
        return self._host(host).cert_fault

    def is_listening(self, host: str) -> bool:
        return self._host(host).listener is not None

    # -- TLS -------------------------------------------------------------
    def _context(self, name: str, fault: str | None) -> ssl.SSLContext:
        key = (name, fault)
        ctx = self._contexts.get(key)
        if ctx is not None:
            return ctx
        if fault is None:
            cert = self.ca.issue_server([name], ip_addresses=[])
        elif fault == "unknown-ca":
            if self._rogue_ca is None:
                self._rogue_ca = LabCA.create(common_name="kkt-emu untrusted CA")
            cert = self._rogue_ca.issue_server([name], ip_addresses=[])
        elif fault == "expired":
            now = datetime.now(UTC)
            cert = self.ca.issue_server([name], ip_addresses=[], not_before=now - timedelta(days=30),
                                        not_after=now - timedelta(days=1))
        else:
            cert = self.ca.issue_server([WRONG_HOST_NAME], ip_addresses=[])
        ctx = self.ca.server_context(cert)
        ctx.sni_callback = _sni_check(name, self.require_sni)
        self._contexts[key] = ctx
        return ctx

    # -- the server thread -------------------------------------------------
    async def _start_all(self) -> None:
        try:
            for h in self._hosts.values():
                with contextlib.suppress(KeyError):
                    self._take_faults(h)            # the configured faults from the first connection on
                await self._apply(h)
        except BaseException:
            await self._stop_all()
            raise
        self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def _stop_all(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._watcher
            self._watcher = None
        for h in self._hosts.values():
            await self._close(h)

    async def _watch(self) -> None:
        peak = 0
        while True:
            await asyncio.sleep(self.watch_interval_s)
            try:
                await self._sync()
            except Exception:                       # keep watching whatever happens
                log.exception("applying the backend's down and TLS faults failed")
            # A crowd of clients gone: give their buffers (256 KiB of TLS buffer each) back to the system.
            now = sum(len(h.group.connections) + len(h.setups) for h in self._hosts.values())
            peak = max(peak, now)
            if now == 0 and peak >= RELEASE_AFTER_CONNECTIONS:
                peak = 0
                release_free_memory()

    def _take_faults(self, h: _Host) -> bool:
        """Copy the backend's down flag and TLS fault of ``h``; True when they changed."""
        state = self.backend.host(h.name)
        tls = state.faults.tls_fault
        wanted = (state.faults.down, tls if tls in CERT_FAULTS else None, tls == "stall")
        if wanted == (h.down, h.cert_fault, h.handshake_stall):
            return False
        h.down, h.cert_fault, h.handshake_stall = wanted
        return True

    async def _sync(self) -> None:
        for h in self._hosts.values():
            try:
                changed = self._take_faults(h)
            except KeyError:                        # host dropped from the backend: requests get "resolve"
                continue
            if changed:
                await self._apply(h)

    async def _set(self, h: _Host, **changes: Any) -> None:
        for k, v in changes.items():
            setattr(h, k, v)
        await self._apply(h)

    async def _apply(self, h: _Host) -> None:
        wanted = h.wanted()
        if wanted == h.mode:
            return
        await self._close(h)
        if wanted is None:
            return
        sock = self._listen_socket(h)
        protocol: Callable[[], asyncio.Protocol]
        ctx: ssl.SSLContext | None = None
        if wanted[0] == "stall":
            def protocol() -> asyncio.Protocol:
                return _SilentProtocol(h)
        else:
            ctx = self._context(h.name, wanted[1])
            protocol = self._http_protocol(h)
        h.listener = sock
        asyncio.get_running_loop().add_reader(sock.fileno(), self._accept, h, sock, protocol, ctx)
        h.mode = wanted

    def _listen_socket(self, h: _Host) -> socket.socket:
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only for that
        # protocol number; without it every answer (headers, then body) waits ~40 ms for the
        # client's delayed ACK (Nagle).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((h.ip, h.port))
            sock.listen(128)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        h.port = sock.getsockname()[1]          # an ephemeral port is kept for later reopenings
        return sock

    def _http_protocol(self, h: _Host) -> Callable[[], asyncio.Protocol]:
        def protocol() -> asyncio.Protocol:
            return Http11Connection(h.app, h.group, self.now_ms, keep_alive_s=self.idle_timeout_s,
                                    limits=self.limits, error_body=error_body)
        return protocol

    def _accept(self, h: _Host, listener: socket.socket, protocol: Callable[[], asyncio.Protocol],
                ctx: ssl.SSLContext | None) -> None:
        """Accept what is waiting (our own accept loop, so that every socket is known to ``_close``)."""
        loop = asyncio.get_running_loop()
        for _ in range(128):
            try:
                conn, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue
            except OSError as exc:              # e.g. out of file descriptors: try again on the next wake-up
                log.warning("accept on %s failed: %s", h.name, exc)
                return
            if len(h.group.connections) + len(h.setups) >= self.limits.max_connections:
                reset_connection(conn)          # full: refused at once, nothing kept for it
                conn.close()
                continue
            conn.setblocking(False)
            if len(h.accepted) >= 64:
                h.accepted = {s for s in h.accepted if s.fileno() != -1}
            h.accepted.add(conn)
            task = loop.create_task(self._setup(h, conn, protocol, ctx, self.limits.handshake_timeout_s))
            h.setups.add(task)
            task.add_done_callback(h.setups.discard)

    @staticmethod
    async def _setup(h: _Host, conn: socket.socket, protocol: Callable[[], asyncio.Protocol],
                     ctx: ssl.SSLContext | None, handshake_timeout_s: float) -> None:
        loop = asyncio.get_running_loop()
        try:
            if ctx is None:
                await loop.connect_accepted_socket(protocol, conn)
            else:
                await loop.connect_accepted_socket(protocol, conn, ssl=ctx,
                                                   ssl_handshake_timeout=handshake_timeout_s,
                                                   ssl_shutdown_timeout=TLS_SHUTDOWN_TIMEOUT_S)
        except asyncio.CancelledError:
            conn.close()
            raise
        except Exception as exc:
            # The handshake failed (SNI check, the client left or rejected our certificate): asyncio closed it.
            log.debug("%s: connection setup failed: %r", h.name, exc)
            conn.close()

    async def _close(self, h: _Host) -> None:
        """Stop listening and drop every connection of ``h`` (RST), ending its requests quietly."""
        listener = h.listener
        h.listener, h.mode = None, None
        if listener is not None:
            asyncio.get_running_loop().remove_reader(listener.fileno())
            listener.close()                    # connects are refused from here on
        for conn in list(h.group.connections):
            if conn.transport is not None:      # also those waiting for a TLS close_notify
                reset_connection(conn.transport)
        # Connections still in a TLS handshake, or silent ones: shut the socket down under asyncio's feet;
        # their transports see the end of the stream and close themselves.
        for sock in list(h.accepted):
            reset_connection(sock)
        await asyncio.sleep(0)                  # connection_lost runs: the apps see a disconnect
        await asyncio.sleep(0)
        tasks = [t for t in h.group.tasks if not t.done()]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)
        deadline = asyncio.get_running_loop().time() + 1.0
        while any(s.fileno() != -1 for s in h.accepted) or h.setups:
            if asyncio.get_running_loop().time() > deadline:
                for t in list(h.setups):
                    t.cancel()
                for s in h.accepted:
                    with contextlib.suppress(OSError):
                        s.close()
                log.warning("%s: connections did not close in time; closed them by force", h.name)
                break
            await asyncio.sleep(0.005)
        h.accepted = {s for s in h.accepted if s.fileno() != -1}


RELEASE_AFTER_CONNECTIONS = 64


def release_free_memory() -> None:
    """Hand memory Python has freed back to the system (glibc's ``malloc_trim``; elsewhere nothing).

    glibc keeps freed heap for reuse, so without this the process stays as large as its
    largest crowd of connections."""
    global _trim
    if _trim is None:
        try:
            _trim = ctypes.CDLL(None).malloc_trim
        except (OSError, AttributeError):
            _trim = False
    if _trim:
        _trim(0)


_trim: Any = None


def _sni_check(name: str, require_sni: bool) -> Callable[[ssl.SSLObject, str | None, ssl.SSLContext], int | None]:
    def check(_sslobj: ssl.SSLObject, server_name: str | None, _ctx: ssl.SSLContext) -> int | None:
        if server_name is None:
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME if require_sni else None
        if server_name.rstrip(".").lower() != name:
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
        return None
    return check


def _quiet_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Handshake failures and resets are what the fault switches are for: keep them at debug level."""
    log.debug("server loop: %s", context.get("message"), exc_info=context.get("exception"))
