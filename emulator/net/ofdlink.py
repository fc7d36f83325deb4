"""The device's links to the OFD and the ОИСМ: one session message out, one back, as data.

``link.send(message, deliver)`` takes the bytes of a whole session message
(``emulator.wire.ffd.session``) and calls ``deliver(LinkResult)`` exactly once:
``reply`` holds the bytes of the first whole session message the server sent
back, or ``failure`` names why there is none (never an exception):

    failure      when
    -----------  ---------------------------------------------------------------
    "refused"    the connection was refused (the server is down)
    "timeout"    no whole reply within the link's deadline (a silent or slow server)
    "closed"     the server closed or reset the connection before a whole reply
    "garbage"    the bytes that came back do not start with a session message
                 (wrong signature, damaged header, bad session CRC, too long)

The device (``devices/kkt``) maps each failure to its own outcome; the link
only names it. ``detail`` says more, for the device's log.

* ``SimFiscalLink(clock, server, latency_ms, timeout_ms)`` asks an in-process
  server model (``FiscalServer.exchange(message, now_ms) -> ServerAnswer``) and
  delivers on the virtual clock after the link's latency plus the server's;
  the model's faults (``refuse``, ``close``, ``stall``) become the failures above.
  The reply goes through the session framer, as on TCP.
* ``TcpFiscalLink(host, port, timeout_ms)`` opens one TCP connection per
  message to the server's TCP front, with one deadline for the whole exchange
  (connect, send, read). Given ``post`` (the real-time driver's queue) it works
  on a ``LinkWorkers`` thread and posts the result; without it, it works
  within the call (tools and tests).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from emulator.base.clock import VirtualClock
from emulator.net.faults import OK, FaultPlan
from emulator.net.workers import LinkWorkers, Post
from emulator.wire.ffd.session import HEADER_SIZE, MAX_BODY, SIGNATURES, FramingError, SessionFramer

REFUSED = "refused"
TIMEOUT = "timeout"
CLOSED = "closed"
GARBAGE = "garbage"
FAILURES = (REFUSED, TIMEOUT, CLOSED, GARBAGE)

DEFAULT_TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class LinkResult:
    reply: bytes | None
    failure: str | None = None        # one of FAILURES when reply is None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.reply is not None


Deliver = Callable[[LinkResult], None]


class FiscalLink(Protocol):
    def send(self, message: bytes, deliver: Deliver) -> None: ...


@dataclass(frozen=True)
class ServerAnswer:
    """What an in-process fiscal server does with one message: reply bytes, or a transport fault."""

    reply: bytes | None = None
    fault: str | None = None          # None, "refuse", "close" (nothing whole comes), "stall" (nothing comes)
    latency_ms: int = 0


class FiscalServer(Protocol):
    def exchange(self, message: bytes, now_ms: int) -> ServerAnswer: ...


# ------------------------------------------------------------------ the servers' faults
SERVER_WORDS = frozenset({"garbage", "reject"})
OUTAGE_ITEMS = frozenset({"down", "slow", "refuse", "close", "stall", "garbage", "reject"})
GARBAGE_REPLY = b"\xffnot a session message\x00" * 4


@dataclass(frozen=True)
class Outage:
    """A fault of a mock fiscal server for a span of virtual time: ``start_ms <= now < end_ms``."""

    start_ms: int
    end_ms: int
    item: str                  # one of OUTAGE_ITEMS; "down" refuses, "slow" adds latency_ms
    latency_ms: int = 0


class FiscalFaults:
    """What goes wrong at a mock OFD / ОИСМ, message by message and over virtual time.

    ``plan`` is the shared ``FaultPlan`` (latency, items consumed one per
    message, ``down``) with the words ``garbage`` (the answer is bytes that are
    no session message) and ``reject`` (the server answers, refusing the
    document); an HTTP status in the plan counts as ``reject``. ``outages``
    hold faults for spans of the virtual clock (``schedule``), checked first;
    while one is active nothing of the plan's items is consumed.
    """

    def __init__(self) -> None:
        self.plan = FaultPlan(words=SERVER_WORDS)
        self.outages: list[Outage] = []

    def schedule(self, start_ms: int, end_ms: int, item: str, latency_ms: int = 0) -> Outage:
        if item not in OUTAGE_ITEMS:
            raise ValueError(f"bad outage {item!r}: one of {sorted(OUTAGE_ITEMS)}")
        if end_ms <= start_ms or latency_ms < 0:
            raise ValueError("an outage ends after it starts, with a latency of 0 ms or more")
        outage = Outage(start_ms, end_ms, item, latency_ms)
        self.outages.append(outage)
        return outage

    def decide(self, now_ms: int) -> tuple[str, int]:
        """(item, latency_ms) for a message arriving at ``now_ms``; item ``"ok"`` answers normally."""
        latency = self.plan.next_latency()
        active = None
        for o in self.outages:
            if o.start_ms <= now_ms < o.end_ms:
                if o.item == "slow":
                    latency += o.latency_ms
                elif active is None:
                    active = "refuse" if o.item == "down" else o.item
        if self.plan.down:
            return "refuse", latency
        if active is not None:
            return active, latency
        item = self.plan.next_item()
        return (item if isinstance(item, str) else OK if item == 200 else "reject"), latency

    def answer(self, now_ms: int, respond: Callable[[bool], bytes | None]) -> ServerAnswer:
        """The answer to one message: ``respond(reject)`` builds the reply (None: the server closes)."""
        item, latency = self.decide(now_ms)
        if item in ("refuse", "close", "stall"):
            return ServerAnswer(None, item, latency)
        if item == "garbage":
            return ServerAnswer(GARBAGE_REPLY, None, latency)
        return ServerAnswer(respond(item == "reject"), None, latency)


class ReplyReader:
    """Cuts the first session message out of the bytes a server sends back."""

    def __init__(self, signatures: tuple[bytes, ...] = SIGNATURES, max_body: int = MAX_BODY) -> None:
        self.framer = SessionFramer(signatures, max_body)
        self._stream = bytearray()

    def feed(self, data: bytes) -> LinkResult | None:
        """The result once the first message (or the first drop) is complete; None: more bytes needed."""
        room = HEADER_SIZE + self.framer.max_body - len(self._stream)
        if room > 0:
            self._stream += data[:room]
        for event in self.framer.feed(data):
            if isinstance(event, FramingError):
                return LinkResult(None, GARBAGE, f"{event.kind}: {event.detail}")
            return LinkResult(bytes(self._stream[:HEADER_SIZE + len(event.body)]))
        return None


def read_reply(data: bytes, signatures: tuple[bytes, ...] = SIGNATURES) -> LinkResult:
    """The result of a whole reply as one piece of bytes (a short one is ``closed``)."""
    result = ReplyReader(signatures).feed(data)
    return result or LinkResult(None, CLOSED, f"connection closed after {len(data)} bytes, no whole message")


class SimFiscalLink:
    """The link to an in-process server model, on the virtual clock."""

    def __init__(self, clock: VirtualClock, server: FiscalServer, latency_ms: int = 30,
                 timeout_ms: int = DEFAULT_TIMEOUT_MS, signatures: tuple[bytes, ...] = SIGNATURES) -> None:
        self.clock = clock
        self.server = server
        self.latency_ms = latency_ms
        self.timeout_ms = timeout_ms
        self.signatures = signatures
        self.down = False
        self.sent = 0

    def send(self, message: bytes, deliver: Deliver) -> None:
        self.sent += 1
        if self.down:
            self.clock.call_later(self.latency_ms, lambda: deliver(LinkResult(None, REFUSED, "connection refused")))
            return
        answer = self.server.exchange(bytes(message), self.clock.now_ms + self.latency_ms // 2)
        if answer.fault == "refuse":
            result, delay = LinkResult(None, REFUSED, "connection refused"), self.latency_ms
        elif answer.fault == "stall":
            result, delay = LinkResult(None, TIMEOUT, f"no answer in {self.timeout_ms} ms"), self.timeout_ms
        else:
            delay = self.latency_ms + answer.latency_ms
            if delay > self.timeout_ms:
                result, delay = LinkResult(None, TIMEOUT, f"no answer in {self.timeout_ms} ms"), self.timeout_ms
            elif answer.fault == "close" or answer.reply is None:
                result = LinkResult(None, CLOSED, "connection closed by the server")
            else:
                result = read_reply(answer.reply, self.signatures)
        self.clock.call_later(delay, lambda: deliver(result))


class TcpFiscalLink:
    """One TCP connection per message to a server's TCP front; one deadline for the whole exchange."""

    def __init__(self, host: str, port: int, timeout_ms: int = DEFAULT_TIMEOUT_MS, *, post: Post | None = None,
                 signatures: tuple[bytes, ...] = SIGNATURES) -> None:
        self.host = host
        self.port = port
        self.timeout_ms = timeout_ms
        self.signatures = signatures
        self.sent = 0
        self._workers = LinkWorkers(post, 2, "kkt-fiscal") if post is not None else None

    def exchange(self, message: bytes) -> LinkResult:
        """The blocking exchange (what ``send`` runs)."""
        deadline = time.monotonic() + self.timeout_ms / 1000

        def left() -> float:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("deadline passed")
            return remaining

        try:
            with socket.create_connection((self.host, self.port), timeout=left()) as sock:
                sock.settimeout(left())
                sock.sendall(message)
                reader = ReplyReader(self.signatures)
                got = 0
                while True:
                    sock.settimeout(left())
                    data = sock.recv(65536)
                    if not data:
                        return LinkResult(None, CLOSED, f"connection closed after {got} bytes, no whole message")
                    got += len(data)
                    result = reader.feed(data)
                    if result is not None:
                        return result
        except TimeoutError:
            return LinkResult(None, TIMEOUT, f"no whole answer in {self.timeout_ms} ms")
        except ConnectionRefusedError as exc:
            return LinkResult(None, REFUSED, f"connection refused: {exc.strerror or exc}")
        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError) as exc:
            return LinkResult(None, CLOSED, f"connection reset: {exc.strerror or exc}")
        except OSError as exc:                       # unreachable, no route: as good as refused
            return LinkResult(None, REFUSED, f"{type(exc).__name__}: {exc.strerror or exc}")

    def send(self, message: bytes, deliver: Deliver) -> None:
        self.sent += 1
        if self._workers is None:
            deliver(self.exchange(message))
        else:
            self._workers.run(lambda: self.exchange(message), deliver)

    def shutdown(self) -> None:
        if self._workers is not None:
            self._workers.shutdown()
