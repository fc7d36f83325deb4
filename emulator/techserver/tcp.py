"""The KKT ↔ technological-server exchange over TCP (optionally TLS), MODELLED.

``TechServerTcp`` runs an asyncio server in a background thread on loopback.
Each connection is one session; every request gets exactly one reply, which
carries the request's ``seq``:

    KKT                                server
    HELLO(serial, model, inn, …)  ->   HELLO_ACK(session_id, server_time_ms, settings_waiting)
    LOG_RECORDS(records)          ->   LOG_ACK(stored seqs, duplicates)          (any number of times)
    GET_SETTINGS                  ->   SETTINGS(task_id, items) | SETTINGS(0, []) when nothing waits
    SETTINGS_RESULT(task_id, …)   ->   BYE (the acknowledgement; the session stays open)
    BYE                           ->   BYE, then the server closes the connection

* HELLO must come first; anything else first, a second HELLO, or a message only
  the server sends gets ERROR(``ERR_UNEXPECTED``) and the connection is closed.
* A bad frame (CRC, length, version, unknown type, bytes that are no frame)
  gets ERROR(``ERR_BAD_FRAME``) and the connection is closed; frames before it
  in the stream have been handled already.
* A SETTINGS_RESULT for a task the device does not own gets ERROR(``ERR_UNKNOWN_TASK``)
  and the session goes on.
* A session silent for ``idle_timeout_s`` gets ERROR(``ERR_IDLE``) and is closed.
* A connection that breaks in the middle of a frame changes nothing: only
  whole frames are acted on, and each request is one SQLite transaction.

``TechClient`` / ``exchange_once`` are a small synchronous client for tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .model import TechServer, TechServerError, UnknownTask
from .wire import (
    ERR_BAD_FRAME,
    ERR_IDLE,
    ERR_INTERNAL,
    ERR_UNEXPECTED,
    ERR_UNKNOWN_TASK,
    Frame,
    FrameError,
    FrameReader,
)

SERVER_ONLY = {"HELLO_ACK", "LOG_ACK", "SETTINGS", "ERROR"}


class Session:
    """One connection's protocol state; ``handle`` maps a request to (replies, close)."""

    def __init__(self, model: TechServer, now_ms: Callable[[], int]) -> None:
        self.model = model
        self.now_ms = now_ms
        self.serial: str | None = None
        self.session_id: int | None = None

    def handle(self, f: Frame) -> tuple[list[Frame], bool]:
        def error(code: int, text: str, close: bool = True) -> tuple[list[Frame], bool]:
            return [Frame("ERROR", f.seq, {"code": code, "text": text})], close

        if f.type in SERVER_ONLY:
            return error(ERR_UNEXPECTED, f"{f.type} is sent by the server only")
        if self.serial is None and f.type != "HELLO":
            return error(ERR_UNEXPECTED, "HELLO expected first")
        now = self.now_ms()
        p = f.payload
        try:
            if f.type == "HELLO":
                if self.serial is not None:
                    return error(ERR_UNEXPECTED, "HELLO already received")
                sid, waiting = self.model.hello(p["serial"], p["model"], p["inn"], p["firmware"], now)
                self.serial, self.session_id = p["serial"], sid
                return [Frame("HELLO_ACK", f.seq, {"session_id": sid, "server_time_ms": now,
                                                   "settings_waiting": waiting})], False
            assert self.serial is not None
            if f.type == "LOG_RECORDS":
                stored, dups = self.model.store_records(self.serial, p["records"], now)
                return [Frame("LOG_ACK", f.seq, {"stored": stored, "duplicates": min(dups, 0xFFFF)})], False
            if f.type == "GET_SETTINGS":
                task = self.model.next_settings(self.serial, now)
                if task is None:
                    return [Frame("SETTINGS", f.seq, {"task_id": 0, "items": []})], False
                return [Frame("SETTINGS", f.seq, {"task_id": task.id,
                                                  "items": [i.to_wire() for i in task.items]})], False
            if f.type == "SETTINGS_RESULT":
                try:
                    self.model.settings_result(self.serial, p["task_id"], p["applied"], p["code"], now)
                except UnknownTask as exc:
                    return error(ERR_UNKNOWN_TASK, str(exc), close=False)
                return [Frame("BYE", f.seq)], False
            if f.type == "BYE":
                return [Frame("BYE", f.seq)], True
        except TechServerError as exc:
            return error(ERR_UNEXPECTED, str(exc))
        except Exception as exc:  # the model failed: tell the KKT, keep serving others
            return error(ERR_INTERNAL, f"{type(exc).__name__}: {exc}")
        return error(ERR_UNEXPECTED, f"unexpected {f.type}")


