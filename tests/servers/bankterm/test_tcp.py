"""The emulated terminal over real TCP: framing on the wire, one client at a time, the clock, faults."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from emulator.base.clock import VirtualClock
from emulator.servers.bankterm.model import BankTerminal
from emulator.servers.bankterm.tcp import BankTermTcp
from emulator.wire.ecrjson import MAX_MESSAGE, Message, Splitter, encode

T0 = 1_780_000_000_000


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(T0)


@pytest.fixture
def term(clock: VirtualClock) -> BankTerminal:
    return BankTerminal(lambda: clock.now_ms)


@pytest.fixture
def server(term: BankTerminal) -> Iterator[BankTermTcp]:
    with BankTermTcp(term) as srv:
        yield srv


def connect(srv: BankTermTcp) -> socket.socket:
    s = socket.create_connection(srv.address, timeout=5)
    return s


def read(sock: socket.socket, n: int = 1, timeout: float = 5.0) -> list[Message]:
    sock.settimeout(timeout)
    sp, out = Splitter(), []
    while len(out) < n:
        data = sock.recv(65536)
        if not data:
            break
        out += [e for e in sp.feed(data) if isinstance(e, Message)]
    return out


def test_ping_with_its_leading_nul_is_answered_with_one_nul_terminated_frame(server: BankTermTcp) -> None:
    with connect(server) as s:
        s.sendall(encode(Message("PingDevice"), leading_nul=True))
        s.settimeout(5)
        raw = b""
        while not raw.endswith(b"\x00"):
            raw += s.recv(4096)
        assert raw.count(b"\x00") == 1 and raw.startswith(b"{")
        [ans] = Splitter().feed(raw)
        assert isinstance(ans, Message) and ans.params == {"code": "00", "responseCode": "0000"}


def test_one_client_at_a_time(server: BankTermTcp) -> None:
    first = connect(server)
    first.sendall(encode(Message("PingDevice")))
    assert read(first)[0].method == "PingDevice"
    with connect(server) as second:
        second.settimeout(5)
        assert second.recv(100) == b""                # closed at once, not a byte
    assert server.stats["rejected"] == 1
    first.sendall(encode(Message("PingDevice")))
    assert read(first)[0].method == "PingDevice"      # the first client is not disturbed
    first.close()
    deadline = time.monotonic() + 5
    while server.open_connections and time.monotonic() < deadline:
        time.sleep(0.01)
    with connect(server) as third:
        third.sendall(encode(Message("PingDevice")))
        assert read(third)[0].method == "PingDevice"


def test_the_card_timeout_on_a_virtual_clock_over_tcp(server: BankTermTcp, term: BankTerminal,
                                                      clock: VirtualClock) -> None:
    term.holder.plan(["no_card"])
    with connect(server) as s:
        s.sendall(encode(Message("Purchase", {"amount": "1.00", "merchantId": "0"})))
        s.sendall(encode(Message("ServiceMessage", {"msgType": "getLastStatMsgCode"})))
        [st] = read(s)
        assert st.params["LastStatMsgCode"] == "9"
        clock.advance(299_999)
        s.settimeout(0.3)
        with pytest.raises(TimeoutError):
            s.recv(100)
        clock.advance(1)
        [ans] = read(s)
        assert ans.method == "Purchase" and ans.params["responseCode"] == "1000" and ans.error is True


def test_an_over_long_frame_gets_an_error_answer_and_the_connection_goes_on(server: BankTermTcp) -> None:
    with connect(server) as s:
        s.sendall(b"x" * (MAX_MESSAGE + 10) + b"\x00" + b"not json\x00" + encode(Message("PingDevice")))
        a, b, c = read(s, 3)
        assert (a.method, a.error, a.description) == ("", True, "message too long")
        assert (b.method, b.description) == ("", "not JSON")
        assert c.method == "PingDevice"
    assert server.stats["bad_frames"] == 2


def test_down_resets_and_close_fault_closes(server: BankTermTcp, term: BankTerminal) -> None:
    term.faults.down = True
    with connect(server) as s:
        s.settimeout(5)
        try:
            s.sendall(encode(Message("PingDevice")))
            got = s.recv(100)
        except ConnectionResetError:
            got = b""
        assert got == b""                             # no answer: the connection is reset
    assert server.stats["reset"] == 1
    term.faults.down = False
    term.faults.plan(["close"])
    with connect(server) as s:
        s.sendall(encode(Message("CheckConnection", {})))
        s.settimeout(5)
        assert s.recv(100) == b""


def test_a_late_answer_goes_to_the_next_connection(server: BankTermTcp, term: BankTerminal,
                                                   clock: VirtualClock) -> None:
    with connect(server) as s:
        s.sendall(encode(Message("CheckConnection", {})))
        time.sleep(0.1)
    clock.advance(term.config.host_ms)
    with connect(server) as s2:
        s2.sendall(encode(Message("ServiceMessage", {"msgType": "getLastResult"})))
        got = read(s2, 2)
        assert [m.method for m in got] == ["CheckConnection", "ServiceMessage"]
        assert got[1].params["LastResult"] == "0"


def test_a_scheduled_down_resets_new_connections_from_its_moment(server: BankTermTcp, term: BankTerminal,
                                                                 clock: VirtualClock) -> None:
    term.schedule(T0 + 60_000, down=True)
    with connect(server) as s:
        s.sendall(encode(Message("PingDevice")))
        assert read(s)[0].method == "PingDevice"
    clock.advance(60_000)
    deadline = time.monotonic() + 5
    while server.open_connections and time.monotonic() < deadline:
        time.sleep(0.01)
    with connect(server) as s:
        s.settimeout(5)
        try:
            s.sendall(encode(Message("PingDevice")))
            got = s.recv(100)
        except ConnectionResetError:
            got = b""
        assert got == b""
    assert server.stats["reset"] == 1
