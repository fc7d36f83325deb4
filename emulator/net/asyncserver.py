"""An asyncio TCP server in a background thread: the lifecycle the mock servers' TCP fronts share.

``BackgroundServer`` binds in ``start()`` (``port`` 0 picks a free one, set
once bound; a bind error is raised in the caller's thread), serves each
connection with the subclass's ``_serve(reader, writer)``, and on ``stop()``
closes the listener, cancels open connections and waits for them.
``_starting`` / ``_stopped`` are hooks around the thread (an executor, say).
``write_all`` sends bytes with a deadline and aborts a peer that does not read;
``stats`` counts connections and write timeouts (a subclass adds its own counters).
Used by the technological server (``servers/techserver/tcp.py``) and the OFD /
ОИСМ front (``net/fiscaltcp.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from typing import Any


class BackgroundServer:
    thread_name = "server-tcp"

    def __init__(self, host: str, port: int, ssl_context: ssl.SSLContext | None = None) -> None:
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._conns: set[asyncio.Task[Any]] = set()
        self.stats: dict[str, int] = {"connections": 0, "write_timeouts": 0}

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    @property
    def open_connections(self) -> int:
        return len(self._conns)

    @property
    def stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    def _starting(self) -> None:
        """Called in ``start()`` before the thread runs."""

    def _stopped(self) -> None:
        """Called in ``stop()`` after the thread has ended."""

    def start(self) -> Any:
        if self._thread is not None:
            raise RuntimeError("already started")
        self._starting()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name=self.thread_name,
                                        daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._start_error is not None:
            self._thread.join()
            self._thread = None
            raise self._start_error
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        self._thread = None
        self._stopped()

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            server = await asyncio.start_server(self._handle, self.host, self.port, ssl=self.ssl_context)
        except BaseException as exc:
            self._start_error = exc
            self._ready.set()
            return
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        await self._stop.wait()
        server.close()
        for t in list(self._conns):
            t.cancel()
        await asyncio.gather(*self._conns, return_exceptions=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 2)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        self.stats["connections"] += 1
        try:
            await self._serve(reader, writer)
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            return
        except asyncio.CancelledError:
            # stop() cancels open connections; ending quietly here keeps asyncio's stream callback
            # (which asks a cancelled task for its exception on 3.11) from logging a traceback.
            return
        finally:
            self._conns.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    async def write_all(self, writer: asyncio.StreamWriter, data: bytes, timeout_s: float) -> bool:
        """Send ``data``; False (the connection aborted, ``write_timeouts`` counted) when it is not taken
        within ``timeout_s``."""
        writer.write(data)
        try:
            async with asyncio.timeout(timeout_s):
                await writer.drain()
        except TimeoutError:
            self.stats["write_timeouts"] += 1
            writer.transport.abort()
            return False
        return True
