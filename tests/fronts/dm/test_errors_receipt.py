"""Every error the receipt rules produce, byte for byte against the DM's table (``CASES``: ``(group, res)`` →
a function of the world giving the answer). The receipt is read and checked as a ПРРО task reads it —
``parse_receipt`` / ``parse_cash`` and ``validate`` under the world's ПРРО settings — and the refusal
goes out through the DM's answer envelope."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from emulator.fronts.dm.config import default_config
from emulator.fronts.dm.envelope import Answer, answer_json, parse_request
from emulator.fronts.dm.errors import FATAL, REPEAT, DmError, text
from emulator.fronts.dm.receipt import parse_cash, parse_receipt, validate
from emulator.world.dm import DmWorld


@pytest.fixture(scope="module")
def world() -> Iterator[DmWorld]:
    with DmWorld(start_ms=1_767_261_600_000) as w:
        w.add_prro("kasa")
        w.add_prro("round", config=default_config(rounding=True))
        yield w


def answer(world: DmWorld, task: int, receipt: dict[str, Any] | None = None, *, cash: dict[str, Any] | None = None,
           device: str = "kasa", sold: dict[str, str] | None = None, till: int | None = None) -> dict[str, Any]:
    fiscal: dict[str, Any] = {"task": task}
    if receipt is not None:
        fiscal["receipt"] = receipt
    if cash is not None:
        fiscal["cash"] = cash
    req = parse_request({"ver": 6, "source": "pos", "device": device, "tag": f"t{task}", "type": 1, "fiscal": fiscal})
    config = world.dm.find(device, "prro").config  # type: ignore[attr-defined]
    obj = parse_cash(req.fiscal) if task in (3, 4) else parse_receipt(req.fiscal)
    try:
        validate(obj, task, config, sold_codes=sold or {}, cash_kop=till)
    except DmError as err:
        return answer_json(req, Answer.error(err), world.clock.now_ms, task)
    return answer_json(req, Answer(), world.clock.now_ms, task)


def row(**kw: Any) -> dict[str, Any]:
    return {"code": "100", "name": "Товар", "cnt": 1, "price": 10, "cost": 10, "taxgrp": 1} | kw


def sale(rows: list[dict[str, Any]] | None = None, pays: list[dict[str, Any]] | None = None, **kw: Any) -> dict[str, Any]:
    return {"sum": 10, "rows": rows if rows is not None else [row()],
            "pays": pays if pays is not None else [{"type": 0, "sum": 10}]} | kw


CASES: dict[tuple[str, int], Callable[..., dict[str, Any]]] = {
    ("prro", 1063): lambda w: answer(w, 4, cash={"sum": "-1"}),
    ("prro", 1064): lambda w: answer(w, 1, sale(sum=-10)),
    ("prro", 1065): lambda w: answer(w, 1, sale(pays=[{"type": 0, "sum": 5}, {"type": 2, "sum": 5, "change": -1}])),
    ("prro", 1077): lambda w: answer(w, 2, sale(), till=999),
    ("prro", 1097): lambda w: answer(w, 1, sale(rows=[])),
    ("prro", 1101): lambda w: answer(w, 1, sale(sum=11, pays=[{"type": 0, "sum": 11}])),
    ("prro", 1102): lambda w: answer(w, 1, sale(pays=[{"type": 0, "sum": 9.99}])),
    ("prro", 1107): lambda w: answer(w, 1, sale(rows=[row(cost=10.02)], sum=10.02, pays=[{"type": 0, "sum": 10.02}])),
    ("prro", 1108): lambda w: answer(w, 1, sale(rows=[row(disc=10)], sum=0, pays=[])),
    ("prro", 1109): lambda w: answer(w, 1, sale(pays=[{"type": 0, "sum": 10}, {"type": 2, "sum": 0}])),
    ("prro", 1110): lambda w: answer(w, 1, sale(rows=[row(taxgrp=12)])),
    ("prro", 1111): lambda w: answer(w, 1, sale(), sold={"100": "4"}),
    ("prro", 1112): lambda w: answer(w, 1, sale(round=-1), device="round"),
    ("prro", 1115): lambda w: answer(w, 1, sale(round=0.5, pays=[{"type": 0, "sum": 10.5}])),
    ("prro", 1119): lambda w: answer(w, 14, {"sum": 100, "pays": [{"type": 0, "sum": 100}]}),
    ("prro", 1120): lambda w: answer(w, 14, {"sum": 100, "pays": [{"type": 2, "sum": 100, "commission": -2}]}),
}

VALUES: dict[int, tuple[object, ...]] = {1065: (1,), 1109: (2,), 1110: ("12",), 1111: ("100", "4", "Г")}


@pytest.mark.parametrize("key", sorted(CASES), ids=lambda k: f"{k[0]}-{k[1]}")
def test_each_error_byte_for_byte(world: DmWorld, key: tuple[str, int]) -> None:
    group, res = key
    got = CASES[key](world)
    assert got["res"] == res
    assert got["errortxt"] == text(res, *VALUES.get(res, ()), group=group)
    assert got["res_action"] == (REPEAT if res == 1077 else FATAL)
    assert got["task"] in (1, 2, 4, 14) and got["device"] in ("kasa", "round") and got["info"] == {}


def test_the_cases_pass_once_repaired(world: DmWorld) -> None:
    """The same requests with the one breach taken away are accepted: each case fails for its own rule."""
    assert answer(world, 4, cash={"sum": "1"}, till=100)["res"] == 0
    assert answer(world, 2, sale(), till=1000)["res"] == 0
    assert answer(world, 1, sale(round=-0.99, pays=[{"type": 0, "sum": 9.01}]), device="round")["res"] == 0
    assert answer(world, 14, {"sum": 100, "pays": [{"type": 2, "sum": 100, "commission": 2}]})["res"] == 0
    assert answer(world, 1, sale(), sold={"100": "1"})["res"] == 0
