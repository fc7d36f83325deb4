"""What the device reports as it works: one frozen dataclass per kind of event.

Every event carries the clock time it happened at (``time_ms``) and typed
fields; ``text`` is its human-readable detail and ``render()`` the trace form
``"<kind>: <text>"`` (``scenario --trace`` prints it after the time, the serve
console after the kind in brackets). ``kind`` is the trace's label only:
consumers select events with ``isinstance``, not by comparing labels.

The rendered texts are part of the emulator's observable output (the trace of
every bundled scenario is compared byte for byte across refactors): change a
``text`` only on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


def price_text(kop: int) -> str:
    return f"{kop // 100}.{kop % 100:02d}"


@dataclass(frozen=True)
class DeviceEvent:
    time_ms: int
    kind: ClassVar[str] = ""

    @property
    def text(self) -> str:
        raise NotImplementedError

    def render(self) -> str:
        return f"{self.kind}: {self.text}"


@dataclass(frozen=True)
class KeyPressed(DeviceEvent):
    key: str
    kind: ClassVar[str] = "key"

    @property
    def text(self) -> str:
        return self.key


@dataclass(frozen=True)
class Typed(DeviceEvent):
    shown: str          # what was typed, a token in it masked
    kind: ClassVar[str] = "type"

    @property
    def text(self) -> str:
        return self.shown


@dataclass(frozen=True)
class Scanned(DeviceEvent):
    shown: str          # the scanned data (64 characters at most), a token in it masked
    kind: ClassVar[str] = "scan"

    @property
    def text(self) -> str:
        return self.shown


@dataclass(frozen=True)
class QrRefused(DeviceEvent):
    reason: str
    kind: ClassVar[str] = "scan"

    @property
    def text(self) -> str:
        return f"QR image refused: {self.reason}"


@dataclass(frozen=True)
class CodeImageRefused(DeviceEvent):
    reason: str       # never the code itself
    kind: ClassVar[str] = "scan"

    @property
    def text(self) -> str:
        return f"DataMatrix image refused: {self.reason}"


@dataclass(frozen=True)
class Beeped(DeviceEvent):
    reason: str
    kind: ClassVar[str] = "beep"

    @property
    def text(self) -> str:
        return self.reason


@dataclass(frozen=True)
class ErrorShown(DeviceEvent):
    code: int           # the device's error code (``emulator.base.errors``)
    kind: ClassVar[str] = "error"

    @property
    def text(self) -> str:
        return str(self.code)


@dataclass(frozen=True)
class LogWritten(DeviceEvent):
    code: int
    note: str
    kind: ClassVar[str] = "log"

    @property
    def text(self) -> str:
        return f"{self.code} {self.note}"


@dataclass(frozen=True)
class EmergencyChanged(DeviceEvent):
    on: bool
    by_hand: bool       # False: GIS MT answered 203
    kind: ClassVar[str] = "emergency"

    @property
    def text(self) -> str:
        if not self.by_hand:
            return "on (GIS MT answered 203)"
        return "on (by hand)" if self.on else "off (by hand)"


@dataclass(frozen=True)
class TlsNote(DeviceEvent):
    note: str
    kind: ClassVar[str] = "tls"

    @property
    def text(self) -> str:
        return self.note


@dataclass(frozen=True)
class PoweredOff(DeviceEvent):
    kind: ClassVar[str] = "power"

    @property
    def text(self) -> str:
        return "off"


@dataclass(frozen=True)
class StateFileSetAside(DeviceEvent):
    """A damaged state file (``state.json``, ``settings.json``) was renamed and its contents went back to defaults."""
    file: str           # the file's name, e.g. "state.json"
    kept_as: str        # the name it was renamed to, e.g. "state.json.bad"
    problem: str        # what is wrong with it, one line
    reset: str          # what went back to its defaults
    kind: ClassVar[str] = "state"

    @property
    def text(self) -> str:
        return f"{self.file} is damaged ({self.problem}); kept as {self.kept_as}; {self.reset} back to defaults"


@dataclass(frozen=True)
class SettingChanged(DeviceEvent):
    name: str           # a setting's name, or "option N"
    value: str          # as shown: a token masked
    how: str = ""       # e.g. "scanned"
    kind: ClassVar[str] = "setting"

    @property
    def text(self) -> str:
        return f"{self.name}={self.value}" + (f" ({self.how})" if self.how else "")


@dataclass(frozen=True)
class DefaultsRestored(DeviceEvent):
    kind: ClassVar[str] = "setting"

    @property
    def text(self) -> str:
        return "permit-mode defaults restored"


@dataclass(frozen=True)
class ShiftOpened(DeviceEvent):
    number: int
    kind: ClassVar[str] = "shift"

    @property
    def text(self) -> str:
        return f"opened #{self.number}"


@dataclass(frozen=True)
class ShiftClosed(DeviceEvent):
    number: int
    kind: ClassVar[str] = "shift"

    @property
    def text(self) -> str:
        return f"closed #{self.number}"


@dataclass(frozen=True)
class CdnNote(DeviceEvent):
    note: str
    kind: ClassVar[str] = "cdn"

    @property
    def text(self) -> str:
        return self.note


@dataclass(frozen=True)
class TechNote(DeviceEvent):
    note: str           # the technological-server exchange: a session, an upload, a task
    kind: ClassVar[str] = "tech"

    @property
    def text(self) -> str:
        return self.note


@dataclass(frozen=True)
class LeftCashMode(DeviceEvent):
    kind: ClassVar[str] = "cash"

    @property
    def text(self) -> str:
        return "left cash mode"


@dataclass(frozen=True)
class SaleRefused(DeviceEvent):
    code: int | None
    why: str
    kind: ClassVar[str] = "refused"

    @property
    def text(self) -> str:
        return f"{self.code} {self.why}"


@dataclass(frozen=True)
class ReceiptOpened(DeviceEvent):
    number: int
    doc_kind: str
    kind: ClassVar[str] = "receipt"

    @property
    def text(self) -> str:
        return f"#{self.number} opened ({self.doc_kind})"


@dataclass(frozen=True)
class ReceiptClosed(DeviceEvent):
    number: int
    total: int          # kopecks
    kind: ClassVar[str] = "receipt"

    @property
    def text(self) -> str:
        return f"#{self.number} closed, total {price_text(self.total)}"


@dataclass(frozen=True)
class ReceiptCancelled(DeviceEvent):
    number: int
    kind: ClassVar[str] = "receipt"

    @property
    def text(self) -> str:
        return f"#{self.number} cancelled"


@dataclass(frozen=True)
class ReceiptDiscarded(DeviceEvent):
    number: int
    kind: ClassVar[str] = "receipt"

    @property
    def text(self) -> str:
        return f"#{self.number} discarded (nothing sold)"


@dataclass(frozen=True)
class PositionAdded(DeviceEvent):
    number: int
    price: int                  # kopecks
    gismt: str | None = None    # a marked position: how GIS MT took part (``Position.gismt``)
    kind: ClassVar[str] = "position"

    @property
    def text(self) -> str:
        marked = f" marked, GIS MT: {self.gismt}" if self.gismt is not None else ""
        return f"#{self.number} {price_text(self.price)}{marked}"


@dataclass(frozen=True)
class FiscalDocumentMade(DeviceEvent):
    doc_type: int
    fd_number: int
    fiscal_sign: int
    kind: ClassVar[str] = "fd"

    @property
    def text(self) -> str:
        return f"document {self.doc_type} ФД {self.fd_number} ФП {self.fiscal_sign}"


@dataclass(frozen=True)
class FiscalRefused(DeviceEvent):
    what: str
    code: int
    reason: str
    kind: ClassVar[str] = "fd"

    @property
    def text(self) -> str:
        return f"the drive refused the {self.what}: {self.code:02x} {self.reason}"


@dataclass(frozen=True)
class OfdNote(DeviceEvent):
    note: str
    kind: ClassVar[str] = "ofd"

    @property
    def text(self) -> str:
        return self.note


@dataclass(frozen=True)
class OismNote(DeviceEvent):
    note: str                 # the «Уведомление о реализации» (82) and its «Квитанция» (84)
    kind: ClassVar[str] = "oism"

    @property
    def text(self) -> str:
        return self.note


@dataclass(frozen=True)
class OismFailed(DeviceEvent):
    code: str
    problem: str
    tag2106: int
    kind: ClassVar[str] = "oism"

    @property
    def text(self) -> str:
        return f"no ОИСМ answer for {self.code}: {self.problem}; 2106 = {self.tag2106}"
