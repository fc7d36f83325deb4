#!/usr/bin/env python3
"""Rewrite the README's table of the Device Manager's error rows the emulator does not produce.

Usage: ``.venv/bin/python tools/update_dm_errors_table.py [--check]``. The rows and reasons are the
``unreachable`` entries of ``emulator/data/dm_errors.yaml`` and ``terminal_errors.yaml``
(``emulator.fronts.dm.errors.unreachable_markdown``). With ``--check`` nothing is written; the exit status
says whether the README's table is current.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from emulator.fronts.dm.errors import UNREACHABLE_BEGIN, UNREACHABLE_END, unreachable_markdown

README = Path(__file__).resolve().parent.parent / "README.md"


def current(text: str) -> str:
    start, stop = text.find(UNREACHABLE_BEGIN), text.find(UNREACHABLE_END)
    return text[start + len(UNREACHABLE_BEGIN):stop].strip() if 0 <= start < stop else ""


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only check that the README's table is current")
    args = ap.parse_args()
    text = README.read_text("utf-8")
    new = unreachable_markdown()
    if args.check:
        ok = current(text) == new
        print("README DM error table is current" if ok else "README DM error table is out of date")
        return 0 if ok else 1
    start, stop = text.find(UNREACHABLE_BEGIN), text.find(UNREACHABLE_END)
    README.write_text(text[:start + len(UNREACHABLE_BEGIN)] + "\n" + new + "\n" + text[stop:], "utf-8")
    print("README DM error table rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
