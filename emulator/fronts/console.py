"""The text console of ``kkt-emu serve``: one line, one command, on the device's thread.

``Console.command(line)`` runs a command against the device through the
cashier driver (``Operator``): ``press``, ``keys``, ``scan``, ``scan-image``,
``type``, ``goto``; shows the log, the CDN list or the screen; ``exchange``
opens a session with the technological server at once — never in cash mode,
where the device holds no session. After a command that drives the device
the console lets the device finish (``settle``) and prints the display.
``show_event`` prints the events a person at the console wants to see as they
happen (log records, errors, beeps, TLS, CDN, receipts, the exchange).

With a ``live`` world (``emulator.world.live.LiveWorld``, handed in by
``serve``) the console also changes the mock servers while the device runs:
``host NAME down|up|latency MS|plan ITEM...|tls FAULT|emergency on|off`` (or a
JSON object of the same keys), ``token add|block|unblock``, ``code JSON``,
``world JSON``, and shows them (``hosts``). ``cdn``, ``hosts`` and ``log`` print
tables (``table``); the device's CDN list shows the server side of each host
too, so a host that is down says ``down``.

The console survives any line: a command's own problems are one line starting
with ``?``; anything else a command raises is caught, printed as
``? internal error`` and counted in ``internal_errors`` (the fuzz target of the
console lines checks it stays 0). Console messages are English; the device's
display strings are Russian, as the device has them.
"""

from __future__ import annotations

import json
import logging
import shlex
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from emulator.base.errors import error_table
from emulator.base.moscow import MSK
from emulator.devices.kkt import events
from emulator.devices.kkt.device import KktDevice
from emulator.fronts.operator import Operator, OperatorError

log = logging.getLogger("kkt_emu.console")

HELP = """commands:
  press KEY...        keys by name: ИТ ПИ ВЗ С РЕЖ + - X КОД 00 0-9 .
  keys 2 4 8 ПИ       the same, digits typed one by one
  scan CODE           the barcode scanner (write the GS as <GS>)
  scan-image FILE     the scanner reading a picture (a token QR code; a pack's DataMatrix in cash mode)
  type TEXT           the PC keyboard (host names, tokens)
  goto LABEL          walk the menu to an item, e.g. goto СТАТУС ГИС МТ
  screen              show the display
  log [N]             the last N GIS MT log records as a table (default 10)
  record SEQ          one log record exactly as the device wrote it
  cdn                 the device's CDN list, with each host's server state
  exchange            a session with the technological server now (not in cash mode)
  quit                stop (Ctrl-C works too)"""

LIVE_HELP = """changing the mock servers while the device runs:
  hosts                           every mock host: state, faults, requests
  host NAME down | up             refuse connections / listen again
  host NAME latency MS            answer MS milliseconds late
  host NAME plan ITEM... [repeat] fault plan, one item a request (500 429 5000 refuse close stall garbage ok ...);
                                  'host NAME plan' with no item clears it
  host NAME tls FAULT             unknown-ca | expired | wrong-host | stall | none
  host NAME emergency on | off    every method answers HTTP 203 (the device turns emergency mode on)
  host NAME {"latency_ms": 300, "down": false, ...}   the keys of a scenario's host step
  token add CONTOUR TOKEN         the contour (prod, sandbox) accepts TOKEN
  token block TOKEN | token unblock TOKEN
  code {"code": "...<GS>93abcd", "groupIds": [8], ...}   a marking code known to the mock (as in world.codes)
  world {"emergency": {"prod": true}, ...}   tokens, blocked_tokens, unblocked_tokens, emergency, codes"""

ON_OFF = {"on": True, "off": False}


class Live(Protocol):
    """What the console needs of a live world (``emulator.world.live.LiveWorld``)."""

    def change_host(self, name: str, conf: Any, source: str = ...) -> dict[str, Any]: ...
    def change_world(self, conf: Any, source: str = ...) -> dict[str, Any]: ...
    def hosts(self) -> list[dict[str, Any]]: ...
    def host_state(self, name: str) -> dict[str, Any]: ...


