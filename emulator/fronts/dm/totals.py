"""A shift's totals from the DM's copy of its documents: what the X- and Z-reports carry (reference §3.7:
``receipt``, ``summary``, ``pays``, ``taxes``, ``money``, ``cash``; ``_p`` sales / cash-in, ``_m``
returns / cash-out) and what the consolidated reports 12 / 13 add up.
"""

from __future__ import annotations

from typing import Any

from emulator.fronts.dm.store import DmDoc

SALES = ("sale",)
RETURNS = ("return",)


def shift_totals(docs: list[DmDoc]) -> dict[str, Any]:
    """The totals of ``docs`` (one shift's documents, oldest first)."""
    count = {"count_p": 0, "count_m": 0, "count_14": 0, "last_docno_p": 0, "last_docno_m": 0}
    summary = {"base_p": 0, "base_m": 0, "taxex_p": 0, "taxex_m": 0, "disc_p": 0, "disc_m": 0, "calc_p": 0, "calc_m": 0}
    pays: dict[int, dict[str, int]] = {}
    cash = {"in": 0, "out": 0}
    for d in docs:
        if d.kind in ("sale", "return"):
            side = "p" if d.kind == "sale" else "m"
            count[f"count_{side}"] += 1
            count[f"last_docno_{side}"] = d.local_num or 0
            summary[f"calc_{side}"] += d.sum
            for p in d.body.get("receipt", {}).get("pays", ()):
                row = pays.setdefault(int(p["type"]), {"type": int(p["type"]), "sum_p": 0, "sum_m": 0})
                row[f"sum_{side}"] += int(p["sum"])
        elif d.kind == "cash_issue":
            count["count_14"] += 1
        elif d.kind == "cash_in":
            cash["in"] += d.sum
        elif d.kind == "cash_out":
            cash["out"] += d.sum
    return {"receipt": count, "summary": summary, "pays": sorted(pays.values(), key=lambda r: r["type"]),
            "cash": cash}
