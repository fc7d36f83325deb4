"""The receipt object of ПРРО tasks 1, 2 and 14 and the cash object of tasks 3 and 4 (reference §3.3).

``parse_receipt(fiscal)`` reads ``fiscal.receipt`` into a ``DmReceipt`` as real clients send it:
numbers as strings and with ``,`` decimals, an empty string for an omitted number, ``taxgrp`` as a
string or a number (``2``, ``"2"``, ``2.0``; ``taxgrps`` too, or a list of one), ``price`` missing
(``cost / cnt``), ``cost`` missing (``price × cnt``), both missing (zero: 1107), ``cnt`` missing (1), ``rows`` / ``pays``
missing or ``null`` (a zero receipt). Money is integer kopecks, ``cnt`` thousandths, each rounded half
up. A value of the wrong type is 2000 (``res_action`` 3).

Then, for the ПРРО tasks (d1's ``prro_tasks``): ``validate(receipt, task, config, sold_codes=,
cash_kop=)`` — the DM's rules with the codes of its error table, in the order its docstring gives;
``sanitize(text)`` / ``sanitize_receipt`` — the allowed characters and line breaks of §3.4;
``tax_lines(receipt, config)`` — the receipt's tax per tax group; ``codes_sold(docs)`` — the shift's
item codes for 1111.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from emulator.fronts.dm import values as v
from emulator.fronts.dm.config import CARD, CASH
from emulator.fronts.dm.errors import FATAL, REPEAT, DmError, bad_json
from emulator.fronts.dm.manager import PrroConfig
from emulator.fronts.dm.store import DmDoc

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


def _opt(value: Any) -> Any:
    """An empty string where a number may be omitted counts as omitted (clients send ``"price": ""``)."""
    return None if isinstance(value, str) and not value.strip() else value


def _div_half_up(num: int, den: int) -> int:
    """``num / den`` rounded half away from zero (``den`` > 0)."""
    q, r = divmod(abs(num), den)
    q += 2 * r >= den
    return q if num >= 0 else -q


def _taxgrp(r: dict[str, Any], what: str) -> str:
    """``taxgrp`` (or ``taxgrps``) as a code: ``2``, ``"2"``, ``" 2 "``, ``2.0`` and ``["2"]`` are all ``"2"``."""
    grp = r.get("taxgrp")
    if grp is None:
        grp = r.get("taxgrps")
    if isinstance(grp, list):
        if len(grp) != 1:
            raise bad_json(f"{what}: one tax group")
        grp = grp[0]
    if isinstance(grp, float) and grp.is_integer():
        grp = int(grp)
    text = v.string(grp, what, max_len=20).strip()
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    return text


def _row(raw: Any, i: int) -> Row:
    r = v.obj(raw, f"rows[{i}]", required=True)
    cnt = v.quantity_milli(_opt(r.get("cnt")), f"rows[{i}].cnt", 1000)
    disc = v.money(_opt(r.get("disc")), f"rows[{i}].disc", 0)
    price_raw, cost_raw = _opt(r.get("price")), _opt(r.get("cost"))
    if price_raw is None and cost_raw is None:
        price = cost = 0
    elif price_raw is None:
        # MODELLED: the unit price is cost / cnt rounded to the kopeck; the row discount stays in ``disc``
        # (subtracting it from the price too would make every discounted row fail 1107).
        cost = v.money(cost_raw, f"rows[{i}].cost")
        price = _div_half_up(cost * 1000, cnt) if cnt > 0 else 0
    else:
        price = v.money(price_raw, f"rows[{i}].price")
        cost = v.money(cost_raw, f"rows[{i}].cost") if cost_raw is not None else _div_half_up(price * cnt, 1000)
    return Row(
        name=v.string(r.get("name"), f"rows[{i}].name", max_len=1000), cnt_milli=cnt, price=price, cost=cost,
        taxgrp=_taxgrp(r, f"rows[{i}].taxgrp"),
        code=v.string(r.get("code"), f"rows[{i}].code", max_len=100).strip(),
        code1=v.string(r.get("code1"), f"rows[{i}].code1", max_len=100),
        code2=v.string(r.get("code2"), f"rows[{i}].code2", max_len=100),
        code3=v.string(r.get("code3"), f"rows[{i}].code3", max_len=100),
        code_a=v.string(r.get("code_a"), f"rows[{i}].code_a", max_len=200),
        code_aa=tuple(v.string(c, f"rows[{i}].code_aa", max_len=200) for c in v.array(r.get("code_aa"), "code_aa", 100)),
        disc=disc, disc_type=v.integer(_opt(r.get("disc_type")), f"rows[{i}].disc_type", 0),
        comment=v.string(r.get("comment"), f"rows[{i}].comment", max_len=2000))


def _pay(raw: Any, i: int) -> Pay:
    p = v.obj(raw, f"pays[{i}]", required=True)
    s = {k: v.string(p.get(k), f"pays[{i}].{k}", max_len=200)
         for k in ("comment", "paysys", "rrn", "cardmask", "term_id", "bank_id", "auth_code")}
    return Pay(type=v.integer(_opt(p.get("type")), f"pays[{i}].type", 0),
               sum=v.money(_opt(p.get("sum")), f"pays[{i}].sum", 0),
               change=v.money(_opt(p.get("change")), f"pays[{i}].change", 0),
               commission=v.money(_opt(p.get("commission")), f"pays[{i}].commission", 0), **s)


def parse_receipt(fiscal: dict[str, Any]) -> DmReceipt:
    r = v.obj(fiscal.get("receipt"), "fiscal.receipt")
    rows = tuple(_row(x, i) for i, x in enumerate(v.array(r.get("rows"), "rows", MAX_ROWS)))
    pays = tuple(_pay(x, i) for i, x in enumerate(v.array(r.get("pays"), "pays", MAX_PAYS)))
    return DmReceipt(
        sum=v.money(_opt(r.get("sum")), "receipt.sum", 0), rows=rows, pays=pays,
        round=v.money(_opt(r.get("round")), "receipt.round", 0), disc=v.money(_opt(r.get("disc")), "receipt.disc", 0),
        disc_type=v.integer(_opt(r.get("disc_type")), "receipt.disc_type", 0),
        comment_up=v.string(r.get("comment_up"), "receipt.comment_up", max_len=5000),
        comment_down=v.string(r.get("comment_down"), "receipt.comment_down", max_len=5000))


def parse_cash(fiscal: dict[str, Any]) -> CashOp:
    c = v.obj(fiscal.get("cash"), "fiscal.cash")
    return CashOp(sum=v.money(_opt(c.get("sum")), "cash.sum", 0), type=v.integer(_opt(c.get("type")), "cash.type", 0),
                  comment_up=v.string(c.get("comment_up"), "cash.comment_up", max_len=5000),
                  comment_down=v.string(c.get("comment_down"), "cash.comment_down", max_len=5000))


# ---------------------------------------------------------------------------------------------------------
# The allowed characters (reference §3.4)

_ALLOWED = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    + "".join(chr(c) for c in range(0x0410, 0x0450)) + "Ёё"          # А–Я, а–я (Ъ Ы Э included)
    + "ІіЇїҐґЄє"
    + "!.,\"№;:?*()<>|/@#$%^-_+=~'`&{}[]®©«»°±‘’“”–•—™„‰‹›"
    + " \\")


def sanitize(text: str) -> str:
    """A name or a comment as the DM sends it on: the line breaks of §3.4 (a backslash and ``n`` in the
    decoded string, i.e. ``\\\\n`` in the JSON text) become line breaks, every character not in the allowed list
    becomes ``?``.

    Allowed: Latin and Cyrillic letters (the whole А–я block with Ё ё, MODELLED: the page's list is cut
    off after «абвгдеё»), the Ukrainian І і Ї ї Ґ ґ Є є, the digits, the page's symbols (its two
    apostrophes read as the apostrophe and the backtick), and — MODELLED, the page's list omits them but its own examples
    use them — the space, the backslash (``1\\250 грамів``) and a line break already decoded (``\\r\\n`` is
    one). Anything else (a tab, the Ukrainian apostrophe ``ʼ``, an emoji) is ``?``, one per character.
    """
    text = text.replace("\r\n", "\n").replace("\\n", "\n")
    return "".join(c if c in _ALLOWED or c == "\n" else "?" for c in text)


def sanitize_receipt(receipt: DmReceipt) -> DmReceipt:
    """``sanitize`` applied to every name and comment of ``receipt`` (rows, pays, the header and footer)."""
    rows = tuple(replace(r, name=sanitize(r.name), comment=sanitize(r.comment)) for r in receipt.rows)
    pays = tuple(replace(p, comment=sanitize(p.comment)) for p in receipt.pays)
    return replace(receipt, rows=rows, pays=pays, comment_up=sanitize(receipt.comment_up),
                   comment_down=sanitize(receipt.comment_down))


def sanitize_cash(cash: CashOp) -> CashOp:
    return replace(cash, comment_up=sanitize(cash.comment_up), comment_down=sanitize(cash.comment_down))


# ---------------------------------------------------------------------------------------------------------
# The DM's validations (reference §3.3, the error table of §6)

SALE, RETURN, CASH_IN, CASH_OUT, CASH_ISSUE = 1, 2, 3, 4, 14
ROUND_MAX = 99                      # 1112: −0.99 … 0.99


def _refuse(code: int, *values: object, action: int = FATAL) -> DmError:
    return DmError(code, *values, action=action, group="prro")


def _cash_out(receipt: DmReceipt | CashOp, task: int) -> int:
    """The cash that leaves the till: a cash-out's sum, a cash issue's sum, a return's cash pays."""
    if isinstance(receipt, CashOp):
        return receipt.sum if task == CASH_OUT else 0
    if task == CASH_ISSUE:
        return receipt.sum
    if task == RETURN:
        return sum(p.sum for p in receipt.pays if p.type == CASH)
    return 0


