"""``DeviceCommands``: the driver's commands executed on the device core, answers as dicts.

This is the KKT's side of the driver link (the vendor's serial protocol is not
public: what travels is ``(command, args) -> answer``, framed by
``emulator.wire`` / ``emulator.net`` on a pty, or handed over in process).
``args`` are what the driver API checked and scaled (money in kopecks, a
quantity in ten-thousandths, ``mc`` the marking code itself with its GS
separators); the answer is ``{"result": 0, ...}`` or ``{"result": n,
"description": "..."}`` (``results.py``).

Each command runs through the device's own inputs, as a cashier would (the
``Operator``: keys, the scanner), so the device's displays, decisions, log
and fiscal documents are the ones a person at the till gets; what only a
driver does (an open receipt's type chosen before its first position, the
FFD 1.2 marking-code table) is kept here. Call it on the device's thread (in
``serve``: between console commands), never from two threads at once.

Both permit-mode paths (incotex-kkt.md §14.5):

* (a) the device checks: ``AddGoods`` with ``mcInfo`` and no permit-mode
  ``industryAttribute`` scans the code into the device, which asks ОИСМ and
  then GIS MT, decides, shows and logs, and fills 1260 itself
  (``Position.gismt`` = ``allowed`` / ``warned`` / ``failed`` / ...). In
  warning mode its question «ПРОДАТЬ? [3]-ДА» is the answer (MODELLED: the
  driver's way is not public): ``result`` = the device's code, ``question``
  true, and the POS answers with ``AcceptMarkingCode`` (key 3: sold) or
  ``RejectMarkingCode`` (key С: refused).
* (b) the POS checks: ``CheckMarkingCode`` makes the device's ОИСМ request
  (tag 2106), ``GetMarkingCodeCheckResult`` reports it, ``AcceptMarkingCode``
  puts the code into the validation table, and ``AddGoods`` with ``mcInfo``
  and the POS's ``industryAttribute`` (ФОИВ ``030``, ``1944``,
  ``UUID=…&Time=…`` of its own GIS MT answer) adds the position with that 1260
  and no request of the device's own (``Position.gismt`` = ``pos``).

MODELLED where the public record is silent: the items' names and tax codes
are taken and not printed (the device names its items itself and has no VAT
setting); a quantity other than one of an unmarked good is sold as one
position of the whole amount; every receipt is paid in cash (``ecash`` is
refused); the cash drawer's sum (``BringMoney`` / ``WithdrawMoney``, the
receipts' cash) is kept in memory; the clock is the emulator's, so
``SetDateTime`` is refused unless it names the device's own time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from emulator.base import errors as E
from emulator.devices.kkt.device import DOC_KINDS, KktDevice
from emulator.devices.kkt.modes import Mode
from emulator.fronts.ecr import results as R
from emulator.fronts.operator import Operator, OperatorError
from emulator.rules.marking import MarkingCodeError
from emulator.rules.marking import parse as parse_marking
from emulator.rules.tag2106 import FN_CHECKED, FN_POSITIVE, OISM_ANSWERED, STATUS_CORRECT

log = logging.getLogger("kkt_emu.ecr")
Settle = Callable[[Callable[[], bool], int], object]
Answer = dict[str, Any]

DRIVER_VERSION = "3.12 (kkt-emu)"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"
CHECK_WAIT_MS = 5_000        # GetMarkingCodeCheckResult lets the ОИСМ answer (1 s deadline) arrive
SET_TIME_SLACK_S = 300
# OpenCheck.checkType (FiscalReceiptType of the public client): 0..3 the four receipt kinds.
CHECK_TYPES = dict(enumerate(DOC_KINDS))
PERMIT_FOIV = "030"


@dataclass
class MarkCheck:
    """A ``CheckMarkingCode`` in progress or done: the code and, once answered, its tag 2106."""
    raw: str
    planned: int
    tag2106: int | None = None
    accepted: bool = False


def _fd(device: KktDevice) -> tuple[int | None, str | None]:
    unit = device.fiscal
    if unit is None or unit.last is None:
        return None, None
    return unit.last.fd_number, str(unit.last.fiscal_sign)


class DeviceCommands:
    def __init__(self, device: KktDevice, settle: Settle) -> None:
        self.device = device
        self.settle = settle
        self.op = Operator(device, lambda: settle(lambda: self._waiting(), 15_000))
        self.check_open = False
        self.drawer = 0
        self.check: MarkCheck | None = None
        self.table: dict[str, int] = {}        # the validation table: accepted codes and their 2106
        self.box_opened = 0
        self.texts: list[str] = []             # non-fiscal text printed (PrintText)
        self.handlers: dict[str, Callable[[dict[str, Any]], Answer]] = {
            name[4:]: getattr(self, name) for name in dir(self) if name.startswith("cmd_")}

    @property
    def question(self) -> bool:
        """Path (a) in warning mode: the device asks «ПРОДАТЬ? [3]-ДА» (answered by Accept/RejectMarkingCode)."""
        return self.device.mode == Mode.CASH_CONFIRM

    def _waiting(self) -> bool:
        d = self.device
        return d.waiting or bool(d.fiscal is not None and d.fiscal.busy)

    # ------------------------------------------------------------------ entry
    def __call__(self, command: str, args: dict[str, Any]) -> Answer:
        handler = self.handlers.get(command)
        if handler is None:
            return R.refused(R.UNKNOWN_COMMAND, f"the device has no command {command!r}")
        try:
            return handler(args)
        except OperatorError as exc:
            shown = self._display()
            if shown.startswith("ОШИБКА ФН"):      # the drive refused the document: nothing was made
                self.op.dismiss()
                return R.refused(R.FN_REFUSED, shown)
            return R.refused(R.WRONG_STATE, f"{exc}; display: {shown}")
        except Exception as exc:   # a fault of the emulator's: the POS gets a result, the log the trace
            log.exception("driver command %s failed", command)
            return R.refused(R.INTERNAL, f"{command}: the emulator failed ({type(exc).__name__}); see its log")

    def _display(self) -> str:
        return " / ".join(line.strip() for line in self.device.display.text.split("\n") if line.strip())

    def _refused_by_device(self, fallback: int = R.WRONG_STATE) -> Answer:
        d = self.device
        code = d.last_error
        text = self._display()
        if code is not None and code in E.error_table():
            return R.refused(code, f"{E.error(code).line}", display=text)
        return R.refused(fallback, text or "the device refused")

    def _till(self) -> None:
        """Put away a message, enter cash mode (the shift must be open for a sale)."""
        self.op.dismiss()
        d = self.device
        if d.mode in (Mode.CASH_CONFIRM,):
            raise OperatorError("the device asks «ПРОДАТЬ? [3]-ДА»: answer with AcceptMarkingCode or RejectMarkingCode")
        if not d.in_cash_mode or d.mode != Mode.CASH_READY:
            self.op.enter_cash()
        if d.mode == Mode.CASH_OPEN_SHIFT:
            d.press("С")
            raise OperatorError("the shift is closed: OpenShift first")

    # ---------------------------------------------------------------- status
    def _now(self) -> str:
        return self.device.local_now().strftime(TIME_FORMAT)

    def cmd_GetStatus(self, args: dict[str, Any]) -> Answer:
        d = self.device
        unit = d.fiscal
        drive = unit.drive if unit is not None else None
        opened = (datetime.fromtimestamp(d.shift_opened_ms / 1000 + d.settings.tz_offset_min * 60, tz=UTC)
                  .strftime(TIME_FORMAT) if d.shift_opened_ms is not None else None)
        receipt = d.receipt
        return R.ok(
            dateTime=self._now(), paperPresence=True,
            shiftInfo={"isOpen": d.shift_open, "is24Expired": bool(d.shift_open and d._shift_too_long()),
                       "num": d.shift_number, "lastOpen": opened, "cash": self.drawer},
            checkInfo={"isOpen": self.check_open or receipt is not None, "num": d.shift_receipts,
                       "goodsQty": len(receipt.positions) if receipt is not None else 0},
            fnInfo={"status": drive.state if drive is not None else "absent",
                    "fnNum": d.fn_number,
                    "lastDoc": {"num": drive.last_fd} if drive is not None else None,
                    "unsignedDocs": {"qty": len(drive.pending())} if drive is not None else None},
            mode=str(d.mode), display=self._display())

    def cmd_GetCommonInfo(self, args: dict[str, Any]) -> Answer:
        d = self.device
        return R.ok(kktNum=d.serial, modelName=d.model_name, fnNum=d.fn_number, ffdVersion="1.2",
                    permitMode=d.settings.permit_on, gismtHost=d.settings.gismt_host)

    def cmd_GetRegistrationInfo(self, args: dict[str, Any]) -> Answer:
        d = self.device
        unit = d.fiscal
        if unit is None:
            return R.refused(R.NOT_SUPPORTED, "the device has no fiscal drive")
        ident = unit.ident
        return R.ok(kktInfo={"kktNum": ident.serial, "regNum": ident.reg_number, "model": ident.model},
                    organization={"name": ident.user, "inn": ident.inn, "address": ident.address,
                                  "location": ident.place, "site": ident.site},
                    ofd={"inn": ident.ofd_inn}, fnNum=d.fn_number, ffdVersion="1.2", taxSystem=[0])

    def cmd_GetDateTime(self, args: dict[str, Any]) -> Answer:
        return R.ok(dateTime=self._now())

    def cmd_SetDateTime(self, args: dict[str, Any]) -> Answer:
        d = self.device
        if d.shift_open:
            return R.refused(R.WRONG_STATE, "СМЕНА ОТКРЫТА: the clock is set with the shift closed")
        try:
            wanted = datetime.strptime(str(args["dateTime"]), TIME_FORMAT)
        except ValueError:
            return R.refused(R.BAD_FIELD, "dateTime: not a yyyy-MM-ddTHH:mm:ss date")
        off = abs((wanted - d.local_now()).total_seconds())
        if off > SET_TIME_SLACK_S:
            return R.refused(R.NOT_SUPPORTED, "the emulator's clock is its virtual clock: SetDateTime takes only "
                                              f"the device's own time (±{SET_TIME_SLACK_S} s); it is {self._now()}")
        return R.ok(dateTime=self._now())

    # ----------------------------------------------------------------- shift
    def cmd_OpenShift(self, args: dict[str, Any]) -> Answer:
        d = self.device
        if d.shift_open:
            return R.refused(R.WRONG_STATE, "СМЕНА ОТКРЫТА: the shift is open already")
        self.op.open_shift()
        fd, fp = _fd(d)
        return R.ok(shiftNum=d.shift_number, fiscalDocNum=fd, fiscalSign=fp)

    def cmd_CloseShift(self, args: dict[str, Any]) -> Answer:
        d = self.device
        if not d.shift_open:
            return R.refused(R.WRONG_STATE, "СМЕНА ЗАКРЫТА: no shift is open")
        if self.check_open or (d.receipt is not None and d.receipt.positions):
            return R.refused(R.WRONG_STATE, "a receipt is open: CloseCheck or ResetCheck first")
        number = d.shift_number
        self.op.close_shift()
        self.op.settle()
        fd, fp = _fd(d)
        return R.ok(shiftNum=number, fiscalDocNum=fd, fiscalSign=fp)

    # --------------------------------------------------------------- receipt
    def cmd_OpenCheck(self, args: dict[str, Any]) -> Answer:
        d = self.device
        kind = CHECK_TYPES.get(args["checkType"])
        if kind is None:
            return R.refused(R.NOT_SUPPORTED, f"checkType {args['checkType']}: correction receipts are not "
                                              "modelled (0..3 only)")
        if not d.shift_open:
            return R.refused(R.WRONG_STATE, "СМЕНА ЗАКРЫТА: OpenShift first")
        if self.check_open or (d.receipt is not None and d.receipt.positions):
            return R.refused(R.WRONG_STATE, "a receipt is open already: CloseCheck or ResetCheck first")
        self._till()
        if d.doc_kind != kind:
            self.op.doc_type(kind)
        self.check_open = True
        return R.ok(checkNum=d.receipt_counter + 1, shiftNum=d.shift_number)

    def _need_check(self) -> Answer | None:
        if not self.check_open:
            return R.refused(R.WRONG_STATE, "no receipt is open: OpenCheck first")
        return None

    def cmd_AddGoods(self, args: dict[str, Any]) -> Answer:
        refusal = self._need_check()
        if refusal is not None:
            return refusal
        price, qty = args["price"], args["qty"]
        total = args.get("sum")
        if total is None:
            total = (price * qty + 5_000) // 10_000
        if total <= 0:
            return R.refused(R.BAD_FIELD, "price x qty: the position's sum must be more than 0")
        mc = (args.get("mcInfo") or {}).get("mc")
        if mc is None:
            return self._add_free(total)
        if qty != 10_000:
            return R.refused(R.BAD_FIELD, "qty: a marked good is sold by the piece (qty 1); the device sells "
                                          "nothing in parts")
        permit = [a for a in args.get("industryAttribute") or [] if a.get("idFOIV") == PERMIT_FOIV]
        if permit:
            return self._add_checked_by_pos(mc, total, permit[0])
        return self._add_marked(mc, total)

    def _add_free(self, total: int) -> Answer:
        d = self.device
        self._till()
        before = len(d.receipt.positions) if d.receipt is not None else 0
        self.op.sell_free(total)
        after = len(d.receipt.positions) if d.receipt is not None else 0
        if after == before:
            return self._refused_by_device()
        return R.ok(goodsNum=after, sum=total)

    def _add_marked(self, raw: str, price: int) -> Answer:
        """Path (a): the device checks the code itself (ОИСМ, then GIS MT) and decides."""
        d = self.device
        self._till()
        before = len(d.receipt.positions) if d.receipt is not None else 0
        self.op.sell(raw, price)
        if d.mode == Mode.CASH_CONFIRM:
            code = d.last_error
            line = E.error(code).line if code in E.error_table() else self._display()
            return R.refused(code or R.MARKING, f"{line}; the device asks «{d.msgs['sell_anyway']}»: "
                                                "AcceptMarkingCode sells, RejectMarkingCode refuses",
                             question=True, display=self._display())
        return self._position_answer(before, price)

    def _position_answer(self, before: int, price: int) -> Answer:
        d = self.device
        after = len(d.receipt.positions) if d.receipt is not None else 0
        if after == before:
            answer = self._refused_by_device(R.MARKING)
            self.op.dismiss()
            return answer
        pos = d.receipt.positions[-1] if d.receipt is not None else None
        assert pos is not None
        warning = None
        if pos.error is not None and pos.error in E.error_table():
            warning = f"{pos.error} {E.error(pos.error).line}"
        return R.ok(goodsNum=after, sum=price, tag2106=pos.tag2106, checkedBy=_checked_by(pos.gismt),
                    industryAttribute=_attribute(pos.tag1260), warning=warning)

    def _add_checked_by_pos(self, raw: str, price: int, attribute: dict[str, Any]) -> Answer:
        """Path (b): the POS checked the code (CheckMarkingCode ... AcceptMarkingCode, its own GIS MT call)."""
        d = self.device
        tag2106 = self.table.get(raw)
        if tag2106 is None:
            return R.refused(R.MARKING, "this marking code was not checked and accepted: CheckMarkingCode, "
                                        "GetMarkingCodeCheckResult, AcceptMarkingCode first")
        if attribute.get("docNum") != "1944" or str(attribute.get("docDate")) != "2023-11-21":
            return R.refused(R.BAD_FIELD, "industryAttribute: the permit-mode 1260 is idFOIV 030, "
                                          "docDate 2023-11-21, docNum 1944")
        value = attribute.get("value") or ""
        if not (value.startswith("UUID=") and "&Time=" in value):
            return R.refused(R.BAD_FIELD, "industryAttribute.value: expected UUID=<reqId>&Time=<reqTimestamp> of "
                                          "the POS's GIS MT answer")
        self._till()
        before = len(d.receipt.positions) if d.receipt is not None else 0
        problem = d.sell_checked_by_pos(raw, price, tag2106, value)
        if problem is not None:
            answer = self._refused_by_device(R.MARKING)
            self.op.dismiss()
            return answer
        del self.table[raw]
        return self._position_answer(before, price)

    def cmd_CloseCheck(self, args: dict[str, Any]) -> Answer:
        d = self.device
        refusal = self._need_check()
        if refusal is not None:
            return refusal
        if self.question:
            return R.refused(R.WRONG_STATE, "the device asks «ПРОДАТЬ? [3]-ДА»: AcceptMarkingCode or "
                                            "RejectMarkingCode first")
        payment = args.get("payment") or {}
        if any(payment.get(k) for k in ("ecash", "prepayment", "credit", "consideration")):
            return R.refused(R.NOT_SUPPORTED, "payment: the emulated device takes cash only (ecash, prepayment, "
                                              "credit and consideration are not modelled)")
        receipt = d.receipt
        if receipt is None or not receipt.positions:
            return R.refused(R.WRONG_STATE, "the receipt has no positions: AddGoods or ResetCheck")
        total = receipt.total
        cash = payment.get("cash", total)
        if cash < total:
            return R.refused(R.BAD_FIELD, f"payment.cash: {cash} is less than the receipt's total {total} "
                                          "(kopecks)")
        self._till()
        number = receipt.number
        self.op.close_receipt()
        self.op.settle()
        self.check_open = False
        if receipt.kind in ("sale", "expense_return"):
            self.drawer += total
        else:
            self.drawer = max(0, self.drawer - total)
        fd, fp = _fd(d)
        return R.ok(checkNum=number, shiftNum=d.shift_number, fiscalDocNum=fd, fiscalSign=fp,
                    change=cash - total)

    def cmd_ResetCheck(self, args: dict[str, Any]) -> Answer:
        d = self.device
        if self.question:
            self._answer_question(sell=False)
        if d.receipt is not None and d.receipt.positions:
            self._till()
            self.op.cancel_receipt()
            self.op.dismiss()
        elif not self.check_open:
            return R.refused(R.WRONG_STATE, "no receipt is open")
        self.check_open = False
        self.table.clear()
        self.check = None
        return R.ok()

    def cmd_BreakOperation(self, args: dict[str, Any]) -> Answer:
        """Interrupt what the device waits for: the warning-mode question, a price prompt, a code check."""
        d = self.device
        if self.question:
            self._answer_question(sell=False)
        elif d.mode == Mode.CASH_NEED_PRICE:
            d.press("С")
        self.check = None
        self.op.dismiss()
        return R.ok()

    # ------------------------------------------------------------- money
    def cmd_BringMoney(self, args: dict[str, Any]) -> Answer:
        if not self.device.shift_open:
            return R.refused(R.WRONG_STATE, "СМЕНА ЗАКРЫТА: OpenShift first")
        self.drawer += args["cash"]
        return R.ok(cash=self.drawer)

    def cmd_WithdrawMoney(self, args: dict[str, Any]) -> Answer:
        if not self.device.shift_open:
            return R.refused(R.WRONG_STATE, "СМЕНА ЗАКРЫТА: OpenShift first")
        if args["cash"] > self.drawer:
            return R.refused(R.WRONG_STATE, f"the drawer holds {self.drawer} kopecks, less than {args['cash']}")
        self.drawer -= args["cash"]
        return R.ok(cash=self.drawer)

    def cmd_OpenBox(self, args: dict[str, Any]) -> Answer:
        self.box_opened += 1
        return R.ok()

    # ----------------------------------------------------------- printing
    def cmd_PrintReport(self, args: dict[str, Any]) -> Answer:
        """X report («ОТЧЕТЫ БЕЗ ГАШЕНИЯ»: the drive's «Отчет о текущем состоянии расчетов»); any reportCode 1..5."""
        d = self.device
        if self.check_open:
            return R.refused(R.WRONG_STATE, "a receipt is open: CloseCheck or ResetCheck first")
        before = d.fiscal.drive.last_fd if d.fiscal is not None else 0
        self.op.goto("ОТЧЕТЫ БЕЗ ГАШЕНИЯ")
        d.press("ИТ")
        text = self._display()
        self.op.dismiss()
        fd, fp = _fd(d)
        if d.fiscal is not None and d.fiscal.drive.last_fd == before:
            fd, fp = None, None
        return R.ok(fiscalDocNum=fd, fiscalSign=fp, display=text)

    def cmd_ReportStatusOfSettlements(self, args: dict[str, Any]) -> Answer:
        return self.cmd_PrintReport(args)

    def cmd_PrintText(self, args: dict[str, Any]) -> Answer:
        lines = str(args["text"]).splitlines() or [""]
        self.texts += lines
        del self.texts[:-1000]
        return R.ok(lines=len(lines))

    def cmd_PrintDocFromFN(self, args: dict[str, Any]) -> Answer:
        from emulator.devices.printer.form import print_form

        d = self.device
        if d.fiscal is None:
            return R.refused(R.NOT_SUPPORTED, "the device has no fiscal drive")
        number = args["docNum"]
        drive = d.fiscal.drive
        if not 1 <= number <= drive.last_fd:
            return R.refused(R.BAD_FIELD, f"docNum: no document {number} in the drive (1..{drive.last_fd})")
        signed = drive.document(number)
        out = print_form(signed.document, signed.fiscal_sign)
        return R.ok(docNum=number, docType=out.doc_type, lines=list(out.lines))

    # ------------------------------------------------------- marking codes
    def cmd_CheckMarkingCode(self, args: dict[str, Any]) -> Answer:
        d = self.device
        try:
            code = parse_marking(args["mc"])
        except MarkingCodeError as exc:
            return R.refused(R.BAD_FIELD, f"mc: not a marking code: {exc}")
        if args.get("processingMode", 0) != 0:
            return R.refused(R.BAD_FIELD, "processingMode: only 0 is valid in FFD 1.2")
        if self.check is not None and self.check.tag2106 is None:
            return R.refused(R.MARKING, "a check is running: GetMarkingCodeCheckResult or "
                                        "AbortMarkingCodeChecking first")
        check = MarkCheck(code.raw, args["plannedStatus"])
        self.check = check
        offline = d.settings.is_autonomous

        def answered(tag2106: int) -> None:
            if self.check is check:
                check.tag2106 = tag2106

        if offline:
            from emulator.rules.tag2106 import AUTONOMOUS
            check.tag2106 = AUTONOMOUS
        else:
            d.oism.request(code.raw, answered)
        has_tail = bool(code.crypto_tail)
        return R.ok(fnCheck={"checkResult": 0 if has_tail else 3, "isValid": has_tail},
                    mcInfo={"mcType": 1 if code.kind == "pack" else 5, "mcGoodsID": code.gtin},
                    isOfflineMode=offline)

    def cmd_GetMarkingCodeCheckResult(self, args: dict[str, Any]) -> Answer:
        check = self.check
        if check is None:
            return R.refused(R.MARKING, "no marking code is being checked: CheckMarkingCode first")
        if check.tag2106 is None:
            self.settle(lambda: check.tag2106 is None and self.check is check, CHECK_WAIT_MS)
        if check.tag2106 is None:
            return R.ok(isCompleted=False)
        v = check.tag2106
        online = {"result": 0 if v & OISM_ANSWERED else 1,
                  "description": None if v & OISM_ANSWERED else "ОИСМ не ответила",
                  "processingResult": 0 if v & OISM_ANSWERED else None,
                  "mcCheckResult": bool(v & FN_CHECKED and v & FN_POSITIVE),
                  "plannedStatusCheckResult": 1 if v & STATUS_CORRECT else 2,
                  "mcCheckResultRaw": v}
        return R.ok(isCompleted=True, onlineCheck={k: x for k, x in online.items() if x is not None})

    def cmd_AcceptMarkingCode(self, args: dict[str, Any]) -> Answer:
        if self.question:
            return self._answer_question(sell=True)
        check = self.check
        if check is None or check.tag2106 is None:
            return R.refused(R.MARKING, "no finished check to accept: CheckMarkingCode and "
                                        "GetMarkingCodeCheckResult first")
        self.table[check.raw] = check.tag2106
        self.check = None
        return R.ok(mcCheckResultRaw=check.tag2106)

    def cmd_RejectMarkingCode(self, args: dict[str, Any]) -> Answer:
        if self.question:
            return self._answer_question(sell=False)
        if self.check is None:
            return R.refused(R.MARKING, "no marking code check to reject")
        self.check = None
        return R.ok()

    def cmd_AbortMarkingCodeChecking(self, args: dict[str, Any]) -> Answer:
        if self.check is None:
            return R.refused(R.MARKING, "no marking code is being checked")
        self.check = None
        return R.ok()

    def cmd_ClearMarkingCodeValidationTable(self, args: dict[str, Any]) -> Answer:
        self.table.clear()
        return R.ok()

    def _answer_question(self, sell: bool) -> Answer:
        d = self.device
        before = len(d.receipt.positions) if d.receipt is not None else 0
        price = d.confirm[0].price if d.confirm is not None else 0
        d.press("3" if sell else "С")
        if not sell:
            return R.ok(sold=False)
        return self._position_answer(before, price)


def _checked_by(how: str) -> str:
    """Which path filled 1260: ``device`` (its own GIS MT check), ``pos``, or ``none`` (no answer to record)."""
    return {"pos": "pos", "allowed": "device", "warned": "device"}.get(how, "none")


def _attribute(tag1260: tuple[str, str, str, str] | None) -> dict[str, str] | None:
    if tag1260 is None:
        return None
    foiv, date, num, value = tag1260
    day, month, year = date.split(".")
    return {"idFOIV": foiv, "docDate": f"{year}-{month}-{day}", "docNum": num, "value": value}
