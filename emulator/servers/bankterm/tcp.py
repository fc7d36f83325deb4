"""The emulated terminal over TCP: the terminal is the server, 0x00-terminated UTF-8 JSON both ways.

``BankTermTcp(model).start()`` listens on loopback (the protocol's default port is 2000; 0 picks a free
one). One client at a time, as the protocol says: a connection that arrives while another is open is
closed at once, without a byte (the DM reports 1016 «Connection Closed Gracefully»). Every frame is
handed to the model; what the model has due (the end of a card operation) is collected every
``poll_s`` while an operation runs, so the model's time may be the wall clock's or a virtual clock a
test advances. ``faults.down`` resets every connection; the model's ``Close`` closes this one. A frame
longer than ``MAX_MESSAGE`` is dropped (an error answer); replies that are not read within
``write_timeout_s`` abort the connection.
"""

from __future__ import annotations

import asyncio
import logging

from emulator.net.asyncserver import BackgroundServer
from emulator.servers.bankterm.model import BankTerminal, Close
from emulator.wire.ecrjson import Bad, Message, Splitter, encode

DEFAULT_PORT = 2000
log = logging.getLogger("kkt_emu.bankterm.tcp")


class BankTermTcp(BackgroundServer):
    thread_name = "bankterm-tcp"

    def __init__(self, model: BankTerminal, host: str = "127.0.0.1", port: int = 0, poll_s: float = 0.02,
                 write_timeout_s: float = 5.0) -> None:
        super().__init__(host, port)
        self.model = model
        self.poll_s = poll_s
        self.write_timeout_s = write_timeout_s
        self._active: asyncio.StreamWriter | None = None
        self.stats.update({"rejected": 0, "reset": 0, "frames": 0, "bad_frames": 0})

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.model.apply_due()
        if self.model.faults.down:
            self.stats["reset"] += 1
            writer.transport.abort()
            return
        if self._active is not None:
            self.stats["rejected"] += 1
            log.info("second client closed: one client at a time")
            return
        self._active = writer
        splitter = Splitter()
        try:
            while True:
                timeout = self.poll_s if self.model.next_due() is not None else 1.0
                try:
                    data: bytes | None = await asyncio.wait_for(reader.read(4096), timeout)
                except TimeoutError:
                    data = None
                self.model.apply_due()
                if data == b"" or self.model.faults.down:
                    return
                out: list[Message | Close] = self.model.poll()      # what fell due before this frame
                for ev in splitter.feed(data or b""):
                    if isinstance(ev, Bad):
                        self.stats["bad_frames"] += 1
                        out += self.model.bad_frame(ev.reason)
                    else:
                        self.stats["frames"] += 1
                        out += self.model.handle(ev)
                out += self.model.poll()
                for item in out:
                    if isinstance(item, Close):
                        return
                    if not await self.write_all(writer, encode(item), self.write_timeout_s):
                        return
        finally:
            self._active = None
