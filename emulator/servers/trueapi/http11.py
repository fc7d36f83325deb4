"""A small HTTP/1.1 server protocol of our own, over h11, that runs an ASGI app.

Why our own. The mock's transport faults act below ASGI: a TCP reset before
any response byte, half a body then the end of the connection, dropping every
connection of one host, closing connections idle on the *virtual* clock,
counting connections. ASGI servers do not expose the connection, so instead
of reaching into one's internals this module is the asyncio ``Protocol`` the
accepted (TLS) transport talks to: h11 parses and frames, and the protocol
knows its transport, its idle time and its request task.

Theory of operation. ``Http11Connection`` is created per accepted connection
(``loop.connect_accepted_socket``) and joins its host's ``ConnectionGroup``
(``connection_made``, after the TLS handshake) until ``connection_lost``.
Requests are served one at a time: a ``h11.Request`` starts one task running
the ASGI app with an ``http`` scope (``raw_path`` and ``query_string`` as
received, headers as h11 gives them: order and duplicates kept, names in
lower case); ``receive()`` gives the body, then ``http.disconnect`` once the
answer is complete or the client is gone; ``send()`` frames the answer with
h11 (a ``date`` header first, no ``server`` header; ``Connection: close`` or
an HTTP/1.0 client closes after the answer). The transport is in the scope
under ``scope["extensions"][TRANSPORT_EXTENSION]["transport"]`` (an ASGI
extension of ours), so the app can reset or close the connection itself.

Keep-alive: after each complete answer the connection waits for the next
request for ``keep_alive_s`` of wall time, then closes gracefully
(``transport.close()``: a TLS close_notify first); ``idle_since`` is the
clock's time of the last complete answer (None while a request is open), for
``TrueApiServers.expire_idle()``. A request h11 rejects gets 400
``Invalid HTTP request received.`` and the connection is closed; an app that
fails before answering gives 500 ``Internal Server Error``; one that fails or
returns mid-answer closes the connection.

Limits (``Limits``; the defaults are the mock's, documented in the README):
a request's head (request line and headers) must arrive within
``head_timeout_s`` of its first byte — or of the connection, for a client that
connects and says nothing — and be at most ``max_head_bytes`` (h11's
incomplete-event limit): else 408 or 431 and the connection is closed. A body
larger than ``max_body_bytes`` is refused with 413 as soon as its
``Content-Length`` says so, or when a chunked body passes the limit, without
reading it into memory; a body that stalls for ``head_timeout_s`` between two
pieces gets 408. The error answers are JSON of the True API's error shape
(``{"code": <status>, "description": ...}``, ``error_body``) when the app
gives one, and every one closes the connection. A client that goes away
releases what its request held: the request task sees ``http.disconnect``,
the body read so far is dropped.

``reset_connection()`` is the one way a connection is dropped with a TCP RST (SO_LINGER
0, then abort or shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import logging
import socket
import struct
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from urllib.parse import unquote

import h11

TRANSPORT_EXTENSION = "kkt_emu.transport"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]

log = logging.getLogger(__name__)

_LINGER_ZERO = struct.pack("ii", 1, 0)


class DropConnection(Exception):
    """Raised by an app to make the server drop the connection (a deliberate fault, not a bug)."""


def reset_connection(conn: asyncio.Transport | socket.socket) -> None:
    """Drop a connection at once with a TCP RST: SO_LINGER 0, then close.

    A transport is aborted; a bare socket (asyncio may still own it, e.g. during a
    TLS handshake) is shut down, and its transport closes itself on the end of stream.
    """
    sock = conn if isinstance(conn, socket.socket) else conn.get_extra_info("socket")
    if sock is not None and sock.fileno() != -1:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
            if isinstance(conn, socket.socket):
                sock.shutdown(socket.SHUT_RDWR)
    if not isinstance(conn, socket.socket):
        conn.abort()


_date_cache: tuple[int, bytes] = (0, b"")


def date_header() -> bytes:
    """The ``Date`` header value of this second (cached)."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True).encode())
    return _date_cache[1]


def _reason(status: int) -> bytes:
    try:
        return http.HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


@dataclass(frozen=True)
class Limits:
    """What one request may take (see the module docstring)."""

    max_body_bytes: int = 1 << 20        # 1 MiB: a codes/check of 1000 codes is ~100 kB
    max_head_bytes: int = 16 << 10       # 16 KiB of request line and headers (h11's default)
    head_timeout_s: float = 10.0         # for the head after its first byte, and between two body pieces
    handshake_timeout_s: float = 10.0    # for the TLS handshake (applied by servers.py)
    max_connections: int = 256           # open connections of one host (servers.py): more are reset at once


