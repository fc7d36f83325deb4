"""The DM's error tables as data, and ``DmError``: a request refused with a ``res`` and its exact text.

``data/dm_errors.yaml`` holds the general (``dm``) and ПРРО (``prro``) tables, ``data/terminal_errors.yaml``
the terminal tables (groups ``connection``, ``privatbank``, ``bpos1``, ``oschadbank``, ``posapi``). A code
may appear in two tables with two texts (1016, 5000): ``text(code, group=...)`` picks the table; without a
group the first table in ``GROUPS`` order that has the code is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from emulator.rules.terminal_errors import fill, terminal_tables

GROUPS = ("dm", "prro", "connection", "privatbank", "bpos1", "oschadbank", "posapi")

# res_action (seed: «Обробка можливих помилок»)
OK, REPEAT, COLLISION, FATAL = 0, 1, 2, 3


@dataclass(frozen=True)
class DmErrorRow:
    res: int
    group: str
    text: str            # exact, with %s / %d
    meaning: str
    unreachable: str     # why no emulated situation produces it ("" when one does)


@lru_cache(maxsize=1)
def dm_tables() -> tuple[DmErrorRow, ...]:
    raw = yaml.safe_load(resources.files("emulator").joinpath("data/dm_errors.yaml").read_text("utf-8"))
    rows = [DmErrorRow(int(r["res"]), group, r["text"], r["meaning"], r.get("unreachable", ""))
            for group in ("dm", "prro") for r in raw[group]]
    traw = yaml.safe_load(resources.files("emulator").joinpath("data/terminal_errors.yaml").read_text("utf-8"))
    why = [r.get("unreachable", "") for r in traw["dm"]]          # the same rows, in the same order
    rows += [DmErrorRow(t.res, t.group, t.text, t.meaning, w) for t, w in zip(terminal_tables().dm, why, strict=True)]
    return tuple(rows)


def row(code: int, group: str | None = None) -> DmErrorRow:
    for r in dm_tables():
        if r.res == code and (group is None or r.group == group):
            return r
    raise KeyError(f"no DM error {code}" + (f" in table {group!r}" if group else ""))


def text(code: int, *values: object, group: str | None = None) -> str:
    """The exact ``errortxt`` of ``code`` with its placeholders filled in order."""
    return fill(row(code, group).text, *values)


class DmError(Exception):
    """A task refused: ``res`` (the table's code), its exact ``errortxt``, the ``res_action`` to advise.

    ``raw_text`` replaces the table's text when the DM passes a peer's own text on (a terminal's message)."""

    def __init__(self, code: int, *values: object, action: int = REPEAT, group: str | None = None,
                 info: dict[str, Any] | None = None, raw_text: str | None = None) -> None:
        self.res = code
        self.errortxt = raw_text if raw_text is not None else text(code, *values, group=group)
        self.action = action
        self.info = dict(info or {})
        super().__init__(f"{code} {self.errortxt}")


def bad_json(detail: str = "") -> DmError:
    """2000 «Невірний формат вхідного JSON», res_action 3 (``detail`` goes to the log only)."""
    err = DmError(2000, action=FATAL)
    err.detail = detail  # type: ignore[attr-defined]
    return err


UNREACHABLE_BEGIN = "<!-- dm-unreachable:begin -->"
UNREACHABLE_END = "<!-- dm-unreachable:end -->"


def unreachable_markdown() -> str:
    """The README's table of the rows no emulated situation produces, with the reason of each."""
    lines = ["| table | `res` | `errortxt` | why the emulator does not produce it |", "|---|---|---|---|"]
    for r in dm_tables():
        if r.unreachable:
            cells = [r.group, str(r.res), r.text, r.unreachable]
            lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    return "\n".join(lines)
