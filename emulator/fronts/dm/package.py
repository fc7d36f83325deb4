"""Package mode: ``POST /dm/execute-pkg`` — terminal → fiscalization → print → drawer in one request
(reference §4.1–§4.3), and the package-mode settings of a ПРРО.

The request is a ПРРО request (``device`` the ПРРО, ``fiscal.task``); what happens depends on the devices
linked to the ПРРО in its settings (``PackageSettings``: ``terminal``, ``printer``, ``pay_types`` sent to
the terminal, default ``[2]``; ``auto_cancel``, default on; ``merchant``, default ``"1"``):

* service tasks 0, 18, 20, 21 pass through as on ``/dm/execute`` (nothing paid, nothing printed);
* a terminal linked — tasks 1, 2, 10, 11; a printer linked — tasks 1–5, 10–16, 22, 23; both — the union;
  nothing linked — every ПРРО task, as on ``/dm/execute`` (MODELLED). Any other task is **5029**
  «Термінал %s (%s) не підтримує завдання з типом %s» (the linked terminal, its protocol, the task);
* **sale (1) with a terminal**: the pays whose ``type`` is one of ``pay_types`` are summed and that sum is
  paid on the terminal under ``merchant`` (the seed's 200 + 500 = 700); the terminal's data are written
  into each of those pays (``paysys``, ``rrn``, ``cardmask``, ``term_id``, ``bank_id``, ``auth_code``)
  before the receipt is fiscalized; ``pays`` omitted: the whole ``sum`` is paid and the receipt is
  fiscalized with one pay of the first of ``pay_types`` carrying it (MODELLED: the seed only says the
  whole sum is sent, sales only). No terminal pay: no terminal operation;
* **return (2) with a terminal** must carry ``pay``: ``pay.task`` 2 refunds the summed amount by the
  sale's RRN ``pay.refundid``; 3 cancels the terminal operation ``pay.cancelid`` (the whole of it). A
  return with terminal pays and no ``pay`` (or another ``pay.task``) is 2000 (MODELLED); a return
  without pays touches no terminal (the omitted-pays rule is for sales only);
* before the card is charged the receipt is read and checked (``receipt.parse_receipt`` and
  ``receipt.validate`` without the shift's sales and the till): a receipt fiscalization would refuse
  for its own sake is refused without a payment;
* the terminal refused: its answer (``res``, ``errortxt``, ``info.restxt``), nothing fiscalized;
* fiscalization (``manager.TASKS[("prro", task)]``, d1's handlers) failed with a definite error and
  ``auto_cancel`` is on: the terminal operation is voided (``info.pay_cancel`` its result; a failed void
  is also a warning). A cancel (``pay.task`` 3) is never voided: a void cannot be undone (MODELLED).
  ``auto_cancel`` off: the payment stays, ``info.pay`` tells it. Fiscalization that ended in a
  **collision** (``res_action`` 2: the document may yet be fiscalized, the DM repairs it on the next
  request) is never auto-cancelled: voiding it could leave a fiscal receipt paid by card with the money
  returned (MODELLED);
* X (10) / Z (11) with a terminal: the ПРРО's report first, then the terminal's X-balance (``Audit``) /
  settlement (``Verify``) under ``merchant``; the terminal's outcome is ``info.pay``, a refusal also a
  warning (the fiscal report stands: the Z is fiscal, the settlement can be repeated as terminal task 11);
* the answer succeeded and a printer is linked: printed through ``manager.PRINT`` (d3's hook: sets
  ``info.isprint``), the cash drawer opened after a good print when a pay has type 0; no printer:
  ``info.isprint`` 0.

Every successful terminal answer is ``info.pay``: ``res``, ``errortxt``, the terminal's fields (as a
terminal task answers them) and ``transaction_id``.

**Nothing twice.** With a ``tag``, the payment made for it is kept in the DM's database (table
``pkg_pay``: the ПРРО, the tag, the terminal's ``transaction_id``, ``paid`` / ``voided`` / ``asked``,
the result) before fiscalization starts. A repeated request with that tag (after a fiscalization error
or a collision) fiscalizes with the payment already made instead of charging the card again; a payment
voided by auto-cancel is made anew. A payment whose answer was lost (411 / 1016: ``asked``) is settled
first by the link's re-synchronisation (credited → reused as paid; another receipt → made anew), also
when the DM was restarted in between: what was asked (the operation, the amount, the last receipt
known) is in the row, and the new link is told to expect it (``BankTermLink.expect``).

Settings: ``GET /dm/api/v1/package?dev_id=<ПРРО>`` reads them, ``POST`` the same path with a JSON object
of the fields saves them (a missing field keeps its value). They are saved only with the shift closed
(§4.2): with the shift open the answer is **1096** «Зміна по даному ПРРО уже була відкритта. Повторне
відкриття неможливе» and nothing changes (MODELLED: the DM's web page only refuses to save; 1096 is the
table's text that names the condition). An unknown ``dev_id`` is 2007; a terminal or printer name that
names no such device 1091; a pay type that is not the ПРРО's 1110; cash (0) among the terminal's pay
types, or a malformed body, 2000. Settings live in the DM's database (``kv``), so they survive a restart.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import Any

from emulator.fronts.dm import receipt as dm_receipt
from emulator.fronts.dm import values as v
from emulator.fronts.dm.envelope import Answer, parse_json
from emulator.fronts.dm.errors import COLLISION, FATAL, OK, DmError, bad_json
from emulator.fronts.dm.manager import (
    PRINT,
    TASKS,
    Context,
    DeviceManager,
    DmPrinter,
    DmPrro,
    DmTerminal,
    PackageSettings,
    endpoint,
    route,
)
from emulator.fronts.dm.terminal import answer as term_answer
from emulator.fronts.dm.terminal import protocol_title, waiting
from emulator.fronts.dm.terminal import run as term_run
from emulator.net.bankterm import TermResult

SERVICE_TASKS = frozenset({0, 18, 20, 21})
TERMINAL_TASKS = frozenset({1, 2, 10, 11})
PRINTER_TASKS = frozenset({1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15, 16, 22, 23})
CASH = 0
SETTINGS_PATH = "/dm/api/v1/package"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pkg_pay (
    device TEXT NOT NULL, tag TEXT NOT NULL, transaction_id TEXT NOT NULL, state TEXT NOT NULL,
    result TEXT NOT NULL DEFAULT '{}', PRIMARY KEY (device, tag));
"""


