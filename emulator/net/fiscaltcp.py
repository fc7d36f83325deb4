"""The TCP front shared by the mock OFD and the mock ОИСМ: session messages over asyncio, on loopback.

``FiscalTcpServer(respond)`` runs an asyncio server in a background thread.
Each whole session message read from a connection (``SessionFramer``) goes to
``respond(message, now_ms) -> ServerAnswer`` (the server model's sans-IO
entry, the same one the simulated link calls), and the answer is acted on:

    answer                      on the wire
    --------------------------  -----------------------------------------------
    reply bytes (+ latency)     the bytes, after ``latency_ms`` of real time
    fault "refuse"              the connection is reset (RST) at once
    fault "close"               the connection is closed, nothing sent
    fault "stall"               nothing is sent; the connection is held until the
                                peer gives up (at most ``message_timeout_s``)

Limits, so that no peer can hold the server's time or memory:

* a message body is at most ``max_body`` bytes (the framer's buffer is one
  header plus that); bytes that are no message (garbage, a damaged header,
  a body over the limit, a bad session CRC) end the connection;
* each message must arrive **whole** within ``message_timeout_s`` of the
  connection's start or of the last answer (a trickling peer is closed as a
  silent one is);
* answers must leave within ``write_timeout_s`` (a peer that does not read is
  cut off); the transport and the socket buffer at most ``WRITE_BUFFER`` bytes
  each; at most ``max_messages`` messages per connection.

Only loopback addresses are served. ``stats`` counts connections, messages,
framing errors, timeouts and faults.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable

from emulator.net.asyncserver import BackgroundServer
from emulator.net.ofdlink import ServerAnswer
from emulator.net.webguard import is_loopback
from emulator.wire.ffd.session import MAX_BODY, SIGNATURES, FramingError, SessionFramer, SessionMessage

Respond = Callable[[SessionMessage, int], ServerAnswer]
WRITE_BUFFER = 64 * 1024
MAX_MESSAGES = 1024
log = logging.getLogger("kkt_emu.fiscaltcp")



def _wall_ms() -> int:
    return int(time.time() * 1000)


class FiscalTcpServer(BackgroundServer):
    """The session-message server in a background thread; ``start()`` binds and returns self."""

    def __init__(self, respond: Respond, host: str = "127.0.0.1", port: int = 0, *, name: str = "fiscal",
                 now_ms: Callable[[], int] = _wall_ms, signatures: tuple[bytes, ...] = SIGNATURES,
                 max_body: int = MAX_BODY, message_timeout_s: float = 30.0, write_timeout_s: float = 10.0,
                 max_messages: int = MAX_MESSAGES) -> None:
        if not is_loopback(host):
            raise ValueError(f"the mock {name} server listens on loopback only, not {host!r}")
        super().__init__(host, port)
        self.thread_name = f"{name}-tcp"
        self.respond = respond
        self.name = name
        self.now_ms = now_ms
        self.signatures = signatures
        self.max_body = max_body
        self.message_timeout_s = message_timeout_s
        self.write_timeout_s = write_timeout_s
        self.max_messages = max_messages
        self.stats.update({"messages": 0, "framing_errors": 0, "timeouts": 0, "faults": 0, "too_many": 0,
                           "failed": 0})
        self.framing_errors: list[FramingError] = []

    async def _answer(self, writer: asyncio.StreamWriter, reader: asyncio.StreamReader,
                      answer: ServerAnswer) -> bool:
        """Act on one answer; False when the connection ends with it."""
        if answer.latency_ms > 0:
            await asyncio.sleep(answer.latency_ms / 1000)
        if answer.fault is not None:
            self.stats["faults"] += 1
            if answer.fault == "refuse":
                writer.transport.abort()
            elif answer.fault == "stall":
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.message_timeout_s):
                        while await reader.read(65536):
                            pass
            return False
        if answer.reply is None:
            return False
        return await self.write_all(writer, answer.reply, self.write_timeout_s)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        framer = SessionFramer(self.signatures, self.max_body)
        with contextlib.suppress(Exception):
            writer.transport.set_write_buffer_limits(high=WRITE_BUFFER)
            # The kernel's share is bounded too, so that a peer that does not read is found out soon.
            writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, WRITE_BUFFER)
        deadline = loop.time() + self.message_timeout_s       # the next whole message is due by then
        handled = 0
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    data = await reader.read(65536)
            except TimeoutError:
                self.stats["timeouts"] += 1
                return
            if not data:
                return
            for event in framer.feed(data):
                if isinstance(event, FramingError):
                    self.stats["framing_errors"] += 1
                    if len(self.framing_errors) < 100:
                        self.framing_errors.append(event)
                    return
                if self.stopping:
                    return
                handled += 1
                if handled > self.max_messages:
                    self.stats["too_many"] += 1
                    return
                self.stats["messages"] += 1
                try:
                    answer = self.respond(event, self.now_ms())
                except Exception:      # the model failed: the traceback to the log, the peer is closed
                    self.stats["failed"] += 1
                    log.exception("mock %s: a message could not be answered", self.name)
                    return
                if not await self._answer(writer, reader, answer):
                    return
                deadline = loop.time() + self.message_timeout_s
