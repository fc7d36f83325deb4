"""Every row of the DM's error tables is produced byte for byte by a test, or says why it cannot be.

The tests that produce errors live in ``test_errors_*.py`` beside this file, each with a ``CASES`` dict
keyed ``(group, res)``; this test gathers the keys and checks them against ``data/dm_errors.yaml`` and
``data/terminal_errors.yaml``: a row no test produces must carry ``unreachable`` with its reason, and a
row that is produced must not.
"""

from __future__ import annotations

import importlib
import pkgutil

import tests.fronts.dm as here
from emulator.fronts.dm.errors import dm_tables


def produced() -> set[tuple[str, int]]:
    keys: set[tuple[str, int]] = set()
    for info in pkgutil.iter_modules(here.__path__):
        if info.name.startswith("test_errors_"):
            mod = importlib.import_module(f"tests.fronts.dm.{info.name}")
            keys |= set(mod.CASES)
    return keys


def test_every_row_is_produced_or_says_why_not() -> None:
    got = produced()
    missing = [f"{r.group} {r.res} {r.text[:50]}" for r in dm_tables() if (r.group, r.res) not in got and not r.unreachable]
    assert not missing, "rows neither produced by a test nor marked unreachable:\n" + "\n".join(missing)


def test_a_produced_row_is_not_marked_unreachable() -> None:
    got = produced()
    wrong = [f"{r.group} {r.res}" for r in dm_tables() if (r.group, r.res) in got and r.unreachable]
    assert not wrong, wrong


def test_every_case_names_a_row_of_the_tables() -> None:
    rows = {(r.group, r.res) for r in dm_tables()}
    assert produced() <= rows, sorted(produced() - rows)


def test_the_readme_lists_every_row_not_produced_with_its_reason() -> None:
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[3]
    got = subprocess.run([sys.executable, str(root / "tools" / "update_dm_errors_table.py"), "--check"],
                         capture_output=True, text=True, cwd=root)
    assert got.returncode == 0, got.stdout + got.stderr
