#!/usr/bin/env python3
"""Rewrite the README's table of the default world's marking codes from the data and the device.

Usage: ``.venv/bin/python tools/update_codes_table.py [--check]``. The table is
``emulator.world.codes_table.markdown(rows())``: every code of the default world
sold once by the emulated device (see that module). With ``--check`` nothing is
written; the exit status says whether the README's table is current.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from emulator.world.codes_table import BEGIN, END, markdown, readme_table, rows

README = Path(__file__).resolve().parent.parent / "README.md"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only check that the README's table is current")
    args = ap.parse_args()
    text = README.read_text("utf-8")
    old = readme_table(text)
    new = markdown(rows())
    if args.check:
        print("README codes table is current" if old == new else "README codes table is out of date")
        return 0 if old == new else 1
    start, stop = text.find(BEGIN), text.find(END)
    README.write_text(text[:start + len(BEGIN)] + "\n" + new + "\n" + text[stop:], "utf-8")
    print("README codes table rewritten" if old != new else "README codes table unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