class ConsoleError(ValueError):
    """A console line that cannot be done: its message is the one line the console prints."""


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Rows under their headers, each column as wide as its widest cell."""
    cells = [[str(h) for h in headers], *[["" if c is None else str(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def msk_time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(MSK).strftime("%d.%m %H:%M:%S")


def server_state(state: dict[str, Any] | None) -> str:
    """A mock host's server side in a few words: ``down``, TLS fault, emergency, latency, plan."""
    if state is None:
        return "not a mock host"
    if state["down"]:
        return "down"
    parts = ["up"]
    if state.get("tls"):
        parts.append(f"tls {state['tls']}")
    if state.get("emergency"):
        parts.append("emergency (203)")
    if state.get("latency_seq"):
        parts.append(f"latency {'/'.join(str(v) for v in state['latency_seq'])} ms")
    elif state.get("latency_ms"):
        parts.append(f"latency {state['latency_ms']} ms")
    if state.get("plan"):
        parts.append("plan [" + " ".join(str(v) for v in state["plan"]) + "]" + (" repeat" if state["repeat"] else ""))
    return ", ".join(parts)


# The device events the console prints as they happen.
SHOWN_EVENTS = (events.LogWritten, events.ErrorShown, events.EmergencyChanged, events.Beeped, events.TlsNote,
                events.CdnNote, events.ReceiptOpened, events.ReceiptClosed, events.ReceiptCancelled,
                events.ReceiptDiscarded, events.TechNote, events.StateFileSetAside)


