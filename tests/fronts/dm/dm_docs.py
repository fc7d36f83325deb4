"""Rows of the DM's copy of documents (``store.docs``, the schema fixed in ``store.py``) as the fiscal
tasks store them, for the report and paper tests."""

from __future__ import annotations

import itertools
from typing import Any

from emulator.fronts.dm.receipt import CashOp, DmReceipt, Pay, Row
from emulator.fronts.dm.totals import shift_totals
from emulator.world.dm import DmWorld

_nums = itertools.count(1)


def open_shift(world: DmWorld, name: str) -> int:
    """The ПРРО's shift opened (the device's own document); its number."""
    dev = world.dm.find(name).device  # type: ignore[union-attr]
    with world.dm.world_lock:
        assert dev.open_shift().ok
        shift_no = int(dev.shift["id"])
    world.dm.store.add_doc(name, 0, "open_shift", shift_no=shift_no, local_num=next(_nums), fiscal_num=f"OS{shift_no}",
                           time_ms=world.clock.now_ms, sum_kop=0, offline=False, tag="", body={"cashier": "Іван"})
    return shift_no


def close_shift(world: DmWorld, name: str) -> None:
    dev = world.dm.find(name).device  # type: ignore[union-attr]
    with world.dm.world_lock:
        assert dev.z_report().ok


def sale(world: DmWorld, name: str, shift_no: int, rows: list[Row], pays: list[Pay], *, kind: str = "sale",
         tag: str = "", offline: bool = False, round_kop: int = 0, disc: int = 0, qr: str = "") -> int:
    total = sum(r.cost - r.disc for r in rows) - disc
    rec = DmReceipt(sum=total + round_kop, rows=tuple(rows), pays=tuple(pays), round=round_kop, disc=disc,
                    comment_down="Дякуємо \\nза покупку.")
    n = next(_nums)
    task = {"sale": 1, "return": 2, "cash_issue": 14}[kind]
    return world.dm.store.add_doc(name, task, kind, shift_no=shift_no, local_num=n, fiscal_num=f"FN{n}",
                                  time_ms=world.clock.now_ms, sum_kop=rec.sum, offline=offline, tag=tag,
                                  body={"receipt": rec.to_json(), "cashier": "Іван", "qr": qr})


def cash(world: DmWorld, name: str, shift_no: int, kop: int, *, out: bool = False) -> int:
    n = next(_nums)
    op = CashOp(kop, 0, "Службове", "")
    return world.dm.store.add_doc(name, 4 if out else 3, "cash_out" if out else "cash_in", shift_no=shift_no,
                                  local_num=n, fiscal_num=f"FN{n}", time_ms=world.clock.now_ms, sum_kop=kop,
                                  offline=False, tag="", body={"cash": op.to_json(), "cashier": "Іван"})


def z_report(world: DmWorld, name: str, shift_no: int, *, time_ms: int | None = None,
             totals: Any = None) -> int:
    """The Z-report row of shift ``shift_no`` with the totals of its stored documents (or ``totals``)."""
    docs = world.dm.store.docs(name, shift_no=shift_no)
    t = shift_totals(docs) if totals is None else totals
    n = next(_nums)
    return world.dm.store.add_doc(name, 11, "z_report", shift_no=shift_no, local_num=n, fiscal_num=f"Z{n}",
                                  time_ms=world.clock.now_ms if time_ms is None else time_ms, sum_kop=0,
                                  offline=False, tag="", body={"totals": t, "cashier": "Іван", "dt_from": ""})


def bread(kop: int = 5000, cnt_milli: int = 1000, grp: str = "1") -> Row:
    return Row("Хліб житній", cnt_milli, kop, kop * cnt_milli // 1000, grp, code="100")


def body(device: str, task: int, **fiscal: Any) -> dict[str, Any]:
    return {"ver": 6, "source": "test", "device": device, "type": 1, "fiscal": {"task": task, **fiscal}}
