"""Package mode ``/dm/execute-pkg`` over real HTTP: the emulated terminal and printer over TCP on the
world's clock, the ПРРО task handlers of ``manager.TASKS`` and the printing hook ``manager.PRINT``.

Where the fiscal tasks (0, 1, 2, 10, 11) or the printing hook are not registered yet, small stand-ins
are: they record what package mode gave them (the receipt with its acquiring data) and open / close the
real ПРРО's shift. Tests that need a fiscalization to fail register a failing handler for that test."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from emulator.fronts.dm import manager
from emulator.fronts.dm.envelope import Answer
from emulator.fronts.dm.errors import COLLISION, DmError, text
from emulator.fronts.dm.manager import Context, DmPrinter, PackageSettings
from emulator.net.escposlink import Receipt
from emulator.servers.bankterm.model import BankTerminal
from emulator.servers.escpos.model import PrinterModel
from emulator.world.dm import DmWorld
from tests.fronts.dm.test_terminal import reset_terminal

START = 1_767_261_600_000
CASHIER = "Романенко Данило"
FISCALIZED: list[dict[str, Any]] = []        # what the stand-in fiscal handlers were given


def _stand_in_open(ctx: Context) -> Answer:
    with ctx.dm.world_lock:
        out = ctx.prro.device.open_shift()
    if not out.ok:
        raise DmError(1096)
    return Answer(info={"fisid": ctx.prro.device.identity.fiscal_num})


def _stand_in_receipt(ctx: Context) -> Answer:
    receipt = ctx.req.fiscal.get("receipt", {})
    FISCALIZED.append({"task": ctx.task, "receipt": json.loads(json.dumps(receipt))})
    lines = [{"t": f"ЧЕК {len(FISCALIZED)}"}] + [{"t": str(p.get("sum"))} for p in receipt.get("pays", [])]
    return Answer(info={"docno": len(FISCALIZED)}, printable=Receipt.from_data(lines))


def _stand_in_report(ctx: Context) -> Answer:
    FISCALIZED.append({"task": ctx.task})
    if ctx.task == 11:
        with ctx.dm.world_lock:
            out = ctx.prro.device.z_report()
        if not out.ok:
            raise DmError(1006)
    return Answer(info={"docno": len(FISCALIZED)}, printable=Receipt.from_data([{"t": f"ЗВІТ {ctx.task}"}]))


def _stand_in_print(ctx: Context, ans: Answer, printer: DmPrinter, drawer: bool) -> None:
    receipt = ans.printable or Receipt.from_data([{"t": "DOC"}])
    ans.info["isprint"] = printer.link.print_receipt(receipt, open_drawer=drawer).isprint


STAND_INS = {0: (_stand_in_open, True), 1: (_stand_in_receipt, True), 2: (_stand_in_receipt, True),
             10: (_stand_in_report, False), 11: (_stand_in_report, True)}


@pytest.fixture(scope="module")
def world() -> Iterator[DmWorld]:
    added = [k for k in STAND_INS if ("prro", k) not in manager.TASKS]
    for k in added:
        manager.TASKS[("prro", k)] = STAND_INS[k]
    printing = not manager.PRINT
    if printing:
        manager.PRINT.append(_stand_in_print)
    try:
        with DmWorld(start_ms=START) as w:
            w.add_terminal("term")
            w.add_terminal("fast", timeout_s=2.0)       # a lost answer is 411 after 2 s, not 310 s
            w.add_printer("prn")
            yield w
    finally:
        for k in added:
            manager.TASKS.pop(("prro", k), None)
        if printing:
            manager.PRINT.remove(_stand_in_print)


@pytest.fixture(scope="module")
def client(world: DmWorld) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world.http(), timeout=30) as c:
        yield c


@pytest.fixture()
def term(world: DmWorld) -> Iterator[BankTerminal]:
    m = world.terminals["term"][0]
    yield m
    reset_terminal(m)


@pytest.fixture()
def prn(world: DmWorld) -> PrinterModel:
    return world.printers["prn"][0]


def post(client: httpx.Client, body: dict, path: str = "/dm/execute-pkg") -> dict:
    r = client.post(path, content=json.dumps(body).encode())
    assert r.status_code == 200
    return r.json()


def configure(client: httpx.Client, prro: str, **fields: object) -> dict:
    r = client.post("/dm/api/v1/package", params={"dev_id": prro}, content=json.dumps(fields).encode())
    assert r.status_code == 200
    return r.json()


_made: dict[str, str] = {}
_names = itertools.count(1)


def kasa(world: DmWorld, client: httpx.Client, **fields: object) -> str:
    """A ПРРО of its own for one package configuration, the settings saved, the shift opened."""
    key = json.dumps(fields, sort_keys=True)
    if key not in _made:
        name = f"pkg{next(_names)}"
        world.add_prro(name)
        assert configure(client, name, **fields)["res"] == 0
        opened = post(client, {"ver": 6, "device": name, "type": 1, "fiscal": {"task": 0, "cashier": CASHIER}})
        assert opened["res"] == 0, opened
        _made[key] = name
    return _made[key]


def sale(device: str, pays: list[dict] | None, total: float, task: int = 1, **extra: object) -> dict:
    receipt: dict[str, Any] = {"sum": total, "rows": [{"code": "100", "name": "Товар", "cnt": 1, "price": total,
                                                        "cost": total, "disc": 0, "taxgrp": 2}]}
    if pays is not None:
        receipt["pays"] = pays
    return {"ver": 6, "source": "pos", "device": device, "type": 1,
            "fiscal": {"task": task, "cashier": CASHIER, "receipt": receipt}, **extra}


# ------------------------------------------------------------------ settings
def test_settings_are_read_and_saved_only_with_the_shift_closed(world: DmWorld, client: httpx.Client) -> None:
    world.add_prro("cfg")
    got = client.get("/dm/api/v1/package", params={"dev_id": "cfg"}).json()
    assert got == {"res": 0, "res_action": 0, "errortxt": "",
                   "info": {"terminal": "", "printer": "", "pay_types": [2], "auto_cancel": True, "merchant": "1"}}
    saved = configure(client, "cfg", terminal="term", pay_types=[2, 3], auto_cancel=False)
    assert saved["res"] == 0 and saved["info"]["pay_types"] == [2, 3] and saved["info"]["printer"] == ""
    assert post(client, {"device": "cfg", "fiscal": {"task": 0, "cashier": CASHIER}})["res"] == 0
    before = world.dm.store.digest()
    refused = configure(client, "cfg", printer="prn")
    assert (refused["res"], refused["errortxt"]) == (1096, text(1096))
    assert world.dm.store.digest() == before
    got = client.get("/dm/api/v1/package", params={"dev_id": "cfg"}).json()["info"]
    assert got == {"terminal": "term", "printer": "", "pay_types": [2, 3], "auto_cancel": False, "merchant": "1"}


@pytest.mark.parametrize(("fields", "res", "values"), [
    ({"terminal": "nobody"}, 1091, ()), ({"printer": "term"}, 1091, ()), ({"pay_types": [0, 2]}, 2000, ()),
    ({"pay_types": [99]}, 1110, (99,)), ({"pay_types": []}, 2000, ()), ({"merchant": "1; drop"}, 2000, ()),
    ({"auto_cancel": "maybe"}, 2000, ())])
def test_bad_settings_are_refused_and_change_nothing(world: DmWorld, client: httpx.Client,
                                                     fields: dict, res: int, values: tuple) -> None:
    if "cfg-bad" not in world.dm.devices:
        world.add_prro("cfg-bad")
    before = world.dm.store.digest()
    got = configure(client, "cfg-bad", **fields)
    assert (got["res"], got["errortxt"]) == (res, text(res, *values))
    assert world.dm.store.digest() == before


def test_settings_of_an_unknown_prro_are_2007(client: httpx.Client) -> None:
    got = client.get("/dm/api/v1/package", params={"dev_id": "nobody"}).json()
    assert (got["res"], got["errortxt"]) == (2007, text(2007, "nobody"))
    r = client.post("/dm/api/v1/package", params={"dev_id": "nobody"}, content=b"{}").json()
    assert r["res"] == 2007


# ------------------------------------------------------------------ sales
def test_the_seeds_example_the_terminal_types_summed(world: DmWorld, client: httpx.Client, term: BankTerminal,
                                                     prn: PrinterModel) -> None:
    name = kasa(world, client, terminal="term", printer="prn", pay_types=[2, 3, 4])
    docs = len(prn.documents)
    got = post(client, sale(name, [{"type": 5, "sum": 120}, {"type": 2, "sum": 200}, {"type": 3, "sum": 500}], 820))
    assert got["res"] == 0, got
    txn = term.batch[-1]
    assert (txn.txn_type, txn.amount, txn.merchant.id) == ("1", 70_000, "1")
    assert got["info"]["pay"]["amount"] == "700.00" and got["info"]["pay"]["refundid"] == txn.rrn
    assert got["info"]["isprint"] == 1 and len(prn.documents) == docs + 1 and not prn.drawer_open
    if FISCALIZED and FISCALIZED[-1].get("receipt"):       # the stand-in saw the receipt it fiscalized
        pays = FISCALIZED[-1]["receipt"]["pays"]
        assert "rrn" not in pays[0]
        for p in pays[1:]:
            assert (p["rrn"], p["cardmask"], p["paysys"], p["auth_code"]) == (
                txn.rrn, "4731XXXXXXXX9838", "VISA", txn.approval)
            assert p["term_id"] == "S1A00002" and p["bank_id"] == "Приватбанк"


def test_pays_omitted_the_whole_sum_goes_to_the_terminal(world: DmWorld, client: httpx.Client,
                                                         term: BankTerminal) -> None:
    name = kasa(world, client, terminal="term", printer="prn")
    got = post(client, sale(name, None, 15))
    assert got["res"] == 0, got
    assert term.batch[-1].amount == 1_500 and got["info"]["pay"]["amount"] == "15.00"
    if FISCALIZED and FISCALIZED[-1].get("receipt"):
        (p,) = FISCALIZED[-1]["receipt"]["pays"]
        assert p["type"] == 2 and p["sum"] == 15 and p["rrn"] == term.batch[-1].rrn


def test_cash_and_card_the_card_paid_the_drawer_opened(world: DmWorld, client: httpx.Client, term: BankTerminal,
                                                       prn: PrinterModel) -> None:
    name = kasa(world, client, terminal="term", printer="prn")
    prn.close_drawer()
    got = post(client, sale(name, [{"type": 0, "sum": 10}, {"type": 2, "sum": 20}], 30))
    assert got["res"] == 0 and term.batch[-1].amount == 2_000 and got["info"]["isprint"] == 1
    assert prn.drawer_open


def test_cash_only_no_terminal_operation(world: DmWorld, client: httpx.Client, term: BankTerminal) -> None:
    name = kasa(world, client, terminal="term", printer="prn")
    n = len(term.batch)
    got = post(client, sale(name, [{"type": 0, "sum": 5}], 5))
    assert got["res"] == 0 and "pay" not in got["info"] and len(term.batch) == n


def test_a_declined_card_fiscalizes_nothing(world: DmWorld, client: httpx.Client, term: BankTerminal,
                                            prn: PrinterModel) -> None:
    name = kasa(world, client, terminal="term", printer="prn")
    term.holder.plan(["decline"])
    n, docs, prints = len(world.dm.store.docs(name)), len(FISCALIZED), len(prn.documents)
    got = post(client, sale(name, [{"type": 2, "sum": 8}], 8))
    assert (got["res"], got["errortxt"]) == (5000, text(5000, "ВІДМОВА. НЕ ОБСЛУГОВУВАТИ", group="privatbank"))
    assert got["info"]["restxt"] == "ВІДМОВА. НЕ ОБСЛУГОВУВАТИ"
    assert len(world.dm.store.docs(name)) == n and len(FISCALIZED) == docs and len(prn.documents) == prints


def test_no_card_for_300_virtual_seconds(world: DmWorld, client: httpx.Client, term: BankTerminal) -> None:
    name = kasa(world, client, terminal="term", printer="prn")
    term.holder.plan(["no_card"])
    before = world.clock.now_ms
    got = post(client, sale(name, [{"type": 2, "sum": 8}], 8))
    assert (got["res"], got["errortxt"]) == (5000, text(5000, "Час очікування картки вичерпано", group="privatbank"))
    assert world.clock.now_ms - before >= 300_000


def test_host_down_is_the_terminals_5004(world: DmWorld, client: httpx.Client, term: BankTerminal) -> None:
    name = kasa(world, client, terminal="term", printer="prn")
    term.host_down = True
    got = post(client, sale(name, [{"type": 2, "sum": 8}], 8))
    assert (got["res"], got["errortxt"]) == (5004, text(5004, group="bpos1"))


def test_a_receipt_fiscalization_would_refuse_is_refused_before_the_card_is_charged(
        world: DmWorld, client: httpx.Client, term: BankTerminal, monkeypatch: pytest.MonkeyPatch) -> None:
    from emulator.fronts.dm import receipt as dm_receipt
    if not hasattr(dm_receipt, "validate"):          # the receipt rules' stand-in: 1101 only

        def validate(receipt: Any, task: int, config: Any, *, sold_codes: Any, cash_kop: Any) -> None:
            if receipt.sum != sum(r.cost - r.disc for r in receipt.rows):
                raise DmError(1101)

        monkeypatch.setattr(dm_receipt, "validate", validate, raising=False)
    name = kasa(world, client, terminal="term", printer="prn")
    n = len(term.batch)
    body = sale(name, [{"type": 2, "sum": 12}], 12)
    body["fiscal"]["receipt"]["rows"][0].update(cost=10, price=10)
    got = post(client, body)
    assert (got["res"], got["errortxt"]) == (1101, text(1101)) and len(term.batch) == n
    broken = sale(name, [{"type": 2, "sum": "twelve"}], 12)
    got = post(client, broken)
    assert (got["res"], got["res_action"]) == (2000, 3) and len(term.batch) == n


def _failing(action: int) -> Any:
    def fail(ctx: Context) -> Answer:
        raise DmError(1034, action=action)
    return fail


def test_auto_cancel_voids_the_payment_when_fiscalization_fails(world: DmWorld, client: httpx.Client,
                                                                term: BankTerminal,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    name = kasa(world, client, terminal="term", printer="prn")
    monkeypatch.setitem(manager.TASKS, ("prro", 1), (_failing(1), True))
    got = post(client, sale(name, [{"type": 2, "sum": 11}], 11))
    assert (got["res"], got["errortxt"]) == (1034, text(1034))
    paid = next(t for t in term.batch if t.rrn == got["info"]["pay"]["refundid"])
    assert paid.status == "3" and term.batch[-1].txn_type == "3"          # voided on the terminal
    assert got["info"]["pay_cancel"]["res"] == 0 and got["info"]["pay_cancel"]["amount"] == "11.00"


def test_without_auto_cancel_the_payment_stays(world: DmWorld, client: httpx.Client, term: BankTerminal,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    name = kasa(world, client, terminal="term", printer="prn", auto_cancel=False)
    monkeypatch.setitem(manager.TASKS, ("prro", 1), (_failing(1), True))
    got = post(client, sale(name, [{"type": 2, "sum": 12}], 12))
    assert got["res"] == 1034 and "pay_cancel" not in got["info"]
    assert term.batch[-1].status == "1" and term.batch[-1].amount == 1_200


def test_a_collision_keeps_the_payment_and_the_repeat_does_not_charge_again(
        world: DmWorld, client: httpx.Client, term: BankTerminal, monkeypatch: pytest.MonkeyPatch) -> None:
    name = kasa(world, client, terminal="term", printer="prn")
    real = manager.TASKS[("prro", 1)]
    monkeypatch.setitem(manager.TASKS, ("prro", 1), (_failing(COLLISION), True))
    body = sale(name, [{"type": 2, "sum": 13}], 13, tag="pkg-collision-1")
    first = post(client, body)
    assert (first["res"], first["res_action"]) == (1034, COLLISION) and "pay_cancel" not in first["info"]
    n = len(term.batch)
    assert term.batch[-1].status == "1"
    monkeypatch.setitem(manager.TASKS, ("prro", 1), real)
    again = post(client, body)
    assert again["res"] == 0, again
    assert len(term.batch) == n and again["info"]["pay"]["refundid"] == first["info"]["pay"]["refundid"]
    assert post(client, body) == again                                # done: the stored answer


def test_a_refused_payment_is_made_anew_under_the_same_tag(world: DmWorld, client: httpx.Client,
                                                           term: BankTerminal) -> None:
    name = kasa(world, client, terminal="term", printer="prn")
    term.holder.plan(["insufficient"])
    body = sale(name, [{"type": 2, "sum": 14}], 14, tag="pkg-refused-1")
    assert post(client, body)["res"] == 5000
    again = post(client, body)
    assert again["res"] == 0 and term.batch[-1].amount == 1_400 and term.batch[-1].status == "1"


@pytest.fixture()
def fast(world: DmWorld) -> Iterator[BankTerminal]:
    m = world.terminals["fast"][0]
    yield m
    reset_terminal(m)


def test_a_lost_answer_is_credited_when_the_request_is_repeated(world: DmWorld, client: httpx.Client,
                                                                fast: BankTerminal) -> None:
    name = kasa(world, client, terminal="fast")
    fast.faults.plan(["lose_answer"])
    body = sale(name, [{"type": 2, "sum": 21}], 21, tag="pkg-lost-1")
    docs = len(FISCALIZED)
    lost = post(client, body)
    assert (lost["res"], lost["res_action"]) == (411, COLLISION) and len(FISCALIZED) == docs
    n = len(fast.batch)
    paid = fast.batch[-1]
    assert (paid.amount, paid.status) == (2_100, "1")                # the terminal did it
    again = post(client, body)
    assert again["res"] == 0, again
    assert len(fast.batch) == n and again["info"]["pay"]["refundid"] == paid.rrn
    assert again["info"]["pay"]["resync"] == "credited"


def test_a_lost_request_is_not_credited_with_a_foreign_receipt(world: DmWorld, client: httpx.Client,
                                                               fast: BankTerminal) -> None:
    name = kasa(world, client, terminal="fast")
    earlier = post(client, sale(name, [{"type": 2, "sum": 22}], 22))
    assert earlier["res"] == 0
    fast.faults.plan(["lose_request"])
    body = sale(name, [{"type": 2, "sum": 22}], 22, tag="pkg-lost-2")
    lost = post(client, body)
    assert (lost["res"], lost["res_action"]) == (411, COLLISION)
    n = len(fast.batch)
    again = post(client, body)                   # the last receipt is the earlier sale's: charged anew
    assert again["res"] == 0 and len(fast.batch) == n + 1
    assert again["info"]["pay"]["refundid"] == fast.batch[-1].rrn != earlier["info"]["pay"]["refundid"]


def test_a_terminal_busy_with_another_request_is_1105(world: DmWorld, client: httpx.Client,
                                                       fast: BankTerminal) -> None:
    name = kasa(world, client, terminal="fast")
    fast.faults.plan(["stall"])
    first: dict = {}
    body = {"ver": 6, "device": "fast", "pay": {"task": 1, "sum": 1}}
    t = threading.Thread(target=lambda: first.update(post(client, body, "/dm/execute")))
    t.start()
    deadline = time.monotonic() + 5
    while not fast.stalled and time.monotonic() < deadline:
        time.sleep(0.01)
    docs = len(FISCALIZED)
    got = post(client, sale(name, [{"type": 2, "sum": 4}], 4))
    t.join(10)
    assert (got["res"], got["errortxt"]) == (1105, text(1105)) and len(FISCALIZED) == docs
    assert first["res"] == 411
    fast.stalled = False


# ------------------------------------------------------------------ returns
def test_a_return_refunds_by_rrn(world: DmWorld, client: httpx.Client, term: BankTerminal) -> None:
    name = kasa(world, client, terminal="term", printer="prn")
    bought = post(client, sale(name, [{"type": 2, "sum": 50}], 50))
    rrn = bought["info"]["pay"]["refundid"]
    back = post(client, sale(name, [{"type": 2, "sum": 20}], 20, task=2, pay={"task": 2, "refundid": rrn}))
    assert back["res"] == 0, back
    assert (term.batch[-1].txn_type, term.batch[-1].amount, term.batch[-1].original) == ("2", 2_000, rrn)


def test_a_return_cancels_by_number(world: DmWorld, client: httpx.Client, term: BankTerminal) -> None:
    name = kasa(world, client, terminal="term", printer="prn")
    bought = post(client, sale(name, [{"type": 2, "sum": 33}], 33))
    number = bought["info"]["pay"]["cancelid"]
    back = post(client, sale(name, [{"type": 2, "sum": 33}], 33, task=2, pay={"task": 3, "cancelid": number}))
    assert back["res"] == 0, back
    orig = next(t for t in term.batch if t.invoice == number)
    assert orig.status == "3" and term.batch[-1].txn_type == "3"


def test_a_return_without_a_pay_object_is_2000(world: DmWorld, client: httpx.Client, term: BankTerminal) -> None:
    name = kasa(world, client, terminal="term", printer="prn")
    n = len(term.batch)
    for extra in ({}, {"pay": {"task": 1}}):
        got = post(client, sale(name, [{"type": 2, "sum": 5}], 5, task=2, **extra))
        assert (got["res"], got["res_action"]) == (2000, 3) and len(term.batch) == n


# ------------------------------------------------------------------ reports and the other linkings
def test_x_and_z_run_the_terminals_audit_and_verify(world: DmWorld, client: httpx.Client, term: BankTerminal) -> None:
    name = kasa(world, client, terminal="term", printer="prn")
    x = post(client, {"device": name, "fiscal": {"task": 10, "cashier": CASHIER}})
    assert x["res"] == 0 and "X-БАЛАНС" in x["info"]["pay"]["receipt"] and x["info"]["isprint"] == 1
    batch = term.batch_no
    z = post(client, {"device": name, "fiscal": {"task": 11, "cashier": CASHIER}})
    assert z["res"] == 0 and "ПАКЕТ ЗАКРИТО" in z["info"]["pay"]["receipt"] and term.batch_no == batch + 1
    _made.pop(next(k for k, n in _made.items() if n == name))   # its shift is closed now


def test_a_terminal_refusal_on_x_is_a_warning(world: DmWorld, client: httpx.Client, term: BankTerminal,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    name = kasa(world, client, terminal="term")
    world.terminals["term"][0].faults.plan(["log_full"])
    x = post(client, {"device": name, "fiscal": {"task": 10, "cashier": CASHIER}})
    assert x["res"] == 0 and x["warnings"] == [{"code": 5003, "wtxt": text(5003, group="bpos1")}]
    assert x["info"]["pay"]["res"] == 5003


def test_terminal_only_no_printing_and_5029_for_other_tasks(world: DmWorld, client: httpx.Client,
                                                           term: BankTerminal, prn: PrinterModel) -> None:
    name = kasa(world, client, terminal="term")
    docs = len(prn.documents)
    got = post(client, sale(name, [{"type": 2, "sum": 6}], 6))
    assert got["res"] == 0 and got["info"]["isprint"] == 0 and len(prn.documents) == docs
    for task in (3, 5, 12, 22):
        got = post(client, {"device": name, "fiscal": {"task": task, "cashier": CASHIER}})
        assert (got["res"], got["errortxt"]) == (5029, text(5029, "term", "PrivatBankJSON", task, group="connection"))


def test_printer_only_prints_and_pays_nothing(world: DmWorld, client: httpx.Client, term: BankTerminal,
                                             prn: PrinterModel) -> None:
    name = kasa(world, client, printer="prn")
    n, docs = len(term.batch), len(prn.documents)
    got = post(client, sale(name, [{"type": 2, "sum": 9}], 9))
    assert got["res"] == 0 and got["info"]["isprint"] == 1 and "pay" not in got["info"]
    assert len(term.batch) == n and len(prn.documents) == docs + 1


def test_a_printer_out_of_paper_is_isprint_0_and_nothing_twice(world: DmWorld, client: httpx.Client,
                                                               term: BankTerminal, prn: PrinterModel) -> None:
    name = kasa(world, client, terminal="term", printer="prn")
    prn.set_fault("paper_out", True)
    try:
        n, docs, fiscalized = len(term.batch), len(prn.documents), len(world.dm.store.docs(name))
        got = post(client, sale(name, [{"type": 2, "sum": 17}], 17, tag="pkg-paper-1"))
        assert got["res"] == 0 and got["info"]["isprint"] == 0 and len(prn.documents) == docs
        assert len(term.batch) == n + 1 and term.batch[-1].status == "1"       # paid, not voided
        assert post(client, sale(name, [{"type": 2, "sum": 17}], 17, tag="pkg-paper-1")) == got
        assert len(term.batch) == n + 1 and len(world.dm.store.docs(name)) - fiscalized <= 1
    finally:
        prn.set_fault("paper_out", False)


def test_service_tasks_pass_through(world: DmWorld, client: httpx.Client, prn: PrinterModel) -> None:
    name = kasa(world, client, terminal="term", printer="prn")
    docs = len(prn.documents)
    got = post(client, {"device": name, "fiscal": {"task": 20}})
    assert got["res"] == 0 and got["info"] == {"fisid": world.dm.find(name).device.identity.fiscal_num}
    assert len(prn.documents) == docs


def test_package_mode_on_a_terminal_device_is_1091(client: httpx.Client) -> None:
    got = post(client, {"device": "term", "fiscal": {"task": 1}})
    assert (got["res"], got["errortxt"]) == (1091, text(1091))


# ------------------------------------------------------------------ the DM restarted
def restart_dm(world: DmWorld) -> None:
    """The DM stopped and started again on its database (its links, and what they held in memory, gone);
    the ПРРО, the terminal and the printer stay as they were. Requests then go to ``world.dm.execute``."""
    from emulator.fronts.dm.manager import DeviceManager, DmTerminal
    from emulator.net.bankterm import BankTermLink, Journal
    old = world.dm
    old.close()
    dm = DeviceManager(world.clock, world.directory / "dm")
    dm.cabinet = old.cabinet
    for dev in old.devices.values():
        if isinstance(dev, DmTerminal):
            model, srv = world.terminals[dev.name]
            host, port = srv.address
            journal = Journal(str(world.directory / "dm" / f"terminal-{dev.name}.sqlite"),
                              now_ms=lambda: world.clock.now_ms)
            term = DmTerminal(dev.name, BankTermLink(host, port, timeout_s=dev.link.timeout_s, journal=journal))
            term.pump = world.terminal_pump(model)
            dm.add(term)
        elif isinstance(dev, DmPrinter):
            from emulator.net.escposlink import PrinterLink
            dm.add(DmPrinter(dev.name, PrinterLink(dev.link.host, dev.link.port)))
        else:
            dm.add(dev)
    world.dm = dm


@pytest.fixture()
def lonely() -> Iterator[DmWorld]:
    """A world of its own: its DM is restarted."""
    added = [k for k in STAND_INS if ("prro", k) not in manager.TASKS]
    for k in added:
        manager.TASKS[("prro", k)] = STAND_INS[k]
    try:
        with DmWorld(start_ms=START) as w:
            w.add_prro("solo")
            w.add_terminal("fast", timeout_s=2.0)
            assert configure_direct(w, "solo", terminal="fast")["res"] == 0
            assert w.dm.execute("execute-pkg", {"device": "solo", "fiscal": {"task": 0, "cashier": CASHIER}})["res"] == 0
            yield w
    finally:
        for k in added:
            manager.TASKS.pop(("prro", k), None)


def configure_direct(world: DmWorld, prro: str, **fields: object) -> dict:
    return world.dm.route("POST", "/dm/api/v1/package", {"dev_id": prro}, json.dumps(fields).encode()) or {}


def test_a_payment_lost_when_the_dm_restarted_is_settled_not_made_twice(lonely: DmWorld) -> None:
    model = lonely.terminals["fast"][0]
    model.faults.plan(["lose_answer"])
    body = sale("solo", [{"type": 2, "sum": 31}], 31, tag="pkg-restart-1")
    lost = lonely.dm.execute("execute-pkg", body)
    assert (lost["res"], lost["res_action"]) == (411, COLLISION)
    n, paid = len(model.batch), model.batch[-1]
    restart_dm(lonely)                         # what the old link knew of the lost answer is gone
    again = lonely.dm.execute("execute-pkg", body)
    assert again["res"] == 0, again
    assert len(model.batch) == n and again["info"]["pay"]["refundid"] == paid.rrn


def test_the_settings_survive_a_restart(lonely: DmWorld) -> None:
    restart_dm(lonely)
    lonely.dm.find("solo").package = PackageSettings()        # nothing held in memory: the database's
    got = lonely.dm.route("GET", "/dm/api/v1/package", {"dev_id": "solo"}, b"") or {}
    assert got["info"]["terminal"] == "fast"


class Crash(BaseException):
    """The DM process dying inside a handler (nothing after it runs)."""


def test_a_payment_made_before_the_dm_died_is_not_made_twice(lonely: DmWorld,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    model = lonely.terminals["fast"][0]
    real = manager.TASKS[("prro", 1)]

    def dies(ctx: Context) -> Answer:
        raise Crash

    monkeypatch.setitem(manager.TASKS, ("prro", 1), (dies, True))
    body = sale("solo", [{"type": 2, "sum": 32}], 32, tag="pkg-restart-2")
    with pytest.raises(Crash):
        lonely.dm.execute("execute-pkg", body)
    n, paid = len(model.batch), model.batch[-1]
    assert paid.amount == 3_200
    restart_dm(lonely)
    monkeypatch.setitem(manager.TASKS, ("prro", 1), real)
    again = lonely.dm.execute("execute-pkg", body)
    assert again["res"] == 0, again
    assert len(model.batch) == n and again["info"]["pay"]["refundid"] == paid.rrn