def validate(receipt: DmReceipt | CashOp, task: int, config: PrroConfig, *, sold_codes: Mapping[str, str],
             cash_kop: int | None) -> None:
    """Refuse ``receipt`` of ``task`` under the ПРРО's ``config`` with the first rule it breaks, in this order:

    1. negative amounts — 1064 for tasks 1 and 2, 1063 for tasks 3, 4 and 14 (MODELLED: «чек
       внесення/видачі грошей» read as the cash-in / cash-out and the cash issue): the receipt's ``sum``
       and ``disc``, each row's ``cnt``, ``price``, ``cost``, ``disc``, each pay's ``sum`` (and, tasks 1
       and 2, its ``commission``), and the receipt's ``sum`` less its ``disc`` (MODELLED);
    2. 1065 a pay's negative ``change``, ``%d`` its 0-based index in ``pays`` (MODELLED: «індекс»);
    3. task 14: 1120 a negative ``commission``, then 1119 a pay not of type 2 «Картка»;
    4. 1110 a tax group not in the settings (the rows in order), then a pay type not in them, ``%s`` the code;
    5. 1112 ``round`` outside −0.99 … 0.99, then 1115 a non-zero ``round`` without «Заокруглення»;
    6. 1097 tasks 1 and 2: no rows but a sum to pay (a ``sum``, a pay, and — MODELLED — a ``disc`` or a
       ``round``) — the zero receipt (no rows, no pays, ``sum`` 0) passes;
    7. the rows in order: 1107 ``price × cnt`` zero or more than 1 kopeck from ``cost``, 1108 less than
       1 kopeck left after the row's ``disc``, 1111 an item ``code`` sold earlier in the shift (``sold_codes``:
       code → tax group) or earlier in this receipt under another tax group, ``%s(%s)`` the earlier group's
       code and letter (MODELLED);
    8. 1109 a pay with a zero ``sum``, ``%s`` its type's code (MODELLED: the code, as 1110 gives it);
    9. 1101 ``sum`` ≠ Σ(``cost`` − ``disc``) (task 14 without rows has nothing to compare: MODELLED), then
       1102 ``sum`` − ``disc`` + ``round`` ≠ Σ pays' ``sum`` (MODELLED: a pay's ``sum`` is what it pays of
       the receipt, ``change`` the money handed back beyond it; ``round`` is added to what is due;
       a task-14 ``commission`` is printed, not due);
    10. 1077 the cash leaving the till (a return's cash pays, a cash-out, a cash issue) more than
        ``cash_kop`` (``None``: not known, not checked).

    Amounts are whole kopecks, so 1101 and 1102 compare exactly. A ``CashOp`` (tasks 3, 4) has rules 1
    and 10 only. ``res_action`` is 3 (the request's data is wrong; MODELLED) except 1077: 1, a cash-in
    makes the same request pass. Linear in the rows and pays.
    """
    negative = 1063 if task in (CASH_IN, CASH_OUT, CASH_ISSUE) else 1064
    if isinstance(receipt, CashOp):
        if receipt.sum < 0:
            raise _refuse(negative)
        _till(receipt, task, cash_kop)
        return
    amounts = [receipt.sum, receipt.disc]
    for r in receipt.rows:
        amounts += [r.cnt_milli, r.price, r.cost, r.disc]
    amounts += [p.sum for p in receipt.pays]
    if task != CASH_ISSUE:
        amounts += [p.commission for p in receipt.pays]
    if any(a < 0 for a in amounts) or receipt.sum < receipt.disc:
        raise _refuse(negative)
    for i, p in enumerate(receipt.pays):
        if p.change < 0:
            raise _refuse(1065, i)
    if task == CASH_ISSUE:
        if any(p.commission < 0 for p in receipt.pays):
            raise _refuse(1120)
        if any(p.type != CARD for p in receipt.pays):
            raise _refuse(1119)
    for r in receipt.rows:
        if r.taxgrp not in config.tax_groups:
            raise _refuse(1110, r.taxgrp)
    for p in receipt.pays:
        if p.type not in config.pay_types:
            raise _refuse(1110, p.type)
    if abs(receipt.round) > ROUND_MAX:
        raise _refuse(1112)
    if receipt.round and not config.rounding:
        raise _refuse(1115)
    if task in (SALE, RETURN) and not receipt.rows and (receipt.sum or receipt.pays or receipt.disc or receipt.round):
        raise _refuse(1097)
    seen: dict[str, str] = {}
    for r in receipt.rows:
        if _scaled(r.price, r.cnt_milli) == 0 or abs(_scaled(r.price, r.cnt_milli) - r.cost) > 1:
            raise _refuse(1107)
        if r.cost - r.disc < 1:
            raise _refuse(1108)
        if r.code:
            earlier = sold_codes.get(r.code, seen.get(r.code))
            if earlier is not None and earlier != r.taxgrp:
                grp = config.tax_groups.get(earlier)
                raise _refuse(1111, r.code, earlier, grp.letter if grp else "")
            seen.setdefault(r.code, r.taxgrp)
    for p in receipt.pays:
        if p.sum == 0:
            raise _refuse(1109, p.type)
    if (receipt.rows or task != CASH_ISSUE) and receipt.sum != sum(r.cost - r.disc for r in receipt.rows):
        raise _refuse(1101)
    if receipt.sum - receipt.disc + receipt.round != sum(p.sum for p in receipt.pays):
        raise _refuse(1102)
    _till(receipt, task, cash_kop)


