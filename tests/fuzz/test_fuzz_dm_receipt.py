"""Fuzz target: the DM's receipt object (``fronts.dm.receipt``). Whatever JSON a client puts where a
receipt, a row, a pay or a cash object goes, reading it, checking it for any task under either setting
of rounding, sanitizing its texts and computing its tax lines gives a value or a ``DmError`` with a code
of the table and its text — never another exception — in bounded CPU time, and never changes the input."""

from __future__ import annotations

import copy
import time
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from emulator.fronts.dm.errors import DmError, row
from emulator.fronts.dm.receipt import parse_cash, parse_receipt, sanitize_cash, sanitize_receipt, tax_lines, validate
from tests.fronts.dm.receipt_strategies import CFG, ROUNDING, field, fuzz_receipt, mangled_receipt
from tests.fuzz.budget import fuzz

BOUND_S = 2.0
CODES = {2000, 1063, 1064, 1065, 1077, 1097, 1101, 1102, 1107, 1108, 1109, 1110, 1111, 1112, 1115, 1119, 1120}
SOLD = {"000": "1", "1": "2", "Товар": "9"}


def check(raw: Any, task: int, cash_kop: int | None) -> None:
    before = copy.deepcopy(raw)
    start = time.process_time()
    for config in (CFG, ROUNDING):
        try:
            if task in (3, 4):
                cash = parse_cash({"cash": raw})
                sanitize_cash(cash)
                validate(cash, task, config, sold_codes=SOLD, cash_kop=cash_kop)
            else:
                rec = sanitize_receipt(parse_receipt({"task": task, "receipt": raw}))
                validate(rec, task, config, sold_codes=SOLD, cash_kop=cash_kop)
                assert sum(ln["turnover"] for ln in tax_lines(rec, config)) == rec.sum - rec.disc
        except DmError as e:
            assert e.res in CODES and e.errortxt.startswith(row(e.res).text.split("%")[0])
    assert time.process_time() - start < BOUND_S
    assert raw == before


@fuzz("dm_receipt", examples=10_000)
@given(fuzz_receipt, st.sampled_from([1, 2, 3, 4, 14]), st.one_of(st.none(), field.filter(lambda x: type(x) is int)))
def test_any_receipt_json(raw: Any, task: int, cash_kop: int | None) -> None:
    check(raw, task, cash_kop)


@fuzz("dm_receipt_mangled")
@given(mangled_receipt(), st.sampled_from([1, 2, 14]), st.one_of(st.none(), st.integers(0, 10**9)))
def test_a_valid_receipt_with_fields_replaced(raw: Any, task: int, cash_kop: int | None) -> None:
    check(raw, task, cash_kop)
