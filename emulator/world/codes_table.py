"""The default world's marking codes as a table: what the mock answers, and what the device does with each.

``rows()`` gives one ``CodeRow`` for every code of ``Catalogue.default()`` (the
21 sandbox test cases, 20 codes, and the sellable code of every product
group): the code (GS written ``<GS>``, as the scanner and the console accept
it), the product group, what the mock answers (the entry's fields that differ
from a sellable code's), the price it is sold at and the device's result.

The result is not written down anywhere: it is found by selling the code, in a
fresh world on the simulated network with the device's default settings
(«ЗАПРЕТ ПРОДАЖ» = «ВКЛЮЧЕН»): «СТАТУС ГИС МТ», the shift opened, the price
typed, the code scanned. The price is the МРЦ the code carries, else the
answer's ``mrp`` (the МРЦ of tobacco, the МЦ of groups 12 and 16), else
100.00. ``tools/update_codes_table.py`` writes the table into the README and
``tests/world/test_default_codes.py`` checks that the README still says what
the device does.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from emulator.base.instants import parse_instant
from emulator.fronts.operator import Operator
from emulator.rules.marking import GS, MarkingCodeError
from emulator.rules.marking import parse as parse_marking
from emulator.servers.trueapi.catalogue import STATUS_5000, Catalogue, CatalogueEntry
from emulator.world.root import World
from emulator.world.spec import make_backend

TOKEN = "7f0c0d6e-3b1a-4c53-9a8e-5d2f0e9b1c42"
START = "2026-01-15T09:00:00+03:00"
DEFAULT_PRICE = 10000

# The operator's product groups (guide §1.5.1): id -> code name.
GROUPS = {1: "lp", 2: "shoes", 3: "tobacco", 4: "perfumery", 5: "tires", 6: "electronics", 8: "milk",
          9: "bicycle", 10: "wheelchairs", 12: "otp", 13: "water", 14: "furs", 15: "beer", 16: "ncp", 17: "bio",
          19: "antiseptic", 20: "petfood", 21: "seafood", 22: "nabeer", 23: "softdrinks", 26: "vetpharma",
          27: "toys", 28: "radio", 32: "conserve", 33: "vegetableoil", 35: "chemistry", 37: "grocery",
          39: "construction", 43: "autofluids", 45: "sweets"}

# Fields that say what a code is rather than how it is answered.
_NOT_ANSWER = ("code", "case", "name", "groupIds", "printView", "gtin")


@dataclass(frozen=True)
class CodeRow:
    cases: str          # the sandbox case numbers ("7, 18"), "" for a code of the default shop
    code: str           # GS written <GS>
    group: str          # "3 tobacco"
    answer: str         # what the mock answers
    price: int          # kopecks
    device: str         # what the device does

    def markdown(self) -> str:
        return (f"| {self.cases or '—'} | `{self.code}` | {self.group} | {self.answer} | "
                f"{self.price // 100}.{self.price % 100:02d} | {self.device} |")


HEADER = ("| sandbox case | code | group | the mock answers | price | the device («ЗАПРЕТ ПРОДАЖ» = «ВКЛЮЧЕН») |\n"
          "|---|---|---|---|---|---|")


def sale_price(entry: CatalogueEntry) -> int:
    """The МРЦ in the code, else the answer's ``mrp``, else 100.00."""
    try:
        mrp = parse_marking(entry.code).mrp_kopecks
    except MarkingCodeError:
        mrp = None
    return mrp or entry.mrp or DEFAULT_PRICE


def answer_text(entry: CatalogueEntry) -> str:
    """The entry's answer in a few words: the fields that differ from those of a sellable code."""
    plain = CatalogueEntry(code=entry.code)
    if entry.status is not None:
        return "HTTP 500 with code 5000" if entry.status == STATUS_5000 else f"HTTP {entry.status}"
    parts = []
    for f in fields(CatalogueEntry):
        if f.name in _NOT_ANSWER:
            continue
        value, default = getattr(entry, f.name), getattr(plain, f.name)
        if value == default:
            continue
        if f.name == "delay_ms":
            parts.append(f"answers after {value} ms")
        elif isinstance(value, bool):
            parts.append(f"`{f.name}` {str(value).lower()}")
        elif isinstance(value, tuple):
            parts.append(f"`{f.name}` [{', '.join(map(str, value))}]")
        else:
            parts.append(f"`{f.name}` {value}")
    return ", ".join(parts) or "a sellable code"


def group_text(entry: CatalogueEntry) -> str:
    return ", ".join(f"{g} {GROUPS.get(g, '')}".strip() for g in entry.groupIds) or "none"


def device_result(entry: CatalogueEntry, price: int) -> str:
    """Sell ``entry``'s code at ``price`` in a fresh default world; what the device did, in a few words."""
    world = World.build("simulated", parse_instant(START), make_backend(0, {"tokens": {"prod": [TOKEN]}}))
    try:
        device = world.new_device(None)
        device.settings.token = TOKEN
        op = Operator(device, lambda: world.settle(lambda: device.waiting, 60_000))
        op.status_check()
        op.open_shift()
        before = len(device.logbook.records)
        op.sell(entry.code, price)
        codes = ", ".join(str(r.code) for r in device.logbook.records[before:])
        receipt = device.receipt
        position = receipt.positions[-1] if receipt is not None and receipt.positions else None
        if position is None:
            return f"refused: {codes}"
        if position.gismt == "allowed":
            return "sold" + (f" ({codes})" if codes else "")
        if position.gismt == "failed":
            return f"sold with a beep: {codes}"
        if position.gismt == "emergency":
            return f"{codes}: emergency mode on, sold without a check"
        return f"{position.gismt}: {codes}"
    finally:
        world.close()


def rows(catalogue: Catalogue | None = None) -> list[CodeRow]:
    out = []
    for entry in catalogue if catalogue is not None else Catalogue.default():
        price = sale_price(entry)
        out.append(CodeRow(", ".join(map(str, entry.cases)), entry.code.replace(GS, "<GS>"), group_text(entry),
                           answer_text(entry), price, device_result(entry, price)))
    return out


def catalogue_rows(catalogue: Catalogue) -> list[dict[str, object]]:
    """``rows(catalogue)`` as plain mappings (the training console's catalogue)."""
    return [{f.name: getattr(r, f.name) for f in fields(CodeRow)} for r in rows(catalogue)]


def markdown(table_rows: list[CodeRow]) -> str:
    return "\n".join([HEADER, *(r.markdown() for r in table_rows)])


# The README holds the table between these two lines.
BEGIN = "<!-- codes-table:begin (tools/update_codes_table.py) -->"
END = "<!-- codes-table:end -->"


def readme_table(text: str) -> str:
    """The table between the markers in ``text`` (the README); ValueError if the markers are missing."""
    start, stop = text.find(BEGIN), text.find(END)
    if start < 0 or stop < start:
        raise ValueError(f"no {BEGIN} ... {END} block")
    return text[start + len(BEGIN):stop].strip("\n")
