"""The text console of ``kkt-emu serve``: one line, one command, on the device's thread.

``Console.command(line)`` runs a command against the device through the
cashier driver (``Operator``): ``press``, ``keys``, ``scan``, ``scan-image``,
``type``, ``goto``; shows the log, the CDN list or the screen; ``exchange``
opens a session with the technological server at once — never in cash mode,
where the device holds no session. After a command that drives the device
the console lets the device finish (``settle``) and prints the display.
``show_event`` prints the events a person at the console wants to see as they
happen (log records, errors, beeps, TLS, CDN, receipts, the exchange).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path

from emulator.devices.kkt import events
from emulator.devices.kkt.device import KktDevice
from emulator.fronts.operator import Operator, OperatorError

HELP = """commands:
  press KEY...        keys by name: ИТ ПИ ВЗ С РЕЖ + - X КОД 00 0-9 .
  keys 2 4 8 ПИ       the same, digits typed one by one
  scan CODE           the barcode scanner (write the GS as <GS>)
  scan-image FILE     the scanner reading a picture (a token QR code)
  type TEXT           the PC keyboard (host names, tokens)
  goto LABEL          walk the menu to an item, e.g. goto СТАТУС ГИС МТ
  screen | log | cdn  show the display, the GIS MT log, the CDN list
  exchange            a session with the technological server now (not in cash mode)
  quit                stop (Ctrl-C works too)"""

# The device events the console prints as they happen.
SHOWN_EVENTS = (events.LogWritten, events.ErrorShown, events.EmergencyChanged, events.Beeped, events.TlsNote,
                events.CdnNote, events.ReceiptOpened, events.ReceiptClosed, events.ReceiptCancelled,
                events.ReceiptDiscarded, events.TechNote, events.StateFileSetAside)


class Console:
    def __init__(self, device: KktDevice, say: Callable[[str], None], settle: Callable[[], object],
                 quit: Callable[[], object]) -> None:
        self.device = device
        self.say = say
        self.settle = settle
        self.quit = quit
        self.operator = Operator(device)

    def show_event(self, ev: events.DeviceEvent) -> None:
        if isinstance(ev, SHOWN_EVENTS):
            self.say(f"  [{ev.kind}] {ev.text}")

    def screen(self) -> None:
        l1, l2, status = self.device.screen()
        self.say(f"┌{'─' * 20}┐\n│{l1}│\n│{l2}│\n└{'─' * 20}┘ {status}")

    def command(self, line: str) -> None:
        """Run one console command (on the driver thread)."""
        try:
            parts = shlex.split(line)
        except ValueError as exc:
            self.say(f"? {exc}")
            return
        if not parts:
            return
        cmd, rest = parts[0], parts[1:]
        d, op = self.device, self.operator
        try:
            if cmd == "press":
                op.press(*rest)
            elif cmd == "keys":
                op.press_many(" ".join(rest))
            elif cmd == "scan":
                op.scan(line.split(None, 1)[1] if len(parts) > 1 else "", wait=False)
            elif cmd == "scan-image":
                d.scan_image(Path(rest[0]))
            elif cmd == "type":
                op.type_text(line.split(None, 1)[1] if len(parts) > 1 else "")
            elif cmd == "goto":
                op.goto(" ".join(rest))
            elif cmd == "log":
                for r in d.logbook.records[-10:]:
                    self.say(r.text + "\n")
                return
            elif cmd == "cdn":
                for h in d.book.snapshot(d.clock.now_ms):
                    self.say(f"  {h}")
                return
            elif cmd == "exchange":
                if d.tech is None:
                    self.say("? no technological server (--no-techserver)")
                    return
                if d.in_cash_mode:
                    self.say("? not in cash mode: leave it first (the device never exchanges there)")
                    return
                if not d.tech.start("console"):
                    self.say("? a session is already running")
                    return
            elif cmd == "help":
                self.say(HELP)
                return
            elif cmd == "quit":
                self.quit()
                return
            elif cmd != "screen":
                self.say(f"? unknown command {cmd!r} (help)")
                return
        except (ValueError, KeyError, RuntimeError, OSError, OperatorError) as exc:
            self.say(f"? {exc}")
        self.settle()
        self.screen()
