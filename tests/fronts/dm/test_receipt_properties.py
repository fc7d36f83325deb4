"""Properties of the receipt rules over generated receipts: a valid receipt in any of the forms clients
write passes and its tax lines add up; one breach on top of it is refused with that rule's code; any JSON
where a receipt goes gives a ``DmError`` or passes, nothing else; ``sanitize`` keeps only allowed
characters."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from emulator.fronts.dm.errors import DmError, text
from emulator.fronts.dm.receipt import _ALLOWED, parse_receipt, sanitize, tax_lines, validate
from tests.fronts.dm.receipt_strategies import CFG, CODE_GROUP, ROUNDING, mangled_receipt, valid_receipt

PROPS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run(raw: Any, task: int = 1, config: Any = ROUNDING, sold: dict[str, str] | None = None,
        cash: int | None = None) -> None:
    rec = parse_receipt({"task": task, "receipt": raw})
    validate(rec, task, config, sold_codes=sold or {}, cash_kop=cash)


@PROPS
@given(valid_receipt(rounding=True), st.sampled_from([1, 2]))
def test_valid_receipts_pass_and_their_tax_lines_add_up(raw: dict[str, Any], task: int) -> None:
    rec = parse_receipt({"receipt": raw})
    validate(rec, task, ROUNDING, sold_codes=CODE_GROUP, cash_kop=None)
    lines = tax_lines(rec, ROUNDING)
    assert sum(ln["turnover"] for ln in lines) == rec.sum - rec.disc
    assert [ln["code"] for ln in lines] == [c for c in ROUNDING.tax_groups if any(r.taxgrp == c for r in rec.rows)]
    for ln in lines:
        assert ln["base"] + ln["vat"] + ln["excise"] == ln["turnover"]
        assert min(ln["base"], ln["vat"], ln["excise"]) >= 0
        g = ROUNDING.tax_groups[ln["code"]]
        assert abs(ln["excise"] * (10_000 + g.excise_bp) - ln["turnover"] * g.excise_bp) <= (10_000 + g.excise_bp) // 2
        assert ln["vat"] == 0 if not g.vat else abs(ln["vat"] * (10_000 + g.vat_bp) - (ln["turnover"] - ln["excise"])
                                                    * g.vat_bp) <= (10_000 + g.vat_bp) // 2


@PROPS
@given(valid_receipt(rounding=False))
def test_valid_receipts_without_round_pass_under_the_default_settings(raw: dict[str, Any]) -> None:
    run(raw, config=CFG)


def refused(raw: Any, task: int = 1, **kw: Any) -> int:
    try:
        run(raw, task, **kw)
    except DmError as e:
        return e.res
    return 0


def kop(x: Any) -> int:
    return parse_receipt({"receipt": {"sum": x}}).sum


@PROPS
@given(valid_receipt(), st.integers(1, 10**6), st.booleans())
def test_a_sum_off_by_any_kopeck_is_1101(raw: dict[str, Any], delta: int, up: bool) -> None:
    assume(raw.get("rows"))
    s = kop(raw["sum"]) + (delta if up else -delta)
    assume(s >= 0)
    raw["sum"] = s / 100
    assert refused(raw) == 1101


@PROPS
@given(valid_receipt(), st.integers(1, 10**6), st.booleans(), st.data())
def test_a_pay_off_by_any_kopeck_is_1102(raw: dict[str, Any], delta: int, up: bool, data: st.DataObject) -> None:
    assume(raw.get("rows"))
    pay = data.draw(st.sampled_from(raw["pays"]))
    s = kop(pay["sum"]) + (delta if up else -delta)
    assume(s > 0)
    pay["sum"] = f"{s // 100},{s % 100:02d}"
    assert refused(raw) == 1102


@PROPS
@given(valid_receipt(), st.data())
def test_a_row_cost_2_kopecks_off_is_1107_and_a_full_discount_1108(raw: dict[str, Any], data: st.DataObject) -> None:
    assume(raw.get("rows"))
    i = data.draw(st.integers(0, len(raw["rows"]) - 1))
    rec = parse_receipt({"receipt": raw})
    r, row = raw["rows"][i], rec.rows[i]
    exact = (row.price * row.cnt_milli * 2 + 1000) // 2000
    broken = dict(r, price=row.price / 100, cost=(exact + data.draw(st.sampled_from([2, -2, 1000]))) / 100)
    assume(broken["cost"] >= 0.02)
    raw["rows"][i] = dict(broken, disc=0)
    assert refused(raw) == 1107
    raw["rows"][i] = dict(r, price=row.price / 100, cost=row.cost / 100,
                          disc=(row.cost + data.draw(st.sampled_from([0, 0, 1, 500]))) / 100)
    assert refused(raw) == 1108


@PROPS
@given(valid_receipt(rounding=True), st.integers(100, 10**5), st.sampled_from([1, -1]))
def test_a_round_past_0_99_is_1112(raw: dict[str, Any], rnd: int, sign: int) -> None:
    assume(raw.get("rows"))
    raw["round"] = sign * rnd / 100
    assert refused(raw) == 1112


@PROPS
@given(valid_receipt(), st.integers(0, 10**7))
def test_a_return_needs_its_cash_in_the_till(raw: dict[str, Any], till: int) -> None:
    rec = parse_receipt({"receipt": raw})
    need = sum(p.sum for p in rec.pays if p.type == 0)
    assert refused(raw, 2, cash=need) == 0
    assert refused(raw, 2, cash=till) == (1077 if till < need else 0)


@PROPS
@given(valid_receipt(), st.data())
def test_a_code_sold_under_another_group_is_1111(raw: dict[str, Any], data: st.DataObject) -> None:
    codes = [r["code"].strip() for r in raw.get("rows") or () if r.get("code", "").strip()]
    assume(codes)
    code = data.draw(st.sampled_from(codes))
    other = data.draw(st.sampled_from([g for g in CFG.tax_groups if g != CODE_GROUP[code]]))
    assert refused(raw, sold={code: other}) == 1111


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mangled_receipt(), st.sampled_from([1, 2, 14]), st.one_of(st.none(), st.integers(-10, 10**9)))
def test_anything_gives_a_dm_error_or_passes(raw: Any, task: int, cash: int | None) -> None:
    try:
        rec = parse_receipt({"receipt": raw})
        validate(rec, task, ROUNDING, sold_codes={"000": "1"}, cash_kop=cash)
        tax_lines(rec, ROUNDING)
    except DmError as e:
        assert e.res in (2000, 1063, 1064, 1065, 1077, 1097, 1101, 1102, 1107, 1108, 1109, 1110, 1111, 1112, 1119,
                         1120)
        assert e.errortxt


@PROPS
@given(st.text(max_size=200))
def test_sanitize_keeps_only_allowed_characters_and_line_breaks(s: str) -> None:
    out = sanitize(s)
    assert set(out) <= _ALLOWED | {"\n"}
    assert len(out) <= len(s) and sanitize(out) == out
    assert out.count("\n") == s.replace("\r\n", "\n").count("\n") + s.replace("\r\n", "\n").count("\\n")


@PROPS
@given(st.text(alphabet=sorted(_ALLOWED - {"\\"}), max_size=200))
def test_sanitize_leaves_allowed_text_alone(s: str) -> None:
    assert sanitize(s) == s


@PROPS
@given(valid_receipt(), st.data())
def test_a_pay_breach_names_the_pay(raw: dict[str, Any], data: st.DataObject) -> None:
    assume(raw.get("pays"))
    i = data.draw(st.integers(0, len(raw["pays"]) - 1))
    breach = data.draw(st.sampled_from(["change", "zero", "type", "group"]))
    if breach == "change":
        raw["pays"][i]["change"] = -data.draw(st.integers(1, 10**6)) / 100
        want = (1065, (i,))
    elif breach == "zero":
        raw["pays"].insert(i, {"type": 1, "sum": "0,00"})
        want = (1109, (1,))
    elif breach == "type":
        raw["pays"][i]["type"] = data.draw(st.integers(7, 10**6))
        want = (1110, (raw["pays"][i]["type"],))
    else:
        raw["rows"][0].pop("taxgrps", None)
        raw["rows"][0]["taxgrp"] = data.draw(st.sampled_from(["0", "10", "А", "1a", "99"]))
        want = (1110, (raw["rows"][0]["taxgrp"],))
    with pytest.raises(DmError) as e:
        run(raw)
    assert (e.value.res, e.value.errortxt) == (want[0], text(want[0], *want[1], group="prro"))
