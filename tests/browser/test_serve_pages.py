"""``kkt-emu serve`` with its technological server, used the way a trainer shows it.

One real ``kkt-emu serve`` process (the mock True API over HTTPS, the device in
real time, the technological server's exchange over TCP and its pages over
HTTP); the pages in headless Chromium, the device through serve's console on
standard input. The vendor's procedure end to end: the device appears on the
list after its first session, the certificates are prepared and sent from the
pages, the device shows the prompt at its next session, key 3 applies them, the
page shows the task applied, and the GIS MT check still passes TLS.
"""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

TOKEN = "5e1d7c2a-8b44-4f0e-9c3d-a1b2c3d4e5f6"
WAIT = 30.0


class ServeProcess:
    """``kkt-emu serve`` in a child process; its output lines on a queue read by a thread."""

    def __init__(self, state: Path) -> None:
        cmd = [sys.executable, "-m", "emulator.cli", "serve", "--state-dir", str(state), "--token", TOKEN]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, encoding="utf-8")
        self.lines: list[str] = []
        self._q: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._q.put(line.rstrip("\n"))
        self._q.put(None)

    def until(self, pattern: str, timeout: float = WAIT) -> re.Match[str]:
        """Read lines until one matches ``pattern`` (a regular expression)."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            try:
                line = self._q.get(timeout=max(left, 0.01))
            except queue.Empty:
                line = ""
            if line is None or left <= 0:
                tail = "\n".join(self.lines[-30:])
                raise AssertionError(f"no line matching {pattern!r} within {timeout} s:\n{tail}")
            self.lines.append(line)
            m = re.search(pattern, line)
            if m:
                return m

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise AssertionError("kkt-emu serve did not stop on SIGINT within 20 s") from None
        return self.proc.returncode


@pytest.fixture
def serve_proc(tmp_path: Path) -> Any:
    p = ServeProcess(tmp_path / "state")
    try:
        yield p
    finally:
        p.stop()


def test_serve_pages_and_the_certificate_procedure(serve_proc: ServeProcess, new_page: Any,
                                                    artefacts: Path) -> None:
    sp = serve_proc
    base = sp.until(r"pages (http://127\.0\.0\.1:\d+)/").group(1)
    sp.until(r"Ctrl-C stops")
    sp.until(r"\[tech\] session ended \(start\)")           # the first session at start

    page = new_page(base)
    assert page.goto(base + "/").status == 200
    rows = page.get_by_test_id("device-row")
    assert rows.count() == 1
    serial = rows.first.get_attribute("data-serial")
    assert serial and serial in rows.first.inner_text()
    assert "МСК" in rows.first.inner_text()                  # a last exchange is shown
    page.screenshot(path=str(artefacts / "serve-01-index.png"), full_page=True)

    page.get_by_role("link", name=serial).click()
    page.wait_for_url(f"{base}/device/{serial}/general")
    page.get_by_role("button", name="Запросить и применить на сервере").click()
    page.wait_for_url(re.compile(r"/general\?ok="))
    assert page.get_by_test_id("flash").get_attribute("data-kind") == "ok"

    page.get_by_role("link", name="Серверы").click()
    page.wait_for_url(f"{base}/device/{serial}/servers")
    page.get_by_role("button", name="Вставить сертификат").click()
    page.wait_for_url(re.compile(r"/servers\?ok="))
    page.get_by_role("button", name="Сохранить и отправить все настройки").click()
    page.wait_for_url(re.compile(r"/servers\?ok="))
    row = page.get_by_test_id("task-row")
    assert row.count() == 1 and row.get_attribute("data-state") == "queued"
    task_id = row.get_attribute("data-task-id")

    # The device's next session brings the settings; it asks, the cashier presses 3.
    sp.send("exchange")
    sp.until(r"\[tech\] settings waiting: task " + re.escape(str(task_id)))
    sp.until(r"\[tech\] session ended \(console\)")
    sp.send("screen")
    sp.until(r"ЕСТЬ НАСТР\. ДЛЯ")
    page.reload()
    assert page.get_by_test_id("task-row").get_attribute("data-state") == "sent"
    sp.send("press 3")
    sp.until(r"\[tech\] settings result sent for task " + re.escape(str(task_id)))

    page.reload()
    row = page.get_by_test_id("task-row")
    assert row.get_attribute("data-state") == "applied", row.inner_text()
    assert row.get_by_test_id("task-state").inner_text() == "применена"
    page.screenshot(path=str(artefacts / "serve-02-servers-applied.png"), full_page=True)

    # The GIS MT check passes TLS with the certificates the server sent.
    sp.send("goto СТАТУС ГИС МТ")
    sp.send("press ИТ")
    sp.until(r"ГИС МТ: OK")
    assert sp.stop() == 0
    sp.until(r"kkt-emu serve: stopped", timeout=5)
    assert TOKEN not in "\n".join(sp.lines)                 # masked in everything serve printed
