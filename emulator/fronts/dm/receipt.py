"""The receipt object of ПРРО tasks 1, 2 and 14 and the cash object of tasks 3 and 4 (reference §3.3).

``parse_receipt(fiscal, task)`` reads ``fiscal.receipt`` into a ``DmReceipt`` as real clients send it:
numbers as strings, ``taxgrp`` as a string or a number (``taxgrps`` too), ``price`` missing (``cost/cnt
− disc``), ``cost`` missing (``price × cnt``), ``rows`` / ``pays`` missing (a zero receipt). Money is
integer kopecks, ``cnt`` thousandths. A value of the wrong type is 2000; the rules of the DM's error
table (1097, 1101, 1102, 1107–1112, 1115, 1063–1065, 1119, 1120, 1077) are ``validate``'s.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from emulator.fronts.dm import values as v

MAX_ROWS = 1000
MAX_PAYS = 50


@dataclass(frozen=True)
class Row:
    name: str
    cnt_milli: int             # thousandths (1000 = 1)
    price: int                 # kopecks
    cost: int                  # kopecks (before the row's discount)
    taxgrp: str                # the tax group's code as the ПРРО's settings name it
    code: str = ""
    code1: str = ""            # barcode
    code2: str = ""            # УКТЗЕД
    code3: str = ""            # ДКПП
    code_a: str = ""           # excise mark
    code_aa: tuple[str, ...] = ()
    disc: int = 0              # kopecks
    disc_type: int = 0
    comment: str = ""


@dataclass(frozen=True)
class Pay:
    type: int
    sum: int
    change: int = 0
    comment: str = ""
    paysys: str = ""
    rrn: str = ""
    cardmask: str = ""
    term_id: str = ""
    bank_id: str = ""
    auth_code: str = ""
    commission: int = 0


@dataclass(frozen=True)
class DmReceipt:
    sum: int
    rows: tuple[Row, ...] = ()
    pays: tuple[Pay, ...] = ()
    round: int = 0
    disc: int = 0
    disc_type: int = 0
    comment_up: str = ""
    comment_down: str = ""

    @property
    def is_zero(self) -> bool:
        return not self.rows and not self.pays and self.sum == 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> DmReceipt:
        rows = tuple(Row(**{**r, "code_aa": tuple(r.get("code_aa", ()))}) for r in d.get("rows", ()))
        pays = tuple(Pay(**p) for p in d.get("pays", ()))
        return cls(**{**d, "rows": rows, "pays": pays})


@dataclass(frozen=True)
class CashOp:
    """Tasks 3 / 4: service cash-in / cash-out (``fiscal.cash``)."""

    sum: int
    type: int = 0
    comment_up: str = ""
    comment_down: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _row(raw: Any, i: int) -> Row:
    r = v.obj(raw, f"rows[{i}]", required=True)
    cnt = v.quantity_milli(r.get("cnt"), f"rows[{i}].cnt", 1000)
    disc = v.money(r.get("disc"), f"rows[{i}].disc", 0)
    price_raw, cost_raw = r.get("price"), r.get("cost")
    if price_raw is None and cost_raw is None:
        price = cost = 0
    elif price_raw is None:
        cost = v.money(cost_raw, f"rows[{i}].cost")
        price = (cost * 1000 // cnt if cnt else 0) - disc
    else:
        price = v.money(price_raw, f"rows[{i}].price")
        cost = v.money(cost_raw, f"rows[{i}].cost") if cost_raw is not None else (price * cnt + 500) // 1000
    grp = r.get("taxgrp", r.get("taxgrps"))
    return Row(
        name=v.string(r.get("name"), f"rows[{i}].name", max_len=1000), cnt_milli=cnt, price=price, cost=cost,
        taxgrp=v.string(grp, f"rows[{i}].taxgrp", max_len=20).strip(),
        code=v.string(r.get("code"), f"rows[{i}].code", max_len=100),
        code1=v.string(r.get("code1"), f"rows[{i}].code1", max_len=100),
        code2=v.string(r.get("code2"), f"rows[{i}].code2", max_len=100),
        code3=v.string(r.get("code3"), f"rows[{i}].code3", max_len=100),
        code_a=v.string(r.get("code_a"), f"rows[{i}].code_a", max_len=200),
        code_aa=tuple(v.string(c, f"rows[{i}].code_aa", max_len=200) for c in v.array(r.get("code_aa"), "code_aa", 100)),
        disc=disc, disc_type=v.integer(r.get("disc_type"), f"rows[{i}].disc_type", 0),
        comment=v.string(r.get("comment"), f"rows[{i}].comment", max_len=2000))


def _pay(raw: Any, i: int) -> Pay:
    p = v.obj(raw, f"pays[{i}]", required=True)
    s = {k: v.string(p.get(k), f"pays[{i}].{k}", max_len=200)
         for k in ("comment", "paysys", "rrn", "cardmask", "term_id", "bank_id", "auth_code")}
    return Pay(type=v.integer(p.get("type"), f"pays[{i}].type", 0), sum=v.money(p.get("sum"), f"pays[{i}].sum", 0),
               change=v.money(p.get("change"), f"pays[{i}].change", 0),
               commission=v.money(p.get("commission"), f"pays[{i}].commission", 0), **s)


def parse_receipt(fiscal: dict[str, Any]) -> DmReceipt:
    r = v.obj(fiscal.get("receipt"), "fiscal.receipt")
    rows = tuple(_row(x, i) for i, x in enumerate(v.array(r.get("rows"), "rows", MAX_ROWS)))
    pays = tuple(_pay(x, i) for i, x in enumerate(v.array(r.get("pays"), "pays", MAX_PAYS)))
    return DmReceipt(
        sum=v.money(r.get("sum"), "receipt.sum", 0), rows=rows, pays=pays,
        round=v.money(r.get("round"), "receipt.round", 0), disc=v.money(r.get("disc"), "receipt.disc", 0),
        disc_type=v.integer(r.get("disc_type"), "receipt.disc_type", 0),
        comment_up=v.string(r.get("comment_up"), "receipt.comment_up", max_len=5000),
        comment_down=v.string(r.get("comment_down"), "receipt.comment_down", max_len=5000))


def parse_cash(fiscal: dict[str, Any]) -> CashOp:
    c = v.obj(fiscal.get("cash"), "fiscal.cash")
    return CashOp(sum=v.money(c.get("sum"), "cash.sum", 0), type=v.integer(c.get("type"), "cash.type", 0),
                  comment_up=v.string(c.get("comment_up"), "cash.comment_up", max_len=5000),
                  comment_down=v.string(c.get("comment_down"), "cash.comment_down", max_len=5000))
