"""Properties of the fiscal receipt tasks over generated receipts (good, off by a kopeck, unknown groups and
pay types, cash beyond the till): each answer is a row of the DM's table; a success is one document at the
tax server and one copy in the DM whose sum it is; a refusal changes nothing — not the DM's database, not
the tax server, not the ПРРО's next local number. At the end the Z-report, whose totals the server checks
against the documents it holds, is taken and agrees with the DM's copy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.fronts.dm.errors import dm_tables
from emulator.world.dm import DmWorld

START = 1_767_261_600_000
CODES = {0} | {r.res for r in dm_tables()}


@pytest.fixture(scope="module")
def world() -> Iterator[DmWorld]:
    with DmWorld(start_ms=START) as w:
        w.add_prro("kasa")
        assert w.dm.execute("execute", {"device": "kasa", "fiscal": {"task": 0}})["res"] == 0
        assert w.dm.execute("execute", {"device": "kasa", "fiscal": {"task": 3, "cash": {"sum": 100}}})["res"] == 0
        yield w


def hrn(kop: int) -> Any:
    return f"{kop // 100}.{kop % 100:02d}" if kop % 3 == 0 else kop / 100     # strings too, as clients send


@st.composite
def receipts(draw: st.DrawFn) -> tuple[int, dict[str, Any]]:
    task = draw(st.sampled_from([1, 1, 1, 2, 14]))
    rows, total = [], 0
    for _ in range(draw(st.integers(0 if task == 14 else 1, 3))):
        price = draw(st.integers(1, 5000))
        cnt = draw(st.integers(1, 3))
        cost = price * cnt + draw(st.sampled_from([0, 0, 0, 1, 7]))
        total += cost
        rows.append({"code": draw(st.sampled_from(["", "a", "b"])), "name": draw(st.text(max_size=20)),
                     "cnt": cnt, "price": hrn(price), "cost": hrn(cost),
                     "taxgrp": draw(st.sampled_from([1, "2", 9, "99"]))})
    if task == 14:
        total = draw(st.integers(1, 20000))
    due = total + draw(st.sampled_from([0, 0, 0, 1, -1]))
    pay_type = draw(st.sampled_from([0, 0, 2, 2, 7] if task != 14 else [2, 2, 0]))
    pays = [{"type": pay_type, "sum": hrn(due)}] if due > 0 else []
    return task, {"sum": hrn(total), "rows": rows, "pays": pays}


@settings(max_examples=60, deadline=None, database=None)
@given(receipts())
def test_a_receipt_is_fiscalized_once_or_changes_nothing(world: DmWorld, case: tuple[int, dict[str, Any]]) -> None:
    task, receipt = case
    store, device, tax = world.dm.store, world.dm.devices["kasa"].device, world.prro.tax  # type: ignore[union-attr]
    before = (store.digest(), len(tax.documents), device.store.get("next_local"))
    got = world.dm.execute("execute", {"device": "kasa", "fiscal": {"task": task, "receipt": receipt}})
    assert got["res"] in CODES and isinstance(got["errortxt"], str)
    if got["res"]:
        assert (store.digest(), len(tax.documents), device.store.get("next_local")) == before
        return
    assert len(tax.documents) == before[1] + 1
    copy = store.docs("kasa", limit=1, newest_first=True)[0]
    assert copy.fiscal_num == got["info"]["doccode"] == tax.documents[-1].fiscal
    assert copy.sum == tax.documents[-1].doc.total


def test_the_z_report_agrees_with_the_dms_copy(world: DmWorld) -> None:
    got = world.dm.execute("execute", {"device": "kasa", "fiscal": {"task": 11}})
    assert got["res"] == 0, got
    docs = world.dm.store.docs("kasa", ("sale",), shift_no=1)
    assert round(got["info"]["summary"]["calc_p"] * 100) == sum(d.sum for d in docs)     # hryvnias in the answer
    assert got["info"]["receipt"]["count_p"] == len(docs)
