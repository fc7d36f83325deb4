"""Links from the device to the technological server (the vendor's protocol is MODELLED).

A link carries one request frame and brings back one reply frame, as the
exchange sessions in ``emulator.kkt.techexchange`` need; a session is named by
a key and ends with ``close(key)``. Each link answers for the names of its
server (``resolves``; ``rd.incotexkkm.ru`` by default): the device opens no
session to a «АДРЕС СЕРВЕРА» its link does not know.

* ``SimTechLink`` drives the server's sans-IO ``Session`` in-process, on the
  virtual clock; every frame still goes through the wire format both ways
  (built, parsed), so the schema is exercised on every exchange.
* ``TcpTechLink`` speaks to ``TechServerTcp`` over a real TCP (optionally TLS)
  connection per session, in a worker thread, and posts the reply to the
  real-time driver.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .clock import VirtualClock
from .kkt.settings import DEFAULT_TECH_HOST
from .techserver.model import TechServer
from .techserver.tcp import Session, TechClient
from .techserver.wire import Frame, FrameReader, parse_frame


@dataclass(frozen=True)
class TechReply:
    frame: Frame | None
    failure: str | None = None


Deliver = Callable[[TechReply], None]


class _Names:
    """The names the link's server answers to: the emulator's resolver table for it."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = frozenset(n.lower() for n in names)

    def resolves(self, host: str) -> bool:
        return host.strip().lower().rstrip(".") in self.names


class SimTechLink(_Names):
    def __init__(self, clock: VirtualClock, model: TechServer, latency_ms: int = 30,
                 names: Iterable[str] = (DEFAULT_TECH_HOST,)) -> None:
        super().__init__(names)
        self.clock = clock
        self.model = model
        self.latency_ms = latency_ms
        self.down = False
        self.sessions_opened = 0
        self._sessions: dict[str, Session] = {}

    def request(self, key: str, frame: Frame, deliver: Deliver) -> None:
        if self.down:
            self.clock.call_later(self.latency_ms, lambda: deliver(TechReply(None, "connection refused")))
            return
        session = self._sessions.get(key)
        if session is None:
            session = self._sessions[key] = Session(self.model, lambda: self.clock.now_ms)
            self.sessions_opened += 1
        frames = FrameReader().feed(frame.to_bytes())  # over the wire format, as TCP would
        replies, close = session.handle(frames[0])
        reply = parse_frame(replies[0].to_bytes())
        if close:
            self._sessions.pop(key, None)
        self.clock.call_later(self.latency_ms, lambda: deliver(TechReply(reply)))

    def close(self, key: str) -> None:
        self._sessions.pop(key, None)


class TcpTechLink(_Names):
    def __init__(self, post: Callable[[Callable[[], None]], None], address: tuple[str, int], *,
                 ssl_context: ssl.SSLContext | None = None, server_hostname: str | None = None,
                 timeout_s: float = 5.0, names: Iterable[str] = (DEFAULT_TECH_HOST,)) -> None:
        super().__init__(names)
        self.post = post
        self.address = address
        self.ssl_context = ssl_context
        self.server_hostname = server_hostname
        self.timeout_s = timeout_s
        self.sessions_opened = 0
        self._clients: dict[str, TechClient] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kkt-tech")

    def request(self, key: str, frame: Frame, deliver: Deliver) -> None:
        def work() -> None:
            try:
                with self._lock:
                    client = self._clients.get(key)
                if client is None:
                    client = TechClient(self.address, self.ssl_context, self.server_hostname, self.timeout_s)
                    with self._lock:
                        self._clients[key] = client
                        self.sessions_opened += 1
                reply = client.request(frame)
                result = TechReply(reply, None if reply is not None else "connection closed by the server")
            except (TimeoutError, OSError) as exc:
                self.close(key)
                result = TechReply(None, f"{type(exc).__name__}: {exc}")
            self.post(lambda: deliver(result))

        self._pool.submit(work)

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
        self._pool.shutdown(wait=False, cancel_futures=True)