# ------------------------------------------------------------------ settings
def _key(prro: DmPrro) -> str:
    return f"package:{prro.name}"


def settings(dm: DeviceManager, prro: DmPrro) -> PackageSettings:
    """The ПРРО's package-mode settings: the stored ones, else the in-memory defaults."""
    stored = dm.store.get(_key(prro))
    if isinstance(stored, dict):
        prro.package = PackageSettings(terminal=stored["terminal"], printer=stored["printer"],
                                       pay_types=tuple(stored["pay_types"]), auto_cancel=stored["auto_cancel"],
                                       merchant=stored["merchant"])
    return prro.package


def settings_json(s: PackageSettings) -> dict[str, Any]:
    return {"terminal": s.terminal, "printer": s.printer, "pay_types": list(s.pay_types),
            "auto_cancel": s.auto_cancel, "merchant": s.merchant}


def _prro_by_id(dm: DeviceManager, query: dict[str, str]) -> DmPrro:
    dev_id = query.get("dev_id", "")[:200]
    for p in dm.prros():
        if p.name == dev_id or str(p.dev_id) == dev_id:
            return p
    raise DmError(2007, dev_id)


def _read_settings(dm: DeviceManager, prro: DmPrro, body: bytes) -> PackageSettings:
    data = parse_json(body)
    cur = settings(dm, prro)
    term = v.string(data.get("terminal"), "terminal", cur.terminal, max_len=200)
    prn = v.string(data.get("printer"), "printer", cur.printer, max_len=200)
    if term:
        dm.find(term, "terminal")
    if prn:
        dm.find(prn, "printer")
    types = cur.pay_types
    if "pay_types" in data:
        raw = v.array(data["pay_types"], "pay_types", max_len=64)
        types = tuple(dict.fromkeys(v.integer(t, "pay_types[]") for t in raw))
        if not types or CASH in types:
            raise bad_json("pay_types: one or more, not cash (0)")
        for t in types:
            if t not in prro.config.pay_types:
                raise DmError(1110, t)
    merchant = v.string(data.get("merchant"), "merchant", cur.merchant, max_len=32)
    if not merchant.isascii() or not merchant.isdigit():
        raise bad_json("merchant: digits")
    auto = v.flag(data.get("auto_cancel"), "auto_cancel", cur.auto_cancel)
    return PackageSettings(terminal=term, printer=prn, pay_types=types, auto_cancel=auto, merchant=merchant)


def _answer(info: dict[str, Any]) -> dict[str, Any]:
    return {"res": 0, "res_action": OK, "errortxt": "", "info": info}


@route("GET", SETTINGS_PATH)
def get_settings(dm: DeviceManager, query: dict[str, str], body: bytes) -> dict[str, Any]:
    return _answer(settings_json(settings(dm, _prro_by_id(dm, query))))


@route("POST", SETTINGS_PATH)
def save_settings(dm: DeviceManager, query: dict[str, str], body: bytes) -> dict[str, Any]:
    prro = _prro_by_id(dm, query)
    with dm.busy(prro.name):
        new = _read_settings(dm, prro, body)
        with dm.world_lock:
            is_open = bool(prro.device.shift.get("open"))
        if is_open:
            raise DmError(1096)
        dm.store.put(_key(prro), settings_json(new))
        prro.package = new
    return _answer(settings_json(new))


