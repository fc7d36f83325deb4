"""The Device Manager's side of a PrivatBank "ECR JSON" terminal over TCP: requests, answers as DM results.

``BankTermLink(host, port).open()`` follows the protocol's reference sequence: connect → ``PingDevice``
(with its leading 0x00) → disconnect → connect → ``ServiceMessage`` ``identify`` → disconnect → then one
long-lived connection, read continuously and split on 0x00. Each operation returns a ``TermResult`` with
the DM's ``res`` / ``errortxt`` (exact texts of ``data/terminal_errors.yaml``) and the terminal's
``restxt``:

* ``0`` approved; the terminal's local codes 1001-1008 → 5001-5008, 1000 and the bank's codes → 5000
  «Помилка терміналу: %s» with the terminal's text; ``deviceBusy`` → 5000 «…пристрій зайнятий»;
* nothing listening → 5067; the ``PingDevice`` handshake unanswered → 5068; no answer within
  ``timeout_s`` (310 s: 300 s for the card + 10 s) → 411; the terminal closed the connection → 1016.

Every result goes into the ``Journal`` (SQLite, 90 days on the link's clock) under the request's
``transaction_id``; ``transaction_search=True`` returns the stored result instead of asking the terminal,
or 5013 when there is none (the DM's re-synchronisation).

A card operation that ends in 411 or 1016 leaves the link *unsynchronised*: the terminal may have done it
or not. The next request first re-synchronises (``resync()``): it polls ``getLastStatMsgCode`` until the
terminal is idle (never starting a second sale on a busy terminal: 5000 «пристрій зайнятий» while it is
not), then reads the terminal's last receipt with ``GetReceiptInfo``. Only a receipt that is newer than
the last one this link knew of, of the same operation and amount, approved, is credited to the lost
request: its journal entry becomes the approved result (``info["resync"] = "credited"``); a declined one
becomes that decline (``"declined"``); one voided since keeps its error (``"reversed"``). Any other
receipt belongs to another transaction (an earlier one, or a sale keyed on the terminal) and is not
credited: the entry keeps its error, with ``info["resync"] = "foreign"``.
"""

from __future__ import annotations

import json
import logging
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emulator.rules.terminal_errors import OK, PARTIAL, fill, terminal_tables
from emulator.wire.ecrjson import Message, Splitter, encode

RETENTION_MS = 90 * 86_400_000
OPERATION_TIMEOUT_S = 310.0
HANDSHAKE_TIMEOUT_S = 2.0
MAX_QUEUED = 64
log = logging.getLogger("kkt_emu.net.bankterm")


@dataclass
class TermResult:
    res: int
    errortxt: str = ""
    restxt: str = ""
    info: dict[str, str] = field(default_factory=dict)
    transaction_id: str = ""
    raw: dict[str, str] = field(default_factory=dict)      # the terminal's params, as they came

    @property
    def ok(self) -> bool:
        return self.res == 0

    def to_json(self) -> dict[str, Any]:
        return {"res": self.res, "errortxt": self.errortxt, "restxt": self.restxt, "info": self.info,
                "transaction_id": self.transaction_id, "raw": self.raw}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TermResult:
        return cls(int(d["res"]), d["errortxt"], d["restxt"], dict(d["info"]), d["transaction_id"], dict(d["raw"]))


def dm_error(name: str, *values: object) -> TermResult:
    row = terminal_tables().named(name)
    return TermResult(row.res, fill(row.text, *values))


