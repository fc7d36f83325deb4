"""Hypothesis strategies for the DM's receipt object: valid receipts as real clients write them (numbers
as numbers, strings, ``,`` decimals; ``taxgrp`` or ``taxgrps``; ``price`` or ``cost`` left out), and
arbitrary JSON values where a receipt's fields go. Shared by the property tests and the fuzz target."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from emulator.fronts.dm.config import default_config

CFG = default_config()
ROUNDING = default_config(rounding=True)
GROUPS = sorted(CFG.tax_groups)
TYPES = sorted(CFG.pay_types)
NAMES = ["Товар", "Кава \"Лате\" 0,3л", "Хліб\\nбатон", "Пиво світле", "Ґудзик", "Water", "Об\u02bcєкт ☕", ""]
CODE_GROUP = {f"{i:03d}": GROUPS[i % len(GROUPS)] for i in range(12)}   # each item code sold under one group


@st.composite
def kop_json(draw: st.DrawFn, kop: int) -> Any:
    """Kopecks written as a client may: ``12.5``, ``12``, ``"12.50"``, ``"12,50"``."""
    txt = f"{'-' if kop < 0 else ''}{abs(kop) // 100}.{abs(kop) % 100:02d}"
    forms: list[Any] = [txt, txt.replace(".", ",")]
    if abs(kop) < 10**15:
        forms.append(kop / 100)
    if kop % 100 == 0:
        forms.append(kop // 100)
    return draw(st.sampled_from(forms))


@st.composite
def milli_json(draw: st.DrawFn, milli: int) -> Any:
    txt = f"{milli // 1000}.{milli % 1000:03d}"
    forms: list[Any] = [txt, txt.replace(".", ","), milli / 1000]
    if milli % 1000 == 0:
        forms += [milli // 1000, str(milli // 1000)]
    return draw(st.sampled_from(forms))


@st.composite
def valid_row(draw: st.DrawFn) -> tuple[dict[str, Any], int]:
    """A row that passes 1107 / 1108 and its ``cost − disc`` in kopecks."""
    cnt = draw(st.integers(1, 200_000))
    price = draw(st.integers(1, 5_000_000))
    exact = (price * cnt * 2 + 1000) // 2000                     # price × cnt rounded half up
    if exact == 0:
        price = -(-1000 // cnt)
        exact = (price * cnt * 2 + 1000) // 2000
    cost = max(1, exact + draw(st.sampled_from([-1, 0, 0, 1])))
    disc = draw(st.one_of(st.just(0), st.integers(0, cost - 1)))
    code = draw(st.sampled_from(["", *CODE_GROUP]))
    grp = CODE_GROUP.get(code) or draw(st.sampled_from(GROUPS))
    row: dict[str, Any] = {"name": draw(st.sampled_from(NAMES)), "cnt": draw(milli_json(cnt))}
    if code:
        row["code"] = draw(st.sampled_from([code, f" {code}"]))
    omit = draw(st.sampled_from(["", "", "price", "cost"]))
    if omit == "price" and cost == exact and (cost * 1000 * 2 + cnt) // (2 * cnt) == price:
        row["cost"] = draw(kop_json(cost))
    elif omit == "cost" and cost == exact:
        row["price"] = draw(kop_json(price))
    else:
        row["price"], row["cost"] = draw(kop_json(price)), draw(kop_json(cost))
    if disc or draw(st.booleans()):
        row["disc"] = draw(kop_json(disc))
    key = draw(st.sampled_from(["taxgrp", "taxgrp", "taxgrps"]))
    row[key] = draw(st.sampled_from([grp, int(grp), float(grp), f" {grp}"]))
    return row, cost - disc


def split(draw: st.DrawFn, total: int, parts: int) -> list[int]:
    """``total`` (≥ ``parts``) as ``parts`` positive pieces."""
    if parts == 1:
        return [total]
    cuts = sorted(draw(st.lists(st.integers(1, total - 1), min_size=parts - 1, max_size=parts - 1, unique=True)))
    edges = [0, *cuts, total]
    return [b - a for a, b in zip(edges, edges[1:], strict=False)]


@st.composite
def valid_receipt(draw: st.DrawFn, task: int = 1, rounding: bool = False) -> dict[str, Any]:
    """A receipt of task 1 / 2 that ``validate`` accepts (with no cash limit)."""
    rows = draw(st.lists(valid_row(), max_size=6))
    if not rows:
        return draw(st.sampled_from([{}, {"sum": 0}, {"sum": 0, "rows": [], "pays": []}, {"rows": None, "pays": None},
                                     {"sum": "0,00", "round": 0, "disc": 0}]))
    total = sum(t for _, t in rows)
    n = draw(st.integers(1, min(3, total)))
    disc = draw(st.integers(0, total - n)) if draw(st.booleans()) else 0
    rnd = draw(st.integers(-99, 99)) if rounding and draw(st.booleans()) else 0
    if total - disc + rnd < n:
        rnd = 0
    due = total - disc + rnd
    pays = [{"type": draw(st.sampled_from(TYPES)), "sum": draw(kop_json(k))} for k in split(draw, due, n)]
    for p in pays:
        if draw(st.integers(0, 3)) == 0:
            p["change"] = draw(kop_json(draw(st.integers(0, 10_000))))
        if draw(st.integers(0, 3)) == 0:
            p["type"] = str(p["type"])
    out: dict[str, Any] = {"sum": draw(kop_json(total)), "rows": [r for r, _ in rows], "pays": pays}
    if disc or draw(st.booleans()):
        out["disc"] = draw(kop_json(disc))
    if rnd or draw(st.booleans()):
        out["round"] = draw(kop_json(rnd))
    return out


json_scalar = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                        st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12),
                        st.sampled_from(["", "0", "1", "-1", "0,01", "1e400", "NaN", "Infinity", "1 000", "١٢"]))
json_value = st.recursive(json_scalar, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                              st.dictionaries(st.text(max_size=6), kids, max_size=4)),
                          max_leaves=12)
ROW_KEYS = ["code", "name", "cnt", "price", "cost", "disc", "disc_type", "taxgrp", "taxgrps", "comment", "code_aa"]
PAY_KEYS = ["type", "sum", "change", "commission", "comment", "rrn"]
TOP_KEYS = ["sum", "round", "disc", "disc_type", "comment_up", "comment_down", "rows", "pays"]


@st.composite
def mangled_receipt(draw: st.DrawFn) -> Any:
    """A valid receipt with some of its fields replaced by any JSON value (or the whole thing by one)."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_value)
    r = draw(valid_receipt(rounding=True))
    for _ in range(draw(st.integers(0, 4))):
        where = draw(st.sampled_from(["top", "row", "pay"]))
        items = r.get(where + "s")
        if where != "top" and isinstance(items, list) and items and all(isinstance(x, dict) for x in items):
            target = draw(st.sampled_from(items))
            target[draw(st.sampled_from(ROW_KEYS if where == "row" else PAY_KEYS))] = draw(json_value)
        else:
            r[draw(st.sampled_from(TOP_KEYS))] = draw(json_value)
    return r


