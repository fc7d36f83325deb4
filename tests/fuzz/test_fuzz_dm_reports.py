"""Fuzz the report tasks (5, 10, 12, 13) and the printer tasks with any ``fiscal`` object: a defined answer
(never 1016), the DM's database unchanged, bounded CPU time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.fronts.dm.receipt import Pay
from emulator.world.dm import DmWorld
from tests.fronts.dm import dm_docs
from tests.fuzz.budget import fuzz

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)
days = st.sampled_from(["20260101", "01.01.2026", "2026-01-02", "20260102235959", "20261301", "31.02.2026",
                        "", "2026", "01.01.26", "９９９９０１０１"]) | st.text(max_size=20)
numbers = st.integers(-3, 10) | st.sampled_from(["1", "2", " 3 ", "x", "1e3", "2.0", ""]) | json_values
lines = st.lists(st.fixed_dictionaries({"t": st.text(max_size=40) | json_values},
                                       optional={"qr_type": st.sampled_from([0, 1, 2, 100, "1", "100", 5, -1, None]),
                                                 "align": st.sampled_from(["left", "center", "x"]),
                                                 "bold": json_values}), max_size=6) | json_values
fiscals = st.one_of(
    st.fixed_dictionaries({"task": st.just(5)}, optional={"lines": lines, "cashier": json_values}),
    st.fixed_dictionaries({"task": st.just(10)}, optional={"cashier": json_values}),
    st.fixed_dictionaries({"task": st.just(12)}, optional={"n_from": numbers, "n_to": numbers,
                                                          "is_short": json_values}),
    st.fixed_dictionaries({"task": st.just(13)}, optional={"dt_from": days | json_values, "dt_to": days | json_values,
                                                          "is_short": json_values}),
)
printer_fiscals = st.fixed_dictionaries({"task": st.sampled_from([1, 4, 18, "1"])},
                                        optional={"lines": lines, "logo": st.text(max_size=20) | json_values})


@pytest.fixture(scope="module")
def world() -> Iterator[DmWorld]:
    with DmWorld(start_ms=1_767_261_600_000) as w:
        w.add_prro("kasa")
        w.add_printer("prn")
        for _ in range(2):
            s = dm_docs.open_shift(w, "kasa")
            dm_docs.sale(w, "kasa", s, [dm_docs.bread(1500)], [Pay(0, 1500)])
            dm_docs.z_report(w, "kasa", s)
            dm_docs.close_shift(w, "kasa")
        dm_docs.open_shift(w, "kasa")
        yield w


@fuzz("dm_reports", examples=150)
@given(fiscal=fiscals, forms=st.booleans())
def test_any_report_request_has_a_defined_answer_and_changes_nothing(world: DmWorld, fiscal: dict[str, Any],
                                                                     forms: bool) -> None:
    before = world.dm.store.digest()
    t0 = time.process_time()
    got = world.dm.execute("execute", {"device": "kasa", "fiscal": fiscal, "need_pf_txt": int(forms)})
    assert time.process_time() - t0 < 2.0
    assert got["res"] in (0, 1059, 1060, 1081, 2000), got
    assert world.dm.store.digest() == before
    if got["res"] == 0 and forms:
        assert got["pf_text"].startswith("data:text/plain;charset=windows-1251;base64,")


@fuzz("dm_printer_tasks", examples=60)
@given(fiscal=printer_fiscals)
def test_any_printer_task_has_a_defined_answer(world: DmWorld, fiscal: dict[str, Any]) -> None:
    before = world.dm.store.digest()
    t0 = time.process_time()
    got = world.dm.execute("execute", {"device": "prn", "fiscal": fiscal})
    assert time.process_time() - t0 < 2.0
    assert got["res"] in (0, 430, 2000), got
    assert world.dm.store.digest() == before
