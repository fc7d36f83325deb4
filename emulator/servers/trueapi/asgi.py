"""The HTTP front of the mock True API: an ASGI app over ``TrueApiBackend``.

The front only translates between the wire and the backend model, the same
model the simulated network (``emulator.net``) calls directly. For every
request it reads the whole body, builds a ``NetRequest`` (method, the host name
this app serves, path and query exactly as received, the headers as received:
duplicates and order kept, names lower-cased by the HTTP/1.1 parser), calls
``backend.handle(host, request, now_ms())`` and waits ``reply.latency_ms``.
Then, by ``reply.fault``:

* ``None``: ``reply.status``, ``reply.headers`` (plus ``Content-Length``) and
  ``reply.body`` unchanged; ``garbage`` and ``truncated`` plan items are
  already in the body, so they arrive as such, with a matching length;
* ``"close"``: the status line, the headers (with the ``Content-Length`` of the
  whole answer) and half of the body are sent, then the connection is closed:
  the client sees the connection end mid-answer. The backend gives no body for
  this fault, so a stand-in JSON body is used;
* ``"stall"``: nothing is sent until the client gives up (disconnects), at
  most ``stall_s`` seconds (60 by default); then the connection is dropped;
* ``"refuse"`` (plan item, or host ``down`` seen on an open connection) and
  ``"resolve"`` (host removed from the backend): the connection is reset
  before any response byte. A TCP connect cannot be refused after the fact;
  ``servers.TrueApiServers`` refuses real connects when a host is down.

Dropping a connection before any response byte needs the transport, which
ASGI does not expose: our own HTTP/1.1 protocol (``http11.py``, what
``servers.py`` serves with) gives it as an ASGI extension,
``scope["extensions"][TRANSPORT_EXTENSION]["transport"]``. Under another ASGI
server the app falls back to raising ``DropConnection``, which such a server
answers with its own 500.

The app never crashes on input: a backend exception becomes a 500 JSON error
body, statuses HTTP/1.1 cannot send as a final answer (1xx) drop the
connection, and 204/304 are sent without the body (HTTP forbids one).

``lock``: the backend is not thread-safe; the app holds the lock while
``backend.handle`` runs (``TrueApiServers`` shares one lock with its callers).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from emulator.net.seam import NetRequest
from emulator.servers.trueapi.http11 import TRANSPORT_EXTENSION, DropConnection, reset_connection
from emulator.servers.trueapi.routes import BackendReply, TrueApiBackend, error_body

__all__ = ["DropConnection", "TrueApiApp", "make_app"]

CLOSE_STAND_IN_BODY = b'{"code":0,"description":"ok","codes":[{"cis":"0104670540176099215ZZZZZ","valid":true}]}'
NO_BODY_STATUSES = frozenset({204, 304})

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger(__name__)


def _latin1(value: bytes | str) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def _wire(value: str) -> bytes:
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


def _path_with_query(scope: Scope) -> str:
    raw = scope.get("raw_path")
    path = _latin1(raw) if raw else str(scope.get("path") or "/")
    query = scope.get("query_string") or b""
    return f"{path}?{_latin1(query)}" if query else path


class TrueApiApp:
    """One host of the mock True API as an ASGI application (see the module docstring)."""

    def __init__(self, backend: TrueApiBackend, host_name: str, now_ms: Callable[[], int], *,
                 lock: threading.RLock | threading.Lock | None = None, stall_s: float = 60.0) -> None:
        self.backend = backend
        self.host_name = host_name
        self.now_ms = now_ms
        self.lock = lock if lock is not None else threading.RLock()
        self.stall_s = stall_s
        self._ids = itertools.count(1)
        self.requests = 0                   # requests handed to the backend

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope.get("type")
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind != "http":                  # websocket and the like: not served
            return
        body = await self._read_body(receive)
        if body is None:                    # the client left before the body was complete
            return
        request = NetRequest(
            id=next(self._ids),
            method=str(scope.get("method", "GET")),
            host=self.host_name,
            path=_path_with_query(scope),
            headers=tuple((_latin1(k), _latin1(v)) for k, v in scope.get("headers") or ()),
            body=body,
            key=None,
        )
        try:
            with self.lock:
                self.requests += 1
                reply = self.backend.handle(self.host_name, request, int(self.now_ms()))
        except Exception:
            log.exception("backend failed on %s %s %s", request.method, self.host_name, request.path)
            reply = BackendReply(500, error_body(500))
        if reply.latency_ms > 0:
            await asyncio.sleep(reply.latency_ms / 1000)
        await self._answer(scope, receive, send, reply)

    # -- pieces ----------------------------------------------------------
    @staticmethod
    async def _lifespan(receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message.get("type") == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message.get("type") == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    @staticmethod
    async def _read_body(receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message.get("type") == "http.disconnect":
                return None
            chunks.append(bytes(message.get("body") or b""))
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _answer(self, scope: Scope, receive: Receive, send: Send, reply: BackendReply) -> None:
        fault = reply.fault
        if fault == "stall":
            await self._stall(scope, receive)
            return
        if fault in ("refuse", "resolve") or not 200 <= reply.status <= 599:
            await self._drop(scope, receive, reset=True)
            return
        headers = [(_wire(str(k).lower()), _wire(str(v))) for k, v in reply.headers
                   if str(k).lower() not in ("content-length", "transfer-encoding")]
        if fault == "close":
            full = reply.body or CLOSE_STAND_IN_BODY
            headers.append((b"content-length", str(len(full)).encode()))
            await send({"type": "http.response.start", "status": reply.status, "headers": headers})
            await send({"type": "http.response.body", "body": full[: len(full) // 2], "more_body": True})
            await self._drop(scope, receive, reset=False)
            return
        body = b"" if reply.status in NO_BODY_STATUSES else reply.body
        if reply.status not in NO_BODY_STATUSES:
            headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _stall(self, scope: Scope, receive: Receive) -> None:
        """Say nothing until the client disconnects, for at most ``stall_s``; then drop the connection."""
        try:
            await asyncio.wait_for(self._until_disconnect(receive), timeout=self.stall_s)
        except TimeoutError:
            await self._drop(scope, receive, reset=True)

    @staticmethod
    async def _until_disconnect(receive: Receive) -> None:
        while (await receive()).get("type") != "http.disconnect":
            pass

    async def _drop(self, scope: Scope, receive: Receive, reset: bool) -> None:
        """Close the connection: ``reset`` = at once, with a TCP RST; else after flushing what was sent."""
        transport = ((scope.get("extensions") or {}).get(TRANSPORT_EXTENSION) or {}).get("transport")
        if transport is None:
            raise DropConnection("fault: connection dropped")
        if reset:
            reset_connection(transport)
        else:
            transport.close()
        # Let the server see the connection go, so that it neither logs nor answers on it.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._until_disconnect(receive), timeout=5.0)


def make_app(backend: TrueApiBackend, host_name: str, now_ms: Callable[[], int], *,
             lock: threading.RLock | threading.Lock | None = None, stall_s: float = 60.0) -> TrueApiApp:
    """The ASGI app serving ``host_name`` of ``backend``; ``now_ms()`` gives the backend's time."""
    return TrueApiApp(backend, host_name, now_ms, lock=lock, stall_s=stall_s)
