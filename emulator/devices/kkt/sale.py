"""Selling at the till: free and marked positions, the ОИСМ and GIS MT checks, the question.

A free position is a price and ПИ. A marked one is a scan (with a price keyed
in before, the code's own price, or one asked for in ``cash_need_price``):
the ОИСМ check comes back through the ``OismLink`` callback with tag 2106, then
-- for a sale in permit mode, outside emergency mode -- ``GisMtClient.check``
asks GIS MT while the device is ``cash_checking``. The answer is decided on
(``permit.decide``): sold; sold with a beep when no usable answer came;
refused (option «ЗАПРЕТ ПРОДАЖ», ``cash_refused``); or the question
«ПРОДАТЬ? [3]-ДА» (``cash_confirm``), where 3 sells and С refuses.
"""

from __future__ import annotations

from emulator.base import errors as E
from emulator.devices.kkt.events import PositionAdded, ReceiptOpened, SaleRefused
from emulator.devices.kkt.fiscal import FiscalUnit
from emulator.devices.kkt.gismt import CheckContext, CheckOutcome
from emulator.devices.kkt.modes import Mode
from emulator.devices.kkt.permit import decide
from emulator.devices.kkt.state import PendingSale, Position, Receipt
from emulator.devices.kkt.techglue import TechGlue
from emulator.rules.marking import MarkingCode, MarkingCodeError
from emulator.rules.marking import parse as parse_marking
from emulator.rules.tag2106 import AUTONOMOUS
from firmware_menu.keypad import Key

SHIFT_LIMIT_MS = 24 * 3600_000


def parse_amount(buf: str) -> int | None:
    """A keyed-in amount in kopecks (``"12.5"`` -> 1250), ``None`` if it is not one."""
    if not buf or buf.count(".") > 1:
        return None
    whole, _, frac = buf.partition(".")
    if len(frac) > 2 or (whole and not whole.isdigit()) or (frac and not frac.isdigit()):
        return None
    return int(whole or "0") * 100 + int(frac.ljust(2, "0") or "0")