# ------------------------------------------------------------------ the request
def _linked(dm: DeviceManager, name: str, kind: str) -> Any:
    return dm.find(name, kind) if name else None


@endpoint("execute-pkg")
def execute_package(ctx: Context) -> Answer:
    prro = ctx.dev
    if not isinstance(prro, DmPrro):
        raise DmError(1091)
    task = ctx.task
    if task is None:
        raise bad_json("no task")
    s = settings(ctx.dm, prro)
    term: DmTerminal | None = _linked(ctx.dm, s.terminal, "terminal")
    prn: DmPrinter | None = _linked(ctx.dm, s.printer, "printer")
    allowed = set(SERVICE_TASKS)
    if term is not None:
        allowed |= TERMINAL_TASKS
    if prn is not None:
        allowed |= PRINTER_TASKS
    if task not in allowed and (term is not None or prn is not None):
        if term is not None:
            raise DmError(5029, term.name, protocol_title(term), task, action=FATAL, group="connection")
        raise bad_json(f"task {task} is not a package-mode task")
    found = TASKS.get(("prro", task))
    if found is None:
        raise bad_json(f"no task {task} for a prro")
    handler = found[0]
    if task in SERVICE_TASKS:
        return handler(ctx)
    if term is not None and task in (1, 2):
        ans, fctx = _with_payment(ctx, handler, s, term)
    else:
        ans, fctx = _fiscal(handler, ctx), ctx
        if ans.res == 0 and term is not None and task in (10, 11):
            _terminal_report(ctx, ans, term, task, s)
    if ans.res != 0:
        return ans
    if prn is not None and PRINT:
        for hook in PRINT:
            hook(fctx, ans, prn, _has_cash(fctx))
    else:
        ans.info.setdefault("isprint", 0)
    return ans


def _fiscal(handler: Any, ctx: Context) -> Answer:
    try:
        ans: Answer = handler(ctx)
        return ans
    except DmError as err:
        return Answer.error(err)


def _has_cash(ctx: Context) -> bool:
    receipt = ctx.req.fiscal.get("receipt")
    pays = receipt.get("pays") if isinstance(receipt, dict) else None
    if isinstance(pays, list) and any(isinstance(p, dict) and _type(p) == CASH for p in pays):
        return True
    cash = ctx.req.fiscal.get("cash")
    return isinstance(cash, dict) and ctx.task in (3, 4) and cash.get("type", CASH) in (CASH, "0")


def _type(p: dict[str, Any]) -> int | None:
    try:
        return v.integer(p.get("type"), "pays[].type", -1)
    except DmError:
        return None


def _pay_info(r: Any) -> dict[str, Any]:
    a = term_answer(r)
    return {"res": a.res, "errortxt": a.errortxt, **a.info, **a.extra}


def _terminal_report(ctx: Context, ans: Answer, term: DmTerminal, task: int, s: PackageSettings) -> None:
    with ctx.dm.busy(term.name):
        r = term_run(term, task, {}, merchant=s.merchant)
    ans.info["pay"] = _pay_info(r)
    if not r.ok:
        ans.warnings.append({"code": r.res, "wtxt": r.errortxt})


# ------------------------------------------------------------------ sale / return with the terminal
def _with_payment(ctx: Context, handler: Any, s: PackageSettings, term: DmTerminal) -> tuple[Answer, Context]:
    fiscal = dict(ctx.req.fiscal)
    receipt = dict(v.obj(fiscal.get("receipt"), "fiscal.receipt"))
    pays = [dict(p) if isinstance(p, dict) else p for p in v.array(receipt.get("pays"), "fiscal.receipt.pays")]
    if not pays and ctx.task == 1 and v.money(receipt.get("sum"), "fiscal.receipt.sum", 0) > 0:
        pays = [{"type": s.pay_types[0], "sum": receipt.get("sum")}]
    receipt["pays"] = pays
    fiscal["receipt"] = receipt
    parsed = _checked(ctx, fiscal)
    mine = [i for i, p in enumerate(parsed.pays) if p.type in s.pay_types]
    amount = sum(parsed.pays[i].sum for i in mine)
    if not mine or amount <= 0:
        return _fiscal(handler, ctx), ctx
    pay = ctx.req.pay
    op = 1
    if ctx.task == 2:
        op = v.integer(pay.get("task"), "pay.task", 0) if pay else 0
        if op not in (2, 3):
            raise bad_json("a return through the terminal needs pay.task 2 (refund) or 3 (cancel)")
    r = _pay(ctx, term, op, amount, pay, s)
    if not r.ok:
        return term_answer(r), ctx
    for i in mine:
        pays[i].update(_acquiring(r, term))
    req = dataclasses.replace(ctx.req, fiscal=fiscal, raw={**ctx.req.raw, "fiscal": fiscal})
    fctx = dataclasses.replace(ctx, req=req)
    ans = _fiscal(handler, fctx)
    paid = _pay_info(r)
    ans.info["pay"] = paid
    if ans.res != 0 and ans.res_action != COLLISION and s.auto_cancel and op != 3:
        with ctx.dm.busy(term.name):
            void = term_run(term, 3, {"cancelid": r.info.get("cancelid", "")})
        ans.info["pay_cancel"] = _pay_info(void)
        if void.ok:
            _record(ctx, r.transaction_id, "voided", r.to_json())
        else:
            ans.warnings.append({"code": void.res, "wtxt": void.errortxt})
    return ans, fctx


