"""An ASGI app served by uvicorn on loopback in a background thread: the lifecycle of the ПРРО world's HTTP fronts.

``AsgiHost(app, port=0)`` binds on ``127.0.0.1`` (any other address than a
loopback one is refused: the mock servers never listen on the network) in
``start()``, picks a free port when ``port`` is 0, and serves with h11 in its
own thread and event loop; ``url`` is ``http://127.0.0.1:<port>`` (``https``
with ``ssl_context``, a server context, e.g. from the lab CA). ``stop()``
asks uvicorn to exit and waits. Used by the CA's OCSP responder and the tax
server's front.

``DroppedConnection`` is what an app raises to break the connection after it
started an answer (a fault plan's lost answer): uvicorn closes the
connection, and the traceback uvicorn would log for it is filtered out.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
import time
from typing import Any

from starlette.responses import Response

from emulator.net.webguard import is_loopback


class DroppedConnection(Exception):
    """Raised by an app to break the connection on purpose (not logged)."""


class BrokenAnswer(Response):
    """An answer whose connection breaks (a fault plan's lost answer): the status line and headers go out,
    promising a body of 4096 bytes, then the connection ends."""

    def __init__(self, fault: str, content_type: str = "application/octet-stream") -> None:
        super().__init__(b"", status_code=200)
        self.fault = fault
        self.content_type = content_type

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", self.content_type.encode()), (b"content-length", b"4096")]})
        raise DroppedConnection(f"fault plan: {self.fault}")


class _QuietDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        while exc is not None:
            if isinstance(exc, DroppedConnection):
                return False
            exc = exc.__cause__ or exc.__context__
        return True


_FILTER = _QuietDrops()



class AsgiHost:
    """See the module docstring."""

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0, name: str = "asgi-host",
                 ssl_context: ssl.SSLContext | None = None) -> None:
        if not is_loopback(host):
            raise ValueError(f"{name}: listens on loopback only, not {host!r}")
        self.app = app
        self.host = "127.0.0.1" if host == "localhost" else host
        self.port = port
        self.name = name
        self.ssl_context = ssl_context
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.ssl_context is not None else 'http'}://{host}:{self.port}"

    def start(self) -> AsgiHost:
        import uvicorn

        if self._thread is not None:
            raise RuntimeError(f"{self.name}: already started")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise OSError(exc.errno, f"{self.name}: cannot listen on {self.host} port {self.port} ({exc.strerror})"
                          ) from None
        self._sock = sock
        self.port = sock.getsockname()[1]
        logging.getLogger("uvicorn.error").addFilter(_FILTER)
        config = uvicorn.Config(self.app, http="h11", ws="none", lifespan="off", log_config=None, access_log=False,
                                server_header=False, log_level="warning", timeout_keep_alive=30,
                                **self._tls())
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name}: the server did not start")
            time.sleep(0.01)
        return self

    def _tls(self) -> dict[str, Any]:
        ctx = self.ssl_context
        if ctx is None:
            return {}
        return {"ssl_context_factory": lambda _config, _default: ctx}

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._server.serve(sockets=[self._sock]))
        finally:
            loop.close()

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> AsgiHost:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
