"""``kkt-emu dm serve`` in a separate process on a free port: its URLs read from its first lines."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

READY_S = 60


@dataclass
class Served:
    proc: subprocess.Popen[str]
    url: str              # http://127.0.0.1:PORT
    control: str          # the control API's URL
    banner: list[str]
    lines: queue.Queue[str] = field(default_factory=queue.Queue)

    def console(self, line: str, timeout_s: float = 20) -> str:
        """One console line; the first line it answered."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return next_line(self.lines, timeout_s)

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


def next_line(lines: queue.Queue[str], timeout_s: float) -> str:
    try:
        return lines.get(timeout=max(timeout_s, 0.01))
    except queue.Empty:
        raise AssertionError(f"no line from the DM in {timeout_s:.0f} s") from None


def _pump(proc: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.put(line.rstrip("\n"))


def start(*extra: str) -> Served:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "emulator.cli", "dm", "serve", "--port", "0", *extra],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, bufsize=1)
    banner: list[str] = []
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_pump, args=(proc, lines), daemon=True).start()
    deadline = time.monotonic() + READY_S
    while len(banner) < 3:
        left = deadline - time.monotonic()
        if left <= 0 or (proc.poll() is not None and lines.empty()):
            proc.kill()
            raise AssertionError(f"dm serve did not start: {banner} {proc.stderr.read() if proc.stderr else ''}")
        try:
            banner.append(lines.get(timeout=min(left, 0.5)))
        except queue.Empty:
            continue
    m = re.match(r"device manager: (http://127\.0\.0\.1:\d+)/dm/execute$", banner[0])
    c = re.match(r"control API: +POST (http://\S+)$", banner[1])
    assert m and c, banner
    return Served(proc, m.group(1), c.group(1), banner, lines)
