"""The ПРРО's link to the tax server: httpx over loopback and in process, faults as ``TaxLinkDown``."""

import json
import socket

import pytest

from emulator.base.clock import VirtualClock
from emulator.net.taxlink import JSON, HttpTaxLink, LocalTaxLink, TaxLinkDown
from emulator.servers.taxfs.model import TaxServer
from emulator.servers.taxfs.web import make_host

STATE = json.dumps({"Command": "ServerState", "UID": "u1"}).encode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_http_link_round_trip_and_a_lost_answer():
    server = TaxServer(VirtualClock(1_772_434_800_000))
    with make_host(server) as host:
        link = HttpTaxLink(f"{host.url}/fs", timeout_s=5)
        try:
            answer = link.post("cmd", STATE, JSON)
            assert answer.status == 200 and json.loads(answer.body)["UID"] == "u1"
            server.faults.plan(["lost-answer"])
            with pytest.raises(TaxLinkDown):
                link.post("cmd", STATE, JSON)
            server.faults.down = True
            with pytest.raises(TaxLinkDown):
                link.post("cmd", STATE, JSON)
        finally:
            link.close()


def test_http_link_to_nothing_is_down_in_one_line():
    link = HttpTaxLink(f"http://127.0.0.1:{_free_port()}/fs", timeout_s=2)
    with pytest.raises(TaxLinkDown) as exc:
        link.post("doc", b"x", "application/octet-stream")
    assert "\n" not in str(exc.value)
    with pytest.raises(ValueError):
        link.post("other", b"", JSON)


def test_local_link_meets_the_same_faults_and_moves_the_clock_by_the_latency():
    clock = VirtualClock(1_772_434_800_000)
    server = TaxServer(clock)
    link = LocalTaxLink(server, advance=lambda ms: clock.run_until(clock.now_ms + ms))
    assert link.post("cmd", STATE, JSON).status == 200
    server.faults.latency_ms = 250
    link.post("cmd", STATE, JSON)
    assert clock.now_ms == 1_772_434_800_250
    server.faults.plan(["refuse", "lost-answer"])
    for _ in range(2):
        with pytest.raises(TaxLinkDown):
            link.post("cmd", STATE, JSON)