DEFAULT_LIMITS = Limits()
PLAIN_ERRORS = {400: b"Invalid HTTP request received.", 408: b"Request Timeout",
                413: b"Request body too large", 431: b"Request header fields too large"}


@dataclass(eq=False)
class ConnectionGroup:
    """The open connections of one served host and their request tasks."""

    connections: set[Http11Connection] = field(default_factory=set)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    opened: int = 0                      # connections made (TLS handshake done), ever


@dataclass(eq=False)
class _Cycle:
    """One request and its answer."""

    scope: Scope
    body: list[bytes] = field(default_factory=list)
    more_body: bool = True
    event: asyncio.Event = field(default_factory=asyncio.Event)
    started: bool = False
    complete: bool = False
    disconnected: bool = False
    keep_alive: bool = True


class Http11Connection(asyncio.Protocol):
    """One HTTP/1.1 connection serving an ASGI app (see the module docstring)."""

    def __init__(self, app: ASGIApp, group: ConnectionGroup, now_ms: Callable[[], int], *,
                 keep_alive_s: float, scheme: str = "https", limits: Limits = DEFAULT_LIMITS,
                 error_body: Callable[[int, str], bytes] | None = None) -> None:
        self.app = app
        self.group = group
        self.now_ms = now_ms
        self.keep_alive_s = keep_alive_s
        self.scheme = scheme
        self.limits = limits
        self.error_body = error_body        # (status, text) -> a JSON error body; None: plain text
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=limits.max_head_bytes)
        self.read_timer: asyncio.TimerHandle | None = None   # the head (or a body piece) must come by then
        self.body_bytes = 0
        self.transport: asyncio.Transport | None = None
        self.cycle: _Cycle | None = None
        self.keep_alive_timer: asyncio.TimerHandle | None = None
        self.idle_since: int | None = None            # the clock's time of the last complete answer
        self.arrival: tuple[int, float] | None = None  # (clock ms, monotonic s) when the request began
        self.date = date_header()

    # -- asyncio.Protocol ------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.group.connections.add(self)
        self.group.opened += 1
        self._expect_data()            # a client that connects and says nothing is not kept

    def connection_lost(self, exc: Exception | None) -> None:
        self.group.connections.discard(self)
        self._cancel_keep_alive()
        self._cancel_read_timer()
        if self.cycle is not None:
            self.cycle.disconnected = True
            self.cycle.body = []          # what the client sent is released with it
            self.cycle.event.set()
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self.arrival is None:
            self.arrival = (self.now_ms(), time.monotonic())
        self.idle_since = None
        self.date = date_header()
        if self.keep_alive_timer is not None:   # the first byte of a kept-alive connection's next request
            self._cancel_keep_alive()
            self._expect_data()
        self.h11.receive_data(data)
        self._events()

    # -- limits --------------------------------------------------------------
    def _expect_data(self) -> None:
        """(Re)start the clock for the head, or the next body piece: ``head_timeout_s``."""
        self._cancel_read_timer()
        with contextlib.suppress(RuntimeError):      # no running loop: a protocol driven by hand in a test
            self.read_timer = asyncio.get_running_loop().call_later(self.limits.head_timeout_s, self._read_late)

    def _cancel_read_timer(self) -> None:
        if self.read_timer is not None:
            self.read_timer.cancel()
            self.read_timer = None

    def _read_late(self) -> None:
        self.read_timer = None
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self.cycle is not None and self.cycle.started:
            transport.close()                      # answering already: nothing more to say
        elif self.h11.their_state is h11.IDLE and not self.h11.trailing_data[0] and self.cycle is None:
            transport.close()                      # nothing of a request came: just close
        else:
            self._refuse(408, "the request did not arrive in time")

    def _refuse(self, status: int, text: str) -> None:
        """An error answer that closes the connection; the request being read is abandoned."""
        if self.cycle is not None:
            self.cycle.disconnected = True         # the app stops waiting for the body
            self.cycle.body = []
            self.cycle.event.set()
        if self.error_body is not None:
            self._send_simple(status, self.error_body(status, text), b"application/json; charset=utf-8")
        else:
            self._send_simple(status, PLAIN_ERRORS.get(status, text.encode()))

    # -- requests ----------------------------------------------------------
    def _events(self) -> None:
        transport = self.transport
        assert transport is not None
        while not transport.is_closing():
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                if exc.error_status_hint == 431:
                    self._refuse(431, f"the request head is larger than {self.limits.max_head_bytes} bytes")
                else:
                    self._send_simple(400, PLAIN_ERRORS[400])
                return
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return
            if isinstance(event, h11.Request):
                if not self._request_fits(event):
                    return
                self._start(event)
            elif isinstance(event, h11.Data):
                self.body_bytes += len(event.data)
                if self.body_bytes > self.limits.max_body_bytes:
                    self._refuse(413, f"the request body is larger than {self.limits.max_body_bytes} bytes")
                    return
                self._expect_data()
                if self.cycle is not None and not self.cycle.complete:
                    self.cycle.body.append(bytes(event.data))
                    self.cycle.event.set()
            elif isinstance(event, h11.EndOfMessage):
                self._cancel_read_timer()
                if self.h11.our_state is h11.DONE:     # answered before the body ended
                    self.h11.start_next_cycle()
                    continue
                if self.cycle is not None:
                    self.cycle.more_body = False
                    self.cycle.event.set()
            else:                                      # ConnectionClosed and the like
                return

    def _request_fits(self, event: h11.Request) -> bool:
        """False (and 431 or 413 sent) when the head, or the body its Content-Length announces, is too large.

        h11 limits a head still arriving (``max_incomplete_event_size``); one that came whole in
        one piece is measured here."""
        self.body_bytes = 0
        size = len(event.method) + len(event.target) + 12 + sum(len(k) + len(v) + 4 for k, v in event.headers)
        if size > self.limits.max_head_bytes:
            self._refuse(431, f"the request head is larger than {self.limits.max_head_bytes} bytes")
            return False
        for k, v in event.headers:
            if bytes(k).lower() == b"content-length" and int(bytes(v)) > self.limits.max_body_bytes:
                self._refuse(413, f"the request body is larger than {self.limits.max_body_bytes} bytes")
                return False
        self._expect_data()                            # the body's pieces, each within head_timeout_s
        return True

    def _start(self, event: h11.Request) -> None:
        transport = self.transport
        assert transport is not None
        raw_path, _, query = bytes(event.target).partition(b"?")
        scope: Scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": event.http_version.decode("ascii"),
            "method": event.method.decode("ascii"),
            "scheme": self.scheme,
            "path": unquote(raw_path.decode("latin-1")),
            "raw_path": raw_path,
            "query_string": query,
            "root_path": "",
            "headers": [(bytes(k).lower(), bytes(v)) for k, v in event.headers],
            "server": transport.get_extra_info("sockname"),
            "client": transport.get_extra_info("peername"),
            "extensions": {TRANSPORT_EXTENSION: {"transport": transport}},
        }
        cycle = _Cycle(scope)
        connection = [v for k, v in event.headers if bytes(k).lower() == b"connection"]
        if any(b"close" in bytes(v).lower() for v in connection) or event.http_version == b"1.0":
            cycle.keep_alive = False
        self.cycle = cycle
        task = asyncio.get_running_loop().create_task(self._run(cycle))
        self.group.tasks.add(task)
        task.add_done_callback(self.group.tasks.discard)

    async def _run(self, cycle: _Cycle) -> None:
        async def receive() -> Message:
            if not cycle.disconnected and not cycle.complete:
                await cycle.event.wait()       # set by body data, the end of the body, the answer, a disconnect
                cycle.event.clear()
            if cycle.disconnected or cycle.complete:
                return {"type": "http.disconnect"}
            body, cycle.body = b"".join(cycle.body), []
            return {"type": "http.request", "body": body, "more_body": cycle.more_body}

        async def send(message: Message) -> None:
            self._send(cycle, message)

        try:
            await self.app(cycle.scope, receive, send)
        except (Exception, asyncio.CancelledError) as exc:
            if isinstance(exc, DropConnection | asyncio.CancelledError):
                log.debug("request ended: %r", exc)
            else:
                log.exception("Exception in ASGI application")
            if not cycle.started and not cycle.disconnected:
                self._send_simple(500, b"Internal Server Error")
            elif self.transport is not None and not cycle.complete:
                self.transport.close()
            return
        if cycle.disconnected or self.transport is None:
            return
        if not cycle.started:
            log.error("ASGI callable returned without starting response.")
            self._send_simple(500, b"Internal Server Error")
        elif not cycle.complete:
            log.error("ASGI callable returned without completing response.")
            self.transport.close()

    def _send(self, cycle: _Cycle, message: Message) -> None:
        transport = self.transport
        if cycle.disconnected or transport is None or transport.is_closing():
            return
        kind = message.get("type")
        if kind == "http.response.start" and not cycle.started:
            cycle.started = True
            status = int(message["status"])
            headers = [(b"date", self.date), *((bytes(k), bytes(v)) for k, v in message.get("headers") or ())]
            for k, v in headers:
                if k.lower() == b"connection" and b"close" in v.lower():
                    cycle.keep_alive = False
            transport.write(self.h11.send(h11.Response(status_code=status, headers=headers,
                                                       reason=_reason(status))) or b"")
        elif kind == "http.response.body" and cycle.started and not cycle.complete:
            body = bytes(message.get("body") or b"")
            if body and cycle.scope["method"] != "HEAD":
                transport.write(self.h11.send(h11.Data(data=body)) or b"")
            if not message.get("more_body", False):
                cycle.complete = True
                cycle.event.set()
                transport.write(self.h11.send(h11.EndOfMessage()) or b"")
                self._answered(cycle)
        else:
            raise RuntimeError(f"unexpected ASGI message {kind!r}")

    def _answered(self, cycle: _Cycle) -> None:
        """The answer is complete: close, or keep the connection for the next request."""
        transport = self.transport
        assert transport is not None
        # The clock's time the answer went out. Read straight from the clock it can be late: once
        # the client has the answer its thread may move the clock on (a scenario's `advance`)
        # before this thread gets here. While a request is open the clock only follows the wall
        # clock, so the arrival time plus the wall time since is the answer's time.
        now = self.now_ms()
        if self.arrival is not None:
            clock_ms, wall_s = self.arrival
            now = min(now, clock_ms + int((time.monotonic() - wall_s) * 1000))
        self.arrival = None
        self.idle_since = now
        if self.h11.our_state is h11.MUST_CLOSE or not cycle.keep_alive:
            with contextlib.suppress(h11.LocalProtocolError):
                self.h11.send(h11.ConnectionClosed())
            transport.close()
            return
        self._cancel_keep_alive()
        self.keep_alive_timer = asyncio.get_running_loop().call_later(self.keep_alive_s, self._keep_alive_expired)
        if self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE:
            self.cycle = None
            self.h11.start_next_cycle()
            self._events()

    def _send_simple(self, status: int, body: bytes, content_type: bytes = b"text/plain; charset=utf-8") -> None:
        """An answer that closes the connection (400 to a bad request, 500 to a failed app, the limits)."""
        transport = self.transport
        self._cancel_read_timer()
        if transport is None or transport.is_closing():
            return
        headers = [(b"date", self.date), (b"content-type", content_type),
                   (b"content-length", str(len(body)).encode()), (b"connection", b"close")]
        out: list[bytes] = []
        try:
            out.append(self.h11.send(h11.Response(status_code=status, headers=headers,
                                                  reason=_reason(status))) or b"")
            out.append(self.h11.send(h11.Data(data=body)) or b"")
            out.append(self.h11.send(h11.EndOfMessage()) or b"")
        except h11.LocalProtocolError:
            if not out:     # no request head parsed yet (a late or oversized head): h11 has no request to answer
                out = [b"HTTP/1.1 %d %s\r\n" % (status, _reason(status)),
                       *(k + b": " + v + b"\r\n" for k, v in headers), b"\r\n", body]
        transport.write(b"".join(out))
        transport.close()

    # -- keep-alive --------------------------------------------------------
    def _keep_alive_expired(self) -> None:
        self.keep_alive_timer = None
        if self.transport is not None and not self.transport.is_closing():
            with contextlib.suppress(h11.LocalProtocolError):
                self.h11.send(h11.ConnectionClosed())
            self.transport.close()

    def _cancel_keep_alive(self) -> None:
        if self.keep_alive_timer is not None:
            self.keep_alive_timer.cancel()
            self.keep_alive_timer = None

    def expire(self) -> None:
        """Close at once (a FIN without close_notify), as an idle connection the clock expired."""
        self._cancel_keep_alive()
        if self.transport is not None:
            self.transport.abort()
