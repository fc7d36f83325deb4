"""The receipt printer on raw TCP (port 9100 style), MODELLED: bytes in, status answers out.

``PrinterTcp(model).start()`` listens on loopback (``port`` 0 picks a free
one). A network printer serves one connection at a time: the next waits for
the first to close (at most ``max_waiting`` wait; more are reset). Every piece
of data read goes to the connection's ``PrinterSession`` and its answer (the
status bytes) goes back at once.

* ``offline`` fault: every new connection is reset on accept and open ones are
  reset within 100 ms (the sender sees a refused or reset connection);
* ``slow`` fault: each piece of data waits that long before it is handled;
* paper out / cover open: status requests are still answered; print data is
  held by the model, and once it holds ``hold_limit`` events the front stops
  reading, so the sender's socket fills and it waits (bounded memory);
* a connection silent for ``idle_timeout_s`` is closed; answers must leave
  within ``write_timeout_s`` or the connection is aborted.
"""

from __future__ import annotations

import asyncio
import contextlib

from emulator.net.asyncserver import BackgroundServer
from emulator.servers.escpos.model import PrinterModel

POLL_S = 0.1
READ_CHUNK = 4096


class PrinterTcp(BackgroundServer):
    thread_name = "printer-tcp"

    def __init__(self, model: PrinterModel, host: str = "127.0.0.1", port: int = 0, idle_timeout_s: float = 60.0,
                 write_timeout_s: float = 5.0, max_waiting: int = 4) -> None:
        super().__init__(host, port)
        self.model = model
        self.idle_timeout_s = idle_timeout_s
        self.write_timeout_s = write_timeout_s
        self.max_waiting = max_waiting
        self._busy: asyncio.Lock | None = None
        self._waiting = 0
        self.stats.update({"resets": 0, "idle_closed": 0})

    def _reset(self, writer: asyncio.StreamWriter) -> None:
        self.stats["resets"] += 1
        with contextlib.suppress(Exception):
            writer.transport.abort()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.model.tick()
        if self.model.offline or self._waiting >= self.max_waiting:
            self._reset(writer)
            return
        if self._busy is None:
            self._busy = asyncio.Lock()
        self._waiting += 1
        try:
            await self._busy.acquire()
        finally:
            self._waiting -= 1
        try:
            await self._session(reader, writer)
        finally:
            self._busy.release()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        model = self.model
        session = model.session()
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            if model.offline:
                self._reset(writer)
                return
            try:
                data = await asyncio.wait_for(reader.read(READ_CHUNK), POLL_S)
            except TimeoutError:
                model.tick()
                if loop.time() - last > self.idle_timeout_s:
                    self.stats["idle_closed"] += 1
                    return
                continue
            if not data:
                return
            waited = 0.0
            while waited * 1000 < model.delay_ms() and not model.offline:   # the slow fault, as it is now
                await asyncio.sleep(POLL_S / 2)
                waited += POLL_S / 2
            if model.offline:
                self._reset(writer)
                return
            reply = session.receive(data)
            if reply and not await self.write_all(writer, reply, self.write_timeout_s):
                return
            while model.hold_full and not model.ready:     # the sender waits: its socket fills
                await asyncio.sleep(POLL_S / 2)
                model.tick()
                if model.offline:
                    self._reset(writer)
                    return
            last = loop.time()
