"""Package mode across a kill -9: the DM (a process of its own) dies while the terminal (another process)
waits for the card; the card comes and the bank approves (the emulated terminal completes the operation
when it is next polled, at the next connection, on its wall clock); the DM started again on its database and asked
the same request (same tag) settles that payment with the terminal and does not charge the card twice."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from emulator.base.storage import private_dir


def _console(term: subprocess.Popen[str], line: str) -> str:
    assert term.stdin is not None and term.stdout is not None
    term.stdin.write(line + "\n")
    term.stdin.flush()
    return term.stdout.readline().strip()


def _status_until(term: subprocess.Popen[str], want: str, timeout_s: float = 20) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        got = _console(term, "status")
        if want in got or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def _child(directory: Path, port: int, tag: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "tests.fronts.dm.pkg_child", str(directory), str(port), tag],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_dm_killed_while_the_terminal_waits_for_the_card_charges_once(tmp_path: Path) -> None:
    directory = private_dir(tmp_path / "dm-home")
    term = subprocess.Popen([sys.executable, "-m", "emulator.cli", "terminal", "serve", "--port", "0",
                             "--present-ms", "2500", "--bank-ms", "200"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert term.stdout is not None
    first = second = None
    try:
        line = term.stdout.readline()
        assert line.startswith("terminal listening on 127.0.0.1:"), line
        port = int(line.rsplit(":", 1)[1])
        term.stdout.readline()
        first = _child(directory, port, "kill-1")
        assert first.stdout is not None
        assert first.stdout.readline().strip() == "asking"
        assert "busy True" in _status_until(term, "busy True")        # the card is awaited
        first.kill()                                                   # SIGKILL: nothing after this runs
        first.wait(10)
        time.sleep(3.0)            # the card came (2.5 s) and the bank approved (0.2 s): the payment is made
        second = _child(directory, port, "kill-1")
        out, err = second.communicate(timeout=60)
        answer = json.loads(out.splitlines()[-1])
        assert answer["res"] == 0, (answer, err)
        assert answer["info"]["pay"]["resync"] == "credited" and answer["info"]["pay"]["amount"] == "31.00"
        assert "1 transactions" in _console(term, "status")            # charged once
        lines = (directory / "fiscalized.txt").read_text("utf-8").splitlines()
        assert len(lines) == 1 and json.loads(lines[0])[0]["rrn"] == answer["info"]["pay"]["refundid"]
    finally:
        for p in (first, second, term):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait(10)
