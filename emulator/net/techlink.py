"""Links from the device to the technological server (the vendor's protocol is MODELLED).

A link carries one request frame and brings back one reply frame, as the
exchange sessions in ``emulator.devices.kkt.techexchange`` need; a session is
named by a key and ends with ``close(key)``. A reply that is no frame names a
``Failure`` (the same vocabulary as the HTTP links) and a detail. Each link
answers for the names of its server (``resolves``; ``rd.incotexkkm.ru`` by
default): the device opens no session to a «АДРЕС СЕРВЕРА» its link does not
know.

* ``SimTechLink`` drives the server's sans-IO session in-process, on the
  virtual clock (``open_session`` makes one per device session: the world
  passes the technological server's ``Session``); every frame still goes
  through the wire format both ways (built, parsed), so the schema is
  exercised on every exchange.
* ``TcpTechLink`` speaks to the server's TCP front over a real TCP
  (optionally TLS) connection per session, on a worker (``LinkWorkers``), and
  posts the reply to the real-time driver.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from emulator.base.clock import VirtualClock
from emulator.base.failures import Failure
from emulator.net.techclient import TechClient
from emulator.net.workers import LinkWorkers, Post
from emulator.rules.syntax import DEFAULT_TECH_HOST
from emulator.wire.techframes import Frame, FrameReader, parse_frame


@dataclass(frozen=True)
class TechReply:
    frame: Frame | None
    failure: Failure | None = None
    detail: str = ""          # what went wrong, as the device's event says it


Deliver = Callable[[TechReply], None]


class FrameSession(Protocol):
    """The server's side of one session: a request frame -> (reply frames, close after them)."""

    def handle(self, frame: Frame) -> tuple[list[Frame], bool]: ...


class _Names:
    """The names the link's server answers to: the emulator's resolver table for it."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = frozenset(n.lower() for n in names)

    def resolves(self, host: str) -> bool:
        return host.strip().lower().rstrip(".") in self.names


class SimTechLink(_Names):
    def __init__(self, clock: VirtualClock, open_session: Callable[[], FrameSession], latency_ms: int = 30,
                 names: Iterable[str] = (DEFAULT_TECH_HOST,)) -> None:
        super().__init__(names)
        self.clock = clock
        self.open_session = open_session
        self.latency_ms = latency_ms
        self.down = False
        self.sessions_opened = 0
        self._sessions: dict[str, FrameSession] = {}

    def request(self, key: str, frame: Frame, deliver: Deliver) -> None:
        if self.down:
            self.clock.call_later(self.latency_ms, lambda: deliver(
                TechReply(None, Failure.REFUSED, "connection refused")))
            return
        session = self._sessions.get(key)
        if session is None:
            session = self._sessions[key] = self.open_session()
            self.sessions_opened += 1
        frames = FrameReader().feed(frame.to_bytes())  # over the wire format, as TCP would
        replies, close = session.handle(frames[0])
        reply = parse_frame(replies[0].to_bytes())
        if close:
            self._sessions.pop(key, None)
        self.clock.call_later(self.latency_ms, lambda: deliver(TechReply(reply)))

    def close(self, key: str) -> None:
        self._sessions.pop(key, None)


def _os_failure(exc: OSError) -> Failure:
    if isinstance(exc, TimeoutError):
        return Failure.TIMEOUT
    if isinstance(exc, ConnectionRefusedError):
        return Failure.REFUSED
    return Failure.PEER_CLOSED


class TcpTechLink(_Names):
    def __init__(self, post: Post, address: tuple[str, int], *,
                 ssl_context: ssl.SSLContext | None = None, server_hostname: str | None = None,
                 timeout_s: float = 5.0, names: Iterable[str] = (DEFAULT_TECH_HOST,)) -> None:
        super().__init__(names)
        self.address = address
        self.ssl_context = ssl_context
        self.server_hostname = server_hostname
        self.timeout_s = timeout_s
        self.down = False            # switched off (a trainer's fault): every request refused, no connection made
        self.sessions_opened = 0
        self._clients: dict[str, TechClient] = {}
        self._lock = threading.Lock()
        self._workers = LinkWorkers(post, 2, "kkt-tech")

    def request(self, key: str, frame: Frame, deliver: Deliver) -> None:
        def work() -> TechReply:
            if self.down:
                self.close(key)
                return TechReply(None, Failure.REFUSED, "connection refused (the link is switched off)")
            try:
                with self._lock:
                    client = self._clients.get(key)
                if client is None:
                    client = TechClient(self.address, self.ssl_context, self.server_hostname, self.timeout_s)
                    with self._lock:
                        self._clients[key] = client
                        self.sessions_opened += 1
                reply = client.request(frame)
                if reply is None:
                    return TechReply(None, Failure.PEER_CLOSED, "connection closed by the server")
                return TechReply(reply)
            except OSError as exc:   # TimeoutError is an OSError
                self.close(key)
                return TechReply(None, _os_failure(exc), f"{type(exc).__name__}: {exc}")

        def failed(exc: Exception) -> TechReply:
            self.close(key)
            return TechReply(None, Failure.PEER_CLOSED, f"internal error in the link: {type(exc).__name__}")

        self._workers.run(work, deliver, failed)

    def close(self, key: str) -> None:
        with self._lock:
            client = self._clients.pop(key, None)
        if client is not None:
            client.close()

    def shutdown(self) -> None:
        with self._lock:
            keys = list(self._clients)
        for k in keys:
            self.close(k)
        self._workers.shutdown()