class MarkedSales(TechGlue):
    fiscal: FiscalUnit | None    # the fiscal half (drive, printer, OFD); None: a device without one

    def _amount_key(self, k: Key) -> bool:
        """A digit or point typed into the amount (at most 10 characters), or [С] clearing a typed
        amount: True when ``k`` was taken so."""
        if k.is_digit or k is Key.POINT:
            if len(self.buffer) < 10:
                self.buffer += k.value
            return True
        if k is Key.C and self.buffer:
            self.buffer = ""
            return True
        return False

    def _key_cash_need_price(self, k: Key) -> None:
        if self._amount_key(k):
            return
        if k is Key.C:
            self.pending_code = None
            self.mode = Mode.CASH_READY
        elif k is Key.PI:
            price = parse_amount(self.buffer)
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
            self.mode = Mode.CASH_READY

    def _key_cash_confirm(self, k: Key) -> None:
        assert self.confirm is not None
        pending, outcome, decision = self.confirm
        if k is Key.D3:
            self.confirm = None
            self._add_marked(pending, "warned", outcome, error=decision.error)
            self.mode = Mode.CASH_READY
        elif k is Key.C:
            self.confirm = None
            self.emit(SaleRefused(self.clock.now_ms, decision.error, "by the cashier"))
            self.mode = Mode.CASH_READY

    def _ensure_receipt(self) -> Receipt:
        if self.receipt is None:
            self.receipt_counter += 1
            self.receipt = Receipt(self.receipt_counter, self.doc_kind, self.clock.now_ms)
            self.emit(ReceiptOpened(self.clock.now_ms, self.receipt.number, self.doc_kind))
        return self.receipt

    def _shift_too_long(self) -> bool:
        return (self.shift_opened_ms is not None
                and self.clock.now_ms - self.shift_opened_ms > SHIFT_LIMIT_MS)

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
        self.emit(PositionAdded(self.clock.now_ms, len(r.positions), price))

    def _scan_code(self, data: str) -> None:
        try:
            code = parse_marking(data)
        except MarkingCodeError as exc:
            self._beep(f"bad code: {exc}")
            self._message(f"{self.msgs['bad_code']}\n{exc}", self.mode)
            return
        if not self._can_sell():
            return
        price = parse_amount(self.buffer)
        self.buffer = ""
        if self._in_receipt(code):
            self._refuse_duplicate(code, price or code.mrp_kopecks or 0)
            return
        if price is None or price <= 0:
            if code.mrp_kopecks:
                price = code.mrp_kopecks
            else:
                self.pending_code = code
                self.mode = Mode.CASH_NEED_PRICE
                return
        self._start_marked(code, price)

    def _in_receipt(self, code: MarkingCode) -> bool:
        """Whether the unit of goods ``code`` names is already a position of the open receipt."""
        if self.receipt is None:
            return False
        return any(p.marking is not None and parse_marking(p.marking).unit == code.unit
                   for p in self.receipt.positions)

    def _refuse_duplicate(self, code: MarkingCode, price: int) -> None:
        """A КМ scanned into a receipt that holds it already: refused at once, no ОИСМ or GIS MT request.

        The operator's extra checks forbid a duplicate КМ in one receipt except for goods sold in
        parts, which this device does not sell. The code 790 and its message are MODELLED.
        """
        err = E.DUPLICATE_IN_RECEIPT
        self.pending_code = None
        self.mode = Mode.CASH_READY
        self.write_record(err, CheckContext(code.raw, price, 0, code.mrp_kopecks), 0,
                          "duplicate КМ in the receipt: refused before any request")
        self._error(err)
        self._beep(f"refused: {err} duplicate КМ")
        self.emit(SaleRefused(self.clock.now_ms, err, "(КМ already in the receipt)"))
        self._message(f"{err} {self.msgs['duplicate_code']}", Mode.CASH_READY)

    def _start_marked(self, code: MarkingCode, price: int) -> None:
        self._ensure_receipt()
        if self.settings.is_autonomous:
            self._oism_checked(code, price, AUTONOMOUS)   # the ФН checks alone, offline
        else:
            self.mode = Mode.CASH_CHECKING                 # the ОИСМ answer may take a while
            self.oism.request(code.raw, lambda tag2106: self._oism_checked(code, price, tag2106))

    def _oism_checked(self, code: MarkingCode, price: int, tag2106: int) -> None:
        receipt = self._ensure_receipt()
        s = self.settings
        pending = PendingSale(code, price, tag2106)
        if receipt.kind != "sale" or not s.permit_on or s.is_autonomous:
            self.mode = Mode.CASH_READY
            self._add_marked(pending, "skipped", None)
            self._render()
            return
        if self.emergency:
            self.mode = Mode.CASH_READY
            self._add_marked(pending, "emergency", None)
            self._render()
            return
        ctx = CheckContext(code.raw, price, pending.tag2106, code.mrp_kopecks)
        self.mode = Mode.CASH_CHECKING
        self.gismt.check(ctx, receipt.key, lambda outcome: self._checked(pending, outcome))

    def _checked(self, pending: PendingSale, outcome: CheckOutcome) -> None:
        self.mode = Mode.CASH_READY
        s = self.settings
        if outcome.emergency:
            self._add_marked(pending, "emergency", outcome)
            self._show_error(E.EMERGENCY, Mode.CASH_READY)
        elif outcome.failure is not None:
            self._error(outcome.failure)
            self.gismt_answering(False)
            if s.refuse_on_failure:
                self._beep(f"refused: {outcome.failure}")
                self._show_error(outcome.failure, Mode.CASH_READY)
                self.emit(SaleRefused(self.clock.now_ms, outcome.failure, "(request failed, ЗАПРЕТ)"))
            else:
                self._add_marked(pending, "failed", outcome, error=outcome.failure)
                self._beep(f"sold without GIS MT answer: {outcome.failure}")
                self._show_error(outcome.failure, Mode.CASH_READY)
        else:
            assert outcome.answer is not None
            code_answer = outcome.answer.codes[0]
            decision = decide(code_answer, pending.code, pending.price, self.local_now())
            if decision.allowed:
                self._add_marked(pending, "allowed", outcome)
            else:
                ctx = CheckContext(pending.code.raw, pending.price, pending.tag2106, pending.code.mrp_kopecks)
                assert decision.error is not None
                self.write_record(decision.error, ctx, outcome.elapsed_ms,
                                   f"codes/check {outcome.host}: prohibited", outcome.answer)
                self._error(decision.error)
                if not decision.usable:
                    self.gismt_answering(False)     # sold without an answer it could use: «!»
                    self._add_marked(pending, "failed", outcome, error=decision.error)
                    self._beep(f"sold without a usable answer: {decision.error}")
                    self._show_error(decision.error, Mode.CASH_READY)
                elif s.hard_ban:
                    self.emit(SaleRefused(self.clock.now_ms, decision.error, "(ЗАПРЕТ ПРОДАЖ = ВКЛЮЧЕН)"))
                    self._show_error(decision.error, Mode.CASH_READY)
                    self.mode = Mode.CASH_REFUSED
                else:
                    self.confirm = (pending, outcome, decision)
                    self.mode = Mode.CASH_CONFIRM
                    self.display.message(f"{E.error(decision.error).line}\n{self.msgs['sell_anyway']}",
                                         self.clock.now_ms)
        self._render()

    def sell_checked_by_pos(self, raw: str, price: int, tag2106: int, tag1265: str | None) -> str | None:
        """A marked position whose permit check the POS made (the driver's FFD 1.2 marking commands).

        The ОИСМ result (``tag2106``) comes from the driver's own ``CheckMarkingCode`` and the 1260
        value (``tag1265``) from the POS's GIS MT check (``AddGoods.industryAttribute``): the device
        asks no one and records the position as ``gismt = "pos"``. None when it is added, else the
        device's message (shown on the display; nothing added).
        """
        if self.mode != Mode.CASH_READY:
            self._bad(self.msgs["bad_operation"])
            return self.msgs["bad_operation"]
        try:
            code = parse_marking(raw)
        except MarkingCodeError as exc:
            self._beep(f"bad code: {exc}")
            self._message(f"{self.msgs['bad_code']}\n{exc}", self.mode)
            return f"{self.msgs['bad_code']}: {exc}"
        if not self._can_sell():
            return self.msgs["shift_closed" if not self.shift_open else "shift_too_long"]
        if self._in_receipt(code):
            self._refuse_duplicate(code, price)
            return f"{E.DUPLICATE_IN_RECEIPT} {self.msgs['duplicate_code']}"
        self._add_marked(PendingSale(code, price, tag2106), "pos", None, tag1265=tag1265)
        self._render()
        return None

    def _add_marked(self, pending: PendingSale, how: str, outcome: CheckOutcome | None, *,
                    error: int | None = None, tag1265: str | None = None) -> None:
        r = self._ensure_receipt()
        if outcome is not None and outcome.answer is not None:
            tag1265 = f"UUID={outcome.answer.req_id}&Time={outcome.answer.req_timestamp}"
        pos = Position(len(r.positions) + 1, pending.price, pending.code.raw, pending.tag2106, tag1265, how, error,
                       beep=how == "failed")
        r.positions.append(pos)
        self.emit(PositionAdded(self.clock.now_ms, pos.number, pos.price, how))
