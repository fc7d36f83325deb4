"""The ПРРО tasks of ``/dm/execute`` (reference §3.1, §3.7) over ``devices.prro.PrroDevice``.

Fiscal tasks — 0 open shift, 1 sale, 2 return (both also as the zero receipt: no rows, no pays, sum 0),
3 cash-in, 4 cash-out, 14 cash issue to card holders (DOCTYPE 3), 11 Z-report and shift closing — and the
local ones: 18 status, 20 fiscal number, 21 the last numbers, 22 the last fiscalized receipt.

One fiscal task, under ``dm.world_lock``::

    checks          1095 no key, 1092 / 1096 / 1006 the shift, the receipt rules (``validate``), 1077, 1111
    the link        online: ``ServerState`` first; unreachable → offline by itself when the ПРРО may (1052 not
                    allowed, 1056 no offline numbers, 1117 the key expires, 1042 the month used); offline: back
                    online by itself when the server answers; 1062 past 35 h (only task 11), 1122 numbers used
    intent          ``prro_intents`` row committed (the device's document counter before the task)
    the device      the document made, signed, stored, sent (``PrroDevice``)
    recorded        the DM's copy (``store.docs``) and the intent closed, one transaction; then the manager
                    stores the answer by ``tag``

A refusal by the tax server becomes 1032–1047 (``dps_code``; ``res_action`` 1: nothing was fiscalized, the
task may be repeated). A document sent whose answer never came is the collision: ``res_action`` 2, the
intent and the tag stay open, and the ``REPAIR`` hook settles them before the next fiscal task (or a
re-query of that tag): the document sent again (the server takes the same bytes once), the tag closed with
the real result and the DM's copy written — 1075 while the server still does not answer. The same repair
runs after a kill at any instant (``prro_intents`` and the device's own store are both on disk), so a
repeated tag returns the real result and nothing is fiscalized twice.

MODELLED where the seed is silent: the DPS code mapping (``dps_code``); an unreachable server with offline
not allowed is 1052, a lost answer 1034 (receipts) / 1035 (other documents) with ``res_action`` 2; the
cash in the till (``safe``) carries over from shift to shift (sales and returns paid in cash, cash-in,
cash-out, task 14's issued cash); ``OFFLINE_NUMBERS`` offline numbers per offline session; a receipt-level
discount is carried in the XML on the last rows; ``qr1`` is the check link with the document's date and
time as the ДПС's XML writes them (``DDMMYYYY``, ``HHMMSS``); task 22 with no receipt yet answers ``info``
``{}``; a ПРРО that does not answer while the DM checks the link counts as unreachable.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from emulator.devices.prro.core import Outcome
from emulator.devices.prro.store import Doc
from emulator.fronts.dm import values as v
from emulator.fronts.dm.config import CASH
from emulator.fronts.dm.envelope import Answer, answer_json, dt_text, parse_request
from emulator.fronts.dm.errors import COLLISION, REPEAT, DmError, text
from emulator.fronts.dm.manager import REPAIR, Context, DeviceManager, DmPrro, PrroConfig, prro_task
from emulator.fronts.dm.receipt import CashOp, DmReceipt, parse_cash, parse_receipt, sanitize, tax_lines, validate
from emulator.fronts.dm.store import DmStore
from emulator.fronts.dm.totals import shift_totals
from emulator.rules.prro import HOUR_MS, OFFLINE_KEY_MIN_VALIDITY_MS
from emulator.wire.prro.document import Item, Payment, local_date_time

OFFLINE_NUMBERS = 2000                   # offline numbers one offline session holds (MODELLED)
OFFLINE_ONLY_Z_MS = 35 * HOUR_MS         # 1062: past this, offline, only task 11
CHECK_URL = "https://cabinet.tax.gov.ua/cashregs/check"

RECEIPT_TASKS = {1: "sale", 2: "return", 14: "cash_issue"}
CASH_TASKS = {3: "cash_in", 4: "cash_out"}
# the device's document kinds a task makes (the last one is the task's own)
TASK_KINDS: dict[int, tuple[str, ...]] = {0: ("open_shift",), 1: ("sale",), 2: ("return",), 3: ("cash_in",),
                                          4: ("cash_out",), 14: ("cash_issue",), 11: ("z_report", "close_shift")}
KEY_MESSAGES = ("key_damaged", "key_missing", "cert_expired")

_INTENTS = """
CREATE TABLE IF NOT EXISTS prro_intents (
    id INTEGER PRIMARY KEY, device TEXT NOT NULL, tag TEXT NOT NULL, task INTEGER NOT NULL,
    seq_before INTEGER NOT NULL, request TEXT NOT NULL, state TEXT NOT NULL, info TEXT NOT NULL DEFAULT '{}',
    at_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS prro_intents_open ON prro_intents(device, state);
"""


# ---------------------------------------------------------------- the receipt rules (receipt.py)
def _clean(rec: DmReceipt) -> DmReceipt:
    rows = tuple(replace(r, name=sanitize(r.name), comment=sanitize(r.comment)) for r in rec.rows)
    return replace(rec, rows=rows, comment_up=sanitize(rec.comment_up), comment_down=sanitize(rec.comment_down))


# ---------------------------------------------------------------- the DM's books
def cash_delta(kind: str, sum_kop: int, body: Mapping[str, Any]) -> int:
    """What one of the DM's documents did to the cash in the till."""
    if kind == "cash_in":
        return sum_kop
    if kind in ("cash_out", "cash_issue"):
        return -sum_kop
    if kind in ("sale", "return"):
        paid = sum(int(p["sum"]) for p in body.get("receipt", {}).get("pays", ())
                   if int(p["type"]) == CASH)
        return paid if kind == "sale" else -paid
    return 0


def till_kop(store: DmStore, device: str) -> int:
    """The cash in the till (``safe``): kept in the DM's ``kv`` with each document, in its transaction."""
    return int(store.get(f"till:{device}", 0))


def sold_codes(store: DmStore, device: str, shift_no: int) -> dict[str, str]:
    """Item code → the tax group it was first sold under in this shift (1111)."""
    out: dict[str, str] = {}
    for d in store.docs(device, ("sale", "return"), shift_no=shift_no):
        for r in d.body.get("receipt", {}).get("rows", ()):
            if r.get("code"):
                out.setdefault(str(r["code"]), str(r["taxgrp"]))
    return out


def check_link(fiscal_num: str, time_ms: int, fisid: str, sum_kop: int, *, xml_form: bool = False) -> str:
    """The check link of reference §8.4 (``info.qr``); ``xml_form``: date and time as the XML has them (qr1)."""
    date, hms = local_date_time(time_ms)
    if not xml_form:
        date, hms = date[4:] + date[2:4] + date[:2], f"{hms[:2]}:{hms[2:4]}:{hms[4:]}"
    return f"{CHECK_URL}?id={fiscal_num}&date={date}&time={hms}&fn={fisid}&sm={sum_kop // 100}.{sum_kop % 100:02d}"


def _hrn(kop: int) -> float:
    return round(kop / 100, 2)


def vacant_offline_numbers(prro: DmPrro) -> int:
    dev = prro.device
    if dev.offline.active:
        return max(0, OFFLINE_NUMBERS - (int(dev.store.get("offline", {}).get("n", 1)) - 1))
    return OFFLINE_NUMBERS if dev.store.get("offline_seed") else 0


# ---------------------------------------------------------------- intents
def _ensure(store: DmStore) -> None:
    if not getattr(store, "_prro_intents", False):
        store.ensure(_INTENTS)
        store._prro_intents = True  # type: ignore[attr-defined]


def _intent_open(store: DmStore, device: str, tag: str, task: int, seq: int, request: dict[str, Any],
                 now_ms: int) -> int:
    _ensure(store)
    with store.tx() as db:
        cur = db.execute("INSERT INTO prro_intents (device, tag, task, seq_before, request, state, at_ms)"
                         " VALUES (?, ?, ?, ?, ?, 'open', ?)",
                         (device, tag, task, seq, json.dumps(request, ensure_ascii=False), now_ms))
        return int(cur.lastrowid or 0)


def _intent_drop(store: DmStore, intent_id: int) -> None:
    with store.tx() as db:
        db.execute("DELETE FROM prro_intents WHERE id=?", (intent_id,))


def _intents(store: DmStore, device: str, state: str) -> list[tuple[int, str, int, int, dict[str, Any], dict[str, Any]]]:
    _ensure(store)
    with store.lock:
        rows = store.db.execute("SELECT id, tag, task, seq_before, request, info FROM prro_intents"
                                " WHERE device=? AND state=? ORDER BY id", (device, state)).fetchall()
    return [(r[0], r[1], r[2], r[3], json.loads(r[4]), json.loads(r[5])) for r in rows]


# ---------------------------------------------------------------- checks and the link
def _cashier(prro: DmPrro, fiscal: Mapping[str, Any]) -> str:
    given = v.string(fiscal.get("cashier"), "fiscal.cashier", max_len=200)
    key = prro.device.store.get("key") or {}
    return given or str(key.get("owner", ""))


def _need_key(prro: DmPrro) -> None:
    if prro.device.store.get("key") is None:
        raise DmError(1095)


def _need_open_shift(prro: DmPrro) -> dict[str, Any]:
    shift = prro.device.shift
    if not shift.get("open"):
        raise DmError(1092)
    return shift


def _link(ctx: Context) -> None:
    """Online: the server checked, offline by itself when it does not answer; offline: back when it does."""
    prro, dev, task = ctx.prro, ctx.prro.device, ctx.task
    if dev.offline.active or dev.store.count("offline"):
        dev.check_link()
    if dev.offline.active:
        if dev.offline.session_ms(dev.clock.now_ms) > OFFLINE_ONLY_Z_MS and task != 11:
            raise DmError(1062)
        if task != 11 and vacant_offline_numbers(prro) <= 0:
            raise DmError(1122)
        return
    if dev.link_up():
        return
    if not prro.config.offline_allowed:
        raise DmError(1052)
    if not dev.store.get("offline_seed"):
        raise DmError(1056)
    key = dev.store.get("key") or {}
    if int(key.get("not_after_ms", 0)) - dev.clock.now_ms < OFFLINE_KEY_MIN_VALIDITY_MS:
        raise DmError(1117)
    out = dev.go_offline()
    if not out.ok:
        raise refusal(ctx, out)


# ---------------------------------------------------------------- the DPS's refusals
def dps_code(code: int, line: str, task: int | None) -> int:
    """The DM's code (1032–1047) of the tax server's error ``code`` with its text ``line`` (MODELLED)."""
    low = line.lower()
    if code in (9, 10):
        if "заблоковано" in low:
            return 1042 if "168" in low or "місяць" in low else 1036
        if "prevdochash" in low or "хеш" in low:
            return 1043
        if "офлайн" in low or "offline" in low or "контрольне число" in low:
            return 1047
        if "z-звіт" in low:
            return 1041
        if "xml" in low:
            return 1038
        if "orderdate" in low or "дата" in low:
            return 1039
        return 1040 if code == 9 else 1047
    return {1: 1044, 2: 1045, 3: 1040, 4: 1033, 5: 1046 if task == 11 else 1034, 6: 1041, 7: 1043, 8: 1041,
            11: 1035, 12: 1032, 13: 1035}.get(code, 1035)


def refusal(ctx: Context, out: Outcome) -> DmError:
    """What the ПРРО's failed outcome is to the DM's client (``res_action`` 1: nothing was fiscalized)."""
    ids = out.ids
    if out.tax_code is not None:
        return DmError(dps_code(out.tax_code, out.tax_line, ctx.task), action=REPEAT)
    if "no_key" in ids:
        return DmError(1095)
    if "no_business_units" in ids:          # Objects 204: the key is not registered (form 5-ПРРО)
        return DmError(1045)
    if any(i in KEY_MESSAGES for i in ids):
        return DmError(1069, raw_text=f"{text(1069)} {out.messages[0]}")
    if "offline_limit_reached" in ids:
        return DmError(1042)
    if "shift_already_opened" in ids:
        return DmError(1096)
    if "shift_not_opened" in ids:
        return DmError(1092)
    if "server_unreachable" in ids and not ctx.prro.config.offline_allowed:
        return DmError(1052)
    if "no_sale" in ids:
        return DmError(1040)
    if "bad_amount" in ids:
        return DmError(1063 if ctx.task in CASH_TASKS else 1064)
    err = DmError(1035)
    err.detail = out.text  # type: ignore[attr-defined]
    return err


# ---------------------------------------------------------------- one fiscal task
def _fiscalize(ctx: Context, call: Callable[[], Outcome]) -> Answer:
    assert ctx.task is not None
    prro, store = ctx.prro, ctx.dm.store
    dev = prro.device
    _link(ctx)
    seq = int(dev.store.get("doc_seq", 0))
    intent = _intent_open(store, prro.name, ctx.req.tag, ctx.task, seq, ctx.req.raw, dev.clock.now_ms)
    out = call()
    docs = [d for d in dev.store.docs_after(seq) if d.kind in TASK_KINDS[ctx.task]]
    if out.ok:
        with store.tx():
            info = record(ctx.dm, prro, ctx.task, ctx.req.raw, ctx.req.tag, docs, intent)
        return Answer(info=info)
    if any(d.state == "pending" for d in docs):      # sent, no answer: the collision, repaired next time
        raise DmError(1034 if ctx.task in RECEIPT_TASKS else 1035, action=COLLISION)
    _intent_drop(store, intent)
    raise refusal(ctx, out)


def _final(docs: list[Doc]) -> list[Doc]:
    return [d for d in docs if d.state in ("sent", "offline")]


def record(dm: DeviceManager, prro: DmPrro, task: int, raw: dict[str, Any], tag: str, docs: list[Doc],
           intent: int) -> dict[str, Any]:
    """The DM's copy of the task's document and its ``info``; the intent closed (call inside ``store.tx``)."""
    dev, store = prro.device, dm.store
    fiscal = v.obj(raw.get("fiscal"), "fiscal")
    doc = _final(docs)[-1]
    ident = dev.identity
    cashier = _cashier(prro, fiscal)
    info: dict[str, Any] = {"dt": dt_text(doc.time_ms), "fisid": ident.fiscal_num, "doccode": doc.fiscal_num,
                            "docno": doc.local_num, "shift_link": doc.shift_id or 0, "cashier": cashier,
                            "isoffline": int(doc.offline), "dtype": 1 if prro.config.is_fiscal else 0}
    body: dict[str, Any] = {"cashier": cashier}
    sum_kop = 0
    kind = {0: "open_shift", 11: "z_report"}.get(task) or RECEIPT_TASKS.get(task) or CASH_TASKS[task]
    if task in RECEIPT_TASKS:
        rec = _clean(parse_receipt(fiscal))
        sum_kop = rec.sum - rec.disc
        qr = check_link(doc.fiscal_num, doc.time_ms, ident.fiscal_num, sum_kop)
        taxes = tax_lines(rec, prro.config) if rec.rows else []
        body.update(receipt=rec.to_json(), taxes=taxes, qr=qr)
        info.update(qr=qr, qr1=check_link(doc.fiscal_num, doc.time_ms, ident.fiscal_num, sum_kop, xml_form=True),
                    isprint=0, cancelid="")
    elif task in CASH_TASKS:
        op = parse_cash(fiscal)
        sum_kop = op.sum
        body.update(cash=op.to_json())
    elif task == 11:
        shift_docs = store.docs(prro.name, shift_no=doc.shift_id or 0)
        opened = next((d for d in shift_docs if d.kind == "open_shift"), None)
        z = next((d for d in reversed(docs) if d.kind == "z_report"), None) or dev.store.last("z_report") or \
            dev.store.last("z_report", "offline")
        safe_start = round(float(opened.body.get("info", {}).get("safe", 0)) * 100) if opened else 0
        totals = shift_totals(shift_docs, prro.config, safe_start_kop=safe_start)
        nums = [d.local_num for d in shift_docs if d.local_num is not None]
        info.update(doccode=z.fiscal_num if z else doc.fiscal_num, docno=z.local_num if z else doc.local_num,
                    docno_from=min(nums, default=0), docno_to=max(nums, default=0),
                    safe_start_shift=_hrn(safe_start), vacant_off_nums=vacant_offline_numbers(prro), isprint=0,
                    **totals)
        body.update(totals=totals, dt_from=dt_text(opened.time_ms) if opened else "")
    else:
        info.update(vacant_off_nums=vacant_offline_numbers(prro),
                    devinfo={"name": prro.name, "point": ident.point, "address": ident.address,
                             "desk_num": ident.desk_num})
    body["info"] = info
    dataid = store.add_doc(prro.name, task, kind, shift_no=doc.shift_id or 0, local_num=doc.local_num,
                           fiscal_num=info["doccode"], time_ms=doc.time_ms, sum_kop=sum_kop, offline=doc.offline,
                           tag=tag, body=body)
    info["dataid"] = dataid
    till = till_kop(store, prro.name) + cash_delta(kind, sum_kop, body)
    info["safe"] = _hrn(till)
    with store.tx() as db:
        store.put(f"till:{prro.name}", till)
        db.execute("UPDATE docs SET body=? WHERE id=?", (json.dumps(body, ensure_ascii=False), dataid))
        db.execute("UPDATE prro_intents SET state='done', info=? WHERE id=?",
                   (json.dumps(info, ensure_ascii=False), intent))
    return info


# ---------------------------------------------------------------- the repair
def repair(ctx: Context) -> None:
    """Settle what a task cut short left (a lost answer, a kill): before the next fiscal task."""
    if not isinstance(ctx.dev, DmPrro):
        return
    prro, dm = ctx.dev, ctx.dm
    with dm.world_lock:
        for intent, tag, task, seq, raw, _ in _intents(dm.store, prro.name, "open"):
            _settle(dm, prro, intent, tag, task, seq, raw)
        open_tags = dm.store.open_results(prro.name)
        if not open_tags:
            return
        done = {tag: (task, raw, info) for _, tag, task, _, raw, info in _intents(dm.store, prro.name, "done")
                if tag}
        for tag, _ in open_tags:
            if tag in done:
                task, raw, info = done[tag]
                _close(dm, prro, tag, task, raw, info)
            else:
                dm.store.drop_result(prro.name, tag)         # nothing was made: the task may run again


def _settle(dm: DeviceManager, prro: DmPrro, intent: int, tag: str, task: int, seq: int,
            raw: dict[str, Any]) -> None:
    dev = prro.device
    docs = [d for d in dev.store.docs_after(seq) if d.kind in TASK_KINDS[task]]
    if any(d.state == "pending" for d in docs):
        dev.resend()                  # taken once by the server, or refused (then nothing was fiscalized)
        docs = [d for d in dev.store.docs_after(seq) if d.kind in TASK_KINDS[task]]
        if any(d.state == "pending" for d in docs):
            raise DmError(1075, action=COLLISION)
    final = _final(docs)
    if final and final[-1].kind == TASK_KINDS[task][-1]:
        with dm.store.tx():
            info = record(dm, prro, task, raw, tag, docs, intent)
            if tag:
                _close(dm, prro, tag, task, raw, info)
        return
    with dm.store.tx():
        _intent_drop(dm.store, intent)
        if tag:
            dm.store.drop_result(prro.name, tag)


def _close(dm: DeviceManager, prro: DmPrro, tag: str, task: int, raw: dict[str, Any], info: dict[str, Any]) -> None:
    out = answer_json(parse_request(raw), Answer(info=info), dm.clock.now_ms, task)
    dm.store.close_result(prro.name, tag, task, out, dm.clock.now_ms)


REPAIR.append(repair)


# ---------------------------------------------------------------- the tasks
def _items(rec: DmReceipt) -> list[Item]:
    items = [Item(name=r.name[:255] or "Товар", price=r.price, quantity_milli=r.cnt_milli, code=r.code[:64],
                  disc=r.disc, cost_kop=r.cost if r.cost != (r.price * r.cnt_milli + 500) // 1000 else None)
             for r in rec.rows]
    left = rec.disc
    for i in range(len(items) - 1, -1, -1):          # the receipt's discount on the last rows
        if left <= 0:
            break
        take = min(left, max(0, items[i].due - 1))
        items[i] = replace(items[i], disc=items[i].disc + take)
        left -= take
    return items


def _payments(rec: DmReceipt, config: PrroConfig) -> list[Payment]:
    return [Payment(sum=p.sum, form_code=p.type, form_name=config.pay_types.get(p.type, str(p.type)).upper())
            for p in rec.pays]


@prro_task(1, 2, 14, fiscal=True)
def receipt_task(ctx: Context) -> Answer:
    """Tasks 1 (sale), 2 (return), 14 (cash issue to card holders); 1 and 2 also as the zero receipt."""
    assert ctx.task is not None
    prro = ctx.prro
    dev = prro.device
    rec = _clean(parse_receipt(ctx.req.fiscal))
    with ctx.dm.world_lock:
        _need_key(prro)
        shift = _need_open_shift(prro)
        store = ctx.dm.store
        validate(rec, ctx.task, prro.config, sold_codes=sold_codes(store, prro.name, int(shift["id"])),
                 cash_kop=till_kop(store, prro.name))
        kind = RECEIPT_TASKS[ctx.task]
        total = rec.sum - rec.disc
        zero = rec.is_zero and ctx.task in (1, 2)
        return _fiscalize(ctx, lambda: dev.receipt(kind, total, items=_items(rec), payments=_payments(rec, prro.config),
                                                   zero=zero))


@prro_task(3, 4, fiscal=True)
def cash_task(ctx: Context) -> Answer:
    """Tasks 3 (service cash-in) and 4 (service cash-out)."""
    assert ctx.task is not None
    prro = ctx.prro
    op: CashOp = parse_cash(ctx.req.fiscal)
    with ctx.dm.world_lock:
        _need_key(prro)
        _need_open_shift(prro)
        if op.sum <= 0:
            raise DmError(1063)
        if ctx.task == 4 and op.sum > till_kop(ctx.dm.store, prro.name):
            raise DmError(1077)
        kind = CASH_TASKS[ctx.task]
        return _fiscalize(ctx, lambda: prro.device.receipt(kind, op.sum))


@prro_task(0, fiscal=True)
def open_shift(ctx: Context) -> Answer:
    """Task 0: the shift opened (document 100)."""
    prro = ctx.prro
    with ctx.dm.world_lock:
        _need_key(prro)
        if prro.device.shift.get("open"):
            raise DmError(1096)
        return _fiscalize(ctx, prro.device.open_shift)


@prro_task(11, fiscal=True)
def z_report(ctx: Context) -> Answer:
    """Task 11: the Z-report and the shift closed; ``info`` per §3.7 with ``totals.shift_totals``."""
    prro = ctx.prro
    with ctx.dm.world_lock:
        _need_key(prro)
        if not prro.device.shift.get("open"):
            raise DmError(1006)
        return _fiscalize(ctx, prro.device.z_report)


@prro_task(18, fiscal=False)
def status(ctx: Context) -> Answer:
    """Task 18: the ПРРО's status."""
    prro = ctx.prro
    dev = prro.device
    with ctx.dm.world_lock:
        shift = dev.shift
        now = dev.clock.now_ms
        blocked = dev.offline.active and dev.offline.limit_problem(now) == "offline_limit_reached"
        key = dev.store.get("key")
        if key is None:
            sign = 3
        else:
            left = int(key.get("not_after_ms", 0)) - now
            sign = 3 if left <= 0 else 2 if left < 14 * 24 * HOUR_MS else 1
        opened = shift.get("opened_ms")
        return Answer(info={
            "fisid": dev.identity.fiscal_num, "isFis": 1 if prro.config.is_fiscal else 0,
            "shift_status": 2 if blocked and shift.get("open") else 1 if shift.get("open") else 0,
            "shift_dt": dt_text(opened) if shift.get("open") and opened else "",
            "online_status": 2 if blocked else 1 if dev.offline.active else 0, "sign_status": sign,
            "safe": _hrn(till_kop(ctx.dm.store, prro.name)), "isoffline": int(dev.offline.active),
            "dtype": 1 if prro.config.is_fiscal else 0, "vacant_off_nums": vacant_offline_numbers(prro)})


@prro_task(20, fiscal=False)
def fiscal_number(ctx: Context) -> Answer:
    """Task 20: the ПРРО's fiscal number."""
    return Answer(info={"fisid": ctx.prro.device.identity.fiscal_num})


@prro_task(21, fiscal=False)
def last_numbers(ctx: Context) -> Answer:
    """Task 21: the last sale and return numbers of the shift, the last Z-report's number."""
    prro = ctx.prro
    with ctx.dm.world_lock:
        shift = prro.device.shift
        store = ctx.dm.store
        shift_no = int(shift.get("id", 0)) if shift.get("open") else -1

        def last(kind: str, shift_no: int | None) -> int:
            got = store.docs(prro.name, (kind,), shift_no=shift_no, limit=1, newest_first=True)
            return (got[0].local_num or 0) if got else 0
        zs = store.docs(prro.name, ("z_report",))
        return Answer(info={"last_receipt_no": last("sale", shift_no), "last_back_no": last("return", shift_no),
                            "last_z_no": len(zs), "vacant_off_nums": vacant_offline_numbers(prro)})


@prro_task(22, fiscal=False)
def last_receipt(ctx: Context) -> Answer:
    """Task 22: the last fiscalized receipt of the ПРРО (its ``info`` as task 1 / 2 / 14 gave it)."""
    got = ctx.dm.store.docs(ctx.prro.name, ("sale", "return", "cash_issue"), limit=1, newest_first=True)
    return Answer(info=dict(got[0].body.get("info", {})) if got else {})

