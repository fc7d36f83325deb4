"""The drive against a simple reference model: random sequences of documents, time steps,
acknowledgements and reopenings of the archive (Hypothesis ``RuleBasedStateMachine``).

The reference keeps the few numbers the rules need and says which [3P] code (or none) each
call must give; the invariants hold after every step: ФД numbers contiguous from 1, receipts
only in an open shift, the queue a subset of the documents, an acknowledged document stays so
across reopenings, the counters equal the reference's.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from emulator.devices.fn import errors
from emulator.devices.fn.archive import ARCHIVE_FILE
from emulator.devices.fn.model import FiscalDrive, FnError

FN = "9999078900005488"
T0 = 1_700_000_000_000
HOUR = 3_600_000
DAY = 24 * HOUR
LIFETIME = 75 * DAY            # short, so that runs reach it
STEPS = (0, 1, 1000, HOUR, 6 * HOUR, 25 * HOUR, 10 * DAY, 31 * DAY)
KINDS = ("register", "open_shift", "close_shift", "receipt", "receipt", "receipt", "correction", "status_report",
         "close")
TYPE = {"register": 1, "open_shift": 2, "close_shift": 5, "receipt": 3, "correction": 31,
        "status_report": 21, "close": 6}


class Reference:
    def __init__(self) -> None:
        self.state = "setting"
        self.times: list[int] = []          # when each document was made (index = fd - 1)
        self.types: list[int] = []
        self.delivered: set[int] = set()
        self.shift_open = False
        self.shift_number = 0
        self.receipts = 0
        self.shift_open_ms = 0
        self.expires = T0 + LIFETIME

    def pending(self) -> list[int]:
        return [fd for fd in range(1, len(self.times) + 1) if fd not in self.delivered]

    def current_state(self) -> str:
        return "archive" if self.state == "closed" and not self.pending() else self.state

    def expect(self, kind: str, now: int) -> int | None:
        t, state = TYPE[kind], self.current_state()
        if t == 1:
            if state != "setting":
                return errors.WRONG_STATE
        elif state != "fiscal" or (t == 2 and self.shift_open) or (t in (3, 31, 5) and not self.shift_open) \
                or (t == 6 and self.shift_open):
            return errors.WRONG_STATE
        if self.times and now < self.times[-1]:
            return errors.WRONG_TIME
        if t not in (5, 6):
            if now >= self.expires:
                return errors.EXPIRED
            pend = self.pending()
            if pend and now - self.times[pend[0] - 1] >= 30 * DAY:
                return errors.UNSENT_TOO_OLD
        if t in (3, 31) and now - self.shift_open_ms >= DAY:
            return errors.SHIFT_OVER_24H
        return None

    def apply(self, kind: str, now: int) -> None:
        t = TYPE[kind]
        self.times.append(now)
        self.types.append(t)
        if t == 1:
            self.state = "fiscal"
        elif t == 2:
            self.shift_open, self.shift_number, self.receipts, self.shift_open_ms = True, self.shift_number + 1, 0, now
        elif t in (3, 31):
            self.receipts += 1
        elif t == 5:
            self.shift_open = False
        elif t == 6:
            self.state = "closed"


class DriveMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="fn-stateful-"))
        self.path = self.dir / ARCHIVE_FILE
        self.drive = FiscalDrive(self.path, FN, expires_ms=T0 + LIFETIME)
        self.ref = Reference()
        self.now = T0

    def teardown(self) -> None:
        self.drive.close_archive()
        shutil.rmtree(self.dir, ignore_errors=True)

    @initialize(start=st.sampled_from(("setting", "fiscal", "shift")))
    def start(self, start: str) -> None:
        """Most runs begin registered, many with a shift open, so that the limits are reached."""
        for kind in ("register", "open_shift")[:("setting", "fiscal", "shift").index(start)]:
            self.document(kind, False)

    @rule(step=st.sampled_from(STEPS))
    def advance(self, step: int) -> None:
        self.now += step

    @rule(kind=st.sampled_from(KINDS), back=st.booleans())
    def document(self, kind: str, back: bool) -> None:
        now = self.now - 1 if back else self.now
        want = self.ref.expect(kind, now)
        fields = ((1020, 100),) if TYPE[kind] in (3, 31) else ((1021, "Кассир"),)
        call = {"register": self.drive.register, "open_shift": self.drive.open_shift,
                "close_shift": self.drive.close_shift, "status_report": self.drive.status_report,
                "close": self.drive.close, "receipt": self.drive.receipt,
                "correction": lambda n, f: self.drive.receipt(n, f, doc_type=31)}[kind]
        try:
            signed = call(now, fields)
        except FnError as exc:
            assert exc.code == want, (kind, exc, want)
            event(f"{kind} refused {exc.label}")
            return
        assert want is None, (kind, "taken", want)
        self.ref.apply(kind, now)
        assert signed.fd_number == len(self.ref.times) and signed.document.doc_type == TYPE[kind]
        if TYPE[kind] in (3, 31):
            assert signed.document.get(1042) == self.ref.receipts
            assert signed.document.get(1038) == self.ref.shift_number

    @rule(which=st.integers(min_value=0, max_value=5), oldest=st.booleans())
    def acknowledge(self, which: int, oldest: bool) -> None:
        n = len(self.ref.times)
        if n == 0:
            return
        fd = (self.ref.pending() or [1])[0] if oldest else 1 + which % n
        self.drive.acknowledge(fd, b"ack" + bytes([fd % 256]), self.now)
        self.ref.delivered.add(fd)

    @rule()
    def reopen(self) -> None:
        self.drive.close_archive()
        self.drive = FiscalDrive(self.path, FN)

    @invariant()
    def matches_the_reference(self) -> None:
        d, ref = self.drive, self.ref
        docs = d.documents()
        assert [s.fd_number for s in docs] == list(range(1, len(ref.times) + 1))
        assert [s.document.get(1040) for s in docs] == [s.fd_number for s in docs]
        assert [s.document.doc_type for s in docs] == ref.types
        assert d.state == ref.current_state()
        assert (d.shift_open, d.shift_number, d.receipts_in_shift) == (ref.shift_open, ref.shift_number, ref.receipts)
        pending = [s.fd_number for s in d.pending()]
        assert set(pending) <= {s.fd_number for s in docs}
        assert pending == ref.pending()                        # acknowledged ones stay acknowledged
        assert all(d.delivered(fd) for fd in ref.delivered)

    @invariant()
    def receipts_only_in_an_open_shift(self) -> None:
        open_ = False
        for t in self.ref.types:
            if t == 2:
                open_ = True
            elif t == 5:
                open_ = False
            elif t in (3, 31):
                assert open_


DriveMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None,
                                          suppress_health_check=[HealthCheck.too_slow])
TestDriveMachine = DriveMachine.TestCase
