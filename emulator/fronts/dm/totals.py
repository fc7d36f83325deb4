"""A shift's totals from the DM's copy of its documents: what the X- and Z-reports carry (reference §3.7)
and what the consolidated reports 12 / 13 add up.

``shift_totals(docs, config)`` gives the ``info`` fields of tasks 10 / 11 in the shape the Vchasno API
answers them (hryvnias as JSON numbers; ``_p`` sales / cash-in, ``_m`` returns / cash-out):

* ``receipt`` — ``count_p``, ``count_m``, ``count_14`` (cash issues, task 14), ``count_transfer`` (always
  0: the emulator has no money transfers), ``last_docno_p``, ``last_docno_m`` (the local numbers);
* ``summary`` — ``base_p/m`` (turnover: Σ tax bases), ``taxex_p/m`` (Σ VAT + excise), ``disc_p/m``
  (row and receipt discounts), ``calc_p/m`` (Σ receipt sums with rounding: what was paid);
* ``taxes[]`` — per tax group used: ``gr_code``, ``base_sum``, ``base_tax_sum`` (the base less excise),
  ``base_ex_sum`` (the excise base, 0 for a group without excise), ``tax_sum``, ``ex_sum`` (each
  ``_p`` / ``_m``), ``tax_name``, ``tax_fname``, ``tax_lit``, ``tax_percent``, ``ex_name``, ``ex_percent``;
* ``pays[]`` — receipts by pay type: ``type``, ``name``, ``sum_p/m`` (what each pay paid of the receipts; change is beyond it), ``round_pu/pd/mu/md``;
* ``money[]`` — service cash-in (``sum_p``) / cash-out (``sum_m``) by the cash object's type;
* ``cash[]`` — cash issued to card holders (task 14, ``sum_m``) by pay type;
* ``safe`` — the cash in the till: cash sales − cash returns + cash-in − cash-out − cash issued in cash.

Taxes (MODELLED where the seed is silent; the rule matches the published answer examples): prices
include VAT and excise; per receipt and group ``ex = base × e / (100 + e)``, ``vat = (base − ex) × v /
(100 + v)``, each rounded half up to the kopeck; a receipt-level discount is shared among the groups in
proportion to their bases (the remainder to the largest). The receipt's ``round`` is booked on its first
cash pay (else its first pay): ``round_pu`` when it rounds up, ``round_pd`` when down.

``merge_totals(list)`` adds stored totals exactly (in kopecks) for tasks 12 / 13; ``TotalsError`` when a
stored report's totals are not of this shape (the damaged report of 1060).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from emulator.fronts.dm.config import CASH, default_config
from emulator.fronts.dm.manager import PrroConfig, TaxGroup
from emulator.fronts.dm.store import DmDoc
from emulator.fronts.dm.values import kop_number

SALES = ("sale",)
RETURNS = ("return",)
RECEIPT_KEYS = ("count_p", "count_m", "count_14", "count_transfer", "last_docno_p", "last_docno_m")
SUMMARY_KEYS = ("base_p", "base_m", "taxex_p", "taxex_m", "disc_p", "disc_m", "calc_p", "calc_m")
TAX_SUMS = ("base_sum", "base_tax_sum", "base_ex_sum", "tax_sum", "ex_sum")
PAY_SUMS = ("sum_p", "sum_m", "round_pu", "round_pd", "round_mu", "round_md")
TAX_KEYS = tuple(f"{k}_{s}" for k in TAX_SUMS for s in "pm")
LISTS = {"taxes": ("gr_code", TAX_KEYS), "pays": ("type", PAY_SUMS), "money": ("type", PAY_SUMS),
         "cash": ("type", PAY_SUMS)}
TOTALS_KEYS = ("receipt", "summary", "taxes", "pays", "money", "cash", "safe")


class TotalsError(ValueError):
    """Stored totals that are not of ``shift_totals``' shape."""


def _half_up(num: int, den: int) -> int:
    q, r = divmod(abs(num), den)
    q += 1 if 2 * r >= den else 0
    return q if num >= 0 else -q