def _checked(ctx: Context, fiscal: dict[str, Any]) -> Any:
    """The receipt read and checked before the card is charged: its shape (``receipt.parse_receipt``), and
    the rules that need nothing but the receipt and the ПРРО's settings (``receipt.validate`` with no
    sales of the shift and no till: the item-code and cash rules, 1111 and 1077, are fiscalization's)."""
    parsed = dm_receipt.parse_receipt(fiscal)
    validate = getattr(dm_receipt, "validate", None)
    if validate is not None:
        validate(parsed, ctx.task, ctx.prro.config, sold_codes={}, cash_kop=None)
    return parsed


def _acquiring(r: Any, term: DmTerminal) -> dict[str, Any]:
    i = r.info
    return {"paysys": i.get("paysys", ""), "rrn": i.get("refundid", ""), "cardmask": i.get("cardmask", ""),
            "term_id": i.get("terminal", ""), "bank_id": term.bank, "auth_code": i.get("authcode", "")}


OPERATION = {1: "Purchase", 2: "Refund", 3: "Withdrawal"}


def _pay(ctx: Context, term: DmTerminal, op: int, amount: int, pay: dict[str, Any], s: PackageSettings) -> Any:
    """The terminal operation of this request, or the one already made for its tag (see the docstring)."""
    store, tag = ctx.dm.store, ctx.req.tag
    store.ensure(_SCHEMA)
    link = term.link
    with ctx.dm.busy(term.name):
        if tag:
            with store.lock:
                row = store.db.execute("SELECT transaction_id, state, result FROM pkg_pay WHERE device=? AND tag=?",
                                       (ctx.dev.name, tag)).fetchone()
            if row is not None and row[1] == "paid":
                return TermResult.from_json(json.loads(row[2]))
            if row is not None and row[1] == "asked":
                got = _settle(term, row[0], json.loads(row[2]))
                if got is not None and got.ok:
                    _record(ctx, row[0], "paid", got.to_json())
                    return got
        tid = ctx.req.transaction_id or str(uuid.uuid4())
        if tag:
            _record(ctx, tid, "asked", {"op": OPERATION[op], "amount": amount, "after": link.last_invoice})
        fields = {"sum": v.kop_text(amount), "refundid": pay.get("refundid"), "cancelid": pay.get("cancelid")}
        r = term_run(term, op, fields, transaction_id=tid, merchant=s.merchant)
    if tag:
        if r.ok:
            _record(ctx, tid, "paid", r.to_json())
        elif r.info.get("resync") != "pending":
            _drop(ctx)                  # nothing to keep: a refused payment is made anew
    return r


def _settle(term: DmTerminal, tid: str, asked: dict[str, Any]) -> Any:
    """The payment asked for under ``tid`` whose answer never came (lost, or the DM stopped while it
    waited): settled by the link's re-synchronisation; its result, None when the terminal is away."""
    link = term.link
    if link.pending is not None and link.pending.transaction_id != tid:
        with waiting(term):                 # another lost answer first
            if link.resync() is not None:
                return None
    got = link.journal.get(tid)
    if got is not None and (got.ok or got.info.get("resync") != "pending"):
        return got                          # settled already (or a plain refusal)
    if link.pending is None:                # the DM restarted: the new link never knew of it
        link.expect(asked["op"], int(asked["amount"]), tid, int(asked["after"]))
    with waiting(term):
        if link.resync() is not None:
            return None
    return link.journal.get(tid)


def _record(ctx: Context, tid: str, state: str, data: dict[str, Any]) -> None:
    if not ctx.req.tag:
        return
    with ctx.dm.store.tx() as db:
        db.execute("INSERT OR REPLACE INTO pkg_pay VALUES (?, ?, ?, ?, ?)",
                   (ctx.dev.name, ctx.req.tag, tid, state, json.dumps(data, ensure_ascii=False)))


def _drop(ctx: Context) -> None:
    with ctx.dm.store.tx() as db:
        db.execute("DELETE FROM pkg_pay WHERE device=? AND tag=?", (ctx.dev.name, ctx.req.tag))
