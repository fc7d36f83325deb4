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
* Each request frame must arrive **whole** within ``idle_timeout_s`` of the
  connection's start or of the last reply; otherwise ERROR(``ERR_IDLE``) and
  the connection is closed (a client trickling one byte at a time is closed
  as a silent one is).
* Replies must leave within ``write_timeout_s``: a client that does not read
  them is disconnected (no ERROR: it would not read that either); the
  transport buffers at most ``WRITE_BUFFER`` bytes, so replies wait in the
  kernel's socket buffers, not in the server's memory.
* A session takes at most ``max_frames`` requests (ERROR(``ERR_TOO_MANY``) after them).
* A connection that breaks in the middle of a frame changes nothing: only
  whole frames are acted on, and each request is one SQLite transaction.

The protocol state of a connection is the sans-IO ``Session`` (``session.py``); this module
only moves its frames over sockets. ``emulator.net.techclient`` is a small synchronous client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from emulator.net.asyncserver import BackgroundServer
from emulator.servers.techserver.model import TechServer
from emulator.servers.techserver.session import MAX_SESSION_FRAMES, Session
from emulator.wire.techframes import (
    ERR_BAD_FRAME,
    ERR_IDLE,
    ERR_INTERNAL,
    MAX_FRAME,
    Frame,
    FrameError,
    FrameReader,
)

WRITE_BUFFER = 64 * 1024
log = logging.getLogger("kkt_emu.techserver.tcp")


class TechServerTcp(BackgroundServer):
    """The exchange server in a background thread. ``start()`` binds and returns self; ``port`` is then set."""

    thread_name = "techserver-tcp"

    def __init__(self, model: TechServer, host: str = "127.0.0.1", port: int = 0,
                 ssl_context: ssl.SSLContext | None = None, now_ms: Callable[[], int] | None = None,
                 idle_timeout_s: float = 30.0, write_timeout_s: float = 10.0,
                 max_frames: int = MAX_SESSION_FRAMES) -> None:
        super().__init__(host, port, ssl_context)
        self.model = model
        self.now_ms = now_ms or model.clock
        self.idle_timeout_s = idle_timeout_s
        self.write_timeout_s = write_timeout_s
        self.max_frames = max_frames
        self.stats.update({"frames": 0, "frame_errors": 0, "sessions": 0, "timeouts": 0})
        self.frame_errors: list[FrameError] = []
        # The model's work runs here, not in asyncio's default executor: asyncio.run() would wait
        # for that one at stop(), however long a call takes.
        self._executor: ThreadPoolExecutor | None = None

    def _starting(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="techserver-model")

    def _stopped(self) -> None:
        if self._executor is not None:
            # A call still running finishes on its own (the model's lock keeps close() after it).
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    async def _write(self, writer: asyncio.StreamWriter, frames: list[Frame]) -> bool:
        """Send ``frames``; False (and the connection aborted) when they are not taken in time."""
        try:
            data = b"".join(f.to_bytes() for f in frames)
        except ValueError:      # a reply that does not fit the wire format: the model's fault
            log.exception("technological server: a reply could not be built")
            data = Frame("ERROR", frames[0].seq if frames else 0,
                         {"code": ERR_INTERNAL, "text": "internal error"}).to_bytes()
        return await self.write_all(writer, data, self.write_timeout_s)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        session = Session(self.model, self.now_ms, self.max_frames)
        frames = FrameReader(max_buffer=2 * MAX_FRAME)
        with contextlib.suppress(Exception):
            writer.transport.set_write_buffer_limits(high=WRITE_BUFFER)
        deadline = loop.time() + self.idle_timeout_s        # the next whole frame is due by then
        while True:
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow the cancellation
                # that stop() sends when the read completes at the same moment.
                async with asyncio.timeout_at(deadline):
                    data = await reader.read(65536)
            except TimeoutError:
                self.stats["timeouts"] += 1
                text = "frame not complete in time" if frames.buffered else "idle timeout"
                await self._write(writer, [Frame("ERROR", 0, {"code": ERR_IDLE, "text": text})])
                return
            if not data:
                return
            for event in frames.feed_events(data):
                if isinstance(event, FrameError):
                    self.stats["frame_errors"] += 1
                    self.frame_errors.append(event)
                    text = f"bad frame: {event.kind}: {event.detail}"
                    await self._write(writer, [Frame("ERROR", event.seq or 0,
                                                     {"code": ERR_BAD_FRAME, "text": text})])
                    return
                self.stats["frames"] += 1
                if self.stopping:
                    return                      # stopping: no new work, the session ends here
                was_new = session.serial is None
                # The model's SQLite work runs off the event loop, so that stop() and other
                # connections are served while a large batch is being stored.
                replies, close = await loop.run_in_executor(self._executor, session.handle, event)
                if was_new and session.serial is not None:
                    self.stats["sessions"] += 1
                if not await self._write(writer, replies):
                    return
                deadline = loop.time() + self.idle_timeout_s
                if close:
                    return