class Console:
    def __init__(self, device: KktDevice, say: Callable[[str], None], settle: Callable[[], object],
                 quit: Callable[[], object], live: Live | None = None) -> None:
        self.device = device
        self.say = say
        self.settle = settle
        self.quit = quit
        self.live = live
        self.operator = Operator(device)
        self.internal_errors = 0

    def show_event(self, ev: events.DeviceEvent) -> None:
        if isinstance(ev, SHOWN_EVENTS):
            self.say(f"  [{ev.kind}] {ev.text}")

    def screen(self) -> None:
        l1, l2, status = self.device.screen()
        self.say(f"┌{'─' * 20}┐\n│{l1}│\n│{l2}│\n└{'─' * 20}┘ {status}")

    def command(self, line: str) -> None:
        """Run one console command (on the driver thread); never raises."""
        try:
            self._command(line)
        except Exception as exc:   # the console survives any line: a bug is reported, not fatal
            self.internal_errors += 1
            log.exception("console command %r failed", line[:200])
            self.say(f"? internal error: {type(exc).__name__}: {str(exc)[:200]}")

    def _command(self, line: str) -> None:
        try:
            parts = shlex.split(line)
        except ValueError as exc:
            self.say(f"? {exc}")
            return
        if not parts:
            return
        cmd, rest = parts[0], parts[1:]
        raw_rest = line.strip().split(None, 1)[1] if len(parts) > 1 else ""
        d, op = self.device, self.operator
        try:
            if cmd == "press":
                op.press(*rest)
            elif cmd == "keys":
                op.press_many(" ".join(rest))
            elif cmd == "scan":
                op.scan(raw_rest, wait=False)
            elif cmd == "scan-image":
                if len(rest) != 1:
                    raise ConsoleError("scan-image takes one file name: scan-image token.png")
                d.scan_image(Path(rest[0]))
            elif cmd == "type":
                op.type_text(raw_rest)
            elif cmd == "goto":
                op.goto(" ".join(rest))
            elif cmd == "log":
                self.show_log(rest)
                return
            elif cmd == "record":
                self.show_record(rest)
                return
            elif cmd == "cdn":
                self.show_cdn()
                return
            elif cmd in ("hosts", "host", "token", "code", "world"):
                self.live_command(cmd, rest, raw_rest)
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
                self.say(HELP if self.live is None else HELP + "\n" + LIVE_HELP)
                return
            elif cmd == "quit":
                self.quit()
                return
            elif cmd != "screen":
                self.say(f"? unknown command {cmd!r} (help)")
                return
        except (ValueError, KeyError, RuntimeError, OSError, OperatorError) as exc:
            self.say(f"? {exc.args[0] if isinstance(exc, KeyError) and exc.args else exc}")
            return
        self.settle()
        self.screen()

    # ------------------------------------------------------------ tables
    def show_log(self, rest: list[str]) -> None:
        if len(rest) > 1 or (rest and not (rest[0].isdigit() and 0 < int(rest[0]) <= 10_000)):
            raise ConsoleError("log takes a number of records 1..10000: log 20")
        n = int(rest[0]) if rest else 10
        records = self.device.logbook.records[-n:]
        if not records:
            self.say("(the GIS MT log is empty)")
            return
        texts = error_table()
        rows = [(r.seq, msk_time(r.time_ms), r.code, texts[r.code].text if r.code in texts else "",
                 f"{r.elapsed_ms} ms", r.note[:60]) for r in records]
        self.say(table(("#", "time (MSK)", "code", "text", "took", "note"), rows))

    def show_record(self, rest: list[str]) -> None:
        if len(rest) != 1 or not rest[0].isdigit():
            raise ConsoleError("record takes a record number: record 12")
        for r in self.device.logbook.records:
            if r.seq == int(rest[0]):
                self.say(r.text)
                return
        raise ConsoleError(f"no record [{rest[0]}] in the log")

    def show_cdn(self) -> None:
        d = self.device
        now = d.clock.now_ms
        hosts = d.book.snapshot(now)
        if not hosts:
            self.say("(no CDN list yet: «СТАТУС ГИС МТ» fetches it)")
            return
        servers = {h["host"]: h for h in self.live.hosts()} if self.live is not None else {}
        rows = []
        for rank, h in enumerate(hosts, 1):
            until = h["blocked_until"]
            state = f"blocked until {msk_time(int(until))}" if h["blocked"] and isinstance(until, int) else "ok"
            rows.append((rank, h["host"], h["latency_ms"], state, h["errors_in_row"], h["slow_in_row"],
                         server_state(servers.get(str(h["host"]))) if self.live is not None else ""))
        self.say(table(("#", "host", "latency ms", "device", "errors", "late", "server"), rows))

    def show_hosts(self) -> None:
        assert self.live is not None
        rows = [(h["host"], h["contour"] + (" base" if h["base"] else ""), h.get("address", ""),
                 server_state(h), h["requests"], h.get("connections", "")) for h in self.live.hosts()]
        self.say(table(("host", "contour", "address", "server", "requests", "open conn."), rows))

    # ------------------------------------------------------------ live changes
    def live_command(self, cmd: str, rest: list[str], raw_rest: str) -> None:
        if self.live is None:
            raise ConsoleError("no mock servers to change (serve --real)")
        if cmd == "hosts":
            self.show_hosts()
            return
        if cmd == "host":
            if len(rest) < 2:
                raise ConsoleError("host NAME down|up|latency MS|plan ITEM...|tls FAULT|emergency on|off (help)")
            name = rest[0]
            self.live.change_host(name, self._host_change(rest[1:], raw_rest.split(None, 1)[1]))
            self.say(table(("host", "server"), [(name, server_state(self.live.host_state(name.lower())))]))
            return
        if cmd == "token":
            if len(rest) == 3 and rest[0] == "add":
                self.live.change_world({"tokens": {rest[1]: [rest[2]]}})
            elif len(rest) == 2 and rest[0] in ("block", "unblock"):
                self.live.change_world({f"{rest[0]}ed_tokens": [rest[1]]})
            else:
                raise ConsoleError("token add CONTOUR TOKEN | token block TOKEN | token unblock TOKEN")
            return
        if cmd == "code":
            entry = _json(raw_rest.replace("<GS>", "\\u001d"), "code")
            self.live.change_world({"codes": [entry]})
            return
        self.live.change_world(_json(raw_rest, "world"))

    @staticmethod
    def _host_change(args: list[str], raw: str) -> dict[str, Any]:
        what, values = args[0], args[1:]
        if what.startswith("{"):
            return dict(_json(raw, "host"))
        if what in ("down", "up") and not values:
            return {"down": what == "down"}
        if what == "latency" and len(values) == 1 and values[0].isdigit():
            return {"latency_ms": int(values[0])}
        if what == "plan":
            repeat = bool(values) and values[-1] == "repeat"
            items = values[:-1] if repeat else values
            return {"plan": [int(v) if v.isdigit() and v != "5000" else v for v in items], "repeat": repeat}
        if what == "tls" and len(values) == 1:
            return {"tls": values[0]}
        if what == "emergency" and len(values) == 1 and values[0] in ON_OFF:
            return {"emergency": ON_OFF[values[0]]}
        raise ConsoleError(f"host NAME {what} {' '.join(values)}: not understood "
                           "(down|up|latency MS|plan ITEM...|tls FAULT|emergency on|off)")


def _json(text: str, what: str) -> Any:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ConsoleError(f"{what}: not a JSON object ({exc})") from None
    if not isinstance(value, dict):
        raise ConsoleError(f"{what}: a JSON object {{...}} expected")
    return value
