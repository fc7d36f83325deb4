"""The emulated PrivatBank "ECR JSON" terminal, sans-IO: messages in, answers out, time read from ``now_ms``.

The front (``tcp.py``) or a test feeds decoded requests to ``handle()`` and collects what is due with
``poll()`` (``next_due()`` says when the next step of a running operation falls); nothing here does I/O,
and time is whatever ``now_ms()`` says, the virtual clock's or the wall's. One operation runs at a time:

* ``PingDevice`` → ``{code: "00", responseCode: "0000"}``; ``GetTerminalInfo`` → ``version``;
* ``Purchase`` / ``Refund`` wait for the card (``LastStatMsgCode`` 9), read it (1), ask the PIN (6),
  authorise at the bank (3) and answer the financial fields with the slip as text (``receipt``);
  the holder (``card.Holder``) decides what happens, a card not presented for 300 s ends in 1000;
* ``Withdrawal`` voids a transaction of the open batch by ``invoiceNumber`` (no card), ``Audit`` is the
  X-balance, ``Verify`` the settlement that closes the batch (its transactions are gone from the
  terminal), ``CheckConnection`` the host link test, ``GetReceiptInfo`` a transaction of the open batch
  by number (``""`` / ``"0"``: the last one; its codes never set ``error``);
* ``ServiceMessage`` is answered at once, also while an operation runs (``identify``, ``deviceBusy``,
  ``interrupt`` → ``interruptTransmitted`` and the running card operation ends in 1001,
  ``getLastResult`` 0 done / 2 in progress, ``getLastStatMsgCode``, ``getLastStatMsgDescription``,
  ``getMerchantList``, ``getMaskList``, ``getDiscountName``, ``correctTransaction``, ``debug``);
  any other method while one runs gets ``ServiceMessage`` ``deviceBusy``; an unknown method
  ``ServiceMessage`` ``methodNotImplemented``.

Faults: ``faults`` is a ``FaultPlan`` whose items are consumed one per operation request (``PLAN_WORDS``:
the local errors ``no_host`` 1004, ``no_paper`` 1005, ``keys`` 1006, ``reader`` 1007, ``log_full`` 1003;
``lose_answer``: the operation completes, its answer is never sent; ``lose_request``: the request is
never acted on; ``close``: the terminal closes the connection on receiving it; ``stall``: the terminal
hangs and answers nothing more until ``stalled`` is cleared); ``faults.latency_ms`` adds to the bank's
time; ``faults.down`` makes the front refuse connections; the switches ``host_down`` (1004) and
``paper_out`` (1005) hold until cleared. ``schedule(at_ms, ...)`` sets any of these at a moment of the
terminal's clock (virtual or wall), applied before the first request or poll at or after it. ``keyboard_purchase()`` is a sale made on the
terminal's own keys, which the ECR client never hears of. What the terminal says and when is MODELLED
beyond the protocol's field names and codes (README, "Bank terminal").
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from emulator.net.faults import FaultPlan
from emulator.rules.terminal_errors import OK, ecr_code
from emulator.servers.bankterm.card import HOST_CODE, Holder
from emulator.wire.ecrjson import Message

PLAN_WORDS = frozenset({"no_host", "no_paper", "keys", "reader", "log_full", "lose_answer", "lose_request",
                        "close", "stall"})
LOCAL_FAULT = {"log_full": "1003", "no_host": "1004", "no_paper": "1005", "keys": "1006", "reader": "1007"}
OPERATIONS = frozenset({"Purchase", "Refund", "Withdrawal", "Audit", "Verify", "CheckConnection"})
try:
    KYIV: ZoneInfo | timezone = ZoneInfo("Europe/Kyiv")
except ZoneInfoNotFoundError:          # no time-zone database on the machine: Kyiv's winter time
    KYIV = timezone(timedelta(hours=2), "EET")
MAX_AMOUNT = 99_999_999            # kopecks
MAX_RRNS = 10_000                  # sales the bank can still refund (MODELLED)
STAT_TEXT = {0: "", 1: "Картку зчитано", 3: "Авторизація", 5: "Друк", 6: "Введіть PIN", 9: "Вставте картку"}
CARD_TIMEOUT_TEXT = "Час очікування картки вичерпано"
TXN_NAME = {"1": "ОПЛАТА", "2": "ПОВЕРНЕННЯ", "3": "СКАСУВАННЯ"}


@dataclass(frozen=True)
class Merchant:
    id: str
    terminal_id: str
    name: str
    masks: str                     # the card masks routed to this merchant


DEFAULT_MERCHANTS = (Merchant("0", "S1A00001", "ТОВ «ЕМУЛЯТОР»", "4*;5*"),
                     Merchant("1", "S1A00002", "ФОП ТЕСТОВИЙ", "6*;9*"))


@dataclass(frozen=True)
class Close:
    """The front closes the connection (the ``close`` fault)."""


@dataclass(eq=False)
class Txn:
    invoice: str
    txn_type: str                  # "1" purchase, "2" refund, "3" void
    amount: int
    merchant: Merchant
    at_ms: int
    code: str
    rrn: str = ""
    approval: str = ""
    status: str = "1"              # 1 approved, 2 declined, 3 reversed, 4 cancelled
    source: str = "ecr"            # "ecr" or "keyboard"
    original: str = ""             # a void's or a refund's original (invoice / rrn)


@dataclass(eq=False)
class _Op:
    method: str
    params: dict[str, str]
    steps: list[tuple[int, int]]   # (due_ms, LastStatMsgCode from then on)
    finish_ms: int
    lost: bool = False
    outcome: str = "approve"


@dataclass(eq=False)
class TerminalConfig:
    merchants: tuple[Merchant, ...] = DEFAULT_MERCHANTS
    host_ms: int = 1_500           # the bank's answer time
    max_batch: int = 300           # transactions in one batch before 1003 (MODELLED)
    version: str = "kkt-emu 1.0 (ECR JSON 1.0.3.1)"
    vendor: str = "PrivatBank"
    model: str = "kkt-emu ECR JSON terminal"


def parse_amount(text: str) -> int | None:
    """``"0.60"`` / ``"0,60"`` / ``"12"`` in kopecks; None when it is no amount of at most 2 decimals."""
    t = text.strip().replace(",", ".")
    whole, _, frac = t.partition(".")
    if not whole.isdigit() or not whole.isascii() or len(whole) > 8 or len(frac) > 2 or (frac and not (
            frac.isdigit() and frac.isascii())) or (not frac and t.endswith(".")):
        return None
    value = int(whole) * 100 + int((frac + "00")[:2])
    return value if 0 < value <= MAX_AMOUNT else None


def money(kop: int) -> str:
    return f"{kop // 100}.{kop % 100:02d}"


SWITCHES = frozenset({"down", "host_down", "paper_out", "stalled", "latency_ms", "plan", "holder"})


class BankTerminal:
    """The terminal (see the module docstring). Thread-safe: the front and a test may both call it."""

    def __init__(self, now_ms: Callable[[], int], config: TerminalConfig | None = None,
                 holder: Holder | None = None) -> None:
        self.now_ms = now_ms
        self.config = config or TerminalConfig()
        self.holder = holder or Holder()
        self.faults = FaultPlan(words=PLAN_WORDS)
        self.stalled = False
        self.paper_out = False
        self.host_down = False
        self.batch: list[Txn] = []
        self.batch_no = 1
        self.rrns: dict[str, Txn] = {}            # the bank's view: every approved purchase by RRN
        self.refunded: dict[str, int] = {}
        self._invoice = 0
        self._rrn = 0
        self._op: _Op | None = None
        self._stat = 0
        self._lock = threading.RLock()
        self._schedule: list[tuple[int, int, dict[str, object]]] = []
        self.received: deque[str] = deque(maxlen=200)     # the methods (msgTypes) of the last requests
        self.stats: dict[str, int] = {"requests": 0, "lost_answers": 0, "lost_requests": 0, "busy": 0, "bad": 0}

    # -- the front's side ---------------------------------------------------------------------------
    def schedule(self, at_ms: int, **changes: object) -> None:
        """At ``at_ms`` on the terminal's clock: ``down``, ``host_down``, ``paper_out``, ``stalled`` (bools),
        ``latency_ms`` (int), ``plan`` (fault-plan items), ``holder`` (holder actions). Checked now."""
        for key, value in changes.items():
            if key not in SWITCHES:
                raise ValueError(f"bad terminal change {key!r}: one of {', '.join(sorted(SWITCHES))}")
            if key == "plan":
                if not all(isinstance(v, str) for v in value):  # type: ignore[attr-defined]
                    raise ValueError("fault-plan items of the terminal are words")
                FaultPlan(words=PLAN_WORDS).plan(list(value))  # type: ignore[call-overload]
            elif key == "holder":
                Holder().plan(list(value))  # type: ignore[call-overload]
            elif key == "latency_ms" and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ValueError(f"bad latency_ms {value!r}")
            elif key not in ("plan", "holder", "latency_ms") and not isinstance(value, bool):
                raise ValueError(f"{key} must be true or false, not {value!r}")
        with self._lock:
            self._schedule.append((int(at_ms), len(self._schedule), dict(changes)))
            self._schedule.sort(key=lambda e: (e[0], e[1]))

    def apply_due(self) -> None:
        """Apply the scheduled changes whose moment has come (``handle`` and ``poll`` do it first)."""
        with self._lock:
            self._apply_due()

    def _apply_due(self) -> None:
        now = self.now_ms()
        while self._schedule and self._schedule[0][0] <= now:
            for key, value in self._schedule.pop(0)[2].items():
                if key == "plan":
                    self.faults.plan(list(value))  # type: ignore[call-overload]
                elif key == "holder":
                    self.holder.plan(list(value))  # type: ignore[call-overload]
                elif key == "down":
                    self.faults.down = bool(value)
                elif key == "latency_ms":
                    self.faults.latency_ms = int(value)  # type: ignore[call-overload]
                else:
                    setattr(self, key, bool(value))

    def handle(self, msg: Message) -> list[Message | Close]:
        with self._lock:
            self._apply_due()
            self.stats["requests"] += 1
            self.received.append(msg.params.get("msgType", "")[:64] if msg.method == "ServiceMessage"
                                 else msg.method[:64])
            if self.stalled:
                return []
            if msg.method == "ServiceMessage":
                return self._service(msg.params)
            if self._op is not None:
                self.stats["busy"] += 1
                return [self._svc("deviceBusy")]
            if msg.method == "PingDevice":
                return [self._answer(msg.method, {"code": "00", "responseCode": OK})]
            if msg.method == "GetTerminalInfo":
                return [self._answer(msg.method, {"version": self.config.version})]
            if msg.method == "GetReceiptInfo":
                return [self._receipt_info(msg.params.get("invoiceNumber", ""))]
            if msg.method not in OPERATIONS:
                return [self._svc("methodNotImplemented", {"method": msg.method[:64]})]
            return self._start(msg)

    def bad_frame(self, reason: str) -> list[Message | Close]:
        """A frame that is no message: an error answer with no method (MODELLED)."""
        with self._lock:
            self.stats["bad"] += 1
            return [] if self.stalled else [Message("", {}, 0, True, reason)]

    def next_due(self) -> int | None:
        with self._lock:
            if self._op is None:
                return None
            return min([d for d, _ in self._op.steps] + [self._op.finish_ms])

    def poll(self) -> list[Message | Close]:
        with self._lock:
            self._apply_due()
            op, now = self._op, self.now_ms()
            if op is None or self.stalled:
                return []
            while op.steps and op.steps[0][0] <= now:
                self._stat = op.steps.pop(0)[1]
            if op.finish_ms > now:
                return []
            self._op, self._stat = None, 0
            answer = self._finish(op)
            if op.lost:
                self.stats["lost_answers"] += 1
                return []
            return [answer]

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._op is not None

    @property
    def last_stat(self) -> int:
        with self._lock:
            return self._stat

    # -- the world's side ---------------------------------------------------------------------------
    def keyboard_purchase(self, amount_kop: int, merchant_id: str = "0") -> Txn:
        """A sale keyed on the terminal itself, approved at once; the ECR never hears of it."""
        with self._lock:
            txn = self._approved("1", amount_kop, self._merchant(merchant_id) or self.config.merchants[0])
            txn.source = "keyboard"
            return txn

    # -- operations ---------------------------------------------------------------------------------
    def _start(self, msg: Message) -> list[Message | Close]:
        p, now = msg.params, self.now_ms()
        item = self.faults.next_item()
        if item == "close":
            return [Close()]
        if item == "stall":
            self.stalled = True
            return []
        if item == "lose_request":
            self.stats["lost_requests"] += 1
            return []
        if isinstance(item, str) and item in LOCAL_FAULT:
            return [self._local(msg.method, LOCAL_FAULT[item])]
        if self.host_down and msg.method != "Audit":     # the X-balance is the terminal's own count
            return [self._local(msg.method, "1004")]
        if self.paper_out:
            return [self._local(msg.method, "1005")]
        merchant = self._merchant(p.get("merchantId", "0") or "0")
        if merchant is None:
            return [self._local(msg.method, "1000", "Невідомий мерчант")]
        host = self.config.host_ms + self.faults.next_latency()
        if msg.method in ("Purchase", "Refund"):
            amount = parse_amount(p.get("amount", ""))
            if amount is None:
                return [self._local(msg.method, "1000", "Невірна сума")]
            if len(self.batch) >= self.config.max_batch:
                return [self._local(msg.method, "1003")]
            h = self.holder
            action = h.next_action()
            if action == "no_card":
                steps, finish = [(now, 9)], now + h.card_timeout_ms
            elif action == "cancel":
                steps, finish = [(now, 9)], now + h.present_ms
            else:
                t = now + h.present_ms
                steps = [(now, 9), (t, 1)]
                if amount >= h.pin_from or action == "wrong_pin":
                    steps.append((t, 6))
                    t += h.pin_ms
                steps.append((t, 3))
                finish = t + host
            op = _Op(msg.method, dict(p), steps, finish, item == "lose_answer", action)
        else:
            op = _Op(msg.method, dict(p), [(now, 3)], now + host, item == "lose_answer")
        self._op = op
        self._stat = op.steps[0][1]
        op.steps.pop(0)
        return []

    def _finish(self, op: _Op) -> Message:
        p, m = op.params, op.method
        merchant = self._merchant(p.get("merchantId", "0") or "0") or self.config.merchants[0]
        if m == "CheckConnection":
            return self._answer(m, {"responseCode": OK, "merchantId": merchant.id, "terminalId": merchant.terminal_id})
        if m in ("Audit", "Verify"):
            return self._totals(m, merchant)
        if m == "Withdrawal":
            return self._void(p.get("invoiceNumber", ""))
        amount = parse_amount(p.get("amount", "")) or 0
        if op.outcome == "cancel":
            return self._local(m, "1001")
        if op.outcome == "no_card":
            return self._local(m, "1000", CARD_TIMEOUT_TEXT)
        txn_type = "1" if m == "Purchase" else "2"
        if m == "Refund":
            orig = self.rrns.get(p.get("rrn", ""))
            if orig is None or orig.status != "1" or self.refunded.get(orig.rrn, 0) + amount > orig.amount:
                return self._declined(m, txn_type, amount, merchant, "0025")
        code = HOST_CODE[op.outcome]
        if code != OK:
            return self._declined(m, txn_type, amount, merchant, code)
        txn = self._approved(txn_type, amount, merchant)
        if m == "Refund":
            txn.original = p.get("rrn", "")
            self.refunded[txn.original] = self.refunded.get(txn.original, 0) + amount
        return self._answer(m, self._fields(txn))

    def _void(self, invoice: str) -> Message:
        orig = next((t for t in self.batch if t.invoice == invoice and t.txn_type in ("1", "2")), None)
        if orig is None:
            return self._answer("Withdrawal", {"responseCode": "0025", "txnType": "3"}, ecr_code("0025").text)
        if orig.status != "1":
            return self._local("Withdrawal", "1008")
        orig.status = "3"
        txn = self._approved("3", orig.amount, orig.merchant)
        txn.original = orig.invoice
        if orig.txn_type == "1":
            self.rrns.pop(orig.rrn, None)
        elif orig.original in self.refunded:
            self.refunded[orig.original] -= orig.amount
        return self._answer("Withdrawal", self._fields(txn))

    def _totals(self, method: str, merchant: Merchant) -> Message:
        mine = [t for t in self.batch if t.merchant.id == merchant.id and t.status in ("1", "3")]
        sums = {k: (sum(1 for t in mine if t.txn_type == k), sum(t.amount for t in mine if t.txn_type == k))
                for k in ("1", "2", "3")}
        title = "X-БАЛАНС" if method == "Audit" else "ЗАГАЛЬНИЙ ЗВІТ"
        lines = [merchant.name, f"ТЕРМІНАЛ {merchant.terminal_id}", title, f"ПАКЕТ {self.batch_no}",
                 self._stamp(self.now_ms())]
        lines += [f"{TXN_NAME[k]}: {n} НА {money(s)} UAH" for k, (n, s) in sums.items()]
        net = sums["1"][1] - sums["2"][1] - sums["3"][1]
        lines.append(f"РАЗОМ: {money(net) if net >= 0 else '-' + money(-net)} UAH")
        params = {"responseCode": OK, "merchantId": merchant.id, "terminalId": merchant.terminal_id,
                  "batchNum": str(self.batch_no), "receipt": "\n".join(lines)}
        if method == "Verify":
            self.batch = [t for t in self.batch if t.merchant.id != merchant.id]
            self.batch_no += 1
            lines.append("ПАКЕТ ЗАКРИТО")
            params["receipt"] = "\n".join(lines)
        return self._answer(method, params)

    def _receipt_info(self, invoice: str) -> Message:
        if invoice in ("", "0"):
            txn = self.batch[-1] if self.batch else None
        else:
            txn = next((t for t in self.batch if t.invoice == invoice), None)
        if txn is None:
            return self._answer("GetReceiptInfo", {"responseCode": "1000", "txnType": "0"}, "", error=False)
        return self._answer("GetReceiptInfo", self._fields(txn), error=False)

    # -- pieces -------------------------------------------------------------------------------------
    def _merchant(self, merchant_id: str) -> Merchant | None:
        return next((m for m in self.config.merchants if m.id == merchant_id), None)

    def _approved(self, txn_type: str, amount: int, merchant: Merchant) -> Txn:
        self._invoice += 1
        self._rrn += 1
        now = self.now_ms()
        txn = Txn(f"{self._invoice}", txn_type, amount, merchant, now, OK, rrn=f"{now // 1000 % 10**8:08d}{self._rrn:04d}",
                  approval=f"{(self._rrn * 7919 + now) % 1_000_000:06d}")
        self.batch.append(txn)
        if txn_type == "1":
            self.rrns[txn.rrn] = txn
            while len(self.rrns) > MAX_RRNS:       # the bank remembers the newest sales only
                self.refunded.pop(self.rrns.pop(next(iter(self.rrns))).rrn, None)
        return txn

    def _declined(self, method: str, txn_type: str, amount: int, merchant: Merchant, code: str) -> Message:
        self._invoice += 1
        txn = Txn(f"{self._invoice}", txn_type, amount, merchant, self.now_ms(), code, status="2")
        if code[0] == "0":             # a bank decline is a transaction of the batch with a slip
            self.batch.append(txn)
            return self._answer(method, self._fields(txn), ecr_code(code).text)
        return self._local(method, code)

    def _fields(self, txn: Txn) -> dict[str, str]:
        card = self.holder.card
        d = datetime.fromtimestamp(txn.at_ms / 1000, UTC).astimezone(KYIV)
        ok = txn.code == OK
        return {"amount": money(txn.amount), "approvalCode": txn.approval, "captureReference": "",
                "cardExpiryDate": card.expiry, "cardHolderName": card.holder_name, "date": d.strftime("%d.%m.%Y"),
                "discount": "0.00", "hstFld63Sf89": "", "invoiceNumber": txn.invoice, "issuerName": card.issuer,
                "merchant": txn.merchant.id, "pan": card.masked, "posConditionCode": "00", "posEntryMode": "071",
                "processingCode": {"1": "000000", "2": "200000", "3": "020000"}[txn.txn_type],
                "receipt": self._slip(txn, d), "responseCode": txn.code, "rrn": txn.rrn, "rrnExt": "",
                "terminalId": txn.merchant.terminal_id, "time": d.strftime("%H:%M:%S"), "track1": "",
                "signVerif": "0", "txnType": txn.txn_type, "trnStatus": txn.status if ok else "2",
                "bankAcquirer": "ПРИВАТБАНК", "paymentSystem": card.payment_system, "subMerchant": ""}

    def _slip(self, txn: Txn, d: datetime) -> str:
        card = self.holder.card
        lines = [txn.merchant.name, f"ТЕРМІНАЛ {txn.merchant.terminal_id}", d.strftime("%d.%m.%Y %H:%M:%S"),
                 TXN_NAME[txn.txn_type], f"ЧЕК {txn.invoice}", f"{card.payment_system} {card.masked}",
                 f"СУМА: {money(txn.amount)} UAH"]
        if txn.code == OK:
            lines += [f"КОД АВТ.: {txn.approval}", f"RRN: {txn.rrn}", "ОПЕРАЦІЯ УСПІШНА"]
        else:
            lines += [f"КОД ВІДПОВІДІ: {txn.code}", ecr_code(txn.code).text, "ОПЕРАЦІЮ ВІДХИЛЕНО"]
        return "\n".join(lines)

    def _stamp(self, ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, UTC).astimezone(KYIV).strftime("%d.%m.%Y %H:%M:%S")

    def _local(self, method: str, code: str, text: str | None = None) -> Message:
        return self._answer(method, {"responseCode": code}, text or ecr_code(code).text)

    def _answer(self, method: str, params: dict[str, str], description: str = "", error: bool | None = None) -> Message:
        if error is None:
            error = params.get("responseCode", OK) not in (OK, "0010")
        return Message(method, params, 0, error, description)

    def _svc(self, msg_type: str, extra: dict[str, str] | None = None) -> Message:
        return Message("ServiceMessage", {"msgType": msg_type, **(extra or {})}, 0, False, "")

    def _service(self, p: dict[str, str]) -> list[Message | Close]:
        t = p.get("msgType", "")
        if t == "identify":
            return [self._svc(t, {"vendor": self.config.vendor, "model": self.config.model})]
        if t == "deviceBusy":
            return [self._svc(t, {"busy": "true" if self._op else "false"})]
        if t == "interrupt":
            out: list[Message | Close] = [self._svc("interruptTransmitted")]
            op = self._op
            if op is not None and op.method in ("Purchase", "Refund") and (op.outcome == "no_card" or
                                                                         self._stat in (9, 1, 6)):
                self._op, self._stat = None, 0
                out.append(self._local(op.method, "1001"))
            return out
        if t == "getLastResult":
            return [self._svc(t, {"LastResult": "2" if self._op else "0"})]
        if t == "getLastStatMsgCode":
            return [self._svc(t, {"LastStatMsgCode": str(self._stat)})]
        if t == "getLastStatMsgDescription":
            return [self._svc(t, {"LastStatMsgDescription": STAT_TEXT.get(self._stat, "")})]
        if t == "getMerchantList":
            return [self._svc(t, {m.id: f"{m.terminal_id} {m.name}" for m in self.config.merchants})]
        if t == "getMaskList":
            return [self._svc(t, {m.id: m.masks for m in self.config.merchants})]
        if t == "getDiscountName":
            return [self._svc(t, {"discountName": ""})]
        if t == "correctTransaction":
            return [self._svc("correctionTransmitted")]
        if t == "debug":
            return [self._svc(t, {"batchNum": str(self.batch_no), "transactions": str(len(self.batch))})]
        return [self._svc("methodNotImplemented", {"method": "ServiceMessage", "msgType": t[:64]})]
