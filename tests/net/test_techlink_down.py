"""The real technological-server link switched off (the training console's switch, a scenario's
``tech: {down: true}``): every request is refused without a connection, and switching it on again works."""

from __future__ import annotations

import queue

from emulator.base.failures import Failure
from emulator.net.techlink import TcpTechLink
from emulator.servers.techserver.model import TechServer
from emulator.servers.techserver.tcp import TechServerTcp
from emulator.wire.techframes import Frame

HELLO = Frame("HELLO", 1, {"serial": "00000000000042", "model": "Меркурий", "inn": "7701234567",
                           "firmware": "1", "device_key": "k" * 32, "device_time_ms": 0, "pending_records": 0})


def test_switched_off_the_link_refuses_without_connecting_and_on_again_it_reaches_the_server(tmp_path) -> None:
    model = TechServer(tmp_path / "tech.sqlite3")
    tcp = TechServerTcp(model, "127.0.0.1", 0).start()
    got: queue.SimpleQueue = queue.SimpleQueue()
    link = TcpTechLink(lambda fn: fn(), tcp.address)
    try:
        link.down = True
        link.request("s1", HELLO, got.put)
        reply = got.get(timeout=10)
        assert reply.frame is None and reply.failure is Failure.REFUSED
        assert "switched off" in reply.detail
        assert link.sessions_opened == 0            # no connection was made
        link.down = False
        link.request("s1", HELLO, got.put)
        reply = got.get(timeout=10)
        assert reply.failure is None and reply.frame is not None      # the server answered (whatever it said)
        assert link.sessions_opened == 1
    finally:
        link.shutdown()
        tcp.stop()


def test_a_defect_in_the_link_worker_is_delivered_as_a_failure_not_swallowed(tmp_path, monkeypatch, caplog) -> None:
    from emulator.net import techclient

    def broken(self, frame):
        raise ValueError("a defect")

    model = TechServer(tmp_path / "tech.sqlite3")
    tcp = TechServerTcp(model, "127.0.0.1", 0).start()
    got: queue.SimpleQueue = queue.SimpleQueue()
    link = TcpTechLink(lambda fn: fn(), tcp.address)
    monkeypatch.setattr(techclient.TechClient, "request", broken)
    try:
        link.request("s1", HELLO, got.put)
        reply = got.get(timeout=10)
        assert reply.frame is None and reply.failure is Failure.PEER_CLOSED and "ValueError" in reply.detail
        assert "a link worker failed" in caplog.text
    finally:
        link.shutdown()
        tcp.stop()
