"""``kkt-emu terminal serve`` in a separate process, driven over real TCP and its stdin console."""

from __future__ import annotations

import subprocess
import sys

from emulator.net.bankterm import BankTermLink
from emulator.servers.bankterm.model import BankTerminal
from emulator.servers.bankterm.serve import command


def test_the_terminal_alone_in_its_own_process() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "emulator.cli", "terminal", "serve", "--port", "0",
                             "--present-ms", "20", "--pin-ms", "20", "--bank-ms", "20"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        first = proc.stdout.readline()
        assert first.startswith("terminal listening on 127.0.0.1:"), first + proc.stderr.read()
        port = int(first.rsplit(":", 1)[1])
        proc.stdout.readline()
        with BankTermLink("127.0.0.1", port, timeout_s=5) as link:
            assert link.open().ok
            assert link.purchase(10_00).ok
            proc.stdin.write("plan no_paper\n")
            proc.stdin.flush()
            assert proc.stdout.readline().strip() == "plan: no_paper"
            r = link.purchase(10_00)
            assert (r.res, r.errortxt) == (5005, "Помилка терміналу: Немає паперу в принтері")
        proc.stdin.write("bogus\nquit\n")
        proc.stdin.flush()
        assert proc.stdout.readline().startswith("error: unknown command 'bogus'")
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_only_loopback_is_served() -> None:
    r = subprocess.run([sys.executable, "-m", "emulator.cli", "terminal", "serve", "--host", "0.0.0.0",
                        "--port", "0"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stderr.strip() == "error: '0.0.0.0' is not a loopback address"


def test_console_commands() -> None:
    term = BankTerminal(lambda: 0)
    assert command(term, "holder no_card cancel") == "holder: no_card cancel"
    assert term.holder.actions == ["no_card", "cancel"]
    assert command(term, "holder fly").startswith("error: bad holder action 'fly'")
    assert term.holder.actions == ["no_card", "cancel"]
    assert command(term, "plan 500").startswith("error:") and command(term, "plan boom").startswith("error:")
    assert command(term, "host on") == "host: on" and term.host_down
    assert command(term, "down on") == "down: on" and term.faults.down
    assert command(term, "paper maybe") == "error: paper on|off" and not term.paper_out
    assert command(term, "latency 250") == "latency: 250 ms" and term.faults.latency_ms == 250
    assert command(term, "latency -5").startswith("error:")
    assert command(term, "keyboard 12,50").startswith("keyboard sale: invoice 1")
    assert command(term, "keyboard x").startswith("error:")
    assert command(term, "status").startswith("batch 1: 1 transactions; busy False")
    assert command(term, "   ") == ""
