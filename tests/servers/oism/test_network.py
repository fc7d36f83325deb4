"""The mock ОИСМ as a network exchange: 81 → 83 with 2106, 82 → 84, simulated and over TCP."""

import pytest

from emulator.base.clock import VirtualClock
from emulator.net.ofdlink import CLOSED, GARBAGE, REFUSED, TIMEOUT, SimFiscalLink, TcpFiscalLink
from emulator.net.oism import SimOismLink
from emulator.servers.oism.model import OismModel
from emulator.servers.oism.routes import OismServer
from emulator.servers.oism.tcp import OismTcp
from emulator.wire.ffd.document import Document
from emulator.wire.ffd.envelope import int_field, num, open_message, wrap_document
from emulator.wire.ffd.session import OISM_S_VERSION, OISM_SIGNATURE
from tests.servers.ofd.docs import CODE, FN, T0, message


def request(code: str | None = CODE, number: int = 7) -> bytes:
    fields = [int_field(2001, number, 4), int_field(2003, 1, 1)]
    if code is not None:
        fields.append((2000, code))
    return wrap_document(Document(81, tuple(fields)).encode(), fn_number=FN, fd_number=0, peer="oism")


def notification(number: int = 3) -> bytes:
    return wrap_document(Document(82, (int_field(2002, number, 4), (2000, CODE))).encode(),
                         fn_number=FN, fd_number=0, peer="oism")


def answer(reply: bytes) -> Document:
    opened = open_message(reply)
    assert opened.session.signature == OISM_SIGNATURE and opened.session.s_version == OISM_S_VERSION
    return Document.decode(opened.document)


@pytest.mark.parametrize("value, status", [(15, 1), (7, 2), (3, 2)])
def test_request_81_gets_83_with_the_models_2106(value, status):
    server = OismServer(OismModel({CODE: value}))
    doc = answer(server.exchange(request(), T0).reply)
    assert doc.doc_type == 83 and doc.get(2106) == value and num(doc.get(2109)) == status
    assert num(doc.get(2001)) == 7 and doc.get(2000) == CODE and num(doc.get(2105)) == 0
    assert server.model.checks == 1 and server.stats["requests"] == 1


def test_notification_82_gets_84_and_bad_input_gets_no_answer():
    server = OismServer()
    doc = answer(server.exchange(notification(), T0).reply)
    assert doc.doc_type == 84 and num(doc.get(2002)) == 3 and num(doc.get(2111)) == 0
    no_code = answer(server.exchange(request(code=None), T0).reply)
    assert num(no_code.get(2105)) == 1 and no_code.get(2106) == 0
    assert server.exchange(message(1), T0).reply is None          # an OFD message: not for the ОИСМ
    assert server.exchange(b"\x00" * 64, T0).reply is None
    assert server.stats["bad"] == 2


def test_reject_plan_answers_negatively():
    server = OismServer()
    server.faults.plan.plan(["reject", "reject"])
    doc = answer(server.exchange(request(), T0).reply)
    assert num(doc.get(2105)) == 1 and doc.get(2106) == 15 & ~0b1100
    assert num(answer(server.exchange(notification(), T0).reply).get(2111)) == 1


@pytest.mark.parametrize("item, failure", [
    ("refuse", REFUSED), ("stall", TIMEOUT), ("close", CLOSED), ("garbage", GARBAGE),
])
def test_failures_through_the_simulated_link(item, failure):
    clock = VirtualClock(T0)
    server = OismServer()
    server.faults.plan.plan([item])
    link = SimFiscalLink(clock, server, latency_ms=40, timeout_ms=2000, signatures=(OISM_SIGNATURE,))
    got = []
    link.send(request(), got.append)
    link.send(request(), got.append)
    clock.run_until_idle()
    assert [r.failure for r in got] == [failure, None] or [r.failure for r in got] == [None, failure]
    assert answer([r for r in got if r.ok][0].reply).get(2106) == 15


def test_over_tcp_and_the_in_process_answerer_still_works():
    model = OismModel({CODE: 7})
    server = OismServer(model)
    with OismTcp(server, now_ms=lambda: T0) as tcp:
        link = TcpFiscalLink(*tcp.address, timeout_ms=2000, signatures=(OISM_SIGNATURE,))
        got = []
        link.send(request(), got.append)
        link.send(notification(), got.append)
        link.send(message(1), got.append)              # an OFD signature: the framer drops it, closed
        assert answer(got[0].reply).get(2106) == 7
        assert answer(got[1].reply).doc_type == 84
        assert got[2].failure == CLOSED and tcp.stats["framing_errors"] == 1
    seen = []
    SimOismLink(model).request(CODE, seen.append)
    assert seen == [7] and model.checks == 2
