"""The bank terminal's codes, read from ``data/terminal_errors.yaml``: the DM's terminal error table
(``res`` and the exact ``errortxt``), the PrivatBank "ECR JSON" ``responseCode`` values with the DM code
each maps to, and the host (bank) codes the emulated terminal answers (MODELLED).

Shared by the emulated terminal (``servers/bankterm``: the codes and texts it answers) and the DM-side
client (``net/bankterm``: the ``res`` / ``errortxt`` it reports).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

OK = "0000"
PARTIAL = "0010"       # partial approval (cashback not done): not an error, per the protocol


@dataclass(frozen=True)
class DmTerminalError:
    res: int
    group: str         # connection, privatbank, bpos1, oschadbank, posapi: the DM's tables
    name: str          # "" for the rows the emulator does not produce
    text: str          # exact, with the DM's %s / %d placeholders
    meaning: str


@dataclass(frozen=True)
class EcrCode:
    code: str          # the responseCode as the terminal sends it ("1001", "0051")
    text: str          # the terminal's errorDescription (MODELLED wording)
    meaning: str
    dm: int            # the DM's res for it (5000 for the host codes)


@dataclass(frozen=True)
class TerminalTables:
    dm: tuple[DmTerminalError, ...]
    ecr: dict[str, EcrCode]

    def named(self, name: str) -> DmTerminalError:
        for row in self.dm:
            if row.name == name:
                return row
        raise KeyError(f"no terminal error named {name!r}")

    def by_res(self, res: int, group: str = "bpos1") -> DmTerminalError:
        for row in self.dm:
            if row.res == res and row.group == group:
                return row
        raise KeyError(f"no terminal error {res} in group {group!r}")


@lru_cache(maxsize=1)
def terminal_tables() -> TerminalTables:
    raw = yaml.safe_load(resources.files("emulator").joinpath("data/terminal_errors.yaml").read_text("utf-8"))
    dm = tuple(DmTerminalError(int(r["res"]), r["group"], r.get("name", ""), r["text"], r["meaning"])
               for r in raw["dm"])
    ecr = {str(r["code"]): EcrCode(str(r["code"]), r["text"], r["meaning"], int(r["dm"]))
           for r in raw["ecr_response_codes"]}
    ecr.update({str(r["code"]): EcrCode(str(r["code"]), r["text"], r["meaning"], 5000) for r in raw["host_codes"]})
    return TerminalTables(dm, ecr)


def fill(text: str, *values: object) -> str:
    """The DM's text with its placeholders (``%s``, ``%d``) filled in order; a value never re-expands."""
    out, i = [], 0
    parts = text.split("%")
    out.append(parts[0])
    for part in parts[1:]:
        if part[:1] in ("s", "d") and i < len(values):
            out.append(str(values[i]) + part[1:])
            i += 1
        else:
            out.append("%" + part)
    return "".join(out)


def ecr_code(code: str) -> EcrCode:
    try:
        return terminal_tables().ecr[code]
    except KeyError:
        raise KeyError(f"no terminal responseCode {code!r}") from None