class Journal:
    """Every terminal result by ``transaction_id``, kept ``RETENTION_MS`` (90 days) on ``now_ms``."""

    def __init__(self, path: str = ":memory:", now_ms: Callable[[], int] | None = None) -> None:
        self.now_ms = now_ms or (lambda: int(time.time() * 1000))
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock, self._db:
            self._db.execute("CREATE TABLE IF NOT EXISTS txn (id TEXT PRIMARY KEY, at_ms INTEGER NOT NULL, "
                             "op TEXT NOT NULL, result TEXT NOT NULL)")

    def _purge(self) -> None:
        self._db.execute("DELETE FROM txn WHERE at_ms < ?", (self.now_ms() - RETENTION_MS,))

    def put(self, txn_id: str, op: str, result: TermResult) -> None:
        with self._lock, self._db:
            self._purge()
            self._db.execute("INSERT OR REPLACE INTO txn VALUES (?, ?, ?, ?)",
                             (txn_id, self.now_ms(), op, json.dumps(result.to_json(), ensure_ascii=False)))

    def update(self, txn_id: str, result: TermResult) -> None:
        with self._lock, self._db:
            self._db.execute("UPDATE txn SET result = ? WHERE id = ?",
                             (json.dumps(result.to_json(), ensure_ascii=False), txn_id))

    def get(self, txn_id: str) -> TermResult | None:
        with self._lock, self._db:
            self._purge()
            row = self._db.execute("SELECT result FROM txn WHERE id = ?", (txn_id,)).fetchone()
        return TermResult.from_json(json.loads(row[0])) if row else None

    def last(self) -> TermResult | None:
        with self._lock, self._db:
            self._purge()
            row = self._db.execute("SELECT result FROM txn ORDER BY at_ms DESC, rowid DESC LIMIT 1").fetchone()
        return TermResult.from_json(json.loads(row[0])) if row else None

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM txn").fetchone()[0])

    def close(self) -> None:
        self._db.close()


class _Closed(Exception):
    pass


class _Timeout(Exception):
    pass


@dataclass
class _Pending:
    op: str
    amount: str
    transaction_id: str
    after_invoice: int


def _invoice(params: dict[str, str]) -> int:
    v = params.get("invoiceNumber", "")
    return int(v) if v.isdigit() and len(v) < 18 else 0


def kop(amount_kop: int) -> str:
    return f"{amount_kop // 100}.{amount_kop % 100:02d}"


