"""The mock OFD model: storing, acknowledging, refusing, and its fault plans on the virtual clock."""

import pytest

from emulator.base.clock import VirtualClock
from emulator.net.ofdlink import CLOSED, GARBAGE, REFUSED, TIMEOUT, SimFiscalLink
from emulator.servers.ofd.model import ACCEPTED, BAD_FORMAT, CONFLICT, REJECTED, OfdModel
from emulator.wire.ffd.document import Document
from emulator.wire.ffd.envelope import num, open_message, wrap_document
from tests.servers.ofd.docs import FN, T0, message, receipt


def ack_fields(reply: bytes) -> tuple[int, Document]:
    opened = open_message(reply)
    assert opened.doc_type == 7 and opened.session.peer == "ofd"
    return opened.container.fd_number, Document.decode(opened.document)


def test_a_document_is_stored_once_and_acknowledged_with_the_models_sign():
    m = OfdModel(key=b"k" * 32)
    msg = message(1)
    reply = m.exchange(msg, T0).reply
    fd, ack = ack_fields(reply)
    assert fd == 1 and num(ack.get(1022)) == ACCEPTED and num(ack.get(1040)) == 1 and ack.get(1041) == FN
    assert len(ack.get(1078)) == 16 and m.verify_ack(reply, receipt(1))
    assert not m.verify_ack(reply, receipt(2)) and not OfdModel(key=b"x" * 32).verify_ack(reply, receipt(1))
    # the same again: not stored twice, the same acknowledgement
    assert m.exchange(msg, T0 + 1000).reply == reply
    (rec,) = m.documents
    assert rec.message == msg and rec.document == receipt(1) and rec.trailer == bytes(8) and rec.fd_number == 1
    assert m.stats["stored"] == 1 and m.stats["duplicates"] == 1


def test_conflict_reject_and_bad_messages():
    m = OfdModel()
    m.exchange(message(1), T0)
    _, ack = ack_fields(m.exchange(message(1, total=1), T0).reply)            # other bytes, same ФД
    assert num(ack.get(1022)) == CONFLICT and ack.get(1078) is None
    m.faults.plan.plan(["reject"])
    _, ack = ack_fields(m.exchange(message(2), T0).reply)
    assert num(ack.get(1022)) == REJECTED
    bad = bytearray(message(3))
    bad[-3] ^= 0xFF                                                           # container CRC now wrong
    fd, ack = ack_fields(m.exchange(bytes(bad), T0).reply)
    assert fd == 3 and num(ack.get(1022)) == BAD_FORMAT
    assert m.exchange(b"\x00" * 40, T0).reply is None                         # nothing to answer to
    oism = wrap_document(receipt(4), fn_number=FN, fd_number=4, peer="oism")
    assert num(ack_fields(m.exchange(oism, T0).reply)[1].get(1022)) == BAD_FORMAT
    assert [r.fd_number for r in m.documents] == [1]
    # then the rejected document comes again and is taken
    assert num(ack_fields(m.exchange(message(2), T0).reply)[1].get(1022)) == ACCEPTED


@pytest.mark.parametrize("setup, failure, stored", [
    (lambda m: setattr(m.faults.plan, "down", True), REFUSED, 0),
    (lambda m: m.faults.plan.plan(["refuse"]), REFUSED, 0),
    (lambda m: m.faults.plan.plan(["stall"]), TIMEOUT, 0),
    (lambda m: m.faults.plan.plan(["close"]), CLOSED, 0),
    (lambda m: m.faults.plan.plan(["garbage"]), GARBAGE, 0),
    # too slow: the OFD has it, the acknowledgement is lost; the device's resend is a duplicate
    (lambda m: setattr(m.faults.plan, "latency_ms", 20_000), TIMEOUT, 1),
])
def test_faults_reach_the_device_link_as_named_failures(setup, failure, stored):
    clock = VirtualClock(T0)
    m = OfdModel()
    setup(m)
    link = SimFiscalLink(clock, m, latency_ms=30, timeout_ms=10_000)
    got = []
    link.send(message(1), got.append)
    clock.run_until_idle()
    assert got[0].failure == failure and len(m.documents) == stored
    m.faults.plan.down, m.faults.plan.latency_ms = False, 0
    link.send(message(1), got.append)
    clock.run_until_idle()
    assert got[1].ok and len(m.documents) == 1 and m.stats["duplicates"] == stored


def test_outages_on_the_virtual_clock():
    clock = VirtualClock(T0)
    m = OfdModel()
    day = 86_400_000
    m.faults.schedule(T0 + day, T0 + 31 * day, "down")
    m.faults.schedule(T0 + 40 * day, T0 + 41 * day, "slow", latency_ms=3000)
    link = SimFiscalLink(clock, m, latency_ms=30)
    got = []

    def send_at(t, fd):
        clock.run_until(t)
        link.send(message(fd), lambda r: got.append((clock.now_ms - t, r)))
        clock.run_until_idle()

    send_at(T0, 1)
    send_at(T0 + 2 * day, 2)
    send_at(T0 + 31 * day, 2)
    send_at(T0 + 40 * day + 5, 3)
    assert [r.failure for _, r in got] == [None, REFUSED, None, None]
    assert got[3][0] == 3030 and [r.fd_number for r in m.documents] == [1, 2, 3]
    with pytest.raises(ValueError):
        m.faults.schedule(0, 10, "melt")
