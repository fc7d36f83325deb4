"""``kkt-emu dm serve`` in a separate process on a free port: its URLs read from its first lines."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass

READY_S = 60


@dataclass
class Served:
    proc: subprocess.Popen[str]
    url: str              # http://127.0.0.1:PORT
    control: str          # the control API's URL
    banner: list[str]

    def console(self, line: str, timeout_s: float = 20) -> str:
        """One console line; the first line it answered."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return read_line(self.proc, timeout_s)

    def stop(self) -> int:
        if self.proc.poll() is None and self.proc.stdin is not None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        try:
            return self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)


def read_line(proc: subprocess.Popen[str], timeout_s: float) -> str:
    import selectors
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    if not sel.select(timeout_s):
        raise AssertionError(f"no line from the DM in {timeout_s} s")
    return proc.stdout.readline().rstrip("\n")


def start(*extra: str) -> Served:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "emulator.cli", "dm", "serve", "--port", "0", *extra],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, bufsize=1)
    banner: list[str] = []
    deadline = time.monotonic() + READY_S
    while len(banner) < 3:
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            proc.kill()
            raise AssertionError(f"dm serve did not start: {banner} {proc.stderr.read() if proc.stderr else ''}")
        banner.append(read_line(proc, left))
    m = re.match(r"device manager: (http://127\.0\.0\.1:\d+)/dm/execute$", banner[0])
    c = re.match(r"control API: +POST (http://\S+)$", banner[1])
    assert m and c, banner
    return Served(proc, m.group(1), c.group(1), banner)
