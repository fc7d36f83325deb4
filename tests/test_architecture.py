"""The layout's rules, checked on the code itself.

* the import-linter contracts of ``pyproject.toml`` hold (layers in one
  direction, mock servers independent, no cycles between sibling packages);
* no module imports another module's private name (``from x import _y``);
* no module of the device core is over about 400 lines.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("emulator", "firmware_menu", "tls_store")
DEVICE_CORE_MAX_LINES = 420


def _modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run([str(lint), "--no-cache", "--config", str(ROOT / "pyproject.toml")], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "Contracts: 3 kept, 0 broken." in out.stdout


def private_imports(path: Path) -> list[str]:
    """``module.name`` for every ``from module import _name`` in the file (dunders are not private)."""
    tree = ast.parse(path.read_text("utf-8"), str(path))
    return [f"{node.lineno}: {node.module}.{alias.name}" for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
            for alias in node.names if alias.name.startswith("_") and not alias.name.startswith("__")]


def test_no_private_names_imported_across_modules() -> None:
    found = [f"{p.relative_to(ROOT)}:{hit}" for p in _modules() for hit in private_imports(p)]
    assert not found, "private names imported across modules:\n" + "\n".join(found)


def test_the_private_name_scan_finds_one(tmp_path: Path) -> None:
    sample = tmp_path / "m.py"
    sample.write_text("from emulator.devices.kkt import settings\nfrom emulator.x import __version__, _secret\n")
    assert private_imports(sample) == ["2: emulator.x._secret"]


def test_device_core_modules_stay_small() -> None:
    big = {str(p.relative_to(ROOT)): n for p in (ROOT / "emulator" / "devices").rglob("*.py")
           if (n := len(p.read_text("utf-8").splitlines())) > DEVICE_CORE_MAX_LINES}
    assert not big, f"device-core modules over {DEVICE_CORE_MAX_LINES} lines: {big}"
