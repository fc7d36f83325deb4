"""The receipt object's rules (reference §3.3, §3.4): each validation at its boundary, their order, the
variants real clients send, the allowed characters and line breaks, the tax lines per group."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest

from emulator.fronts.dm.config import default_config
from emulator.fronts.dm.errors import FATAL, REPEAT, DmError, text
from emulator.fronts.dm.receipt import (
    CashOp,
    DmReceipt,
    codes_sold,
    parse_cash,
    parse_receipt,
    sanitize,
    sanitize_receipt,
    tax_lines,
    validate,
)
from emulator.fronts.dm.store import DmDoc

CFG = default_config()


def sale(**changes: Any) -> dict[str, Any]:
    """A valid sale: 2 × 50.00 (group 1, code 100) + 1 × 20.00 − 1.00 (group 2), paid 60 cash + 59 card."""
    r: dict[str, Any] = {
        "sum": 119, "round": 0, "disc": 0, "comment_down": "Дякуємо \\nза покупку.",
        "rows": [{"code": "100", "name": "Товар", "cnt": 2, "price": 50, "cost": 100, "taxgrp": 1},
                 {"code": "200", "name": "Хліб", "cnt": 1, "price": 20, "cost": 20, "disc": 1, "taxgrp": 2}],
        "pays": [{"type": 0, "sum": 60, "change": 0}, {"type": 2, "sum": 59}]}
    r.update(changes)
    return r


def check(raw: dict[str, Any], task: int = 1, *, config: Any = CFG, sold: dict[str, str] | None = None,
          cash: int | None = None) -> DmReceipt:
    rec = parse_receipt({"task": task, "receipt": raw})
    validate(rec, task, config, sold_codes=sold or {}, cash_kop=cash)
    return rec


def refused(raw: dict[str, Any], task: int = 1, **kw: Any) -> DmError:
    with pytest.raises(DmError) as e:
        check(raw, task, **kw)
    return e.value


def assert_refused(raw: dict[str, Any], code: int, *values: object, task: int = 1, **kw: Any) -> DmError:
    err = refused(raw, task, **kw)
    assert (err.res, err.errortxt) == (code, text(code, *values, group="prro"))
    return err


def with_row(i: int, **changes: Any) -> dict[str, Any]:
    r = sale()
    r["rows"][i].update(changes)
    return r


def with_pay(i: int, **changes: Any) -> dict[str, Any]:
    r = sale()
    r["pays"][i].update(changes)
    return r


# --- a valid receipt and the zero receipt ------------------------------------------------------------------

def test_a_valid_sale_passes_and_reads_in_kopecks() -> None:
    rec = check(sale())
    assert rec.sum == 11900 and rec.rows[0].cnt_milli == 2000 and rec.rows[1].disc == 100
    assert [p.sum for p in rec.pays] == [6000, 5900]


@pytest.mark.parametrize("raw", [{"sum": 0}, {"sum": 0, "rows": [], "pays": []}, {"rows": None, "pays": None}, {}])
@pytest.mark.parametrize("task", [1, 2])
def test_the_zero_receipt_passes(raw: dict[str, Any], task: int) -> None:
    rec = check(raw, task)
    assert rec.is_zero


def test_a_missing_receipt_object_is_the_zero_receipt() -> None:
    rec = parse_receipt({"task": 1})
    validate(rec, 1, CFG, sold_codes={}, cash_kop=0)
    assert rec.is_zero


# --- the variants real clients send ------------------------------------------------------------------------

def test_numbers_as_strings_and_comma_decimals_read_the_same() -> None:
    variant = sale(sum="119,00", rows=[
        {"code": 100, "name": "Товар", "cnt": "2,000", "price": "50,00", "cost": "100", "taxgrp": "1"},
        {"code": "200", "name": "Хліб", "cnt": "1", "price": "20.00", "cost": 20.0, "disc": "1,00", "taxgrp": " 2 "}],
        pays=[{"type": "0", "sum": "60,00", "change": "0"}, {"type": 2.0, "sum": "59"}])
    assert check(variant) == check(sale())


@pytest.mark.parametrize("grp", [2, "2", " 2", 2.0, "2.0", ["2"]])
def test_taxgrp_variants(grp: object) -> None:
    assert check(with_row(1, taxgrp=grp)).rows[1].taxgrp == "2"


def test_taxgrps_stands_for_taxgrp() -> None:
    r = sale()
    del r["rows"][1]["taxgrp"]
    r["rows"][1]["taxgrps"] = "2"
    assert check(r) == check(sale())
    r["rows"][1]["taxgrp"] = None                       # a null taxgrp beside taxgrps: taxgrps counts
    assert check(r) == check(sale())


def test_two_tax_groups_in_taxgrps_are_2000() -> None:
    with pytest.raises(DmError) as e:
        parse_receipt({"receipt": with_row(1, taxgrp=["1", "2"])})
    assert (e.value.res, e.value.action) == (2000, FATAL)


def test_a_missing_price_is_cost_over_cnt() -> None:
    r = sale()
    del r["rows"][0]["price"]
    r["rows"][1].pop("price")
    rec = check(r)
    assert rec.rows[0].price == 5000 and rec.rows[1].price == 2000
    one_third = parse_receipt({"receipt": {"rows": [{"cnt": 3, "cost": 1, "taxgrp": 1}]}}).rows[0]
    assert one_third.price == 33                        # 0.333… rounded to the kopeck; 0.99 is within 1107


def test_a_missing_cost_is_price_times_cnt_rounded_half_up() -> None:
    r = sale()
    del r["rows"][0]["cost"]
    assert check(r).rows[0].cost == 10000
    row = parse_receipt({"receipt": {"rows": [{"cnt": 0.005, "price": 1, "taxgrp": 1}]}}).rows[0]
    assert row.cost == 1                                # 0.5 kopeck rounds up


@pytest.mark.parametrize("empty", ["", " ", None])
def test_an_empty_string_or_null_number_is_omitted(empty: object) -> None:
    r = with_row(0, disc=empty, price=empty)
    r["pays"][0]["change"] = empty
    assert check(r) == check(sale())


def test_missing_pays_with_goods_is_1102_and_missing_rows_with_a_sum_is_1097() -> None:
    r = sale()
    del r["pays"]
    assert_refused(r, 1102)
    r = sale()
    del r["rows"]
    assert_refused(r, 1097)


@pytest.mark.parametrize("bad", [{"sum": "12 UAH"}, {"sum": True}, {"rows": {}}, {"rows": [5]}, {"pays": "cash"},
                                 {"rows": [{"cnt": "NaN", "price": 1, "taxgrp": 1}]}, {"sum": "1e400"},
                                 {"rows": [{"name": ["x"], "price": 1, "taxgrp": 1}]}])
def test_wrong_types_are_2000(bad: dict[str, Any]) -> None:
    with pytest.raises(DmError) as e:
        parse_receipt({"receipt": bad})
    assert (e.value.res, e.value.action) == (2000, FATAL)


# --- each rule at its boundary -----------------------------------------------------------------------------

def test_1064_a_negative_amount_in_a_sale_or_return() -> None:
    for raw in (sale(sum=-1), sale(disc=-0.01), sale(disc=119.01, pays=[{"type": 0, "sum": 0.99}], round=0.8), with_row(0, cnt=-2, cost=-100), with_row(0, price=-50),
                with_row(1, disc=-1), with_pay(1, sum=-59), with_pay(0, commission=-1)):
        for task in (1, 2):
            err = assert_refused(raw, 1064, task=task)
            assert err.action == FATAL


def test_1063_a_negative_sum_in_a_cash_in_out_or_a_cash_issue() -> None:
    for task in (3, 4):
        with pytest.raises(DmError) as e:
            validate(parse_cash({"cash": {"sum": "-0,01"}}), task, CFG, sold_codes={}, cash_kop=None)
        assert (e.value.res, e.value.errortxt) == (1063, text(1063))
        validate(parse_cash({"cash": {"sum": 0}}), task, CFG, sold_codes={}, cash_kop=0)
    assert_refused(issue(sum=-5), 1063, task=14)


def test_1065_a_negative_change_names_the_pay_by_its_0_based_index() -> None:
    assert_refused(with_pay(1, change=-0.01), 1065, 1)
    assert_refused(with_pay(0, change=-1), 1065, 0)
    check(with_pay(1, change=0))
    check(with_pay(0, change=40))                       # change handed back beyond the pay's sum


def issue(**changes: Any) -> dict[str, Any]:
    """Task 14: 500.00 cash issued, paid by card, a 5.00 commission."""
    r: dict[str, Any] = {"sum": 500, "pays": [{"type": 2, "sum": 500, "commission": 5}]}
    r.update(changes)
    return r


def test_task_14_rules_1120_and_1119() -> None:
    check(issue(), 14)
    check(issue(pays=[{"type": 2, "sum": 500, "commission": 0}]), 14)
    assert_refused(issue(pays=[{"type": 2, "sum": 500, "commission": -0.01}]), 1120, task=14)
    for t in (0, 1, 3):
        assert_refused(issue(pays=[{"type": t, "sum": 500}]), 1119, task=14)
    assert_refused(issue(pays=[{"type": 2, "sum": 400}, {"type": 0, "sum": 100}]), 1119, task=14)


def test_task_14_with_goods_checks_them() -> None:
    r = issue(rows=[{"name": "Видача готівки", "cnt": 1, "price": 500, "taxgrp": 2}])
    check(r, 14)
    r["sum"] = 501
    r["pays"][0]["sum"] = 501
    assert_refused(r, 1101, task=14)


def test_1110_a_tax_group_or_pay_type_not_in_the_settings() -> None:
    assert_refused(with_row(1, taxgrp=10), 1110, "10")
    assert_refused(with_row(1, taxgrp=""), 1110, "")
    assert_refused(with_pay(1, type=7), 1110, 7)
    narrow = default_config(tax_groups={"1": CFG.tax_groups["1"]}, pay_types={0: "Готівка"})
    assert_refused(sale(), 1110, "2", config=narrow)
    only_groups = default_config(pay_types={0: "Готівка"})
    assert_refused(sale(), 1110, 2, config=only_groups)


def test_1112_round_within_minus_0_99_and_0_99_and_1115_without_rounding() -> None:
    rounding = default_config(rounding=True)
    for rnd, pay0 in ((0.99, 60.99), (-0.99, 59.01)):
        check(with_pay(0, sum=pay0) | {"round": rnd}, config=rounding)
        assert_refused(with_pay(0, sum=pay0) | {"round": rnd}, 1115)
    for rnd in (1, -1, "1,00", 0.995):
        assert_refused(sale(round=rnd), 1112, config=rounding)
        assert_refused(sale(round=rnd), 1112)          # 1112 comes before 1115


def test_1097_a_sum_to_pay_without_goods() -> None:
    rounding = default_config(rounding=True)
    for raw in ({"sum": 1}, {"sum": 0, "pays": [{"type": 0, "sum": 1}]}, {"sum": 0.01, "rows": []},
                {"sum": 1, "disc": 1}, {"sum": 0, "round": 0.5}, {"sum": 0, "round": 0.5, "pays": [{"type": 0, "sum": 0.5}]}):
        for task in (1, 2):
            assert_refused(raw, 1097, task=task, config=rounding)


def test_1107_price_times_cnt_at_most_1_kopeck_from_cost() -> None:
    check(with_row(0, cost=100.01, disc=0.01) | {"sum": 119.0})
    check(with_row(0, cost=99.99) | {"sum": 118.99, "pays": [{"type": 0, "sum": 118.99}]})
    assert_refused(with_row(0, cost=100.02), 1107)
    assert_refused(with_row(0, cost=99.98), 1107)


@pytest.mark.parametrize("row", [{"price": 0, "cost": 0}, {"cnt": 0}, {"cnt": 0.0004, "price": 1, "cost": 0},
                                 {"price": None, "cost": None}])
def test_1107_when_price_times_cnt_is_zero(row: dict[str, Any]) -> None:
    r = with_row(0, **row)
    for k in [k for k, x in row.items() if x is None]:
        del r["rows"][0][k]
    assert_refused(r, 1107)


def test_1108_at_least_1_kopeck_left_after_the_row_discount() -> None:
    r = with_row(1, disc=19.99)
    r["sum"] = 100.01
    r["pays"] = [{"type": 0, "sum": 100.01}]
    check(r)
    r["rows"][1]["disc"] = 20
    assert_refused(r, 1108)
    r["rows"][1]["disc"] = 21
    assert_refused(r, 1108)


def test_1111_a_code_sold_earlier_in_the_shift_under_another_group() -> None:
    check(sale(), sold={"100": "1", "200": "2", "300": "9"})
    assert_refused(sale(), 1111, "100", "4", "Г", sold={"100": "4"})
    assert_refused(sale(), 1111, "200", "1", "А", sold={"200": "1"})
    assert_refused(sale(), 1111, "100", "77", "", sold={"100": "77"})    # a group since removed: no letter


def test_1111_a_code_twice_in_one_receipt_under_two_groups() -> None:
    r = with_row(1, code="100")
    assert_refused(r, 1111, "100", "1", "А")
    check(with_row(1, code="100", taxgrp=1))
    check(with_row(1, code=""))                         # no code, nothing to compare


def test_1109_a_pay_with_a_zero_sum_names_its_type() -> None:
    r = sale()
    r["pays"].append({"type": 1, "sum": "0,00"})
    assert_refused(r, 1109, 1)
    r["pays"][2]["sum"] = 0.004                          # rounds to 0 kopecks
    assert_refused(r, 1109, 1)


def test_1101_sum_against_the_rows_after_their_discounts() -> None:
    assert_refused(sale(sum=119.01), 1101)
    assert_refused(sale(sum=118.99), 1101)
    assert_refused(sale(sum=120), 1101)                 # the row discount ignored


def test_1102_the_pays_against_sum_less_the_receipt_discount_plus_round() -> None:
    assert_refused(with_pay(1, sum=59.01), 1102)
    assert_refused(with_pay(1, sum=58.99), 1102)
    check(sale(disc=9) | {"pays": [{"type": 0, "sum": 110}]})
    assert_refused(sale(disc=9), 1102)
    rounding = default_config(rounding=True)
    check(with_pay(0, sum=59.97) | {"round": -0.03}, config=rounding)
    assert_refused(with_pay(0, sum=60) | {"round": -0.03}, 1102, config=rounding)


def test_1077_cash_in_the_till_for_a_return_a_cash_out_and_a_cash_issue() -> None:
    check(sale(), 2, cash=6000)                         # the cash pay is 60.00; the card pay is not cash
    err = assert_refused(sale(), 1077, task=2, cash=5999)
    assert err.action == REPEAT                         # a cash-in makes the same request pass
    check(sale(), 1, cash=0)                            # a sale brings cash in
    check(issue(), 14, cash=50000)
    assert_refused(issue(), 1077, task=14, cash=49999)
    out = CashOp(sum=1000)
    validate(out, 4, CFG, sold_codes={}, cash_kop=1000)
    validate(CashOp(sum=10**9), 3, CFG, sold_codes={}, cash_kop=0)
    with pytest.raises(DmError) as e:
        validate(out, 4, CFG, sold_codes={}, cash_kop=999)
    assert (e.value.res, e.value.action) == (1077, REPEAT)
    check(sale(), 2, cash=None)                          # not known: not checked


# --- the order of the rules --------------------------------------------------------------------------------

ORDER = [
    (1064, {"sum": -1}),
    (1065, {"pays": [{"type": 9, "sum": 0, "change": -1}]}),
    (1110, {"rows": [{"code": "100", "name": "x", "cnt": 0, "price": 0, "taxgrp": 42}]}),
    (1112, {"round": 5}),
    (1115, {"round": 0.5}),
    (1097, {"rows": []}),
    (1107, {"rows": [{"code": "100", "name": "x", "cnt": 1, "price": 1, "cost": 5, "disc": 9, "taxgrp": 1}]}),
    (1108, {"rows": [{"code": "100", "name": "x", "cnt": 1, "price": 1, "cost": 1, "disc": 1, "taxgrp": 1}]}),
    (1111, {"rows": [{"code": "999", "name": "x", "cnt": 1, "price": 1, "cost": 1, "taxgrp": 1}]}),
    (1109, {"pays": [{"type": 0, "sum": 0}]}),
    (1101, {"sum": 7}),
    (1102, {"pays": [{"type": 0, "sum": 5}]}),
    (1077, {}),
]


def test_the_rules_apply_in_the_documented_order() -> None:
    """Each step of ``ORDER`` adds its breach on top of the later ones; the earliest breach wins."""
    for i, (code, _) in enumerate(ORDER):
        raw = sale(sum=119, pays=[{"type": 0, "sum": 119}])
        for _, breach in reversed(ORDER[i:]):
            raw.update(copy.deepcopy(breach))
        assert refused(raw, 2, sold={"999": "2"}, cash=0).res == code, (code, json.dumps(raw, ensure_ascii=False))


# --- the allowed characters and line breaks ----------------------------------------------------------------

def test_the_allowed_characters_stay() -> None:
    allowed = ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ "
               "абвгдеёжзийклмнопрстуфхцчшщъыьэюя ІіЇїҐґЄє 0123456789 "
               "!.,\"№;:?*()<>|/@#$%^-_+=~''&{}[]®©«»°±‘’“”–•—™„‰‹›`")
    assert sanitize(allowed) == allowed


@pytest.mark.parametrize(("raw", "out"), [
    ("Кава\t☕", "Кава??"), ("Об\u02bcєкт", "Об?єкт"), ("€5 £", "?5 ?"), ("ß ü ñ", "? ? ?"), ("\x00\x1b", "??"),
    ("😀", "?"), ("a\u0301", "a?"), ("Łódź", "??d?"), ("\u00a0", "?"), ("\r", "?"),
])
def test_other_characters_become_one_question_mark_each(raw: str, out: str) -> None:
    assert sanitize(raw) == out


def test_line_breaks() -> None:
    footer = json.loads('"Дякуємо \\\\nза покупку. \\\\nГарного дня!"')   # the page's example as JSON text
    assert footer == "Дякуємо \\nза покупку. \\nГарного дня!"
    assert sanitize(footer) == "Дякуємо \nза покупку. \nГарного дня!"
    assert sanitize("a\nb\r\nc") == "a\nb\nc"           # a line break already decoded stays one
    name = json.loads('"Продукт \\"№1\\" 1\\\\250 грамів"')            # the page's escaping example
    assert sanitize(name) == 'Продукт "№1" 1\\250 грамів'


def test_sanitize_receipt_covers_names_and_comments() -> None:
    raw = sale(comment_up="Шапка\t", comment_down="Дякуємо \\nза покупку.😀")
    raw["rows"][0].update(name="Кава☕", comment="Смачна\\nкава")
    raw["pays"][0]["comment"] = "готівка€"
    rec = sanitize_receipt(check(raw))
    assert (rec.comment_up, rec.comment_down) == ("Шапка?", "Дякуємо \nза покупку.?")
    assert (rec.rows[0].name, rec.rows[0].comment, rec.rows[1].name) == ("Кава?", "Смачна\nкава", "Хліб")
    assert rec.pays[0].comment == "готівка?"


# --- the tax lines -----------------------------------------------------------------------------------------

def test_tax_lines_per_group_with_vat_included() -> None:
    lines = tax_lines(check(sale()), CFG)
    assert lines == [
        {"code": "1", "letter": "А", "name": "ПДВ 20%", "vat_bp": 2000, "excise_bp": 0,
         "turnover": 10000, "base": 8333, "vat": 1667, "excise": 0},
        {"code": "2", "letter": "Б", "name": "Без ПДВ", "vat_bp": 0, "excise_bp": 0,
         "turnover": 1900, "base": 1900, "vat": 0, "excise": 0}]


def test_tax_lines_excise_then_vat_rounded_per_group_not_per_row() -> None:
    rows = [{"name": "Пиво", "cnt": 1, "price": 0.35, "taxgrp": 3}] * 3 + [{"name": "Цукерки", "cnt": 1, "price": 10,
                                                                            "taxgrp": "4"}]
    rec = check({"sum": 11.05, "rows": rows, "pays": [{"type": 0, "sum": 11.05}]})
    beer, sweets = tax_lines(rec, CFG)
    # 1.05 with excise 5 % inside: 0.05; VAT 20 % inside the remaining 1.00: 0.1667 → 0.17 (three rows one by one
    # would give 3 × 0.02 excise and 3 × 0.06 VAT)
    assert (beer["code"], beer["turnover"], beer["excise"], beer["vat"], beer["base"]) == ("3", 105, 5, 17, 83)
    assert (sweets["turnover"], sweets["vat"], sweets["base"], sweets["letter"]) == (1000, 65, 935, "Г")


def test_tax_lines_share_the_receipt_discount_and_add_up() -> None:
    rec = check(sale(disc=0.10) | {"pays": [{"type": 0, "sum": 118.90}]})
    lines = tax_lines(rec, CFG)
    assert [ln["turnover"] for ln in lines] == [10000 - 8, 1900 - 2]           # 10 kopecks by 100 : 19
    assert sum(ln["turnover"] for ln in lines) == rec.sum - rec.disc
    assert all(ln["base"] + ln["vat"] + ln["excise"] == ln["turnover"] for ln in lines)


def test_tax_lines_of_the_zero_receipt_and_an_unknown_group() -> None:
    assert tax_lines(check({}), CFG) == []
    with pytest.raises(DmError) as e:
        tax_lines(parse_receipt({"receipt": with_row(0, taxgrp="X")}), CFG)
    assert (e.value.res, e.value.errortxt) == (1110, text(1110, "X"))


def test_codes_sold_reads_the_shifts_sales_and_returns() -> None:
    body = {"receipt": check(sale()).to_json()}
    docs = [DmDoc(1, "kasa", 1, "sale", 1, 1, "F1", 0, 11900, False, "", body),
            DmDoc(2, "kasa", 3, "cash_in", 1, None, "F2", 0, 100, False, "", {"cash": {"sum": 100}}),
            DmDoc(3, "kasa", 2, "return", 1, 2, "F3", 0, 2000, False, "",
                  {"receipt": check(with_row(1, code="300", taxgrp=5)).to_json()})]
    assert codes_sold(docs) == {"100": "1", "200": "2", "300": "5"}
    assert DmReceipt.from_json(body["receipt"]) == check(sale())


def test_the_largest_receipt_is_checked_in_bounded_time() -> None:
    """1000 rows (the most a receipt may have), every name and comment at its longest and all of it to
    replace, 50 pays, 1.5 × 0.67 = 1.005 rounding up to 1.01 in each row: read, sanitized, checked and taxed within 2 s of CPU."""
    rows = [{"code": f"{i}", "name": "☕\\n" * 333, "comment": "€" * 2000, "cnt": "1,5", "price": "0,67",
             "taxgrp": str(1 + i % 9)} for i in range(1000)]
    pays = [{"type": 0, "sum": 20, "comment": "😀" * 200}] * 49 + [{"type": 2, "sum": 30}]
    raw = {"sum": 1010, "rows": rows, "pays": pays, "comment_up": "\t" * 5000, "comment_down": "\\n" * 2500}
    start = time.process_time()
    rec = sanitize_receipt(parse_receipt({"receipt": raw}))
    validate(rec, 2, CFG, sold_codes={str(i): str(1 + i % 9) for i in range(5000)}, cash_kop=10**9)
    lines = tax_lines(rec, CFG)
    assert time.process_time() - start < 2.0
    assert len(lines) == 9 and sum(ln["turnover"] for ln in lines) == 101000
    assert rec.rows[0].name == "?\n" * 333 and rec.comment_down == "\n" * 2500
    with pytest.raises(DmError) as e:
        parse_receipt({"receipt": dict(raw, rows=rows + rows[:1])})
    assert e.value.res == 2000                          # 1001 rows