def _scaled(price: int, cnt_milli: int) -> int:
    """``price × cnt`` in kopecks, rounded half away from zero."""
    return _div_half_up(price * cnt_milli, 1000)


def _till(receipt: DmReceipt | CashOp, task: int, cash_kop: int | None) -> None:
    if cash_kop is not None and _cash_out(receipt, task) > cash_kop:
        raise _refuse(1077, action=REPEAT)


def codes_sold(docs: Iterable[DmDoc]) -> dict[str, str]:
    """Item code → tax group of the sales and returns among ``docs`` (one shift's): ``validate``'s
    ``sold_codes`` (1111). The first group a code was sold under is the one that counts."""
    out: dict[str, str] = {}
    for d in docs:
        if d.kind in ("sale", "return"):
            for r in d.body.get("receipt", {}).get("rows", ()):
                code = str(r.get("code", "")).strip()
                if code:
                    out.setdefault(code, str(r.get("taxgrp", "")))
    return out


# ---------------------------------------------------------------------------------------------------------
# The tax lines (reference §3.3's tax groups)

def _share(total: int, weights: list[int]) -> list[int]:
    """``total`` split in proportion to ``weights`` (≥ 0), whole kopecks, largest remainder first."""
    whole = sum(weights)
    if not whole or not total:
        return [0] * len(weights)
    parts = [total * w // whole for w in weights]
    order = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % whole), i))
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def tax_lines(receipt: DmReceipt, config: PrroConfig) -> list[dict[str, Any]]:
    """One line per tax group of ``receipt``'s rows, in the settings' order of the groups::

        {"code", "letter", "name", "vat_bp", "excise_bp", "turnover", "base", "vat", "excise"}

    (kopecks). ``turnover`` is what the group's rows cost after their discounts and the group's share
    of the receipt's ``disc`` (MODELLED: shared in proportion, whole kopecks, largest remainder first —
    the lines add up to ``sum − disc``). Prices include the taxes (MODELLED where the seed is silent):
    the excise (and the pension-fund levy of group 8) is taken out of the turnover first,
    ``excise = turnover × e / (100 % + e)``, the VAT out of the rest, ``vat = (turnover − excise) × v /
    (100 % + v)``, each rounded half up to the kopeck per group (not per row); ``base`` is the turnover
    without both. A group that is not a VAT payer has ``vat`` 0. ``round`` is not taxed. A tax group not
    in the settings is 1110, as in ``validate``.
    """
    turnover: dict[str, int] = {}
    for r in receipt.rows:
        if r.taxgrp not in config.tax_groups:
            raise _refuse(1110, r.taxgrp)
        turnover[r.taxgrp] = turnover.get(r.taxgrp, 0) + r.cost - r.disc
    codes = [c for c in config.tax_groups if c in turnover]
    less = _share(receipt.disc, [max(turnover[c], 0) for c in codes])
    lines = []
    for code, d in zip(codes, less, strict=True):
        g = config.tax_groups[code]
        t = turnover[code] - d
        excise = _div_half_up(t * g.excise_bp, 10_000 + g.excise_bp)
        vat = _div_half_up((t - excise) * g.vat_bp, 10_000 + g.vat_bp) if g.vat else 0
        lines.append({"code": code, "letter": g.letter, "name": g.name, "vat_bp": g.vat_bp if g.vat else 0,
                      "excise_bp": g.excise_bp, "turnover": t, "base": t - excise - vat, "vat": vat,
                      "excise": excise})
    return lines
