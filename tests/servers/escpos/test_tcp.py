"""The printer's raw TCP front over real sockets."""

from __future__ import annotations

import socket
import time

import pytest

from emulator.servers.escpos.model import PrinterModel
from emulator.servers.escpos.tcp import PrinterTcp

RECEIPT = b"\x1b@over tcp\n\x1dV\x00"
Q1, Q4 = b"\x10\x04\x01", b"\x10\x04\x04"


@pytest.fixture
def printer():
    model = PrinterModel()
    with PrinterTcp(model, idle_timeout_s=1.0) as srv:
        yield model, srv


def connect(srv: PrinterTcp, timeout: float = 3.0) -> socket.socket:
    return socket.create_connection(srv.address, timeout=timeout)


def wait(cond, timeout: float = 3.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.01)


def test_print_and_status_over_tcp(printer):
    model, srv = printer
    with connect(srv) as s:
        s.sendall(RECEIPT + Q1 + Q4)
        got = b""
        while len(got) < 2:
            got += s.recv(2)
        assert got == b"\x12\x12"
    wait(lambda: len(model.documents) == 1)
    assert model.documents[0].text_lines() == ["over tcp"]


def test_status_answer_comes_after_the_receipt_was_handled(printer):
    model, srv = printer
    with connect(srv) as s:
        s.sendall(RECEIPT + Q1)
        assert s.recv(1) == b"\x12"
        assert len(model.documents) == 1           # the answer came after the cut was handled


def test_one_connection_at_a_time(printer):
    model, srv = printer
    first = connect(srv)
    second = connect(srv)
    second.sendall(Q1)
    second.settimeout(0.5)
    with pytest.raises(TimeoutError):
        second.recv(1)                              # waits while the first is open
    first.sendall(Q1)
    assert first.recv(1) == b"\x12"
    first.close()
    second.settimeout(3)
    assert second.recv(1) == b"\x12"
    second.close()


def test_offline_resets_new_and_open_connections(printer):
    model, srv = printer
    s = connect(srv)
    s.sendall(Q1)
    assert s.recv(1) == b"\x12"
    model.set_fault("offline", True)
    with pytest.raises(ConnectionError):
        for _ in range(20):
            if not s.recv(1):
                raise ConnectionResetError
    s.close()
    with pytest.raises(ConnectionError):
        c = connect(srv)
        c.sendall(Q1)
        if not c.recv(1):
            raise ConnectionResetError
    model.set_fault("offline", False)
    with connect(srv) as ok:
        ok.sendall(Q1)
        assert ok.recv(1) == b"\x12"


def test_slow_printer_answers_late(printer):
    model, srv = printer
    model.set_fault("slow", 600)
    with connect(srv) as s:
        t = time.monotonic()
        s.sendall(Q1)
        assert s.recv(1) == b"\x12"
        assert time.monotonic() - t >= 0.55


def test_held_receipts_stop_the_reading_so_the_sender_waits(printer):
    model, srv = printer
    model.hold_limit = 50
    model.set_fault("cover_open", True)
    line = b"x" * 40 + b"\n"
    with connect(srv) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32768)
        s.settimeout(0.3)
        sent = 0
        with pytest.raises(TimeoutError):
            for _ in range(100_000):
                sent += s.send(line * 100)
        # the front read about one chunk past the limit and then stopped: the rest waits in the sockets
        assert model.held <= 50 + 4096 and sent > 4096 * 4
        assert model.paper.lines_printed == 0
        model.set_fault("cover_open", False)
        wait(lambda: model.paper.lines_printed >= sent // len(line), timeout=20)
        assert model.held == 0


def test_idle_connection_is_closed(printer):
    model, srv = printer
    with connect(srv) as s:
        s.settimeout(5)
        t = time.monotonic()
        assert s.recv(1) == b""
        assert 0.9 <= time.monotonic() - t < 4
    assert srv.stats["idle_closed"] == 1
