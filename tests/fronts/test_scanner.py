"""The barcode scanner on a real pseudo-terminal: what a scanner in serial-emulation mode writes (the code,
GS as 0x1D, then CR; optionally a prefix) reaches the device as the code, and a scanned code sells a marked
item."""

from __future__ import annotations

import queue
import time

import pytest
import serial

from emulator.fronts.operator import Operator
from emulator.fronts.scanner import MAX_LINE, ScannerPort, parse_affix
from emulator.world.root import World
from emulator.world.spec import make_backend

TOKEN = "7f0c0d6e-3b1a-4c53-9a8e-5d2f0e9b1c42"
CODE = "010469999040001121Shop04ok\x1d93Tl04"


def scanner(**kw):
    got: queue.Queue[str] = queue.Queue()
    port = ScannerPort(got.put, **kw)
    port.start()
    return port, got


def take(got, n, timeout=5.0):
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        try:
            out.append(got.get(timeout=0.1))
        except queue.Empty:
            pass
    return out


def test_codes_with_gs_and_cr_arrive_whole_whatever_the_chunks():
    port, got = scanner()
    try:
        with serial.Serial(port.path, 9600) as s:
            raw = CODE.encode() + b"\r"
            for i in range(0, len(raw), 5):          # a slow scanner: pieces
                s.write(raw[i:i + 5])
                s.flush()
                time.sleep(0.01)
            s.write(b"04699990300014Shop003AC=UTl03\r\n" + CODE.encode() + b"\r")   # CR LF from a misset scanner
        assert take(got, 3) == [CODE, "04699990300014Shop003AC=UTl03", CODE]
    finally:
        port.stop()


def test_a_configured_prefix_and_suffix():
    port, got = scanner(prefix="]d2", suffix=parse_affix("TAB", "suffix"))
    try:
        with serial.Serial(port.path, 9600) as s:
            s.write(b"]d2" + CODE.encode() + b"\t" + CODE.encode() + b"\t")
        assert take(got, 2) == [CODE, CODE]
    finally:
        port.stop()


def test_an_endless_line_is_dropped_and_the_next_code_still_arrives():
    port, got = scanner()
    try:
        with serial.Serial(port.path, 9600) as s:
            s.write(b"x" * (MAX_LINE * 3))
            time.sleep(0.2)
            s.write(b"\r" + CODE.encode() + b"\r")
        assert take(got, 1) == [CODE]
        assert port.stats["dropped"] >= 1
    finally:
        port.stop()


def test_affix_names_and_bad_affixes():
    assert parse_affix("CRLF", "suffix") == "\r\n" and parse_affix("none", "prefix") == ""
    with pytest.raises(ValueError):
        parse_affix("NONE", "suffix")
    with pytest.raises(ValueError):
        parse_affix("é", "prefix")


def test_a_code_from_the_scanner_pty_sells_a_marked_item(tmp_path):
    world = World.build("simulated", 1_768_456_800_000, make_backend(0, {"tokens": {"prod": [TOKEN]}}))
    port, got = scanner()
    try:
        device = world.new_device(tmp_path / "dev")
        device.settings.token = TOKEN
        op = Operator(device, lambda: world.settle(lambda: device.waiting, 60_000))
        op.status_check()
        op.open_shift()
        op.press_text("99")
        with serial.Serial(port.path, 9600) as s:
            s.write(CODE.encode() + b"\r")
        (code,) = take(got, 1)
        device.scan(code)                  # the device's thread takes what the scanner's thread read
        op.settle()
        position = device.receipt.positions[-1]
        assert (position.marking, position.price, position.gismt) == (CODE, 9900, "allowed")
        op.close_receipt()
        assert device.receipts[-1].positions[-1].marking == CODE
    finally:
        port.stop()
        world.close()
