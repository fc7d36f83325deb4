"""The device's state, its persistence, and the helpers every part of it uses.

``DeviceCore`` is the base of the device's parts (see the package docstring):
it declares the state they share, keeps ``state.json`` (what survives a power
cut: emergency mode, the shift, the receipt counter, the CDN list, the
technological server's pending result), emits events, and puts messages and
errors on the display. It does no rendering and handles no key.

``state.json`` is written atomically and checked when read back (at most
1 MiB, JSON nested at most 32 deep, the shape of
``emulator/data/state.schema.json``). A damaged one is set aside as
``state.json.bad`` (an earlier one is never overwritten) and the device starts
from a clean state, saying so with a ``StateFileSetAside`` event.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from emulator.base import errors as E
from emulator.base.clock import VirtualClock
from emulator.base.storage import DamagedFile, read_json_file, set_aside, write_json_atomic
from emulator.devices.kkt.cdn import CdnBook
from emulator.devices.kkt.events import Beeped, DeviceEvent, ErrorShown, StateFileSetAside
from emulator.devices.kkt.gismt import CheckOutcome, GisMtClient
from emulator.devices.kkt.logbook import Logbook
from emulator.devices.kkt.modes import Mode, in_cash_mode
from emulator.devices.kkt.permit import PermitDecision
from emulator.devices.kkt.settings import SETTINGS_FILE, Settings, SettingsStore
from emulator.devices.kkt.techexchange import TechExchange
from emulator.net.oism import OismLink
from emulator.net.seam import Transport
from emulator.rules.marking import MarkingCode
from firmware_menu.display import Display
from firmware_menu.tree import MenuData, Navigator, Node
from tls_store import TlsStore

FOIV = ("030", "21.11.2023", "1944")  # tag 1262, 1263, 1264 of the permit-mode 1260
STATE_FILE = "state.json"
STATE_RESET = "emergency mode, the shift, the receipt counter and the CDN list"
SETTINGS_RESET = "every setting (token, host, options)"


@lru_cache(maxsize=1)
def state_schema() -> dict[str, Any]:
    return json.loads(resources.files("emulator").joinpath("data/state.schema.json").read_text("utf-8"))


@dataclass(frozen=True)
class Beep:
    time_ms: int
    reason: str


@dataclass
class Position:
    number: int
    price: int
    marking: str | None = None
    tag2106: int | None = None
    tag1265: str | None = None       # UUID=<reqId>&Time=<reqTimestamp> when GIS MT answered
    gismt: str = "none"              # none | allowed | warned | failed | emergency | skipped | pos (the POS checked)
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
class PendingSale:
    """A marked position on its way: the code, its price and the ОИСМ answer (tag 2106)."""
    code: MarkingCode
    price: int
    tag2106: int


class DeviceCore:
    # Wiring (set by ``KktDevice.__init__``).
    clock: VirtualClock
    transport: Transport
    directory: Path | None
    serial: str
    fn_number: str
    inn: str
    model_name: str
    menu: MenuData
    msgs: dict[str, str]
    oism: OismLink
    keep_events: bool
    store: SettingsStore
    settings: Settings
    logbook: Logbook
    tls: TlsStore
    book: CdnBook
    display: Display
    gismt: GisMtClient
    tech: TechExchange | None
    on_event: Callable[[DeviceEvent], None] | None
    powered: bool
    # Observations.
    beeps: list[Beep]
    events: list[DeviceEvent]
    last_error: int | None
    emergency: bool
    degraded: bool
    # The shift and its receipts (persisted, but for the open receipt).
    shift_open: bool
    shift_number: int
    shift_opened_ms: int | None
    receipt_counter: int
    shift_receipts: int          # receipts closed in this shift (the X report's «ЧЕКОВ»)
    receipt: Receipt | None
    receipts: list[Receipt]
    doc_kind: str
    # The screen and what is being entered on it.
    mode: Mode
    return_mode: Mode            # where a message goes back to
    nav: Navigator
    buffer: str
    edit_node: Node | None
    edit_index: int
    context_items: tuple[str, ...]
    context_index: int
    context_return: Mode         # where С from a context menu goes back to
    option_number: int | None
    pending_code: MarkingCode | None
    confirm: tuple[PendingSale, CheckOutcome, PermitDecision] | None
    settings_prompt_due: bool
    prompt_return: Mode

    # ------------------------------------------------------------------ state
    @property
    def _state_path(self) -> Path | None:
        return self.directory / "state.json" if self.directory else None

    def _load_state(self) -> None:
        if self._state_path is None:
            return
        try:
            st = read_json_file(self._state_path, state_schema())
        except DamagedFile as exc:
            # A damaged state file is set aside, not lost, and the device starts from a clean state.
            bad = set_aside(self._state_path)
            self._reset_state()
            self.report_set_aside(STATE_FILE, bad.name, str(exc))
            return
        if st is not None:
            self._take_state(st)

    def report_set_aside(self, file: str, kept_as: str, problem: str) -> None:
        """Say that a damaged state file was renamed and what went back to its defaults."""
        reset = SETTINGS_RESET if file == SETTINGS_FILE else STATE_RESET
        self.emit(StateFileSetAside(self.clock.now_ms, file, kept_as, problem, reset))

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

    def _take_state(self, st: dict[str, Any]) -> None:
        """A checked state document (``state.schema.json``) into the device."""
        self.emergency = st.get("emergency", False)
        self.shift_open = st.get("shift_open", False)
        self.shift_number = st.get("shift_number", 0)
        self.shift_opened_ms = st.get("shift_opened_ms")
        self.receipt_counter = st.get("receipt_counter", 0)
        self.shift_receipts = st.get("shift_receipts", 0)
        result = st.get("tech_result")
        if self.tech is not None and result:
            self.tech.result = (result[0], result[1], result[2])
        cdn = st.get("cdn") or {}
        if cdn.get("hosts"):
            self.book.replace([h["host"] for h in cdn["hosts"]],
                              {h["host"]: h.get("latency_ms") for h in cdn["hosts"]}, cdn["refreshed_at"])
            self.book.clear_blocks()

    def save_state(self) -> None:
        """Write ``state.json`` (nothing once the device is off)."""
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

    def _save_settings(self) -> None:
        self.settings.validate()
        self.store.save(self.settings)

    # ------------------------------------------------------------- the mode
    @property
    def in_cash_mode(self) -> bool:
        """In a cash mode, or on a message or prompt over one (``modes.in_cash_mode``)."""
        return in_cash_mode(self.mode, self.return_mode, self.prompt_return)

    @property
    def busy(self) -> bool:
        """Waiting for an answer with the keypad locked: a check at the till, «СТАТУС ГИС МТ»."""
        return self.mode == Mode.CASH_CHECKING or self.mode == Mode.STATUS_RUNNING

    # ---------------------------------------------------------------- events
    @property
    def now_ms(self) -> int:
        return self.clock.now_ms

    def local_now(self) -> datetime:
        return (datetime.fromtimestamp(self.clock.now_ms / 1000, tz=UTC)
                + timedelta(minutes=self.settings.tz_offset_min)).replace(tzinfo=None)

    def emit(self, ev: DeviceEvent) -> None:
        """Record an event (``events``) and pass it to the trace hook (``on_event``)."""
        if self.keep_events:
            self.events.append(ev)
        if self.on_event:
            self.on_event(ev)

    def _beep(self, reason: str) -> None:
        self.beeps.append(Beep(self.clock.now_ms, reason))
        self.emit(Beeped(self.clock.now_ms, reason))

    def _error(self, code: int) -> None:
        self.last_error = code
        self.emit(ErrorShown(self.clock.now_ms, code))

    # -------------------------------------------------------- messages shown
    def _message(self, text: str, then: Mode) -> None:
        self.return_mode = then
        self.mode = Mode.MESSAGE
        self.display.message(text, self.clock.now_ms)

    def _bad(self, text: str) -> None:
        if self.mode != Mode.MESSAGE:
            self._message(text, self.mode)
        self._beep(text)

    def _show_error(self, code: int, then: Mode, extra: str = "") -> None:
        text = E.error(code).line + (f"\n{extra}" if extra else "")
        self._message(text, then)

    def _render(self) -> None:
        raise NotImplementedError   # ``Screen`` (screen.py) draws the display
