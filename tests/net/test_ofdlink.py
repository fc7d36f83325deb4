"""The device's fiscal links: every outcome of one exchange, simulated and over real TCP."""

import socket
import threading
import time

import pytest

from emulator.base.clock import VirtualClock
from emulator.net.ofdlink import (
    CLOSED,
    GARBAGE,
    REFUSED,
    TIMEOUT,
    LinkResult,
    ServerAnswer,
    SimFiscalLink,
    TcpFiscalLink,
)
from emulator.wire.ffd.session import (
    FFD12_PA_VERSION,
    OFD_S_VERSION,
    OFD_SIGNATURE,
    OISM_SIGNATURE,
    SessionMessage,
    encode_message,
)

REPLY = encode_message(SessionMessage(OFD_SIGNATURE, OFD_S_VERSION, FFD12_PA_VERSION, "9999078900005488",
                                      0x14, b"ack"))
REQUEST = encode_message(SessionMessage(OFD_SIGNATURE, OFD_S_VERSION, FFD12_PA_VERSION, "9999078900005488",
                                        0x14, b"doc"))


class Scripted:
    def __init__(self, answer: ServerAnswer) -> None:
        self.answer = answer
        self.seen: list[tuple[bytes, int]] = []

    def exchange(self, message: bytes, now_ms: int) -> ServerAnswer:
        self.seen.append((message, now_ms))
        return self.answer


@pytest.mark.parametrize("answer, failure, at_ms", [
    (ServerAnswer(REPLY, latency_ms=20), None, 50),
    (ServerAnswer(REPLY + b"more"), None, 30),
    (ServerAnswer(fault="refuse"), REFUSED, 30),
    (ServerAnswer(fault="stall"), TIMEOUT, 1000),
    (ServerAnswer(REPLY, latency_ms=5000), TIMEOUT, 1000),
    (ServerAnswer(fault="close"), CLOSED, 30),
    (ServerAnswer(REPLY[:20]), CLOSED, 30),
    (ServerAnswer(b"HTTP/1.1 400 Bad Request\r\n\r\n" * 3), GARBAGE, 30),
    (ServerAnswer(REPLY[:10] + b"x" + REPLY[11:]), GARBAGE, 30),
])
def test_sim_link_outcomes_on_the_virtual_clock(answer, failure, at_ms):
    clock = VirtualClock()
    server = Scripted(answer)
    link = SimFiscalLink(clock, server, latency_ms=30, timeout_ms=1000)
    got: list[tuple[int, LinkResult]] = []
    link.send(REQUEST, lambda r: got.append((clock.now_ms, r)))
    assert got == []                           # never within the call
    clock.run_until_idle()
    (when, result), = got
    assert when == at_ms and result.failure == failure and server.seen[0][0] == REQUEST
    assert (result.reply == REPLY) == (failure is None)


def test_sim_link_down_and_signature_filter():
    clock = VirtualClock()
    link = SimFiscalLink(clock, Scripted(ServerAnswer(REPLY)), signatures=(OISM_SIGNATURE,))
    got: list[LinkResult] = []
    link.send(REQUEST, got.append)
    link.down = True
    link.send(REQUEST, got.append)
    clock.run_until_idle()
    assert [r.failure for r in got] == [GARBAGE, REFUSED]


class RawServer:
    """A loopback TCP server that answers each connection with ``behaviour(conn)``."""

    def __init__(self, behaviour):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.behaviour = behaviour
        self.received: list[bytes] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    self.received.append(conn.recv(65536))
                    self.behaviour(conn)
                except OSError:
                    pass

    def close(self):
        self.sock.close()


def _linger_reset(conn):
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


@pytest.mark.parametrize("behaviour, failure", [
    (lambda c: [c.sendall(REPLY[:7]), time.sleep(0.05), c.sendall(REPLY[7:])], None),
    (lambda c: c.sendall(b"\x00" * 100), GARBAGE),
    (lambda c: c.sendall(REPLY[:25]), CLOSED),
    (lambda c: time.sleep(1.0), TIMEOUT),
    (lambda c: [c.sendall(REPLY[:3]), time.sleep(1.0)], TIMEOUT),   # a trickle: the deadline is whole
    (_linger_reset, CLOSED),
])
def test_tcp_link_outcomes(behaviour, failure):
    server = RawServer(behaviour)
    try:
        link = TcpFiscalLink("127.0.0.1", server.port, timeout_ms=400)
        got: list[LinkResult] = []
        t = time.monotonic()
        link.send(REQUEST, got.append)
        assert time.monotonic() - t < 1.5
        assert got[0].failure == failure, got[0]
        assert (got[0].reply == REPLY) == (failure is None)
        assert server.received[0] == REQUEST
    finally:
        server.close()


def test_tcp_link_refused_and_posted():
    s = socket.create_server(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    posted: list = []
    done = threading.Event()

    def post(fn):
        posted.append(fn)
        done.set()

    link = TcpFiscalLink("127.0.0.1", port, timeout_ms=500, post=post)
    got: list[LinkResult] = []
    link.send(REQUEST, got.append)
    assert done.wait(3) and got == []
    posted[0]()                                 # the device's thread runs the delivery
    assert got[0].failure == REFUSED
    link.shutdown()
