"""The emulated receipt printer (MODELLED): an ESC/POS printer's state and what it does with the bytes it gets.

A connection is a ``PrinterSession``: ``session.receive(data)`` parses the bytes
(``emulator.wire.escpos.parser``) and returns what the printer sends back, the
answers to the real-time status requests ``DLE EOT n`` / ``GS r n``, computed
from the state at that moment. Print events go onto the paper
(``emulator.wire.escpos.paper``); a cut ends a document, and ``documents`` /
``png()`` give the printed receipts back. A drawer pulse (``ESC p``, ``DLE DC4``)
opens the cash drawer (``drawer_opened`` counts them; ``close_drawer()`` is the
cashier pushing it shut).

Faults (``set_fault(name, value)``, or ``plan(steps)`` to change them at given
instants of the clock):

* ``paper_out`` — the roll is empty: the printer goes offline (``DLE EOT 1``
  bit 3), ``DLE EOT 2`` reports paper-end stop (bit 5), ``DLE EOT 4`` the roll
  sensor (bits 5-6). ``paper_lines=N`` makes the roll end after N more lines,
  in the middle of a receipt if it comes to that;
* ``paper_low`` — the near-end sensor (``DLE EOT 4`` bits 2-3); it still prints;
* ``cover_open`` — offline, ``DLE EOT 2`` bit 2;
* ``offline`` — the printer is off the network: the TCP front resets every
  connection (``tcp.py``);
* ``slow`` — milliseconds the printer takes before it handles each piece of
  data it receives (a busy or slow printer; the DM gives up after 5 s).

While the printer is offline (paper out, cover open) it still answers status
requests, as real printers do, and keeps what it is sent to print (once it
holds ``hold_limit`` events the TCP front stops reading, so the sender waits:
at most ``hold_limit`` plus one read's worth are kept): when the fault clears the held receipt comes out, as a printer resumes
after a new roll is loaded. Nothing is lost and nothing is printed twice.

Time comes from the clock given: a ``VirtualClock`` (the plan's changes are its
timers) or, live, the wall clock (the plan is applied at each ``tick()``, which
the TCP front calls at least every 100 ms).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from emulator.base.clock import VirtualClock
from emulator.wire.escpos.paper import WIDTH_DOTS, Document, Paper, render_png
from emulator.wire.escpos.parser import (
    PRINT_EVENTS,
    DrawerPulse,
    Dropped,
    EscPosParser,
    Event,
    Init,
    StatusRequest,
)

SWITCHES = ("paper_out", "paper_low", "cover_open", "offline")
FAULTS = (*SWITCHES, "slow", "paper_lines")
HOLD_LIMIT = 20_000          # print events kept while offline


@dataclass(frozen=True, slots=True)
class FaultStep:
    """At ``at_ms`` on the model's clock, set fault ``fault`` to ``value`` (a bool for the switches,
    milliseconds for ``slow``, lines left or None for ``paper_lines``)."""
    at_ms: int
    fault: str
    value: bool | int | None


def check_fault(name: str, value: object) -> None:
    """Raise ``ValueError`` for an unknown fault or a value it cannot take."""
    if name in SWITCHES:
        if not isinstance(value, bool):
            raise ValueError(f"printer fault {name}: true or false, not {value!r}")
    elif name in ("slow", "paper_lines"):
        if value is None and name == "paper_lines":
            return
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 3_600_000:
            raise ValueError(f"printer fault {name}: an integer 0-3600000, not {value!r}")
    else:
        raise ValueError(f"unknown printer fault {name!r}: one of {', '.join(FAULTS)}")


@dataclass(frozen=True, slots=True)
class DrawerOpening:
    at_ms: int
    pin: int
    on_ms: int


class PrinterModel:
    """See the module docstring. Thread-safe: the TCP front and a console may share it."""

    def __init__(self, clock: VirtualClock | None = None, width_dots: int = WIDTH_DOTS, keep: int = 100,
                 hold_limit: int = HOLD_LIMIT) -> None:
        self.clock = clock
        self.paper = Paper(width_dots, keep=keep)
        self.hold_limit = hold_limit
        self.paper_out = False
        self.paper_low = False
        self.cover_open = False
        self.offline = False
        self.slow_ms = 0
        self.paper_lines: int | None = None
        self.drawer_open = False
        self.drawer_openings: list[DrawerOpening] = []
        self._held: deque[Event] = deque()
        self._plan: list[FaultStep] = []
        self._lock = threading.RLock()
        self.stats: dict[str, int] = {"bytes": 0, "status_requests": 0, "dropped_bytes": 0, "held": 0,
                                      "documents": 0, "sessions": 0}

    # -- time and faults
    def now_ms(self) -> int:
        return self.clock.now_ms if self.clock is not None else int(time.time() * 1000)

    @property
    def ready(self) -> bool:
        """Online and able to print (not offline, paper in, cover shut)."""
        return not (self.paper_out or self.cover_open or self.offline)

    def set_fault(self, name: str, value: bool | int | None) -> None:
        check_fault(name, value)
        with self._lock:
            if name == "slow":
                self.slow_ms = int(value or 0)
            elif name == "paper_lines":
                self.paper_lines = None if value is None else int(value)
                if self.paper_lines == 0:
                    self.paper_out = True
            else:
                setattr(self, name, bool(value))
            self._release()

    def plan(self, steps: Iterable[FaultStep | dict[str, object]]) -> None:
        """Add timed fault changes (``FaultStep`` or ``{"at_ms", "fault", "value"}``); each is checked first."""
        parsed: list[FaultStep] = []
        for s in steps:
            if isinstance(s, dict):
                at = s.get("at_ms")
                if isinstance(at, bool) or not isinstance(at, int):
                    raise ValueError(f"printer fault step: at_ms must be an integer, not {at!r}")
                s = FaultStep(at, str(s.get("fault")), s.get("value"))  # type: ignore[arg-type]
            check_fault(s.fault, s.value)
            parsed.append(s)
        with self._lock:
            if self.clock is not None:
                for s in parsed:
                    self.clock.call_at(s.at_ms, self._step(s), label=f"printer {s.fault}")
            else:
                self._plan = sorted([*self._plan, *parsed], key=lambda s: s.at_ms)
        self.tick()

    def _step(self, s: FaultStep) -> Callable[[], None]:
        return lambda: self.set_fault(s.fault, s.value)

    def tick(self) -> None:
        """Apply the plan's changes that are due (live; with a virtual clock its timers do that)."""
        with self._lock:
            now = self.now_ms()
            while self._plan and self._plan[0].at_ms <= now:
                s = self._plan.pop(0)
                self.set_fault(s.fault, s.value)

    def delay_ms(self) -> int:
        """How long the printer takes before it handles the next piece of data (the ``slow`` fault)."""
        self.tick()
        return self.slow_ms

    @property
    def held(self) -> int:
        return len(self._held)

    @property
    def hold_full(self) -> bool:
        return len(self._held) >= self.hold_limit

    def close_drawer(self) -> None:
        with self._lock:
            self.drawer_open = False

    # -- status bytes
    def status(self, kind: str, n: int) -> bytes:
        """The one-byte answer to ``DLE EOT n`` or ``GS r n`` (b"" for a request a printer does not answer)."""
        with self._lock:
            self.stats["status_requests"] += 1
            if kind == "GS r":
                if n in (1, 49):
                    return bytes([(0x03 if self.paper_low else 0) | (0x0C if self.paper_out else 0)])
                if n in (2, 50):
                    return bytes([0x01 if self.drawer_open else 0])
                return b""
            byte = 0x12
            if n == 1:
                byte |= (0x04 if self.drawer_open else 0) | (0 if self.ready else 0x08)
            elif n == 2:
                byte |= (0x04 if self.cover_open else 0) | (0x20 if self.paper_out else 0)
            elif n == 3:
                pass
            elif n == 4:
                byte |= (0x0C if self.paper_low else 0) | (0x60 if self.paper_out else 0)
            else:
                return b""
            return bytes([byte])

    # -- printing
    def session(self) -> PrinterSession:
        with self._lock:
            self.stats["sessions"] += 1
        return PrinterSession(self)

    def _print(self, e: Event) -> None:
        if isinstance(e, DrawerPulse):
            self.drawer_open = True
            self.drawer_openings.append(DrawerOpening(self.now_ms(), e.pin, e.on_ms))
            return
        before_lines = self.paper.lines_printed
        self.paper.apply(e)
        self.stats["documents"] = self.paper.ended
        if self.paper_lines is not None:
            self.paper_lines = max(0, self.paper_lines - (self.paper.lines_printed - before_lines))
            if self.paper_lines == 0:
                self.paper_out = True

    def _take(self, e: Event) -> None:
        if self.ready and not self._held:
            self._print(e)
        else:
            self._held.append(e)
            self.stats["held"] += 1

    def _release(self) -> None:
        while self._held and self.ready:
            self._print(self._held.popleft())

    # -- what was printed
    @property
    def documents(self) -> list[Document]:
        """The cut receipts, oldest first (the last ``keep`` of them)."""
        with self._lock:
            return list(self.paper.documents)

    def png(self, index: int = -1) -> bytes:
        with self._lock:
            return render_png(self.paper.documents[index], self.paper.width_dots)

    def state(self) -> dict[str, object]:
        with self._lock:
            return {"ready": self.ready, "paper_out": self.paper_out, "paper_low": self.paper_low,
                    "cover_open": self.cover_open, "offline": self.offline, "slow_ms": self.slow_ms,
                    "paper_lines": self.paper_lines, "drawer_open": self.drawer_open,
                    "drawer_openings": len(self.drawer_openings), "held_events": len(self._held),
                    "documents": self.paper.ended, **{f"stat_{k}": v for k, v in self.stats.items()}}


class PrinterSession:
    """One connection's parser state on the shared printer."""

    def __init__(self, model: PrinterModel) -> None:
        self.model = model
        self.parser = EscPosParser()

    def receive(self, data: bytes) -> bytes:
        """Handle ``data``; the bytes the printer sends back (status answers), in order."""
        m = self.model
        reply = bytearray()
        with m._lock:
            m.tick()
            m.stats["bytes"] += len(data)
            for e in self.parser.feed(data):
                if isinstance(e, StatusRequest):
                    reply += m.status(e.kind, e.n)
                elif isinstance(e, Dropped):
                    m.stats["dropped_bytes"] += e.nbytes
                elif isinstance(e, Init):
                    continue
                elif isinstance(e, (*PRINT_EVENTS, DrawerPulse)):
                    m._take(e)
        return bytes(reply)
