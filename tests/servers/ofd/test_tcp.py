"""The mock OFD over real loopback TCP: the device's TCP link, faults, and the front's limits."""

import socket
import time

import pytest

from emulator.net.fiscaltcp import FiscalTcpServer
from emulator.net.ofdlink import CLOSED, GARBAGE, REFUSED, TIMEOUT, TcpFiscalLink
from emulator.servers.ofd.model import ACCEPTED, OfdModel
from emulator.servers.ofd.tcp import OfdTcp
from emulator.wire.ffd.document import Document
from emulator.wire.ffd.envelope import num, open_message
from emulator.wire.ffd.session import MAX_BODY
from tests.servers.ofd.docs import T0, message, receipt


@pytest.fixture
def ofd():
    model = OfdModel(key=b"k" * 32)
    with OfdTcp(model, now_ms=lambda: T0, message_timeout_s=0.5, write_timeout_s=0.5) as server:
        yield server


def test_documents_over_tcp_are_stored_in_order_and_acknowledged(ofd):
    link = TcpFiscalLink(*ofd.address, timeout_ms=2000)
    for fd in range(1, 6):
        got = []
        link.send(message(fd), got.append)
        assert got[0].ok, got[0]
        opened = open_message(got[0].reply)
        assert opened.container.fd_number == fd
        assert num(Document.decode(opened.document).get(1022)) == ACCEPTED
        assert ofd.model.verify_ack(got[0].reply, receipt(fd))
    assert [r.fd_number for r in ofd.model.documents] == [1, 2, 3, 4, 5]
    assert [r.message for r in ofd.model.documents] == [message(fd) for fd in range(1, 6)]


def test_several_messages_on_one_connection(ofd):
    with socket.create_connection(ofd.address, timeout=2) as s:
        s.sendall(b"".join(message(fd) for fd in (1, 2, 3)))
        data = b""
        while data.count(b"\x2a\x08\x41\x0a") < 3:
            chunk = s.recv(65536)
            assert chunk
            data += chunk
    assert len(ofd.model.documents) == 3


@pytest.mark.parametrize("item, failure", [
    ("refuse", CLOSED), ("close", CLOSED), ("stall", TIMEOUT), ("garbage", GARBAGE),
])
def test_faults_over_tcp(ofd, item, failure):
    ofd.model.faults.plan.plan([item])
    got = []
    TcpFiscalLink(*ofd.address, timeout_ms=300).send(message(1), got.append)
    assert got[0].failure == failure
    got = []
    TcpFiscalLink(*ofd.address, timeout_ms=2000).send(message(1), got.append)
    assert got[0].ok


def test_slow_server_over_tcp(ofd):
    ofd.model.faults.plan.latency_ms = 600
    got = []
    t = time.monotonic()
    TcpFiscalLink(*ofd.address, timeout_ms=300).send(message(1), got.append)
    assert got[0].failure == TIMEOUT and time.monotonic() - t < 0.6
    ofd.model.faults.plan.latency_ms = 100
    got = []
    TcpFiscalLink(*ofd.address, timeout_ms=2000).send(message(2), got.append)
    assert got[0].ok


def test_no_server_is_refused():
    s = socket.create_server(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    got = []
    TcpFiscalLink("127.0.0.1", port, timeout_ms=500).send(message(1), got.append)
    assert got[0].failure == REFUSED


def _closed_within(sock: socket.socket, seconds: float) -> float:
    t = time.monotonic()
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    return time.monotonic() - t


def test_a_trickling_peer_is_closed_at_the_whole_message_deadline(ofd):
    msg = message(1)
    with socket.create_connection(ofd.address, timeout=3) as s:
        t = time.monotonic()
        for b in msg[:40]:                       # a byte every 20 ms: the message never completes in 0.5 s
            try:
                s.sendall(bytes([b]))
            except OSError:
                break
            time.sleep(0.02)
        assert _closed_within(s, 2.5) + (time.monotonic() - t) < 2.5
    assert ofd.stats["timeouts"] == 1 and ofd.model.documents == []


@pytest.mark.parametrize("junk", [
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    message(1)[:24] + (MAX_BODY + 1).to_bytes(2, "little") + b"\x14\x00\x00\x00",   # over the size bound
])
def test_garbage_and_oversized_messages_end_the_connection(ofd, junk):
    with socket.create_connection(ofd.address, timeout=3) as s:
        s.sendall(junk + message(1))
        assert _closed_within(s, 2) < 1.0
    assert ofd.stats["framing_errors"] == 1 and ofd.model.documents == []


def test_a_peer_that_never_reads_is_cut_off():
    model = OfdModel()
    with OfdTcp(model, now_ms=lambda: T0, write_timeout_s=0.5, max_messages=100_000) as server:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.settimeout(5)
            s.connect(server.address)
            msg = message(1)
            t = time.monotonic()
            try:
                while time.monotonic() - t < 8:
                    s.sendall(msg * 50)
            except OSError:
                pass
            assert time.monotonic() - t < 8
        assert server.stats["write_timeouts"] == 1


def test_the_front_listens_on_loopback_only():
    with pytest.raises(ValueError, match="loopback"):
        FiscalTcpServer(lambda m, t: None, host="0.0.0.0")   # type: ignore[arg-type,return-value]


def test_stopping_with_open_connections_is_quiet(caplog):
    model = OfdModel()
    server = OfdTcp(model).start()
    socks = [socket.create_connection(server.address, timeout=2) for _ in range(3)]
    socks[0].sendall(message(1)[:10])
    deadline = time.monotonic() + 2
    while server.open_connections < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    with caplog.at_level("ERROR", logger="asyncio"):
        server.stop()
        time.sleep(0.1)
    for s in socks:
        s.close()
    assert server.open_connections == 0
    assert not [r for r in caplog.records if r.name == "asyncio"], caplog.text
