"""Benchmark: the mock OFD's documents per second over loopback TCP, against a bare asyncio echo server.

Both servers read the same session framing (``SessionFramer``) on loopback;
the echo server writes each message straight back, the OFD (``OfdTcp`` on
``OfdModel``) checks the envelope, decodes the document, stores it and
answers with a signed acknowledgement. One client connection sends the
typical receipt of ``bench.ffd`` (10 items, 4 marked) under new ФД numbers,
``WINDOW`` messages in flight, and counts whole replies. The figure is the
ratio echo / OFD: how many times the OFD's work costs more than moving the
bytes. The rounds alternate between the servers; the best round of each
counts.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

from emulator.bench.ffd import typical_receipt
from emulator.servers.ofd.model import OfdModel
from emulator.servers.ofd.tcp import OfdTcp
from emulator.wire.ffd.envelope import wrap_document
from emulator.wire.ffd.session import FramingError, SessionFramer, encode_message

WINDOW = 16
FN = "9999078900005488"


class EchoServer:
    """A bare asyncio server on the session framing: every message goes back as it came."""

    def __init__(self) -> None:
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        framer = SessionFramer()
        try:
            while data := await reader.read(65536):
                for m in framer.feed(data):
                    if isinstance(m, FramingError):
                        return
                    writer.write(encode_message(m))
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        await self._stop.wait()
        server.close()

    def __enter__(self) -> EchoServer:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


def _drive(port: int, messages: list[bytes]) -> float:
    """Seconds to send ``messages`` with WINDOW in flight and read one whole reply to each."""
    framer = SessionFramer()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        t = time.perf_counter()
        sent = got = 0
        while got < len(messages):
            while sent < len(messages) and sent - got < WINDOW:
                sock.sendall(messages[sent])
                sent += 1
            data = sock.recv(65536)
            if not data:
                raise RuntimeError(f"the server closed after {got} replies")
            for e in framer.feed(data):
                if isinstance(e, FramingError):
                    raise RuntimeError(f"a reply that is no message: {e}")
                got += 1
        return time.perf_counter() - t


def run_ofd(quick: bool = False) -> dict[str, Any]:
    n, rounds = (200, 2) if quick else (1500, 3)
    doc = typical_receipt().encode()
    batches = [[wrap_document(doc, fn_number=FN, fd_number=r * n + i + 1, trailer=bytes(8)) for i in range(n)]
               for r in range(rounds)]
    model = OfdModel()
    best = {"ofd": float("inf"), "echo": float("inf")}
    with OfdTcp(model, max_messages=2 * n) as ofd, EchoServer() as echo:
        _drive(echo.port, batches[0][:50])                 # warm both up (the OFD on an FD it sees again)
        _drive(ofd.port, batches[0][:50])
        for batch in batches:
            best["echo"] = min(best["echo"], _drive(echo.port, batch))
            best["ofd"] = min(best["ofd"], _drive(ofd.port, batch))
    if model.stats["stored"] != n * rounds:
        raise AssertionError(f"the OFD stored {model.stats['stored']} of {n * rounds} documents")
    ofd_rate, echo_rate = n / best["ofd"], n / best["echo"]
    return {
        "ofd_message_bytes": len(batches[0][0]),
        "ofd_docs_per_s": round(ofd_rate),
        "ofd_echo_docs_per_s": round(echo_rate),
        "ofd_echo_ratio": round(echo_rate / ofd_rate, 2),
    }
