"""The ПРРО's fiscal tasks through the DM's HTTP front: a day's documents at the tax server, the DM's copy,
the tag semantics, automatic offline and the collision repaired on the next request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from emulator.fronts.dm import prro_tasks
from emulator.wire.prro.document import ZREP
from emulator.world.dm import DmWorld

START = 1_767_261_600_000          # 2026-01-01 12:00 Kyiv


class Pos:
    """A POS talking to the DM over real HTTP."""

    def __init__(self, world: DmWorld, device: str = "kasa") -> None:
        self.world = world
        self.device = device
        self.client = httpx.Client(base_url=world.http(), timeout=20)

    def __call__(self, task: int, tag: str = "", **fiscal: Any) -> dict[str, Any]:
        body = {"ver": 6, "source": "test", "device": self.device, "type": 1, "tag": tag,
                "fiscal": {"task": task, **fiscal}}
        r = self.client.post("/dm/execute", content=json.dumps(body).encode())
        assert r.status_code == 200
        return r.json()

    def requery(self, tag: str) -> dict[str, Any]:
        r = self.client.post("/dm/execute", content=json.dumps({"device": self.device, "tag": tag, "type": 0}))
        return r.json()


@pytest.fixture
def world() -> Iterator[DmWorld]:
    with DmWorld(start_ms=START) as w:
        w.add_prro("kasa")
        yield w


@pytest.fixture
def pos(world: DmWorld) -> Iterator[Pos]:
    p = Pos(world)
    yield p
    p.client.close()


def sale(total: float, *, pay_type: int = 0, code: str = "", taxgrp: object = 1, paid: float | None = None
         ) -> dict[str, Any]:
    paid = total if paid is None else paid
    return {"sum": total, "rows": [{"code": code, "name": "Хліб", "cnt": 1, "price": total, "cost": total,
                                    "taxgrp": taxgrp}],
            "pays": [{"type": pay_type, "sum": total, "change": round(paid - total, 2)}]}


def server_docs(world: DmWorld) -> list[Any]:
    return [d for d in world.prro.tax.documents if d.registrar == "4000002411"]


def ok(ans: dict[str, Any]) -> dict[str, Any]:
    assert (ans["res"], ans["res_action"], ans["errortxt"]) == (0, 0, ""), ans
    info: dict[str, Any] = ans["info"]
    return info


def test_a_day_every_fiscal_task_reaches_the_tax_server_and_the_dms_books(world: DmWorld, pos: Pos) -> None:
    opened = ok(pos(0, "t-open"))
    assert opened["isoffline"] == 0 and opened["shift_link"] == 1 and opened["vacant_off_nums"] > 0
    ok(pos(3, cash={"sum": 500}))
    s = ok(pos(1, "t-sale", receipt={"sum": 150, "rows": [
        {"code": "100", "name": "Хліб", "cnt": 2, "price": 50, "cost": 100, "taxgrp": 1},
        {"code": "200", "name": "Вода", "cnt": "1", "price": "50,00", "cost": 50, "taxgrp": "2"}],
        "pays": [{"type": 0, "sum": 150, "change": 50}]}))
    zero = ok(pos(1, receipt={"sum": 0}))
    back = ok(pos(2, receipt=sale(50, code="200", taxgrp=2)))
    zero_back = ok(pos(2, receipt={"sum": 0, "rows": [], "pays": []}))
    issue = ok(pos(14, receipt={"sum": 100, "pays": [{"type": 2, "sum": 100}]}))
    ok(pos(4, cash={"sum": 100}))
    z = ok(pos(11, "t-z"))

    docs = {d.fiscal: d.doc for d in server_docs(world)}
    assert docs[s["doccode"]].total == 15000 and [i.due for i in docs[s["doccode"]].items] == [10000, 5000]
    assert [(p.form_code, p.sum) for p in docs[s["doccode"]].payments] == [(0, 15000)]
    assert docs[zero["doccode"]].total == 0 and not docs[zero["doccode"]].items
    assert docs[back["doccode"]].docsubtype == 1 and docs[zero_back["doccode"]].total == 0
    assert docs[issue["doccode"]].doctype == 3 and docs[issue["doccode"]].payments[0].form_code == 2
    zrep = docs[z["doccode"]]
    assert zrep.kind == ZREP and zrep.z is not None
    assert (zrep.z.sales_sum, zrep.z.sales_count, zrep.z.returns_sum, zrep.z.deposits, zrep.z.issues) == \
        (15000, 2, 5000, 50000, 10000)
    # the DM's copy: every document once, with what the reports read
    kinds = [d.kind for d in world.dm.store.docs("kasa")]
    assert kinds == ["open_shift", "cash_in", "sale", "sale", "return", "return", "cash_issue", "cash_out",
                     "z_report"]
    copy = world.dm.store.docs("kasa", ("sale",))[0]
    assert copy.fiscal_num == s["doccode"] and copy.tag == "t-sale" and copy.sum == 15000
    assert copy.body["qr"] == s["qr"] and len(copy.body["taxes"]) == 2
    assert z["receipt"]["count_p"] == 2 and z["receipt"]["count_m"] == 2 and z["receipt"]["count_14"] == 1
    # the till: 500 in, 150 cash sale, 50 cash return, 100 issued to a card holder, 100 out
    assert z["safe"] == 400.0 and z["safe_start_shift"] == 0.0
    assert s["qr"] == ("https://cabinet.tax.gov.ua/cashregs/check?id=" + s["doccode"]
                       + "&date=20260101&time=12:00:00&fn=4000002411&sm=150.00")
    assert s["qr1"].endswith("&date=01012026&time=120000&fn=4000002411&sm=150.00")


def test_a_receipt_name_is_sanitized_before_it_is_fiscalized(world: DmWorld, pos: Pos) -> None:
    ok(pos(0))
    r = sale(10)
    r["rows"][0]["name"] = "Кава ☕ «Арабіка»"
    got = ok(pos(1, receipt=r))
    doc = next(d.doc for d in server_docs(world) if d.fiscal == got["doccode"])
    assert doc.items[0].name == "Кава ? «Арабіка»"


def test_a_repeated_tag_answers_the_stored_result_and_fiscalizes_nothing_twice(world: DmWorld, pos: Pos) -> None:
    ok(pos(0))
    first = pos(1, "same", receipt=sale(20))
    again = pos(1, "same", receipt=sale(20))
    assert first == again == pos.requery("same")
    assert sum(1 for d in server_docs(world) if d.doc.total == 2000) == 1
    assert len(world.dm.store.docs("kasa", ("sale",))) == 1


def test_tasks_18_20_21_22(world: DmWorld, pos: Pos) -> None:
    st = ok(pos(18))
    assert (st["shift_status"], st["online_status"], st["sign_status"], st["isFis"]) == (0, 0, 1, 1)
    assert ok(pos(22)) == {}
    ok(pos(0))
    a = ok(pos(1, receipt=sale(10)))
    b = ok(pos(2, receipt=sale(10)))
    assert ok(pos(21)) == {"last_receipt_no": a["docno"], "last_back_no": b["docno"], "last_z_no": 0,
                           "vacant_off_nums": prro_tasks.OFFLINE_NUMBERS}
    assert ok(pos(22)) == b
    assert ok(pos(18))["shift_status"] == 1
    ok(pos(11))
    assert ok(pos(21))["last_z_no"] == 1 and ok(pos(20)) == {"fisid": "4000002411"}


def test_the_tax_server_down_the_prro_goes_offline_by_itself_and_back(world: DmWorld, pos: Pos) -> None:
    ok(pos(0))
    world.prro.tax.faults.down = True
    off = ok(pos(1, "off-1", receipt=sale(30)))
    assert off["isoffline"] == 1 and off["doccode"].count(".") == 2        # <session>.<n>.<control>
    assert ok(pos(18))["online_status"] == 1
    left = ok(pos(21))["vacant_off_nums"]
    assert left == prro_tasks.OFFLINE_NUMBERS - 2                         # 102 and the receipt
    world.prro.tax.faults.down = False
    back = ok(pos(1, receipt=sale(40)))
    assert back["isoffline"] == 0 and "." not in back["doccode"]
    assert off["doccode"] in {d.fiscal for d in server_docs(world)}         # the package went first
    z = ok(pos(11))
    assert z["summary"]["calc_p"] == 70.0


def test_offline_not_allowed_and_the_server_down_is_1052_nothing_made(world: DmWorld, pos: Pos) -> None:
    ok(pos(0))
    world.dm.devices["kasa"].config.offline_allowed = False   # type: ignore[union-attr]
    world.prro.tax.faults.down = True
    before = len(server_docs(world))
    got = pos(1, "t-1052", receipt=sale(30))
    assert (got["res"], got["res_action"]) == (1052, 1)
    world.prro.tax.faults.down = False
    again = ok(pos(1, "t-1052", receipt=sale(30)))                # the same tag may be repeated: done once
    assert len(server_docs(world)) == before + 1 and again["isoffline"] == 0


def test_a_lost_answer_is_a_collision_repaired_on_the_next_request(world: DmWorld, pos: Pos) -> None:
    ok(pos(0))
    world.dm.devices["kasa"].config.offline_allowed = False   # type: ignore[union-attr]
    world.prro.tax.faults.plan(["ok", "lost-answer"])          # ServerState answered, the receipt's answer lost
    got = pos(1, "lost", receipt=sale(70))
    assert (got["res"], got["res_action"]) == (1034, 2)
    assert sum(1 for d in server_docs(world) if d.doc.total == 7000) == 1  # the server has it
    assert world.dm.store.docs("kasa", ("sale",)) == []
    world.prro.tax.faults.down = True
    still = pos(1, "next", receipt=sale(80))                   # cannot be repaired while the server is away
    assert (still["res"], still["res_action"]) == (1075, 2)
    world.prro.tax.faults.down = False
    nxt = ok(pos(1, "next", receipt=sale(80)))                 # repaired first, then this task
    repeated = ok(pos(1, "lost", receipt=sale(70)))            # the real result of the first
    assert repeated["doccode"] == next(d.fiscal for d in server_docs(world) if d.doc.total == 7000)
    assert sum(1 for d in server_docs(world) if d.doc.total == 7000) == 1
    assert [d.sum for d in world.dm.store.docs("kasa", ("sale",))] == [7000, 8000]
    assert ok(pos.requery("lost")) == repeated and nxt["docno"] > repeated["docno"]


def test_a_lost_answer_repaired_by_a_requery_of_its_tag(world: DmWorld, pos: Pos) -> None:
    ok(pos(0))
    world.dm.devices["kasa"].config.offline_allowed = False   # type: ignore[union-attr]
    world.prro.tax.faults.plan(["ok", "lost-answer"])
    assert pos(3, "cash-lost", cash={"sum": 25})["res_action"] == 2
    got = ok(pos.requery("cash-lost"))
    assert got["doccode"] and world.dm.store.docs("kasa", ("cash_in",))[0].fiscal_num == got["doccode"]


def test_a_refusal_by_the_tax_server_is_its_dm_code_and_may_be_repeated(world: DmWorld, pos: Pos) -> None:
    ok(pos(0))
    world.prro.tax.faults.plan(["ok", 503])
    got = pos(1, "refused", receipt=sale(5))
    assert (got["res"], got["res_action"]) == (1035, 1)
    assert ok(pos(1, "refused", receipt=sale(5)))["doccode"]


@pytest.mark.parametrize(("code", "line", "task", "dm"), [
    (1, "", 1, 1044), (2, "", 0, 1045), (4, "", 0, 1033), (5, "", 11, 1046), (5, "", 1, 1034), (6, "", 11, 1041),
    (7, "", 1, 1043), (12, "", 1, 1032), (9, "ПРРО заблоковано до …: офлайн-сесії за місяць 10200 хв перевищують 168 годин",
                                          1, 1042),
    (9, "ПРРО заблоковано до …: офлайн-сесія 2200 хв перевищує 36 годин", 1, 1036),
    (9, "Офлайн-документи надсилаються пакетом (/pck)", 1, 1047), (10, "PREVDOCHASH не відповідає", 1, 1043),
    (9, "Підсумки Z-звіту (1,) не збігаються", 11, 1041), (9, "not well-formed XML", 1, 1038),
    (9, "bad ORDERDATE/ORDERTIME", 1, 1039), (9, "Сума оплат менша за суму чека", 1, 1040), (13, "", 1, 1035)])
def test_the_dps_codes(code: int, line: str, task: int, dm: int) -> None:
    assert prro_tasks.dps_code(code, line, task) == dm


def test_a_lost_answer_then_the_same_tag_again_is_the_real_result_once(world: DmWorld, pos: Pos) -> None:
    ok(pos(0))
    world.prro.tax.faults.plan(["ok", "lost-answer"])
    assert pos(1, "again", receipt=sale(90))["res_action"] == 2
    got = ok(pos(1, "again", receipt=sale(90)))
    assert [d.fiscal for d in server_docs(world) if d.doc.total == 9000] == [got["doccode"]]
    assert len(world.dm.store.docs("kasa", ("sale",))) == 1


def test_an_item_code_sold_under_another_tax_group_in_the_shift_is_1111(world: DmWorld, pos: Pos) -> None:
    ok(pos(0))
    ok(pos(1, receipt=sale(10, code="A-1", taxgrp=1)))
    got = pos(1, receipt=sale(10, code="A-1", taxgrp=2))
    assert (got["res"], got["res_action"]) == (1111, 3) and "A-1" in got["errortxt"]
    ok(pos(1, receipt=sale(10, code="A-1", taxgrp=1)))          # the same group is fine
    ok(pos(11))
    ok(pos(0))
    ok(pos(1, receipt=sale(10, code="A-1", taxgrp=2)))          # a new shift: a new start


def test_cash_leaving_the_till_needs_cash_in_it_1077(world: DmWorld, pos: Pos) -> None:
    ok(pos(0))
    ok(pos(1, receipt=sale(30)))                                 # 30.00 in cash
    before = world.dm.store.digest()
    for task, body in ((2, {"receipt": sale(30.01)}), (14, {"receipt": {"sum": 30.01, "pays": [{"type": 2, "sum": 30.01}]}}),
                       (4, {"cash": {"sum": 30.01}})):
        got = pos(task, **body)
        assert (got["res"], got["errortxt"]) == (1077, "У касі недостатньо коштів для проведення даної операції")
    assert world.dm.store.digest() == before
    ok(pos(2, receipt=sale(10, pay_type=2)))                    # a card return takes no cash
    assert ok(pos(4, cash={"sum": 30}))["safe"] == 0.0
    ok(pos(11))
    assert ok(pos(0))["safe"] == 0.0 and ok(pos(18))["safe"] == 0.0
