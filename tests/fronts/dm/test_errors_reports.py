"""Every error the reports and the printer produce, byte for byte against the DM's tables (``errors.text``).

``CASES[(group, res)]`` takes the world (a ПРРО ``kasa`` and a printer ``prn``) and returns the answer;
``VALUES`` gives the placeholders' values of the codes whose text has them."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from emulator.fronts.dm import errors
from emulator.world.dm import DmWorld
from tests.fronts.dm import dm_docs
from tests.fronts.dm.dm_docs import body

_names = itertools.count(1)


def _prro(w: DmWorld) -> str:
    name = f"err{next(_names)}"
    w.add_prro(name)
    return name


def x_with_the_shift_closed(w: DmWorld) -> dict[str, Any]:
    return w.dm.execute("execute", body(_prro(w), 10))


def range_without_reports(w: DmWorld) -> dict[str, Any]:
    return w.dm.execute("execute", body(_prro(w), 12, n_from=1, n_to=99))


def damaged_report(w: DmWorld) -> dict[str, Any]:
    name = _prro(w)
    s = dm_docs.open_shift(w, name)
    dm_docs.z_report(w, name, s, totals={"summary": None})
    return w.dm.execute("execute", body(name, 13, dt_from="20260101", dt_to="20260101"))


def printer_out_of_paper(w: DmWorld) -> dict[str, Any]:
    model = w.printers["prn"][0]
    model.set_fault("paper_out", True)
    try:
        return w.dm.execute("execute", body("prn", 2))
    finally:
        model.set_fault("paper_out", False)


def a_line_that_is_no_barcode(w: DmWorld) -> dict[str, Any]:
    return w.dm.execute("execute", body(_prro(w), 5, lines=[{"t": "12345", "qr_type": 1}]))


CASES: dict[tuple[str, int], Callable[..., dict]] = {
    ("prro", 1081): x_with_the_shift_closed,
    ("prro", 1059): range_without_reports,
    ("prro", 1060): damaged_report,
    ("prro", 2000): a_line_that_is_no_barcode,
    ("dm", 430): printer_out_of_paper,
}


def _printer_address(w: DmWorld) -> tuple[str, ...]:
    link = w.dm.find("prn").link  # type: ignore[union-attr]
    return (f"printer {link.host}:{link.port}: out of paper; nothing was sent",)


VALUES: dict[tuple[str, int], Callable[[DmWorld], tuple[Any, ...]]] = {("dm", 430): _printer_address}


@pytest.fixture(scope="module")
def world() -> Iterator[DmWorld]:
    with DmWorld(start_ms=1_767_261_600_000) as w:
        w.add_printer("prn")
        yield w


@pytest.mark.parametrize("key", sorted(CASES), ids=lambda k: f"{k[0]}-{k[1]}")
def test_the_error_text_is_the_tables(world: DmWorld, key: tuple[str, int]) -> None:
    group, res = key
    got = CASES[key](world)
    values = VALUES.get(key, lambda w: ())(world)
    assert got["res"] == res
    assert got["errortxt"] == errors.text(res, *values, group=group)
