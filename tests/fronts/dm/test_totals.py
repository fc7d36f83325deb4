"""``totals.shift_totals`` / ``merge_totals``: the X/Z ``info`` shape of reference §3.7, the tax rule against the
published answer example, and merging equal to totalling."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.fronts.dm.receipt import CashOp, DmReceipt, Pay, Row
from emulator.fronts.dm.store import DmDoc
from emulator.fronts.dm.totals import TotalsError, merge_totals, shift_totals


def doc(kind: str, body: dict[str, Any], sum_kop: int, n: int = 1) -> DmDoc:
    return DmDoc(n, "kasa", 1, kind, 1, n, f"FN{n}", 1_767_261_600_000 + n, sum_kop, False, "", body)


def receipt_doc(kind: str, rows: list[Row], pays: list[Pay], n: int = 1, round_kop: int = 0, disc: int = 0) -> DmDoc:
    total = sum(r.cost - r.disc for r in rows) - disc + round_kop
    rec = DmReceipt(total, tuple(rows), tuple(pays), round=round_kop, disc=disc)
    return doc(kind, {"receipt": rec.to_json()}, total, n)


def test_the_published_tax_example_is_reproduced() -> None:
    # the Vchasno answer example: group 3 (VAT 20 % + excise 5 %) 99.99 → base without excise 95.23, VAT 15.87,
    # excise 4.76; group 4 (VAT 7 %) 100.00 → VAT 6.54; taxex 27.17
    d = receipt_doc("sale", [Row("Цигарки", 1000, 9999, 9999, "3"), Row("Ліки", 1000, 10000, 10000, "4")],
                    [Pay(0, 15000), Pay(2, 4999)])
    t = shift_totals([d])
    g3, g4 = t["taxes"]
    assert (g3["gr_code"], g3["base_sum_p"], g3["base_tax_sum_p"], g3["base_ex_sum_p"], g3["tax_sum_p"],
            g3["ex_sum_p"], g3["tax_percent"], g3["ex_percent"]) == (3, 99.99, 95.23, 99.99, 15.87, 4.76, 20, 5)
    assert (g4["gr_code"], g4["base_sum_p"], g4["base_tax_sum_p"], g4["base_ex_sum_p"], g4["tax_sum_p"],
            g4["ex_sum_p"], g4["ex_name"]) == (4, 100.0, 100.0, 0.0, 6.54, 0.0, "")
    assert t["summary"]["base_p"] == 199.99 and t["summary"]["taxex_p"] == 27.17
    assert [(p["type"], p["name"], p["sum_p"]) for p in t["pays"]] == [(0, "Готівка", 150.0), (2, "Картка", 49.99)]


def test_every_section_of_the_answer_shape() -> None:
    docs = [receipt_doc("sale", [Row("A", 2000, 1000, 2000, "1", disc=100)], [Pay(0, 1900, change=100)], 1),
            receipt_doc("return", [Row("A", 1000, 1000, 1000, "1")], [Pay(0, 1000)], 2),
            receipt_doc("sale", [Row("B", 1000, 1001, 1001, "2")], [Pay(0, 1000)], 3, round_kop=-1),
            doc("cash_in", {"cash": CashOp(50000).to_json()}, 50000, 4),
            doc("cash_out", {"cash": CashOp(10050).to_json()}, 10050, 5),
            doc("cash_issue", {"receipt": DmReceipt(10000, (), (Pay(2, 10000, commission=100),)).to_json()}, 10000, 6)]
    t = shift_totals(docs, safe_start_kop=100)
    assert t["receipt"] == {"count_p": 2, "count_m": 1, "count_14": 1, "count_transfer": 0,
                            "last_docno_p": 3, "last_docno_m": 2}
    assert t["summary"] == {"base_p": 29.01, "base_m": 10.0, "taxex_p": 3.17, "taxex_m": 1.67, "disc_p": 1.0,
                            "disc_m": 0.0, "calc_p": 29.0, "calc_m": 10.0}
    cash = next(p for p in t["pays"] if p["type"] == 0)
    assert (cash["sum_p"], cash["sum_m"], cash["round_pd"], cash["round_pu"]) == (29.0, 10.0, 0.01, 0.0)
    assert t["money"] == [{"type": 0, "name": "Готівка", "sum_p": 500.0, "sum_m": 100.5, "round_pu": 0.0,
                           "round_pd": 0.0, "round_mu": 0.0, "round_md": 0.0}]
    assert [(c["type"], c["sum_p"], c["sum_m"]) for c in t["cash"]] == [(2, 0.0, 100.0)]
    # the till: 1.00 at the start + 29.00 sold − 10.00 returned + 500.00 in − 100.50 out (the issue was by card)
    assert t["safe"] == 419.5


def test_a_receipt_discount_is_shared_among_the_groups() -> None:
    d = receipt_doc("sale", [Row("A", 1000, 10000, 10000, "1"), Row("B", 1000, 5000, 5000, "2")], [Pay(0, 14900)],
                    disc=100)
    t = shift_totals([d])
    assert [g["base_sum_p"] for g in t["taxes"]] == [99.33, 49.67]
    assert t["summary"]["base_p"] == 149.0 and t["summary"]["disc_p"] == 1.0


def test_groups_are_ordered_by_code_and_unknown_groups_kept() -> None:
    d = receipt_doc("sale", [Row("A", 1000, 100, 100, "10"), Row("B", 1000, 100, 100, "9")], [Pay(0, 200)])
    t = shift_totals([d])
    assert [g["gr_code"] for g in t["taxes"]] == [9, 10] and t["taxes"][1]["tax_sum_p"] == 0.0


def test_no_documents_is_all_zero() -> None:
    t = shift_totals([])
    assert t["receipt"]["count_p"] == 0 and t["taxes"] == t["pays"] == t["money"] == t["cash"] == []
    assert merge_totals([t]) == t


@pytest.mark.parametrize("bad", [None, {}, {"receipt": []}, "totals",
                                 {**shift_totals([]), "summary": {"base_p": "1"}},
                                 {**shift_totals([]), "receipt": {"count_p": 1.5}},
                                 {**shift_totals([]), "pays": [{"sum_p": 1}]}])
def test_damaged_totals_are_a_totals_error(bad: Any) -> None:
    with pytest.raises(TotalsError):
        merge_totals([shift_totals([]), bad])


rows = st.builds(lambda grp, kop, cnt: Row("X", cnt, kop, kop * cnt // 1000, grp),
                 st.sampled_from(["1", "2", "3", "4", "5", "6", "7", "8", "9"]),
                 st.integers(1, 10**6), st.integers(1, 5000))
receipts = st.builds(lambda kind, rs, t: (kind, rs, t), st.sampled_from(["sale", "return"]),
                     st.lists(rows, min_size=1, max_size=4), st.sampled_from([0, 1, 2]))


@settings(max_examples=60, deadline=None)
@given(st.lists(receipts, min_size=1, max_size=8), st.integers(0, 8))
def test_merging_per_shift_totals_equals_totalling_them_all(items: list[Any], cut: int) -> None:
    docs = []
    for i, (kind, rs, pay_type) in enumerate(items, 1):
        total = sum(r.cost for r in rs)
        docs.append(receipt_doc(kind, rs, [Pay(pay_type, total)], i))
    whole = shift_totals(docs)
    cut = min(cut, len(docs))
    first = shift_totals(docs[:cut])
    second = shift_totals(docs[cut:], safe_start_kop=round(first["safe"] * 100))
    merged = merge_totals([first, second])
    for key in ("receipt", "summary", "taxes", "pays", "safe"):
        assert merged[key] == whole[key], key
