"""The explainer's time is bounded by its input: pathological text of 200 KB in well under 2 s.

The header and UUID expressions once backtracked over runs of blanks (2.5 KB of
spaces took a minute, and the reports page explains every record inside the web
server). The inputs run in a child process, so that a regression fails on its
timeout instead of hanging the suite.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BOUND_S = 2.0
N = 200_000
HEAD = "ГИС МТ\t758\t[1]\n"
CASES = {
    "spaces": " " * N,
    "tabs and spaces": " \t" * (N // 2),
    "source then spaces": "ГИС МТ" + " " * N + "x",
    "source then spaces then a code": "ГИС МТ" + " " * N + "758 x",
    "UUID then spaces": HEAD + "UUID=" + " " * N,
    "UUID then dashes and blanks": HEAD + "UUID=" + " -" * (N // 2),
    "UUID then line breaks": HEAD + "UUID=" + "\n" * N + "&",
    "digits and blanks": HEAD + "ВремяОбработки:" + "1 " * (N // 2),
    "digit lines": HEAD + "Цена:" + "1\n" * (N // 2),
    "blank lines": HEAD + "\n" + " " * N + "\n",
    "codes without sources": "a 758 " * (N // 6),
    "many records": (HEAD + "UUID=&Time=1 ") * (N // 30),
    "flag names and blanks": HEAD + "Найден" + " " * N + ":",
}

CHILD = """
import json, sys, time
from emulator.rules.explain import explain
cases = json.load(sys.stdin)
for name, text in cases.items():
    t = time.perf_counter()
    explain(text)
    print(json.dumps([name, time.perf_counter() - t]), flush=True)
"""


def test_pathological_input_is_explained_in_bounded_time():
    proc = subprocess.Popen([sys.executable, "-c", CHILD], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, encoding="utf-8")
    try:
        out, _ = proc.communicate(json.dumps(CASES), timeout=BOUND_S * len(CASES) + 10)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        done = [json.loads(line)[0] for line in out.splitlines()]
        pytest.fail(f"explain() did not finish: hung after {done}")
    times = dict(json.loads(line) for line in out.splitlines())
    assert set(times) == set(CASES)
    slow = {k: round(v, 3) for k, v in times.items() if v > BOUND_S}
    assert not slow, f"over {BOUND_S} s: {slow}"
