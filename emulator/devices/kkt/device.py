"""``KktDevice``: the Incotex ККТ as a sans-IO state machine.

Inputs are calls: ``press(key)``, ``type_text(text)`` (a modelled PC keyboard
for host names and tokens), ``scan(data)`` (the barcode scanner). Outputs are
state: the display (``display.lines_at(now)``, ``display.text``), the status
symbol, ``last_error``, ``beeps``, the log (``logbook.records``), receipts and
``events`` (typed, ``events.py``). Network traffic goes through the
``Transport`` it was given; time comes from the clock it was given. It never
blocks: a scan that needs a GIS MT answer leaves the device ``busy`` until the
answer or the 1.5 s deadline arrives on the clock.

Modes (``mode``, a ``modes.Mode``); which handler takes a key in which mode is
the table ``KktDevice.KEYS`` below::

    main ──ИТ──> menu ──ИТ──> edit / options / context(00)
      │                            context: УСТ. ПО УМОЛЧ., СКАНИРОВ.ТОКЕН,
      │                            СТАТУС ГИС МТ, ВКЛ/ВЫКЛ АВАРИЙН.РЕЖ
      └─ИТ on КАССОВЫЙ РЕЖИМ─> cash_password ─> cash_open_shift ─3─> cash_ready
             cash_ready ── scan / price+ПИ ──> cash_checking ──> cash_ready
                                                          └──> cash_refused | cash_confirm (3 = sell)

Status symbol (next to the clock):

* «A» while emergency mode is on (set by hand or by an HTTP 203 answer);
* «!» while permit mode is on and marked goods are being sold without GIS MT
  answers: the last position sold without an answer the device could use
  (no answer, an error answer, an ``errorCode`` no flag explains), or there
  is no CDN list to check with; cleared by the next good answer. A failed
  refresh that leaves a cached list in use does not set it;
* «S» while permit mode is on, its settings are usable and a ranked CDN list
  is in hand;
* a space otherwise.

Which flows and strings are the vendor's and which are modelled is said in
``firmware_menu/menu.yaml`` and the README.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from emulator.base import errors as E
from emulator.base.clock import VirtualClock
from emulator.devices.kkt.cash import CashDesk
from emulator.devices.kkt.cdn import CdnBook
from emulator.devices.kkt.events import (
    CodeImageRefused,
    DeviceEvent,
    KeyPressed,
    PoweredOff,
    QrRefused,
    Scanned,
    TlsNote,
    Typed,
)
from emulator.devices.kkt.fiscal import FiscalUnit
from emulator.devices.kkt.gismt import GisMtClient
from emulator.devices.kkt.logbook import Logbook
from emulator.devices.kkt.menu import HOST_CHECK_OFF, MenuKeys
from emulator.devices.kkt.modes import Mode
from emulator.devices.kkt.screen import DOC_KINDS, DOC_TITLES
from emulator.devices.kkt.settings import SETTINGS_FILE, SettingsStore
from emulator.devices.kkt.state import Beep, Position, Receipt
from emulator.devices.kkt.techexchange import TechExchange
from emulator.net.oism import OismLink
from emulator.net.seam import Transport
from emulator.rules.marking import is_marking
from emulator.rules.syntax import TOKEN_RE, mask_token
from firmware_menu.display import Display, status_area
from firmware_menu.keypad import Key, parse_key
from firmware_menu.tree import MenuData, Navigator, menu_data
from tls_store import TlsError, TlsStore

# Re-exported: the device's public vocabulary, importable from here as before.
__all__ = ["DOC_KINDS", "DOC_TITLES", "Beep", "DeviceEvent", "Event", "KktDevice", "Mode", "Position", "Receipt"]
Event = DeviceEvent     # the old name of the events' base class

KeyHandler = Callable[["KktDevice", Key], None]


class KktDevice(CashDesk, MenuKeys):
    KEYS: ClassVar[dict[Mode, KeyHandler]] = {
        Mode.MAIN: MenuKeys._key_main,
        Mode.MENU: MenuKeys._key_menu,
        Mode.EDIT: MenuKeys._key_edit,
        Mode.OPTIONS: MenuKeys._key_options,
        Mode.OPTION_EDIT: MenuKeys._key_option_edit,
        Mode.CONTEXT: MenuKeys._key_context,
        Mode.SCAN_TOKEN: MenuKeys._key_scan_token,
        Mode.MESSAGE: MenuKeys._key_message,
        Mode.STATUS_RUNNING: MenuKeys._key_status_running,
        Mode.SETTINGS_PROMPT: MenuKeys._key_settings_prompt,
        Mode.Z_CONFIRM: CashDesk._key_z_confirm,
        Mode.CASH_PASSWORD: CashDesk._key_cash_password,
        Mode.CASH_OPEN_SHIFT: CashDesk._key_cash_open_shift,
        Mode.CASH_READY: CashDesk._key_cash_ready,
        Mode.CASH_DOCTYPE: CashDesk._key_cash_doctype,
        Mode.CASH_NEED_PRICE: CashDesk._key_cash_need_price,
        Mode.CASH_CHECKING: CashDesk._key_cash_checking,
        Mode.CASH_REFUSED: CashDesk._key_cash_refused,
        Mode.CASH_CONFIRM: CashDesk._key_cash_confirm,
        Mode.CASH_CANCEL_CONFIRM: CashDesk._key_cash_cancel_confirm,
    }

    def __init__(self, clock: VirtualClock, transport: Transport, directory: Path | None = None, *,
                 oism: OismLink, serial: str = "00000000000001",
                 fn_number: str = "9999078900000001", first_log_seq: int = 1,
                 menu: MenuData | None = None, keep_events: bool = True, tech_link: Any = None,
                 inn: str = "7700000000", model_name: str = "Меркурий-185Ф",
                 fiscal: FiscalUnit | None = None) -> None:
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
        self.fiscal = fiscal
        if fiscal is not None:
            fiscal.emit = self.emit
        self.keep_events = keep_events
        self.store = SettingsStore(directory)
        self.settings = self.store.load()
        self.logbook = Logbook(directory, first_log_seq)
        self.tls = TlsStore(directory)
        self.book = CdnBook()
        self.display = Display()
        self.beeps: list[Beep] = []
        self.events: list[DeviceEvent] = []
        self.last_error: int | None = None
        self.emergency = False
        self.degraded = False
        self.shift_open = False
        self.shift_number = 0
        self.shift_opened_ms: int | None = None
        self.receipt_counter = 0
        self.shift_receipts = 0
        self.receipt: Receipt | None = None
        self.receipts: list[Receipt] = []
        self.doc_kind = "sale"
        self.mode = Mode.MAIN
        self.nav = Navigator(self.menu)
        self.buffer = ""
        self.edit_node = None
        self.edit_index = 0
        self.context_items = ()
        self.context_index = 0
        self.context_return = Mode.MENU
        self.option_number = None
        self.pending_code = None
        self.confirm = None
        self.return_mode = Mode.MAIN
        self.on_event: Callable[[DeviceEvent], None] | None = None  # a trace hook (scenario --trace, consoles)
        self.powered = True
        self.gismt = GisMtClient(clock, transport, self, self.book)
        self.settings_prompt_due = False
        self.prompt_return = Mode.MAIN
        self.tech: TechExchange | None = TechExchange(self, tech_link) if tech_link is not None else None
        self._load_state()
        self.sync_shift_with_drive()
        if self.settings.host_check_off:
            self.emit(TlsNote(self.clock.now_ms, HOST_CHECK_OFF))
        for problem in self.tls.load_problems:
            self.emit(TlsNote(self.clock.now_ms, problem))
        if self.store.set_aside is not None:
            self.report_set_aside(SETTINGS_FILE, *self.store.set_aside)
        self._render()

    # -------------------------------------------------------------------- TLS
    def tls_context(self) -> ssl.SSLContext:
        """The client ``ssl.SSLContext`` for real connections: the store's roots, option 92."""
        return self.tls.client_context(self.settings.host_check_off)

    def load_certificate(self, data: bytes) -> list[int]:
        """Load root certificate(s) into the TLS store; a ``TlsError`` (650, 652, 653) is shown and logged."""
        try:
            slots = self.tls.load_all(data)
        except TlsError as exc:
            self._error(exc.code)
            self.emit(TlsNote(self.clock.now_ms, f"certificate refused: {exc}"))
            self._show_error(exc.code, self.mode if self.mode != Mode.MESSAGE else self.return_mode)
            self._render()
            raise
        self.emit(TlsNote(self.clock.now_ms, f"certificate loaded into slot(s) {slots}: {self.tls.describe()}"))
        return slots

    # ---------------------------------------------------------- observations
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
    def waiting(self) -> bool:
        """Something is in flight: a check, a CDN refresh, an exchange with the technological server."""
        return self.busy or self.gismt.busy or (self.tech is not None and self.tech.busy)

    def screen(self) -> tuple[str, str, str]:
        """What a person sees now: the two display lines and the status area."""
        l1, l2 = self.display.lines_at(self.clock.now_ms)
        return l1, l2, self.status_line

    def power_off(self) -> None:
        """Switch the device off: RAM (an open receipt, the CDN blocks) is lost, the device directory stays.

        Requests in flight are abandoned and timers still on the clock do nothing.
        """
        if not self.powered:
            return
        self.emit(PoweredOff(self.clock.now_ms))
        if self.receipt is not None:
            self.gismt.end_receipt(self.receipt.key)   # the receipt's connection dies with the device
        self.gismt.shutdown()
        if self.tech is not None:
            self.tech.stop()
        if self.fiscal is not None:
            self.fiscal.stop()
            self.fiscal.drive.close_archive()
        self.powered = False
        self.logbook.close()

    # ---------------------------------------------------------------- input
    def press(self, key: str | Key) -> None:
        k = key if isinstance(key, Key) else parse_key(key)
        self.emit(KeyPressed(self.clock.now_ms, k.value))
        self.KEYS[self.mode](self, k)
        self._render()

    @property
    def awaits_token(self) -> bool:
        """The token field is being edited, or the token scan screen is up: input here is a token."""
        return self.mode == Mode.SCAN_TOKEN or (self.mode == Mode.EDIT and self.edit_node is not None
                                                and self.edit_node.type == "secret")

    def type_text(self, text: str) -> None:
        """A PC keyboard on the device (modelled): types into the field being edited."""
        # Shown as typed only into a plain field (a host name, a number) or as an amount; anything
        # else typed may be a token and is masked.
        editing = self.edit_node.type if self.mode == Mode.EDIT and self.edit_node is not None else None
        plain = not self.awaits_token and (editing in ("text", "int")
                                           or (editing is None and text.replace(".", "").isdigit()))
        self.emit(Typed(self.clock.now_ms, self._masked(text if plain else mask_token(text))))
        if self.mode == Mode.EDIT and self.edit_node and self.edit_node.type in ("text", "secret", "int"):
            self.buffer += text
        elif self.mode in (Mode.CASH_READY, Mode.CASH_NEED_PRICE, Mode.CASH_PASSWORD, Mode.OPTIONS,
                           Mode.OPTION_EDIT):
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
        if self.mode == Mode.SCAN_TOKEN or (TOKEN_RE.match(data.strip()) and not is_marking(data)):
            shown = mask_token(data.strip())    # a token, wherever it is scanned
        else:
            shown = data[:64]
        self.emit(Scanned(self.clock.now_ms, self._masked(shown)))
        if self.mode == Mode.SCAN_TOKEN:
            self._scan_token(data)
        elif self.mode in (Mode.CASH_READY, Mode.CASH_NEED_PRICE):
            self._scan_code(data)
        else:
            self._beep("scan ignored")
            self._bad(self.msgs["bad_operation"])
        self._render()

    def scan_image(self, image: bytes | Path) -> None:
        """The scanner reading a picture: a token QR code from the Chestny Znak cabinet on the token
        screen, a marking code's DataMatrix in cash mode (``scan_code_image``)."""
        from emulator.wire.token_qr import TokenQrError, read_token_qr

        if self.mode in (Mode.CASH_READY, Mode.CASH_NEED_PRICE):
            self.scan_code_image(image)
            return
        if self.mode != Mode.SCAN_TOKEN:
            self._beep("image scan ignored")
            self._bad(self.msgs["bad_operation"])
            self._render()
            return
        try:
            token = read_token_qr(image)
        except TokenQrError as exc:
            self.emit(QrRefused(self.clock.now_ms, exc.message))
            self._beep("bad token QR")
            self._show_error(E.SETTINGS_ERROR, Mode.SCAN_TOKEN, self.msgs["bad_qr"])
            self._render()
            return
        self.scan(token)

    def scan_code_image(self, image: bytes | Path) -> None:
        """A pack's DataMatrix read by the scanner in cash mode: one code, then sold as a scanned one."""
        from emulator.wire.datamatrix import CodeImageError, read_code_image

        try:
            code = read_code_image(image)
        except CodeImageError as exc:
            self.emit(CodeImageRefused(self.clock.now_ms, exc.message))
            self._beep("bad DataMatrix image")
            self._message(f"{self.msgs['bad_code']}\n{self.msgs['dm_' + exc.kind]}", self.mode)
            self._render()
            return
        self.scan(code)