# Cheap field values for the fuzz target: good, odd and wrong values of every kind a client has sent.
POOL: list[Any] = [None, 0, 1, -1, 2, 14, 0.5, 0.01, -0.01, 99.99, 10**12, 10**20, 1e300, True, False, "", " ", "0",
                   "1", "2", "-1", "12,50", "12.5", "0,995", "1,000", "1e400", "-1e-400", "NaN", "Infinity", "1 000",
                   "1,2,3", "١٢", "abc", "Товар", "Дякуємо \\nза покупку", "\x00\t☕", "x" * 300, [], ["2"], ["1", "2"],
                   [None], {}, {"a": 1}, [[[]]]]
field = st.sampled_from(POOL)


def receipt_from_bytes(data: bytes) -> Any:
    """A receipt-shaped JSON value spelled by ``data`` (one cheap draw per case, shrinking byte by byte):
    each byte picks a key or a value of ``POOL``; a missing byte reads as 0."""
    it = iter(data)

    def nxt(n: int) -> int:
        return next(it, 0) % n

    def items(keys: list[str]) -> Any:
        k = nxt(6)
        if k == 5:
            return POOL[nxt(len(POOL))]
        out = []
        for _ in range(k):
            if nxt(8) == 0:
                out.append(POOL[nxt(len(POOL))])
            else:
                out.append({keys[nxt(len(keys))]: POOL[nxt(len(POOL))] for _ in range(nxt(9))})
        return out

    if nxt(16) == 0:
        return POOL[nxt(len(POOL))]
    receipt: dict[str, Any] = {}
    for _ in range(nxt(9)):
        key = TOP_KEYS[nxt(len(TOP_KEYS))]
        receipt[key] = items(ROW_KEYS) if key == "rows" else items(PAY_KEYS) if key == "pays" else POOL[nxt(len(POOL))]
    return receipt


fuzz_receipt = st.binary(max_size=80).map(receipt_from_bytes)
