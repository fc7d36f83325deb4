"""What the mock tax server keeps: operators, ПРРО, shifts, offline sessions, registered documents.

Plain data, no rules (``model.py`` has them). ``Registrar`` holds a ПРРО's
counters, its shifts and its offline session; registered documents live in one
append-only list of ``Stored`` with an index by ``UID``, so that a package can
be rolled back by restoring one registrar and cutting the list.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from emulator.rules.prro import Role
from emulator.wire.prro.document import Document, ZTotals


@dataclass
class Operator:
    """A key registered by form 5-ПРРО: its id, the person, the role, «Квитанція №2», when it becomes active."""

    key_id: str
    name: str
    role: Role
    reg_num: str
    accepted_ms: int
    active_from_ms: int
    certificate_der: bytes

    def active(self, now_ms: int) -> bool:
        return now_ms >= self.active_from_ms


@dataclass
class Shift:
    shift_id: int
    opened_by: str               # key id
    opener_name: str
    open_fiscal: str
    opened_ms: int
    first_local: int
    testing: bool
    totals: ZTotals = field(default_factory=ZTotals)      # what the shift's Z-report must say
    z_fiscal: str | None = None
    close_fiscal: str | None = None
    closed_ms: int | None = None
    closed_by: str | None = None

    @property
    def open(self) -> bool:
        return self.closed_ms is None


@dataclass
class OfflineState:
    """A ПРРО's offline session: the pair from the server, and what the current session's documents say."""

    session_id: int | None = None
    seed: int | None = None
    active: bool = False                 # a 102 accepted without its 103
    begin_ms: int | None = None          # the 102's time
    last_financial_ms: int | None = None
    next_number: int = 1                 # within the session
    prev_hash: str | None = None         # of the last settlement document of the session
    after_begin: bool = False            # the next settlement document is the first one (no PREVDOCHASH)
    monthly_ms: dict[str, int] = field(default_factory=dict)      # "YYYY-MM" → offline time used
    last_session_ms: int = 0


@dataclass
class Registrar:
    """One ПРРО of the taxpayer (form 1-ПРРО)."""

    fiscal_num: str              # CASHREGISTERNUM, 10 digits
    local_num: str               # CASHDESKNUM
    name: str
    unit_name: str               # the business unit (ГО)
    address: str
    offline_supported: bool = True
    next_local_num: int = 1
    last_fiscal: str | None = None
    shifts: list[Shift] = field(default_factory=list)
    offline: OfflineState = field(default_factory=OfflineState)
    blocked_until_ms: int | None = None
    block_reason: str = ""
    last_online_financial: str | None = None     # UID of the last online receipt / Z (REVOKELASTONLINEDOC)

    @property
    def shift(self) -> Shift | None:
        return self.shifts[-1] if self.shifts and self.shifts[-1].open else None

    def blocked(self, now_ms: int) -> bool:
        return self.blocked_until_ms is not None and now_ms < self.blocked_until_ms


@dataclass
class Stored:
    """A registered document: what was sent, what it is, its fiscal number and the ticket answered."""

    seq: int
    uid: str
    registrar: str
    fiscal: str
    doc: Document
    signed: bytes
    signer_key: str
    signer_name: str
    registered_ms: int
    shift_id: int | None
    ticket: bytes                # the server-signed TICKET (empty for documents of a package)
    offline: bool = False
    revoked: bool = False