def group_taxes(base_kop: int, group: TaxGroup) -> tuple[int, int]:
    """(VAT, excise) in kopecks included in ``base_kop`` sold under ``group``."""
    ex = _half_up(base_kop * group.excise_bp, 10_000 + group.excise_bp) if group.excise_bp else 0
    vat = _half_up((base_kop - ex) * group.vat_bp, 10_000 + group.vat_bp) if group.vat and group.vat_bp else 0
    return vat, ex


def receipt_bases(receipt: Mapping[str, Any]) -> dict[str, int]:
    """The tax base of each group of a stored receipt (``DmReceipt.to_json()``), kopecks, after discounts."""
    bases: dict[str, int] = {}
    for r in receipt.get("rows", ()):
        grp = str(r.get("taxgrp", ""))
        bases[grp] = bases.get(grp, 0) + int(r.get("cost", 0)) - int(r.get("disc", 0))
    disc = int(receipt.get("disc", 0))
    total = sum(bases.values())
    if disc and total > 0:
        shares = {g: disc * b // total for g, b in bases.items()}
        largest = max(bases, key=lambda g: bases[g])
        shares[largest] += disc - sum(shares.values())
        bases = {g: b - shares[g] for g, b in bases.items()}
    return bases


def _pay_row(rows: dict[int, dict[str, Any]], code: int, config: PrroConfig) -> dict[str, Any]:
    return rows.setdefault(code, {"type": code, "name": config.pay_types.get(code, str(code)),
                                  **dict.fromkeys(PAY_SUMS, 0)})


def _tax_row(rows: dict[str, dict[str, Any]], code: str, config: PrroConfig) -> dict[str, Any]:
    g = config.tax_groups.get(code) or TaxGroup(code, code, "", 0, vat=False)
    if code not in rows:
        rows[code] = {"gr_code": int(code) if code.isdigit() else code,
                      **dict.fromkeys(TAX_KEYS, 0),
                      "tax_name": f"ПДВ_{g.letter}" if g.vat else g.name, "tax_fname": g.name, "tax_lit": g.letter,
                      "tax_percent": g.vat_bp / 100 if g.vat_bp % 100 else g.vat_bp // 100,
                      "ex_name": f"Акцизний податок {g.excise_bp / 100:g}% {g.letter}" if g.excise_bp else "",
                      "ex_percent": g.excise_bp / 100 if g.excise_bp % 100 else g.excise_bp // 100}
    return rows[code]


def shift_totals(docs: Iterable[DmDoc], config: PrroConfig | None = None, *,
                 safe_start_kop: int = 0) -> dict[str, Any]:
    """The totals of ``docs`` (one shift's documents, oldest first); see the module docstring.
    ``safe_start_kop``: the cash in the till when the shift began (the previous Z-report's ``safe``)."""
    config = config or default_config()
    count = dict.fromkeys(RECEIPT_KEYS, 0)
    summary = dict.fromkeys(SUMMARY_KEYS, 0)
    taxes: dict[str, dict[str, Any]] = {}
    pays: dict[int, dict[str, Any]] = {}
    money: dict[int, dict[str, Any]] = {}
    cash: dict[int, dict[str, Any]] = {}
    safe = safe_start_kop
    for d in docs:
        body = d.body or {}
        if d.kind in ("sale", "return"):
            side = "p" if d.kind == "sale" else "m"
            sign = 1 if side == "p" else -1
            rec = body.get("receipt", {})
            count[f"count_{side}"] += 1
            count[f"last_docno_{side}"] = d.local_num or 0
            summary[f"calc_{side}"] += d.sum
            summary[f"disc_{side}"] += int(rec.get("disc", 0)) + sum(int(r.get("disc", 0)) for r in rec.get("rows", ()))
            for code, base in receipt_bases(rec).items():
                group = config.tax_groups.get(code) or TaxGroup(code, code, "", 0, vat=False)
                vat, ex = group_taxes(base, group)
                row = _tax_row(taxes, code, config)
                row[f"base_sum_{side}"] += base
                row[f"base_tax_sum_{side}"] += base - ex
                row[f"base_ex_sum_{side}"] += base if ex or group.excise_bp else 0
                row[f"tax_sum_{side}"] += vat
                row[f"ex_sum_{side}"] += ex
                summary[f"base_{side}"] += base
                summary[f"taxex_{side}"] += vat + ex
            plist = list(rec.get("pays", ()))
            for p in plist:
                paid = int(p.get("sum", 0))
                _pay_row(pays, int(p.get("type", 0)), config)[f"sum_{side}"] += paid
                if int(p.get("type", 0)) == CASH:
                    safe += sign * paid
            rnd = int(rec.get("round", 0))
            if rnd and plist:
                booked = next((p for p in plist if int(p.get("type", 0)) == CASH), plist[0])
                row = _pay_row(pays, int(booked.get("type", 0)), config)
                row[f"round_{side}{'u' if rnd > 0 else 'd'}"] += abs(rnd)
        elif d.kind == "cash_issue":
            count["count_14"] += 1
            for p in body.get("receipt", {}).get("pays", ()):
                _pay_row(cash, int(p.get("type", 0)), config)["sum_m"] += int(p.get("sum", 0))
        elif d.kind in ("cash_in", "cash_out"):
            side = "p" if d.kind == "cash_in" else "m"
            _pay_row(money, int(body.get("cash", {}).get("type", CASH)), config)[f"sum_{side}"] += d.sum
            safe += d.sum if side == "p" else -d.sum
    return {
        "receipt": count,
        "summary": {k: kop_number(x) for k, x in summary.items()},
        "taxes": _listed(taxes, TAX_KEYS),
        "pays": _listed(pays, PAY_SUMS),
        "money": _listed(money, PAY_SUMS),
        "cash": _listed(cash, PAY_SUMS),
        "safe": kop_number(safe),
    }


def _listed(rows: Mapping[Any, dict[str, Any]], sums: Iterable[str]) -> list[dict[str, Any]]:
    """The rows in the order of their codes, kopecks as hryvnias."""
    keys = tuple(sums)
    return [{**r, **{k: kop_number(r[k]) for k in keys}}
            for _, r in sorted(rows.items(), key=lambda kv: (len(str(kv[0])), str(kv[0])))]


def _kop(x: Any) -> int:
    if isinstance(x, bool) or not isinstance(x, int | float):
        raise TotalsError(f"a sum is {type(x).__name__}, not a number")
    return round(x * 100)


def merge_totals(many: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Stored totals (``shift_totals`` answers) added up; ``TotalsError`` for one not of that shape."""
    count = dict.fromkeys(RECEIPT_KEYS, 0)
    summary = dict.fromkeys(SUMMARY_KEYS, 0)
    lists: dict[str, dict[Any, dict[str, Any]]] = {"taxes": {}, "pays": {}, "money": {}, "cash": {}}
    safe = 0
    for t in many:
        if not isinstance(t, Mapping) or any(k not in t for k in TOTALS_KEYS):
            raise TotalsError("totals without " + ", ".join(k for k in TOTALS_KEYS if not isinstance(t, Mapping)
                                                             or k not in t))
        try:
            for k in RECEIPT_KEYS:
                val = t["receipt"].get(k, 0)
                if isinstance(val, bool) or not isinstance(val, int):
                    raise TotalsError(f"receipt.{k} is not an integer")
                count[k] = max(count[k], val) if k.startswith("last_") else count[k] + val
            for k in SUMMARY_KEYS:
                summary[k] += _kop(t["summary"].get(k, 0))
            for name, (key, sums) in LISTS.items():
                for r in t[name]:
                    got = lists[name].get(r[key])
                    if got is None:
                        lists[name][r[key]] = got = {**r, **dict.fromkeys(sums, 0)}
                    for k in sums:
                        got[k] += _kop(r.get(k, 0))
            safe = _kop(t["safe"])       # the till's cash at the end of the last report
        except (AttributeError, KeyError, TypeError) as exc:
            raise TotalsError(f"malformed totals ({type(exc).__name__})") from None
    return {"receipt": count, "summary": {k: kop_number(x) for k, x in summary.items()},
            **{name: _listed(rows, LISTS[name][1]) for name, rows in lists.items()},
            "safe": kop_number(safe)}
