"""`kkt-emu printer serve` in its own process: a receipt sent over TCP comes out as a PNG, faults from the console."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import time

from PIL import Image
from pyzbar.pyzbar import decode

from emulator.fronts.printer import PrinterConsole
from emulator.net.escposlink import PrinterLink, Receipt
from emulator.servers.escpos.model import PrinterModel


def line(proc) -> str:
    out = proc.stdout.readline()
    assert out, "the printer process ended"
    return out.rstrip("\n")


def test_printer_serve_prints_to_png_and_takes_faults_on_stdin(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "emulator.cli", "printer", "serve", "--port", "0",
                             "--png-dir", str(tmp_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        m = re.fullmatch(r"printer listening on 127\.0\.0\.1:(\d+)", line(proc))
        assert m
        link = PrinterLink("127.0.0.1", int(m.group(1)))
        res = link.print_receipt(Receipt.from_data(["Привіт", {"t": "https://example.invalid/1", "qr_type": 100}]))
        assert res.outcome == "printed"
        got = line(proc)
        assert got.startswith("receipt 1: ") and got.endswith(str(tmp_path / "receipt-0001.png"))
        img = Image.open(io.BytesIO((tmp_path / "receipt-0001.png").read_bytes()))
        assert [s.data for s in decode(img)] == [b"https://example.invalid/1"]
        proc.stdin.write("cover-open on\n")
        proc.stdin.flush()
        assert line(proc) == "cover-open on"
        assert link.print_receipt(Receipt.from_data(["x"])).outcome == "cover_open"
        proc.stdin.write("quit\n")
        proc.stdin.flush()
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_printer_serve_refuses_a_non_loopback_host():
    t = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "emulator.cli", "printer", "serve", "--host", "0.0.0.0", "--port", "0"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "not a loopback address" in r.stderr and time.monotonic() - t < 30


def test_console_commands_and_bad_lines():
    model = PrinterModel()
    c = PrinterConsole(model)
    assert c.command("paper-out on") == "paper-out on" and model.paper_out
    assert c.command("slow 250") == "slow 250 ms" and model.slow_ms == 250
    assert c.command("paper-lines 3") == "paper-lines 3" and model.paper_lines == 3
    assert c.command("slow 99999999").startswith("? printer fault slow")
    assert c.command("offline maybe").startswith("? 'offline maybe': commands:")
    assert '"paper_out": true' in c.command("status")
    assert c.command("quit") is None and c.command("   ") == ""
