"""A small blocking client of the technological server's framing over TCP (optionally TLS).

``TechClient.request(frame) -> reply`` serves the device's TCP link (one client
per session) and the tests; ``send`` of raw bytes makes broken input.
``exchange_once`` sends a batch of frames on one connection and collects the
replies.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Iterable

from emulator.wire.techframes import Frame, FrameReader


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