class TechServerTcp:
    """The exchange server in a background thread. ``start()`` binds and returns self; ``port`` is then set."""

    def __init__(self, model: TechServer, host: str = "127.0.0.1", port: int = 0,
                 ssl_context: ssl.SSLContext | None = None, now_ms: Callable[[], int] | None = None,
                 idle_timeout_s: float = 30.0) -> None:
        self.model = model
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.now_ms = now_ms or model.clock
        self.idle_timeout_s = idle_timeout_s
        self.stats = {"connections": 0, "frames": 0, "frame_errors": 0, "sessions": 0}
        self.frame_errors: list[FrameError] = []
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._conns: set[asyncio.Task[Any]] = set()
        # The model's work runs here, not in asyncio's default executor: asyncio.run() would wait
        # for that one at stop(), however long a call takes.
        self._executor: ThreadPoolExecutor | None = None

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    @property
    def open_connections(self) -> int:
        return len(self._conns)

    def start(self) -> TechServerTcp:
        if self._thread is not None:
            raise RuntimeError("already started")
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="techserver-model")
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="techserver-tcp", daemon=True)
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
        if self._executor is not None:
            # A call still running finishes on its own (the model's lock keeps close() after it).
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def __enter__(self) -> TechServerTcp:
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
        session = Session(self.model, self.now_ms)
        frames = FrameReader()
        try:
            while True:
                try:
                    # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow the cancellation
                    # that stop() sends when the read completes at the same moment.
                    async with asyncio.timeout(self.idle_timeout_s):
                        data = await reader.read(65536)
                except TimeoutError:
                    writer.write(Frame("ERROR", 0, {"code": ERR_IDLE, "text": "idle timeout"}).to_bytes())
                    await writer.drain()
                    return
                if not data:
                    return
                for event in frames.feed_events(data):
                    if isinstance(event, FrameError):
                        self.stats["frame_errors"] += 1
                        self.frame_errors.append(event)
                        text = f"bad frame: {event.kind}: {event.detail}"
                        writer.write(Frame("ERROR", event.seq or 0, {"code": ERR_BAD_FRAME, "text": text}).to_bytes())
                        await writer.drain()
                        return
                    self.stats["frames"] += 1
                    if self._stop is not None and self._stop.is_set():
                        return                      # stopping: no new work, the session ends here
                    was_new = session.serial is None
                    # The model's SQLite work runs off the event loop, so that stop() and other
                    # connections are served while a large batch is being stored.
                    replies, close = await asyncio.get_running_loop().run_in_executor(
                        self._executor, session.handle, event)
                    if was_new and session.serial is not None:
                        self.stats["sessions"] += 1
                    for r in replies:
                        writer.write(r.to_bytes())
                    await writer.drain()
                    if close:
                        return
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            return
        finally:
            self._conns.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1)


# ------------------------------------------------------------------ a small synchronous client
class TechClient:
    """Blocking client for tests: ``request(frame) -> reply``; ``send_raw`` for broken input."""

    def __init__(self, address: tuple[str, int], ssl_context: ssl.SSLContext | None = None,
                 server_hostname: str | None = None, timeout: float = 5.0) -> None:
        sock = socket.create_connection(address, timeout=timeout)
        if ssl_context is not None:
            sock = ssl_context.wrap_socket(sock, server_hostname=server_hostname or address[0])
        self.sock = sock
        self.reader = FrameReader()
        self._pending: list[Frame] = []
        self.closed_by_server = False

    def send(self, frame: Frame | bytes) -> None:
        self.sock.sendall(frame if isinstance(frame, bytes) else frame.to_bytes())

    send_raw = send

    def recv(self) -> Frame | None:
        """The next frame from the server, or None when it closed the connection."""
        while not self._pending:
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                raise
            except OSError:  # reset, TLS alert: the server is gone
                data = b""
            if not data:
                self.closed_by_server = True
                return None
            self._pending.extend(self.reader.feed(data))
        return self._pending.pop(0)

    def request(self, frame: Frame) -> Frame | None:
        self.send(frame)
        return self.recv()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self) -> TechClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def exchange_once(address: tuple[str, int], frames: Iterable[Frame | bytes],
                  ssl_context: ssl.SSLContext | None = None, server_hostname: str | None = None,
                  timeout: float = 5.0) -> list[Frame]:
    """Open a connection, send all ``frames`` at once, collect the replies, close.

    Stops after one reply per frame sent, or when the server closes the
    connection (after ERROR or BYE). A socket timeout raises ``TimeoutError``.
    """
    frames = list(frames)
    replies: list[Frame] = []
    with TechClient(address, ssl_context, server_hostname, timeout) as client:
        client.send(b"".join(f if isinstance(f, bytes) else f.to_bytes() for f in frames))
        while len(replies) < len(frames):
            try:
                reply = client.recv()
            except TimeoutError as exc:
                raise TimeoutError(f"no reply after {len(replies)} of {len(frames)}") from exc
            if reply is None:
                break
            replies.append(reply)
    return replies
