"""Raw TCP/TLS servers for the tests: faults a proper HTTPS server does not make.

``RawServer`` listens on 127.0.0.1, port 0, and runs ``handler(conn, stop)`` per
connection in its own thread; it stops by ``stop()``, at the end of a ``with``
block, or by itself after ``lifetime`` seconds. ``BioTls`` is the server side
of TLS over ``ssl.MemoryBIO``, so that a test holds the encrypted records and
can cut or damage them. Nothing here is a mock: the bytes go over real sockets.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable

Handler = Callable[[socket.socket, threading.Event], None]


class RawServer:
    """TCP on 127.0.0.1:0; ``handler(conn, stop)`` runs per connection in a thread; ``stop()`` joins them all."""

    def __init__(self, handler: Handler, lifetime: float | None = None) -> None:
        self.handler = handler
        self.lifetime = lifetime
        self.stop_event = threading.Event()
        self.errors: list[BaseException] = []
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port: int = self.sock.getsockname()[1]
        self.address: tuple[str, int] = ("127.0.0.1", self.port)
        self._threads: list[threading.Thread] = []
        self._accepter = threading.Thread(target=self._run, name=f"raw-server:{self.port}", daemon=True)
        self._accepter.start()

    def __enter__(self) -> RawServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        deadline = None if self.lifetime is None else time.monotonic() + self.lifetime
        try:
            while not self.stop_event.is_set() and (deadline is None or time.monotonic() < deadline):
                try:
                    conn, _ = self.sock.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
                self.connections += 1
                t = threading.Thread(target=self._serve, args=(conn,), daemon=True,
                                     name=f"raw-conn:{self.port}")
                self._threads.append(t)
                t.start()
        finally:
            self.sock.close()
            self.stop_event.set()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(2.0)
        try:
            self.handler(conn, self.stop_event)
        except (OSError, ssl.SSLError) as exc:     # the client's side of the fault is what the tests look at
            self.errors.append(exc)
        finally:
            conn.close()

    def stop(self) -> None:
        self.stop_event.set()
        self._accepter.join(timeout=2.0)
        for t in self._threads:
            t.join(timeout=2.0)


def read_request(read: Callable[[], bytes]) -> bytes:
    """Read an HTTP request head with ``read()`` (up to the blank line, or until the peer stops)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = read()
        if not chunk:
            break
        data += chunk
    return data


class BioTls:
    """The server side of TLS over ``ssl.MemoryBIO``: the encrypted bytes are ours to cut or damage."""

    def __init__(self, conn: socket.socket, ctx: ssl.SSLContext) -> None:
        self.conn = conn
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.incoming, self.outgoing, server_side=True)
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.flush()
                self._fill()
        self.flush()

    def _fill(self) -> None:
        chunk = self.conn.recv(65536)
        if not chunk:
            raise ConnectionResetError("the client went away")
        self.incoming.write(chunk)

    def flush(self) -> None:
        data = self.outgoing.read()
        if data:
            self.conn.sendall(data)

    def recv(self) -> bytes:
        while True:
            try:
                return self.obj.read(65536)
            except ssl.SSLWantReadError:
                self.flush()
                self._fill()

    def records(self, plaintext: bytes) -> bytes:
        """The TLS records carrying ``plaintext``, encrypted and not sent."""
        self.obj.write(plaintext)
        return self.outgoing.read()


def corrupted_record_answer(ctx: ssl.SSLContext, response: bytes, hold_s: float = 0.5) -> Handler:
    """Handshake, read the request, then answer with a TLS record whose ciphertext is damaged (bad record MAC)."""
    def handler(conn: socket.socket, stop: threading.Event) -> None:
        tls = BioTls(conn, ctx)
        read_request(tls.recv)
        rec = bytearray(tls.records(response))
        rec[len(rec) // 2] ^= 0xFF
        conn.sendall(bytes(rec))
        stop.wait(hold_s)
    return handler
