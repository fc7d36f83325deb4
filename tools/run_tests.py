#!/usr/bin/env python3
"""The test suite in two pytest processes side by side (what ``make test`` and CI run).

The machine has two cores. The suite splits into a CPU-bound half that runs
on bytes or virtual time alone (the fuzz tests, the wire codecs, the rules,
the scenario loader) and the rest (real servers, real sockets and processes,
the browser, the bundled scenarios, several of which also run on the real
network and compare their logs). Each half runs in its
own pytest process; their outputs are printed one after the other, each
whole, and the last line sums both (``N passed, N failed``). The exit status
is pytest's worst: 0 only when both halves passed.

Usage: ``tools/run_tests.py [--serial] [PYTEST ARGS...]``; ``--serial`` runs
one process over the whole suite (as plain ``pytest`` does). Extra arguments
go to both processes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The CPU-bound half: no real server or timing bound in these (paths relative to the root).
CPU_HALF = ["tests/fuzz", "tests/wire", "tests/scenario", "tests/rules"]


def _counts(junit: Path) -> tuple[int, int, int, int]:
    """(tests, failures + errors, skipped, exit-worthy problems) of one junit file."""
    try:
        root = ET.parse(junit).getroot()
    except (OSError, ET.ParseError):
        return 0, 0, 0, 1
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    tests = sum(int(s.get("tests", 0)) for s in suites)
    failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
    skipped = sum(int(s.get("skipped", 0)) for s in suites)
    return tests, failed, skipped, 0


def main(argv: list[str]) -> int:
    py = sys.executable
    if argv[:1] == ["--serial"]:
        return subprocess.call([py, "-m", "pytest", *argv[1:]], cwd=ROOT)
    cpu = [p for p in CPU_HALF if (ROOT / p).exists()]
    ignore = [f"--ignore={p}" for p in cpu]
    with tempfile.TemporaryDirectory(prefix="kkt-emu-tests-") as tmp:
        t = Path(tmp)
        runs = {
            "cpu": ([py, "-m", "pytest", *cpu, f"--junitxml={t / 'cpu.xml'}", *argv], t / "cpu.out"),
            "rest": ([py, "-m", "pytest", "tests", *ignore, f"--junitxml={t / 'rest.xml'}", *argv], t / "rest.out"),
        }
        start = time.monotonic()
        procs = {}
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        for name, (cmd, out) in runs.items():
            procs[name] = (subprocess.Popen(cmd, cwd=ROOT, stdout=out.open("wb"), stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=env), out)
        codes = {}
        for name, (proc, _out) in procs.items():
            codes[name] = proc.wait()
        total = failed = skipped = broken = 0
        for name, (_proc, out) in procs.items():
            print(f"===== {name} half: {' '.join(runs[name][0][3:])}", flush=True)
            sys.stdout.write(out.read_text(errors="replace"))
            n, f, s, b = _counts(t / f"{name}.xml")
            total, failed, skipped, broken = total + n, failed + f, skipped + s, broken + b
    wall = time.monotonic() - start
    worst = max(codes.values())
    if broken and worst == 0:
        worst = 1
    print(f"===== both halves in {wall:.0f} s, exit statuses {codes}", flush=True)
    print(f"{total - failed - skipped} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return worst


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