class BankTermLink:
    """One DM's link to one terminal (see the module docstring). Not for concurrent use: the DM runs one
    task per device at a time."""

    def __init__(self, host: str, port: int, timeout_s: float = OPERATION_TIMEOUT_S,
                 handshake_timeout_s: float = HANDSHAKE_TIMEOUT_S, journal: Journal | None = None,
                 resync_s: float | None = None, poll_interval_s: float = 0.2) -> None:
        self.host, self.port = host, port
        self.timeout_s = timeout_s
        self.handshake_timeout_s = handshake_timeout_s
        self.resync_s = timeout_s if resync_s is None else resync_s
        self.poll_interval_s = poll_interval_s
        self.journal = journal or Journal()
        self.identity: dict[str, str] = {}
        self.last_invoice = 0
        self.pending: _Pending | None = None
        self._sock: socket.socket | None = None
        self._splitter = Splitter()
        self._queue: list[Message] = []

    # -- connection ---------------------------------------------------------------------------------
    def _connect(self, timeout_s: float) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=timeout_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def _once(self, msg: Message, leading_nul: bool = False) -> Message:
        """Connect, ask once, disconnect: the first two steps of the reference sequence."""
        sock = self._connect(self.handshake_timeout_s)
        try:
            return self._exchange(sock, Splitter(), [], msg, self.handshake_timeout_s, leading_nul)
        finally:
            self._release(sock)

    def _release(self, sock: socket.socket) -> None:
        """Close so that the terminal has let the connection go before the next one comes: it serves one
        client at a time and closes a connection that arrives while it still holds the last."""
        deadline = time.monotonic() + self.handshake_timeout_s
        try:
            sock.shutdown(socket.SHUT_WR)
            while (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                if not sock.recv(65536):
                    break
        except OSError:
            pass
        finally:
            sock.close()

    def open(self) -> TermResult:
        """The reference sequence; 0 with ``info`` vendor / model, or 5067 / 5068 / 1016."""
        self.close()
        try:
            ping = self._once(Message("PingDevice"), leading_nul=True)
            if ping.params.get("responseCode") != OK:
                return self._answer_result(ping)
            ident = self._once(Message("ServiceMessage", {"msgType": "identify"}))
            self.identity = {k: ident.params.get(k, "") for k in ("vendor", "model")}
            self._sock = self._connect(self.timeout_s)
            self._splitter, self._queue = Splitter(), []
        except (_Timeout, _Closed):
            return dm_error("handshake_timeout")
        except OSError:
            return dm_error("cannot_connect", f"{self.host}:{self.port}")
        last = self._call(Message("GetReceiptInfo", {"invoiceNumber": ""}), self.handshake_timeout_s)
        if isinstance(last, TermResult):
            return last
        self.last_invoice = max(self.last_invoice, _invoice(last.params))
        return TermResult(0, info=dict(self.identity))

    def close(self) -> None:
        if self._sock is not None:
            self._release(self._sock)
            self._sock = None

    def __enter__(self) -> BankTermLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
        self.journal.close()

    def _exchange(self, sock: socket.socket, splitter: Splitter, queue: list[Message], msg: Message,
                  timeout_s: float, leading_nul: bool = False) -> Message:
        sock.settimeout(timeout_s)
        try:
            sock.sendall(encode(msg, leading_nul))
        except OSError:
            raise _Closed() from None
        deadline = time.monotonic() + timeout_s
        while True:
            while queue:
                ans = queue.pop(0)
                if self._answers(msg, ans):
                    return ans
                log.info("terminal message skipped: %s %s", ans.method, ans.params.get("msgType", ""))
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Timeout()
            sock.settimeout(left)
            try:
                data = sock.recv(65536)
            except TimeoutError:
                raise _Timeout() from None
            except OSError:
                raise _Closed() from None
            if not data:
                raise _Closed()
            queue.extend(e for e in splitter.feed(data) if isinstance(e, Message))
            del queue[:-MAX_QUEUED]             # a terminal flooding messages: the newest kept

    @staticmethod
    def _answers(req: Message, ans: Message) -> bool:
        if ans.method == "":
            return True
        if ans.method == "ServiceMessage":
            t = ans.params.get("msgType", "")
            if t in ("deviceBusy", "methodNotImplemented") and req.method != "ServiceMessage":
                return True
            if req.method == "ServiceMessage":
                want = req.params.get("msgType", "")
                return t == {"interrupt": "interruptTransmitted",
                             "correctTransaction": "correctionTransmitted"}.get(want, want) or \
                    t == "methodNotImplemented"
            return False
        return ans.method == req.method

    def _call(self, msg: Message, timeout_s: float | None = None) -> Message | TermResult:
        """Send on the long-lived connection; the answer, or the DM error when none came."""
        if self._sock is None:
            opened = self.open()
            if not opened.ok:
                return opened
        assert self._sock is not None
        t = self.timeout_s if timeout_s is None else timeout_s
        try:
            return self._exchange(self._sock, self._splitter, self._queue, msg, t)
        except _Timeout:
            self.close()
            return dm_error("answer_timeout", int(t * 1000))
        except _Closed:
            self.close()
            return dm_error("closed_gracefully")

    # -- results ------------------------------------------------------------------------------------
    def _answer_result(self, ans: Message) -> TermResult:
        tables = terminal_tables()
        p = ans.params
        if ans.method == "ServiceMessage" and p.get("msgType") == "deviceBusy":
            return dm_error("terminal_busy")
        if ans.method == "ServiceMessage" and p.get("msgType") == "methodNotImplemented":
            return TermResult(5000, fill(tables.named("terminal_error").text, "methodNotImplemented"), raw=dict(p))
        if ans.method == "":
            return TermResult(5000, fill(tables.named("terminal_error").text, ans.description), ans.description)
        code = p.get("responseCode", OK)
        if code in (OK, PARTIAL):
            r = TermResult(0, "", "ОПЕРАЦІЯ УСПІШНА", raw=dict(p))
        else:
            known = tables.ecr.get(code)
            text = ans.description or (known.text if known else code)
            if known is not None and known.dm != 5000:
                r = TermResult(known.dm, tables.by_res(known.dm).text, text, raw=dict(p))
            else:
                r = TermResult(5000, fill(tables.named("terminal_error").text, text), text, raw=dict(p))
        r.info = {k: v for k, v in (("refundid", p.get("rrn", "")), ("cancelid", p.get("invoiceNumber", "")),
                                    ("cardmask", p.get("pan", "")), ("paysys", p.get("paymentSystem", "")),
                                    ("authcode", p.get("approvalCode", "")), ("amount", p.get("amount", "")),
                                    ("terminal", p.get("terminalId", "")), ("merchant", p.get("merchant", "")),
                                    ("date", p.get("date", "")), ("time", p.get("time", "")),
                                    ("receipt", p.get("receipt", "")), ("restxt", r.restxt)) if v}
        self.last_invoice = max(self.last_invoice, _invoice(p))
        return r

    def _result(self, got: Message | TermResult) -> TermResult:
        return got if isinstance(got, TermResult) else self._answer_result(got)

    # -- operations ---------------------------------------------------------------------------------
    def _operation(self, op: str, params: dict[str, str], transaction_id: str, transaction_search: bool,
                   card: bool) -> TermResult:
        if transaction_search:
            if not transaction_id:
                return dm_error("transaction_not_found", "")
            stored = self.journal.get(transaction_id)
            return stored if stored is not None else dm_error("transaction_not_found", transaction_id)
        if self.pending is not None:
            busy = self.resync()
            if busy is not None:
                return busy
        transaction_id = transaction_id or str(uuid.uuid4())
        before = self.last_invoice
        got = self._call(Message(op, params))
        r = self._result(got)
        r.transaction_id = transaction_id
        if isinstance(got, TermResult) and r.res in (411, 1016) and op in ("Purchase", "Refund", "Withdrawal"):
            self.pending = _Pending(op, params.get("amount", ""), transaction_id, before)
            r.info["resync"] = "pending"
        self.journal.put(transaction_id, op, r)
        return r

    def purchase(self, amount_kop: int, merchant_id: str = "0", transaction_id: str = "",
                 transaction_search: bool = False) -> TermResult:
        return self._operation("Purchase", {"amount": kop(amount_kop), "discount": "", "merchantId": merchant_id,
                                            "facepay": "false", "subMerchant": ""},
                               transaction_id, transaction_search, True)

    def refund(self, amount_kop: int, rrn: str, merchant_id: str = "0", transaction_id: str = "",
               transaction_search: bool = False) -> TermResult:
        return self._operation("Refund", {"amount": kop(amount_kop), "discount": "", "merchantId": merchant_id,
                                          "rrn": rrn, "subMerchant": ""}, transaction_id, transaction_search, True)

    def void(self, invoice_number: str, transaction_id: str = "", transaction_search: bool = False) -> TermResult:
        return self._operation("Withdrawal", {"invoiceNumber": invoice_number}, transaction_id,
                               transaction_search, False)

    def x_balance(self, merchant_id: str = "0", transaction_id: str = "") -> TermResult:
        return self._operation("Audit", {"merchantId": merchant_id}, transaction_id, False, False)

    def settlement(self, merchant_id: str = "0", transaction_id: str = "") -> TermResult:
        return self._operation("Verify", {"merchantId": merchant_id}, transaction_id, False, False)

    def echo(self) -> TermResult:
        """``/dm/bankecho``: the terminal's link to the bank."""
        return self._operation("CheckConnection", {}, "", False, False)

    def receipt_info(self, invoice_number: str = "", transaction_id: str = "",
                     transaction_search: bool = False) -> TermResult:
        """A transaction of the open batch by its number (``""``: the terminal's last one); with
        ``transaction_search`` the stored result of ``transaction_id`` instead (or 5013). Not journalled:
        a look-up is no operation."""
        if transaction_search:
            return self._operation("GetReceiptInfo", {}, transaction_id, True, False)
        r = self._result(self._call(Message("GetReceiptInfo", {"invoiceNumber": invoice_number}),
                                    self.handshake_timeout_s))
        r.transaction_id = transaction_id
        return r

    def ping(self) -> TermResult:
        """``/dm/bankping``: the terminal answers the protocol and is idle."""
        return self._result(self._call(Message("PingDevice"), self.handshake_timeout_s))

    def _service(self, msg_type: str) -> Message | TermResult:
        return self._call(Message("ServiceMessage", {"msgType": msg_type}), self.handshake_timeout_s)

    def merchant_list(self) -> TermResult:
        return self._listing("getMerchantList", "merchListValue")

    def mask_list(self) -> TermResult:
        return self._listing("getMaskList", "maskListValue")

    def _listing(self, msg_type: str, key: str) -> TermResult:
        got = self._service(msg_type)
        if isinstance(got, TermResult):
            return got
        values = {k: v for k, v in got.params.items() if k != "msgType"}
        return TermResult(0, info={key: json.dumps(values, ensure_ascii=False)}, raw=dict(got.params))

    def transaction_status(self) -> TermResult:
        """``/dm/transaction-status``: ``LastResult`` (0 done, 2 in progress) and ``LastStatMsgCode``."""
        info: dict[str, str] = {}
        for msg_type, key in (("getLastResult", "LastResult"), ("getLastStatMsgCode", "LastStatMsgCode")):
            got = self._service(msg_type)
            if isinstance(got, TermResult):
                return got
            info[key] = got.params.get(key, "")
        return TermResult(0, info=info)

    def last_transaction(self) -> TermResult:
        """``/dm/lasttransaction``: the DM's last stored result (5013 when the journal holds none)."""
        return self.journal.last() or dm_error("transaction_not_found", "")

    def interrupt(self) -> TermResult:
        got = self._service("interrupt")
        return got if isinstance(got, TermResult) else TermResult(0, raw=dict(got.params))

    # -- re-synchronisation -------------------------------------------------------------------------
    def expect(self, op: str, amount_kop: int, transaction_id: str, after_invoice: int) -> None:
        """An operation an earlier run of the DM asked for and never read the answer of (it stopped while
        waiting): ``op`` ``Purchase`` / ``Refund`` / ``Withdrawal``, asked when the last receipt known was
        ``after_invoice``. The link treats it as a lost answer: the next request (or ``resync()``)
        settles it by the same rule, into the journal under ``transaction_id``."""
        if self.journal.get(transaction_id) is None:
            lost = dm_error("closed_gracefully")
            lost.transaction_id = transaction_id
            lost.info["resync"] = "pending"
            self.journal.put(transaction_id, op, lost)
        self.pending = _Pending(op, kop(amount_kop) if op != "Withdrawal" else "", transaction_id, after_invoice)

    def resync(self) -> TermResult | None:
        """Settle the unsynchronised operation (see the module docstring); None when the link may go on,
        else the DM error to answer (the terminal still busy or unreachable)."""
        pending = self.pending
        if pending is None:
            return None
        deadline = time.monotonic() + self.resync_s
        while True:
            got = self._service("getLastStatMsgCode")
            if isinstance(got, Message) and got.params.get("LastStatMsgCode") == "0":
                break
            if isinstance(got, TermResult) and got.res in (5067, 5068):
                return got                      # the terminal is not there: nothing to wait for
            if time.monotonic() >= deadline:
                return got if isinstance(got, TermResult) else dm_error("terminal_busy")
            time.sleep(self.poll_interval_s)
        last = self._call(Message("GetReceiptInfo", {"invoiceNumber": ""}), self.handshake_timeout_s)
        if isinstance(last, TermResult):
            return last
        p = last.params
        want_type = {"Purchase": "1", "Refund": "2", "Withdrawal": "3"}[pending.op]
        ours = (_invoice(p) > pending.after_invoice and p.get("txnType") == want_type
                and (pending.op == "Withdrawal" or p.get("amount") == pending.amount))
        approved = p.get("responseCode") in (OK, PARTIAL) and p.get("trnStatus") == "1"   # 3: voided since
        self.pending = None
        self.last_invoice = max(self.last_invoice, _invoice(p))
        stored = self.journal.get(pending.transaction_id)
        declined = p.get("responseCode") not in (OK, PARTIAL)
        if ours and (approved or declined):
            r = self._answer_result(Message(pending.op, dict(p), 0, declined, ""))
            r.transaction_id = pending.transaction_id
            r.info["resync"] = "declined" if declined else "credited"
            self.journal.update(pending.transaction_id, r)
        elif stored is not None:        # another transaction's receipt, or ours voided since
            stored.info["resync"] = "reversed" if ours else "foreign"
            self.journal.update(pending.transaction_id, stored)
        log.info("resync of %s %s: last receipt %s %s", pending.op, pending.transaction_id,
                 p.get("invoiceNumber", "-"), ("credited" if approved else "declined") if ours
                 else "not ours, not credited")
        return None
