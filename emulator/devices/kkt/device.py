"""``KktDevice``: the Incotex ККТ as a sans-IO state machine.

Inputs are calls: ``press(key)``, ``type_text(text)`` (a modelled PC keyboard
for host names and tokens), ``scan(data)`` (the barcode scanner). Outputs are
state: the display (``display.lines_at(now)``, ``display.text``), the status
symbol, ``last_error``, ``beeps``, the log (``logbook.records``), receipts and
``events``. Network traffic goes through the ``Transport`` it was given;
time comes from the clock it was given. It never blocks: a scan that needs a
GIS MT answer leaves the device ``busy`` until the answer or the 1.5 s
deadline arrives on the clock.

Modes (``mode``)::

    main ──ИТ──> menu ──ИТ──> edit / options / context(00)
      │                            context: УСТ. ПО УМОЛЧ., СКАНИРОВ.ТОКЕН,
      │                            СТАТУС ГИС МТ, ВКЛ/ВЫКЛ АВАРИЙН.РЕЖ
      └─ИТ on КАССОВЫЙ РЕЖИМ─> cash_password ─> cash_open_shift ─3─> cash_ready
             cash_ready ── scan / price+ПИ ──> cash_checking ──> cash_ready
                                                          └──> cash_refused | cash_confirm (3 = sell)

Status symbol (next to the clock):

* «A» while emergency mode is on (set by hand or by an HTTP 203 answer);
* «!» while permit mode is on and the last GIS MT exchange failed, i.e. marked
  goods are being sold without GIS MT answers; cleared by the next good answer;
* «S» while permit mode is on, its settings are usable and a ranked CDN list
  is in hand;
* a space otherwise.

Which flows and strings are the vendor's and which are modelled is said in
``firmware_menu/menu.yaml`` and the README.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from emulator.base import errors as E
from emulator.base.clock import VirtualClock
from emulator.base.storage import read_json, write_json_atomic
from emulator.devices.kkt.cdn import CdnBook
from emulator.devices.kkt.gismt import CheckContext, CheckOutcome, GisMtClient
from emulator.devices.kkt.logbook import NO_EXPIRY, Logbook, LogRecord
from emulator.devices.kkt.permit import PermitDecision, decide
from emulator.devices.kkt.settings import Settings, SettingsStore
from emulator.devices.kkt.techexchange import TechExchange
from emulator.net.oism import OismLink
from emulator.net.seam import Transport
from emulator.rules.marking import MarkingCode, MarkingCodeError, is_marking
from emulator.rules.marking import parse as parse_marking
from emulator.rules.syntax import HOST_RE, TOKEN_RE, mask_token
from emulator.rules.tag2106 import AUTONOMOUS
from firmware_menu.display import Display, status_area
from firmware_menu.keypad import Key, parse_key
from firmware_menu.tree import MenuData, Navigator, Node, menu_data
from tls_store import TlsError, TlsStore, parse_certificates

SIX_HOURS_MS = 6 * 3600_000
SHIFT_LIMIT_MS = 24 * 3600_000
DOC_KINDS = ("sale", "sale_return", "expense", "expense_return")
DOC_TITLES = {"sale": "cash_title", "sale_return": "return_title", "expense": "expense_title",
              "expense_return": "expense_return_title"}
FOIV = ("030", "21.11.2023", "1944")  # tag 1262, 1263, 1264 of the permit-mode 1260


@dataclass(frozen=True)
class Beep:
    time_ms: int
    reason: str


@dataclass(frozen=True)
class Event:
    time_ms: int
    kind: str
    detail: str = ""


@dataclass
class Position:
    number: int
    price: int
    marking: str | None = None
    tag2106: int | None = None
    tag1265: str | None = None       # UUID=<reqId>&Time=<reqTimestamp> when GIS MT answered
    gismt: str = "none"              # none | allowed | warned | failed | emergency | skipped
    error: int | None = None
    beep: bool = False

    @property
    def tag1260(self) -> tuple[str, str, str, str] | None:
        return (*FOIV, self.tag1265) if self.tag1265 else None


@dataclass
class Receipt:
    number: int
    kind: str
    opened_ms: int
    positions: list[Position] = field(default_factory=list)
    state: str = "open"              # open | closed | cancelled
    closed_ms: int | None = None

    @property
    def total(self) -> int:
        return sum(p.price for p in self.positions)

    @property
    def key(self) -> str:
        return f"receipt-{self.number}"


@dataclass(frozen=True)
class _Pending:
    code: MarkingCode
    price: int
    tag2106: int


def _price_text(kop: int) -> str:
    return f"{kop // 100}.{kop % 100:02d}"


def _parse_amount(buf: str) -> int | None:
    if not buf or buf.count(".") > 1:
        return None
    whole, _, frac = buf.partition(".")
    if len(frac) > 2 or (whole and not whole.isdigit()) or (frac and not frac.isdigit()):
        return None
    return int(whole or "0") * 100 + int(frac.ljust(2, "0") or "0")


class KktDevice:
    def __init__(self, clock: VirtualClock, transport: Transport, directory: Path | None = None, *,
                 oism: OismLink, serial: str = "00000000000001",
                 fn_number: str = "9999078900000001", first_log_seq: int = 1,
                 menu: MenuData | None = None, keep_events: bool = True, tech_link: Any = None,
                 inn: str = "7700000000", model_name: str = "Меркурий-185Ф") -> None:
        self.clock = clock
        self.inn = inn
        self.model_name = model_name
        self.transport = transport
        self.directory = directory
        self.serial = serial
        self.fn_number = fn_number
        self.menu = menu or menu_data()
        self.msgs = self.menu.messages
        self.oism = oism
        self.keep_events = keep_events
        self.store = SettingsStore(directory)
        self.settings = self.store.load()
        self.logbook = Logbook(directory, first_log_seq)
        self.tls = TlsStore(directory)
        self.book = CdnBook()
        self.display = Display()
        self.beeps: list[Beep] = []
        self.events: list[Event] = []
        self.last_error: int | None = None
        self.emergency = False
        self.degraded = False
        self.shift_open = False
        self.shift_number = 0
        self.shift_opened_ms: int | None = None
        self.receipt_counter = 0
        self.shift_receipts = 0     # receipts closed in this shift (the X report's «ЧЕКОВ»)
        self.receipt: Receipt | None = None
        self.receipts: list[Receipt] = []
        self.doc_kind = "sale"
        self.mode = "main"
        self.nav = Navigator(self.menu)
        self.buffer = ""
        self.edit_node: Node | None = None
        self.edit_index = 0
        self.context_items: tuple[str, ...] = ()
        self.context_index = 0
        self.context_return = "menu"    # where С from a context menu goes back to
        self.option_number: int | None = None
        self.pending_code: MarkingCode | None = None
        self.confirm: tuple[_Pending, CheckOutcome, PermitDecision] | None = None
        self.return_mode = "main"
        self.on_event: Callable[[Event], None] | None = None  # a trace hook (scenario --trace, consoles)
        self.powered = True
        self.gismt = GisMtClient(clock, transport, lambda: self.settings, self.book, self._write_record,
                                 self._enter_emergency_auto, self._answering)
        self.settings_prompt_due = False
        self.prompt_return = "main"
        self.tech: TechExchange | None = TechExchange(self, tech_link) if tech_link is not None else None
        self._load_state()
        if self.settings.host_check_off:
            self._event("tls", "host authentication OFF (option 92 = 1)")
        for problem in self.tls.load_problems:
            self._event("tls", problem)
        if self.store.load_problem:
            self._event("settings", self.store.load_problem)
        self._render()

    # ------------------------------------------------------------------ state
    @property
    def _state_path(self) -> Path | None:
        return self.directory / "state.json" if self.directory else None

    def _load_state(self) -> None:
        if self._state_path is None:
            return
        try:
            self._take_state(self._state_path)
        except (ValueError, TypeError, KeyError, IndexError, UnicodeDecodeError) as exc:
            # A damaged state file is set aside, not lost, and the device starts from a clean state.
            bad = self._state_path.with_suffix(".json.bad")
            self._state_path.replace(bad)
            self._reset_state()
            self._event("power", f"state.json unreadable ({type(exc).__name__}: {exc}); kept as {bad.name}")

    def _reset_state(self) -> None:
        self.emergency = False
        self.shift_open = False
        self.shift_number = 0
        self.shift_opened_ms = None
        self.receipt_counter = 0
        self.shift_receipts = 0
        self.book.hosts = []
        self.book.refreshed_at = None
        if self.tech is not None:
            self.tech.result = None

    def _take_state(self, path: Path) -> None:
        st = read_json(path)
        if st is None:
            return
        if not isinstance(st, dict):
            raise ValueError("not a JSON object")
        self.emergency = bool(st.get("emergency", False))
        self.shift_open = bool(st.get("shift_open", False))
        self.shift_number = int(st.get("shift_number", 0))
        self.shift_opened_ms = st.get("shift_opened_ms")
        self.receipt_counter = int(st.get("receipt_counter", 0))
        self.shift_receipts = int(st.get("shift_receipts", 0))
        result = st.get("tech_result")
        if self.tech is not None and result:
            self.tech.result = (int(result[0]), bool(result[1]), int(result[2]))
        cdn = st.get("cdn") or {}
        if cdn.get("hosts"):
            self.book.replace([h["host"] for h in cdn["hosts"]],
                              {h["host"]: h.get("latency_ms") for h in cdn["hosts"]}, int(cdn["refreshed_at"]))
            self.book.clear_blocks()

    def _save_state(self) -> None:
        if self._state_path is None or not self.powered:
            return
        write_json_atomic(self._state_path, {
            "emergency": self.emergency, "shift_open": self.shift_open, "shift_number": self.shift_number,
            "shift_opened_ms": self.shift_opened_ms, "receipt_counter": self.receipt_counter,
            "shift_receipts": self.shift_receipts,
            "tech_result": list(self.tech.result) if self.tech is not None and self.tech.result else None,
            "cdn": {"refreshed_at": self.book.refreshed_at,
                    "hosts": [{"host": h.name, "latency_ms": h.latency_ms} for h in self.book.hosts]},
        })

    def tls_context(self) -> ssl.SSLContext:
        """The client ``ssl.SSLContext`` for real connections: the store's roots, option 92."""
        return self.tls.client_context(self.settings.host_check_off)

    def load_certificate(self, data: bytes) -> list[int]:
        """Load root certificate(s) into the TLS store; a ``TlsError`` (650, 652, 653) is shown and logged."""
        try:
            slots = self.tls.load_all(data)
        except TlsError as exc:
            self._error(exc.code)
            self._event("tls", f"certificate refused: {exc}")
            self._show_error(exc.code, self.mode if self.mode != "message" else self.return_mode)
            self._render()
            raise
        self._event("tls", f"certificate loaded into slot(s) {slots}: {self.tls.describe()}")
        return slots

    def _save_settings(self) -> None:
        self.settings.validate()
        self.store.save(self.settings)

    # ---------------------------------------------------------- observations
    @property
    def now_ms(self) -> int:
        return self.clock.now_ms

    def local_now(self) -> datetime:
        return (datetime.fromtimestamp(self.clock.now_ms / 1000, tz=UTC)
                + timedelta(minutes=self.settings.tz_offset_min)).replace(tzinfo=None)

    @property
    def status_symbol(self) -> str:
        if self.emergency:
            return "A"
        if not self.settings.permit_on:
            return " "
        if self.degraded:
            return "!"
        if self.settings.permit_problem() is None and self.book.has_list:
            return "S"
        return " "

    @property
    def status_line(self) -> str:
        return status_area(self.local_now().strftime("%H:%M"), self.status_symbol)

    @property
    def busy(self) -> bool:
        return self.mode == "cash_checking" or self.mode == "status_running"

    @property
    def waiting(self) -> bool:
        """Something is in flight: a check, a CDN refresh, an exchange with the technological server."""
        return self.busy or self.gismt.busy or (self.tech is not None and self.tech.busy)

    def screen(self) -> tuple[str, str, str]:
        """What a person sees now: the two display lines and the status area."""
        l1, l2 = self.display.lines_at(self.clock.now_ms)
        return l1, l2, self.status_line

    def _event(self, kind: str, detail: str = "") -> None:
        if self.keep_events or self.on_event:
            ev = Event(self.clock.now_ms, kind, detail)
            if self.keep_events:
                self.events.append(ev)
            if self.on_event:
                self.on_event(ev)

    def power_off(self) -> None:
        """Switch the device off: RAM (an open receipt, the CDN blocks) is lost, the device directory stays.

        Requests in flight are abandoned and timers still on the clock do nothing.
        """
        if not self.powered:
            return
        self._event("power", "off")
        if self.receipt is not None:
            self.gismt.end_receipt(self.receipt.key)   # the receipt's connection dies with the device
        self.gismt.shutdown()
        if self.tech is not None:
            self.tech.stop()
        self.powered = False
        self.logbook.close()

    def _beep(self, reason: str) -> None:
        self.beeps.append(Beep(self.clock.now_ms, reason))
        self._event("beep", reason)

    def _error(self, code: int) -> None:
        self.last_error = code
        self._event("error", str(code))

    # ------------------------------------------------------------- records
    def _write_record(self, code: int, ctx: CheckContext | None, elapsed_ms: int, note: str,
                      answer: Any = None) -> LogRecord:
        flags: tuple[bool | None, ...] = (None,) * 7
        maxp = ctx.code_mrp or 0 if ctx else 0
        minp = 0
        expiry = NO_EXPIRY
        req_id, req_ts = "", None
        if answer is not None:
            req_id, req_ts = answer.req_id, answer.req_timestamp
            if answer.codes:
                a = answer.codes[0]
                flags = a.flags
                if a.mrp is not None:
                    maxp = a.mrp
                minp = a.smp or 0
                if a.expire_s is not None:
                    expiry = a.expire_s
        rec = self.logbook.append(
            time_ms=self.clock.now_ms, code=code, flags=flags, price=ctx.price if ctx else 0,
            max_price=maxp, min_price=minp, expiry_s=expiry, tag2106=ctx.tag2106 if ctx else 0,
            elapsed_ms=elapsed_ms, req_id=req_id, req_timestamp=req_ts, tz_offset_min=self.settings.tz_offset_min,
            note=note)
        self._event("log", f"{code} {note}")
        return rec

    def _enter_emergency_auto(self) -> None:
        if not self.emergency:
            self.emergency = True
            self._error(E.EMERGENCY)
            self._event("emergency", "on (GIS MT answered 203)")
            self._save_state()

    def _answering(self, ok: bool) -> None:
        if ok:
            self.degraded = False
        elif self.settings.permit_on:
            self.degraded = True

    # ---------------------------------------------------------------- input
    def press(self, key: str | Key) -> None:
        k = key if isinstance(key, Key) else parse_key(key)
        self._event("key", k.value)
        handler = getattr(self, f"_key_{self.mode}")
        handler(k)
        self._render()

    def press_many(self, keys: str) -> None:
        """Keys separated by spaces: ``"2 4 8 ПИ"``; a run of digits is typed digit by digit."""
        for token in keys.split():
            if token.isdigit() and token != "00":
                for d in token:
                    self.press(d)
            else:
                self.press(token)

    @property
    def awaits_token(self) -> bool:
        """The token field is being edited, or the token scan screen is up: input here is a token."""
        return self.mode == "scan_token" or (self.mode == "edit" and self.edit_node is not None
                                             and self.edit_node.type == "secret")

    def type_text(self, text: str) -> None:
        """A PC keyboard on the device (modelled): types into the field being edited."""
        # Shown as typed only into a plain field (a host name, a number) or as an amount; anything
        # else typed may be a token and is masked.
        editing = self.edit_node.type if self.mode == "edit" and self.edit_node is not None else None
        plain = not self.awaits_token and (editing in ("text", "int")
                                           or (editing is None and text.replace(".", "").isdigit()))
        self._event("type", self._masked(text if plain else mask_token(text)))
        if self.mode == "edit" and self.edit_node and self.edit_node.type in ("text", "secret", "int"):
            self.buffer += text
        elif self.mode in ("cash_ready", "cash_need_price", "cash_password", "options", "option_edit"):
            for ch in text:
                if ch.isdigit() or ch == ".":
                    self.press(ch)
                else:
                    self._bad(self.msgs["bad_value"])
                    break
        else:
            self._bad(self.msgs["bad_operation"])
        self._render()

    def _masked(self, text: str) -> str:
        """``text`` with the configured token, if it appears, masked."""
        token = self.settings.token
        return text.replace(token, mask_token(token)) if token and len(token) > 8 and token in text else text

    def scan(self, data: str) -> None:
        if self.mode == "scan_token" or (TOKEN_RE.match(data.strip()) and not is_marking(data)):
            shown = mask_token(data.strip())    # a token, wherever it is scanned
        else:
            shown = data[:64]
        self._event("scan", self._masked(shown))
        if self.mode == "scan_token":
            self._scan_token(data)
        elif self.mode in ("cash_ready", "cash_need_price"):
            self._scan_code(data)
        else:
            self._beep("scan ignored")
            self._bad(self.msgs["bad_operation"])
        self._render()

    def scan_image(self, image: bytes | Path) -> None:
        """The scanner reading a picture (a token QR code from the Chestny Znak cabinet)."""
        from emulator.wire.token_qr import TokenQrError, read_token_qr

        if self.mode != "scan_token":
            self._beep("image scan ignored")
            self._bad(self.msgs["bad_operation"])
            self._render()
            return
        try:
            token = read_token_qr(image)
        except TokenQrError as exc:
            self._event("scan", f"QR image refused: {exc.message}")
            self._beep("bad token QR")
            self._show_error(E.SETTINGS_ERROR, "scan_token", self.msgs["bad_qr"])
            self._render()
            return
        self.scan(token)

    # ------------------------------------------------- technological server
    def _settings_arrived(self) -> None:
        """New settings from the technological server: ask the cashier, unless selling right now."""
        assert self.tech is not None and self.tech.pending_task is not None
        self._event("tech", f"settings waiting: task {self.tech.pending_task[0]}")
        if self.mode.startswith("cash_") or self.busy:
            self.settings_prompt_due = True
            return
        self._show_settings_prompt()

    def _show_settings_prompt(self) -> None:
        self.settings_prompt_due = False
        if self.mode != "settings_prompt":
            self.prompt_return = self.mode if self.mode != "message" else self.return_mode
        self.mode = "settings_prompt"
        self.display.message(self.msgs["settings_pending"], self.clock.now_ms)

    def _key_settings_prompt(self, k: Key) -> None:
        assert self.tech is not None
        if k is Key.D3 and self.tech.pending_task is not None:
            task, items = self.tech.pending_task
            self.tech.pending_task = None
            applied, code = self._apply_settings(items)
            self.tech.result = (task, applied, code)
            self._save_state()
            self._event("tech", f"task {task} {'applied' if applied else f'refused: {code}'}")
            if applied:
                self._message(self.msgs["saved"], self.prompt_return)
            else:
                self._error(code)
                self._show_error(code, self.prompt_return)
            self.tech.start("settings result")
        else:
            # Any other key: the settings stay waiting on the server for the next session.
            self.tech.pending_task = None
            self._event("tech", "settings left waiting")
            self.mode = self.prompt_return

    def _apply_settings(self, items: list[dict[str, Any]]) -> tuple[bool, int]:
        """Apply pushed settings all together or not at all.

        Every item is checked first, on a copy of the settings (certificates are
        parsed, not stored); only when all of them are good do the certificates
        go into the TLS store (which itself takes a bundle whole or not at all,
        650 when the slots are too few) and the settings get saved. A bad item
        leaves the store and the settings as they were.
        """
        before = self.settings.to_json()
        new = before | {"options": dict(before["options"])}
        certs: list[bytes] = []
        try:
            for item in items:
                kind, value = item["kind"], item["value"]
                if kind == "cert":
                    data = value if isinstance(value, bytes) else str(value).encode()
                    certs += [c.public_bytes(serialization.Encoding.PEM) for c in parse_certificates(data)]
                elif kind == "token":
                    if not TOKEN_RE.match(str(value)):
                        return False, E.SETTINGS_ERROR
                    new["token"] = str(value)
                elif kind == "gismt_host":
                    if not HOST_RE.match(str(value)):
                        return False, E.SETTINGS_ERROR
                    new["gismt_host"] = str(value)
                elif kind == "option":
                    number, _, v = str(value).partition("=")
                    new["options"][str(int(number))] = int(v)
                elif kind == "poll_period":
                    new["poll_period_min"] = int(value)
                elif kind == "sale_ban":
                    new["sale_ban"] = str(value)
                else:
                    return False, E.SETTINGS_ERROR
            settings = Settings.from_json(new)            # every field checked as the menu checks it
            if certs:
                slots = self.tls.load_all(b"".join(certs))
                self._event("tls", f"certificate(s) from the technological server in slot(s) {slots}")
        except TlsError as exc:
            return False, exc.code
        except (ValueError, KeyError, TypeError):
            return False, E.SETTINGS_ERROR
        self.settings = settings
        self._save_settings()
        if before.get("token") != settings.token or before.get("gismt_host") != settings.gismt_host:
            self._forget_cdn()
        if self.tech is not None and before.get("poll_period_min") != settings.poll_period_min:
            self.tech.schedule()
        return True, 0

    # ---------------------------------------------------------- rendering
    def _render(self) -> None:
        now = self.clock.now_ms
        d, m = self.display, self.msgs
        mode = self.mode
        if mode == "main" or mode == "menu":
            node = self.nav.selected
            d.show(node.label, self._value_text(node) if node.kind == "param" else "", now)
        elif mode == "edit":
            assert self.edit_node is not None
            node = self.edit_node
            if node.type == "choice":
                value = node.values[self.edit_index]
            elif node.type == "secret":
                value = mask_token(self.buffer) if self.buffer else ""
            else:
                value = self.buffer
            d.show(node.label, value, now)
        elif mode == "options":
            d.show(m.get("options_title", "ОПЦИИ"), f"N {self.buffer}", now)
        elif mode == "option_edit":
            assert self.option_number is not None
            opt = self.menu.options.get(self.option_number)
            d.show(f"{self.option_number} {opt.label if opt else ''}".strip(), self.buffer or
                   str(self.settings.options.get(self.option_number, 0)), now)
        elif mode == "context":
            d.show(self.menu.context[self.context_items[self.context_index]], "", now)
        elif mode == "scan_token":
            d.show(m["scan_token"], "", now)
        elif mode == "cash_password":
            d.show(m["password"], "*" * len(self.buffer), now)
        elif mode == "cash_open_shift":
            d.show(m["open_shift"], "", now)
        elif mode == "cash_ready":
            title = m[DOC_TITLES[self.doc_kind]]
            if self.buffer:
                d.show(title, self.buffer, now)
            elif self.receipt and self.receipt.positions:
                d.show(f"{title} {len(self.receipt.positions)}", f"ИТОГ {_price_text(self.receipt.total)}", now)
            else:
                d.show(title, "0.00", now)
        elif mode == "cash_doctype":
            d.show(m["doc_type"], m[DOC_TITLES[DOC_KINDS[self.edit_index]]], now)
        elif mode == "cash_need_price":
            d.show(m["enter_price"], self.buffer, now)
        elif mode == "cash_checking":
            d.show(m["checking"], "", now)
        elif mode == "status_running":
            d.show(m["status_running"], "", now)
        elif mode in ("cash_refused", "message", "settings_prompt"):
            pass  # the message was put up when the mode was entered
        elif mode == "cash_confirm":
            pass
        elif mode in ("cash_cancel_confirm",):
            d.show(m["cancel_receipt"], "[3]-ДА", now)
        elif mode == "z_confirm":
            d.show(m["close_shift"], "[3]-ДА", now)

    def _value_text(self, node: Node) -> str:
        value = getattr(self.settings, node.setting or "", "")
        if node.type == "secret":
            return mask_token(str(value))
        if node.type == "int" and node.unit:
            return f"{value} {node.unit}"
        return str(value)

    def _message(self, text: str, then: str) -> None:
        self.return_mode = then
        self.mode = "message"
        self.display.message(text, self.clock.now_ms)

    def _bad(self, text: str) -> None:
        if self.mode != "message":
            self._message(text, self.mode)
        self._beep(text)

    def _show_error(self, code: int, then: str, extra: str = "") -> None:
        text = E.error(code).line + (f"\n{extra}" if extra else "")
        self._message(text, then)

    # ---------------------------------------------------------- key handlers
    def _key_message(self, k: Key) -> None:
        if k in (Key.C, Key.IT):
            self.mode = self.return_mode

    def _key_main(self, k: Key) -> None:
        if k in (Key.PLUS, Key.REZH):
            self.nav.move(+1)
        elif k is Key.MINUS:
            self.nav.move(-1)
        elif k is Key.IT:
            self._activate(self.nav.selected)
        elif k is Key.D00:
            # The main menu's own context menu: «СТАТУС ГИС МТ» (the vendor: «из главного
            # контекстного меню выбираем: «00» - «СТАТУС ГИС МТ»»).
            self._open_context(self.menu.main_context, "main")

    def _open_context(self, items: tuple[str, ...], back: str) -> None:
        self.context_items = items
        self.context_index = 0
        self.context_return = back
        self.mode = "context"

    def _key_menu(self, k: Key) -> None:
        if k is Key.PLUS:
            self.nav.move(+1)
        elif k is Key.MINUS:
            self.nav.move(-1)
        elif k is Key.IT:
            self._activate(self.nav.selected)
        elif k is Key.C:
            self.nav.back()
            if self.nav.at_main:
                self.mode = "main"
        elif k is Key.REZH:
            self.nav.reset()
            self.mode = "main"
        elif k is Key.D00:
            owner = self.nav.parent
            if owner is not None and owner.context:
                self._open_context(owner.context, "menu")
            else:
                self._bad(self.msgs["bad_operation"])

    def _activate(self, node: Node) -> None:
        if node.kind == "menu":
            self.nav.enter()
            self.mode = "menu"
        elif node.kind == "param":
            self.edit_node = node
            value = getattr(self.settings, node.setting or "")
            if node.type == "choice":
                self.edit_index = node.values.index(value)
                self.buffer = ""
            else:
                self.buffer = "" if node.type == "secret" else str(value)
            self.mode = "edit"
        elif node.kind == "options":
            self.buffer = ""
            self.mode = "options"
        elif node.kind == "mode" and node.id == "cash":
            self.buffer = ""
            self.mode = "cash_password"
        elif node.kind == "action" and node.id == "z_report":
            if not self.shift_open:
                self._message(self.msgs["shift_closed"], self.mode)
            else:
                self.return_mode = self.mode
                self.mode = "z_confirm"
        elif node.kind == "action" and node.id == "x_report":
            state = self.msgs["shift_opened"] if self.shift_open else self.msgs["shift_closed"]
            self._message(f"{state}\nЧЕКОВ: {self.shift_receipts}", self.mode)

    def _key_edit(self, k: Key) -> None:
        node = self.edit_node
        assert node is not None
        if k is Key.C:
            if self.buffer and node.type != "choice":
                self.buffer = ""
            else:
                self.mode = "menu"
            return
        if node.type == "choice":
            if k is Key.PLUS:
                self.edit_index = (self.edit_index + 1) % len(node.values)
            elif k is Key.MINUS:
                self.edit_index = (self.edit_index - 1) % len(node.values)
            elif k is Key.IT:
                self._set(node, node.values[self.edit_index])
            return
        if k.is_digit or k is Key.POINT:
            self.buffer += k.value
        elif k is Key.IT:
            if node.type == "int":
                value: Any = int(self.buffer) if self.buffer.isdigit() else None
                if value is None or not (node.min or 0) <= value <= (node.max or 10**9):
                    self._bad(self.msgs["bad_value"])
                    return
                self._set(node, value)
            elif node.setting == "gismt_host" or node.setting == "tech_server_host":
                if not HOST_RE.match(self.buffer):
                    self._bad(self.msgs["bad_value"])
                    return
                self._set(node, self.buffer)
            elif node.type == "secret":
                if not TOKEN_RE.match(self.buffer):
                    self._bad(self.msgs["bad_value"])
                    return
                self._set(node, self.buffer)
            else:
                self._set(node, self.buffer)

    def _set(self, node: Node, value: Any) -> None:
        old = getattr(self.settings, node.setting or "")
        setattr(self.settings, node.setting or "", value)
        try:
            self._save_settings()
        except ValueError:
            setattr(self.settings, node.setting or "", old)
            self._bad(self.msgs["bad_value"])
            return
        shown = mask_token(value) if node.type == "secret" else value
        self._event("setting", f"{node.setting}={shown}")
        if node.setting in ("gismt_host", "token"):
            self._forget_cdn()
        if node.setting == "poll_period_min" and self.tech is not None:
            self.tech.schedule()  # the next session comes one new period from now
        self.buffer = ""
        self.mode = "menu"

    def _forget_cdn(self) -> None:
        """A new host or token invalidates the ranked list: the next status check ranks anew."""
        self.book.hosts = []
        self.book.refreshed_at = None
        self.gismt.cancel_probes()
        self.degraded = False
        self._save_state()

    def _key_options(self, k: Key) -> None:
        if k.is_digit:
            self.buffer = (self.buffer + k.value)[-3:]
        elif k is Key.C:
            if self.buffer:
                self.buffer = ""
            else:
                self.mode = "menu"
        elif k is Key.IT:
            n = int(self.buffer) if self.buffer else 0
            if n not in self.menu.options:
                self._bad(self.msgs["bad_value"])
                return
            self.option_number = n
            self.buffer = ""
            self.mode = "option_edit"

    def _key_option_edit(self, k: Key) -> None:
        assert self.option_number is not None
        opt = self.menu.options[self.option_number]
        if k.is_digit:
            self.buffer = (self.buffer + k.value)[-5:]
        elif k is Key.C:
            self.buffer = ""
            self.mode = "options"
        elif k is Key.IT:
            value = int(self.buffer) if self.buffer else self.settings.options.get(opt.number, opt.default)
            if not 0 <= value <= opt.max:
                self._bad(self.msgs["bad_value"])
                return
            self.settings.options[opt.number] = value
            self._save_settings()
            self._event("setting", f"option {opt.number}={value}")
            self.buffer = ""
            if opt.number == 92 and value == 1:
                # The device says so whenever host authentication is switched off.
                self._event("tls", "host authentication OFF (option 92 = 1)")
                self._message(self.msgs["host_check_off"], "options")
            else:
                self.mode = "options"

    def _key_context(self, k: Key) -> None:
        if k is Key.PLUS:
            self.context_index = (self.context_index + 1) % len(self.context_items)
        elif k is Key.MINUS:
            self.context_index = (self.context_index - 1) % len(self.context_items)
        elif k is Key.C:
            self.mode = self.context_return
        elif k is Key.IT:
            self._run_context(self.context_items[self.context_index])

    def _run_context(self, cid: str) -> None:
        m = self.msgs
        if cid == "defaults":
            self.settings.restore_permit_defaults()
            self._save_settings()
            self._forget_cdn()
            self._event("setting", "permit-mode defaults restored")
            self._message(m["defaults_done"], "menu")
        elif cid == "scan_token":
            self.mode = "scan_token"
        elif cid == "status":
            self.status_check()
        elif cid == "emergency_on":
            self.set_emergency(True)
            self._message(m["emergency_on"], "menu")
        elif cid == "emergency_off":
            self.set_emergency(False)
            self._message(m["emergency_off"], "menu")

    def set_emergency(self, on: bool) -> None:
        if self.emergency != on:
            self.emergency = on
            self._event("emergency", "on (by hand)" if on else "off (by hand)")
            if not on:
                self.degraded = False
            self._save_state()

    def _scan_token(self, data: str) -> None:
        token = data.strip()
        if not TOKEN_RE.match(token):
            self._beep("bad token scan")
            self._show_error(E.SETTINGS_ERROR, "scan_token", self.msgs["bad_value"])
            return
        self.settings.token = token
        self._save_settings()
        self._forget_cdn()
        self._event("setting", f"token={mask_token(token)} (scanned)")
        self._message(f"{self.msgs['token_saved']}\n{mask_token(token)}", "menu")

    def _key_scan_token(self, k: Key) -> None:
        if k is Key.C:
            self.mode = "menu"

    # -- «СТАТУС ГИС МТ» ----------------------------------------------------
    def status_check(self) -> None:
        back = self.context_return if self.mode == "context" else self.mode
        self.mode = "status_running"
        self._render()

        def done(code: int | None) -> None:
            if code is None:
                active = self.book.active(self.clock.now_ms)
                self._message(f"{self.msgs['status_ok']}\nCDN: {active.name if active else '-'}", back)
            else:
                self._error(code)
                self._show_error(code, back)
            self._save_state()
            self._render()

        self.gismt.refresh(done)

    def _key_status_running(self, k: Key) -> None:
        pass  # the device waits for the answer

    # ------------------------------------------------------------ cash mode
    def _key_cash_password(self, k: Key) -> None:
        if k.is_digit:
            self.buffer = (self.buffer + k.value)[-4:]
        elif k is Key.C:
            self.buffer = ""
            self.mode = "main"
        elif k is Key.IT:
            if int(self.buffer or "0") != self.settings.options.get(2, 0):
                self.buffer = ""
                self._bad(self.msgs["access_denied"])
                return
            self.buffer = ""
            self.doc_kind = "sale"
            self.mode = "cash_ready" if self.shift_open else "cash_open_shift"

    def _key_cash_open_shift(self, k: Key) -> None:
        if k is Key.D3:
            self.open_shift()
        elif k in (Key.C, Key.REZH):
            self.mode = "main"

    def open_shift(self) -> None:
        self.shift_open = True
        self.shift_number += 1
        self.shift_opened_ms = self.clock.now_ms
        self.shift_receipts = 0
        self._event("shift", f"opened #{self.shift_number}")
        self._save_state()
        self._message(self.msgs["shift_opened"], "cash_ready")
        s = self.settings
        stale = self.book.refreshed_at is None or self.clock.now_ms - self.book.refreshed_at > SIX_HOURS_MS
        if (s.permit_on and not s.is_autonomous and not self.emergency and s.permit_problem() is None
                and stale):
            self._event("cdn", "refresh at shift opening")
            self.gismt.refresh(lambda code: self._save_state())

    def close_shift(self) -> None:
        self.shift_open = False
        self.shift_opened_ms = None
        self._event("shift", f"closed #{self.shift_number}")
        self._save_state()

    def _key_z_confirm(self, k: Key) -> None:
        if k is Key.D3:
            self.close_shift()
            self._message(self.msgs["shift_closed"], self.return_mode)
        elif k is Key.C:
            self.mode = self.return_mode

    def _shift_too_long(self) -> bool:
        return (self.shift_opened_ms is not None
                and self.clock.now_ms - self.shift_opened_ms > SHIFT_LIMIT_MS)

    def _key_cash_ready(self, k: Key) -> None:
        if k.is_digit or k is Key.POINT:
            if len(self.buffer) < 10:
                self.buffer += k.value
        elif k is Key.C:
            if self.buffer:
                self.buffer = ""
            elif self.receipt is not None:
                self.mode = "cash_cancel_confirm"
        elif k is Key.PI:
            price = _parse_amount(self.buffer)
            if price is None or price <= 0:
                self._bad(self.msgs["bad_value"])
                return
            self.buffer = ""
            self._add_free(price)
        elif k is Key.IT:
            if self.receipt is not None and self.receipt.positions:
                self._close_receipt()
            elif self.buffer:
                self._bad(self.msgs["bad_operation"])
        elif k is Key.VZ:
            if self.receipt is not None and self.receipt.positions:
                self._bad(self.msgs["bad_operation"])
            else:
                self.edit_index = DOC_KINDS.index(self.doc_kind)
                self.mode = "cash_doctype"
        elif k is Key.REZH:
            if self.receipt is not None and self.receipt.positions:
                self._bad(self.msgs["bad_operation"])
            else:
                self._discard_empty_receipt()
                self.leave_cash_mode()

    def leave_cash_mode(self) -> None:
        self.mode = "main"
        self.nav.reset()
        self._event("cash", "left cash mode")
        if self.settings_prompt_due and self.tech is not None and self.tech.pending_task is not None:
            self._show_settings_prompt()

    def _key_cash_doctype(self, k: Key) -> None:
        if k is Key.PLUS:
            self.edit_index = (self.edit_index + 1) % len(DOC_KINDS)
        elif k is Key.MINUS:
            self.edit_index = (self.edit_index - 1) % len(DOC_KINDS)
        elif k is Key.IT:
            self.doc_kind = DOC_KINDS[self.edit_index]
            if self.receipt is not None:  # still empty: it takes the new type
                self.receipt.kind = self.doc_kind
            self.mode = "cash_ready"
        elif k is Key.C:
            self.mode = "cash_ready"

    def _key_cash_need_price(self, k: Key) -> None:
        if k.is_digit or k is Key.POINT:
            if len(self.buffer) < 10:
                self.buffer += k.value
        elif k is Key.C:
            if self.buffer:
                self.buffer = ""
            else:
                self.pending_code = None
                self.mode = "cash_ready"
        elif k is Key.PI:
            price = _parse_amount(self.buffer)
            if price is None or price <= 0 or self.pending_code is None:
                self._bad(self.msgs["bad_value"])
                return
            self.buffer = ""
            code, self.pending_code = self.pending_code, None
            self._start_marked(code, price)

    def _key_cash_checking(self, k: Key) -> None:
        pass  # waiting for ОИСМ / GIS MT

    def _key_cash_refused(self, k: Key) -> None:
        if k in (Key.C, Key.IT):
            self.mode = "cash_ready"

    def _key_cash_confirm(self, k: Key) -> None:
        assert self.confirm is not None
        pending, outcome, decision = self.confirm
        if k is Key.D3:
            self.confirm = None
            self._add_marked(pending, "warned", outcome, error=decision.error)
            self.mode = "cash_ready"
        elif k is Key.C:
            self.confirm = None
            self._event("refused", f"{decision.error} by the cashier")
            self.mode = "cash_ready"

    def _key_cash_cancel_confirm(self, k: Key) -> None:
        if k is Key.D3 and self.receipt is not None:
            r = self.receipt
            r.state = "cancelled"
            r.closed_ms = self.clock.now_ms
            self.receipts.append(r)
            self.receipt = None
            self.doc_kind = "sale"
            self.gismt.end_receipt(r.key)
            self._event("receipt", f"#{r.number} cancelled")
            self._message(self.msgs["receipt_cancelled"], "cash_ready")
        elif k is Key.C:
            self.mode = "cash_ready"

    def _ensure_receipt(self) -> Receipt:
        if self.receipt is None:
            self.receipt_counter += 1
            self.receipt = Receipt(self.receipt_counter, self.doc_kind, self.clock.now_ms)
            self._event("receipt", f"#{self.receipt.number} opened ({self.doc_kind})")
        return self.receipt

    def _discard_empty_receipt(self) -> None:
        """Leaving cash mode with a receipt in which nothing was sold: it ends, and so does its connection."""
        r = self.receipt
        if r is not None and not r.positions:
            self.gismt.end_receipt(r.key)
            self.receipt = None
            self.receipt_counter -= 1  # its number was never printed
            self._event("receipt", f"#{r.number} discarded (nothing sold)")

    def _can_sell(self) -> bool:
        if not self.shift_open:
            self._bad(self.msgs["shift_closed"])
            return False
        if self._shift_too_long():
            self._bad(self.msgs["shift_too_long"])
            return False
        return True

    def _add_free(self, price: int) -> None:
        if not self._can_sell():
            return
        r = self._ensure_receipt()
        r.positions.append(Position(len(r.positions) + 1, price))
        self._event("position", f"#{len(r.positions)} {_price_text(price)}")

    def _scan_code(self, data: str) -> None:
        try:
            code = parse_marking(data)
        except MarkingCodeError as exc:
            self._beep(f"bad code: {exc}")
            self._message(f"{self.msgs['bad_code']}\n{exc}", self.mode)
            return
        if not self._can_sell():
            return
        price = _parse_amount(self.buffer)
        self.buffer = ""
        if price is None or price <= 0:
            if code.mrp_kopecks:
                price = code.mrp_kopecks
            else:
                self.pending_code = code
                self.mode = "cash_need_price"
                return
        self._start_marked(code, price)

    def _start_marked(self, code: MarkingCode, price: int) -> None:
        self._ensure_receipt()
        if self.settings.is_autonomous:
            self._oism_checked(code, price, AUTONOMOUS)   # the ФН checks alone, offline
        else:
            self.oism.request(code.raw, lambda tag2106: self._oism_checked(code, price, tag2106))

    def _oism_checked(self, code: MarkingCode, price: int, tag2106: int) -> None:
        receipt = self._ensure_receipt()
        s = self.settings
        pending = _Pending(code, price, tag2106)
        if receipt.kind != "sale" or not s.permit_on or s.is_autonomous:
            self._add_marked(pending, "skipped", None)
            return
        if self.emergency:
            self._add_marked(pending, "emergency", None)
            return
        ctx = CheckContext(code.raw, price, pending.tag2106, code.mrp_kopecks)
        self.mode = "cash_checking"
        self.gismt.check(ctx, receipt.key, lambda outcome: self._checked(pending, outcome))

    def _checked(self, pending: _Pending, outcome: CheckOutcome) -> None:
        self.mode = "cash_ready"
        s = self.settings
        if outcome.emergency:
            self._add_marked(pending, "emergency", outcome)
            self._show_error(E.EMERGENCY, "cash_ready")
        elif outcome.failure is not None:
            self._error(outcome.failure)
            self._answering(False)
            if s.refuse_on_failure:
                self._beep(f"refused: {outcome.failure}")
                self._show_error(outcome.failure, "cash_ready")
                self._event("refused", f"{outcome.failure} (request failed, ЗАПРЕТ)")
            else:
                self._add_marked(pending, "failed", outcome, error=outcome.failure)
                self._beep(f"sold without GIS MT answer: {outcome.failure}")
                self._show_error(outcome.failure, "cash_ready")
        else:
            assert outcome.answer is not None
            code_answer = outcome.answer.codes[0]
            decision = decide(code_answer, pending.code, pending.price, self.local_now())
            if decision.allowed:
                self._add_marked(pending, "allowed", outcome)
            else:
                ctx = CheckContext(pending.code.raw, pending.price, pending.tag2106, pending.code.mrp_kopecks)
                assert decision.error is not None
                self._write_record(decision.error, ctx, outcome.elapsed_ms,
                                   f"codes/check {outcome.host}: prohibited", outcome.answer)
                self._error(decision.error)
                if not decision.usable:
                    self._add_marked(pending, "failed", outcome, error=decision.error)
                    self._beep(f"sold without a usable answer: {decision.error}")
                    self._show_error(decision.error, "cash_ready")
                elif s.hard_ban:
                    self._event("refused", f"{decision.error} (ЗАПРЕТ ПРОДАЖ = ВКЛЮЧЕН)")
                    self._show_error(decision.error, "cash_ready")
                    self.mode = "cash_refused"
                else:
                    self.confirm = (pending, outcome, decision)
                    self.mode = "cash_confirm"
                    self.display.message(f"{E.error(decision.error).line}\n{self.msgs['sell_anyway']}",
                                         self.clock.now_ms)
        self._render()

    def _add_marked(self, pending: _Pending, how: str, outcome: CheckOutcome | None, *,
                    error: int | None = None) -> None:
        r = self._ensure_receipt()
        tag1265 = None
        if outcome is not None and outcome.answer is not None:
            tag1265 = f"UUID={outcome.answer.req_id}&Time={outcome.answer.req_timestamp}"
        pos = Position(len(r.positions) + 1, pending.price, pending.code.raw, pending.tag2106, tag1265, how, error,
                       beep=how == "failed")
        r.positions.append(pos)
        self._event("position", f"#{pos.number} {_price_text(pos.price)} marked, GIS MT: {how}")

    def _close_receipt(self) -> None:
        r = self.receipt
        assert r is not None
        r.state = "closed"
        r.closed_ms = self.clock.now_ms
        self.receipts.append(r)
        self.receipt = None
        self.doc_kind = "sale"  # the next receipt is a sale again
        self.gismt.end_receipt(r.key)
        self.shift_receipts += 1
        self._save_state()          # the receipt number and the shift's count survive a power cut
        self._event("receipt", f"#{r.number} closed, total {_price_text(r.total)}")
        self._message(f"{self.msgs['receipt_closed']}\nИТОГ {_price_text(r.total)}", "cash_ready")

    # ------------------------------------------------------------ navigation
    def goto(self, label: str) -> None:
        """Walk the menu to the item labelled ``label`` by pressing keys, as a person would."""
        self._to_main()
        if label in self.menu.context.values():
            cid = self.menu.context_id(label)
            path = self.menu.context_owner(cid)
            self._walk(path)
            self.press(Key.IT)          # into the owner menu
            self.press(Key.D00)
            target = self.context_items.index(cid)
            for _ in range(target):
                self.press(Key.PLUS)
            return
        self._walk(self.menu.find_path(label))

    def goto_main(self) -> None:
        """Back to the main menu by pressing keys (С, РЕЖ), as a person would."""
        self._to_main()

    def _to_main(self) -> None:
        for _ in range(10):
            if self.mode == "main" and self.nav.at_main:
                return
            if self.mode.startswith("cash_") and self.mode != "cash_ready":
                self.press(Key.C)
            elif self.mode == "cash_ready":
                if self.receipt is not None and self.receipt.positions:
                    raise RuntimeError("a receipt is open: close or cancel it before leaving cash mode")
                self.press(Key.REZH)
            elif self.mode in ("message", "edit", "options", "option_edit", "context", "scan_token", "z_confirm",
                               "settings_prompt"):
                self.press(Key.C)
            elif self.mode == "menu":
                self.press(Key.REZH)
            elif self.mode == "main":
                self.nav.reset()
                self._render()
            else:
                raise RuntimeError(f"cannot leave mode {self.mode} now")
        if not (self.mode == "main" and self.nav.at_main):
            raise RuntimeError(f"stuck in mode {self.mode}")

    def _walk(self, path: list[Node]) -> None:
        nodes = self.menu.main
        for depth, node in enumerate(path):
            idx = [n.id for n in nodes].index(node.id)
            cur = self.nav.stack[-1][1]
            for _ in range((idx - cur) % len(nodes)):
                self.press(Key.PLUS)
            if depth < len(path) - 1:
                self.press(Key.IT)
                nodes = node.items
