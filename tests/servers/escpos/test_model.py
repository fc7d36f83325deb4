"""The printer model: status bytes per fault, held receipts, the roll ending mid-receipt, plans on the clock."""

from __future__ import annotations

import pytest

from emulator.base.clock import VirtualClock
from emulator.servers.escpos.model import FaultStep, PrinterModel

RECEIPT = b"\x1b@line one\nline two\n\x1dV\x00"
Q1, Q2, Q3, Q4 = (b"\x10\x04" + bytes([n]) for n in (1, 2, 3, 4))


def status(m: PrinterModel) -> bytes:
    return m.session().receive(Q1 + Q2 + Q3 + Q4)


def test_status_bytes_of_each_state():
    m = PrinterModel(VirtualClock(0))
    assert status(m) == b"\x12\x12\x12\x12"
    m.set_fault("paper_low", True)
    assert status(m) == b"\x12\x12\x12\x1e"
    m.set_fault("paper_out", True)
    assert status(m) == b"\x1a\x32\x12\x7e"
    m.set_fault("paper_out", False)
    m.set_fault("paper_low", False)
    m.set_fault("cover_open", True)
    assert status(m) == b"\x1a\x16\x12\x12"
    assert m.session().receive(b"\x1dr\x01\x1dr\x02\x10\x04\x09") == b"\x00\x00"   # DLE EOT 9: no answer


def test_a_receipt_is_printed_and_cut_and_the_drawer_opens():
    m = PrinterModel(VirtualClock(5000))
    assert m.session().receive(RECEIPT + b"\x1bp\x00\x19\xfa") == b""
    (doc,) = m.documents
    assert doc.text_lines() == ["line one", "line two"] and doc.cut == "full"
    assert m.drawer_open and [(d.at_ms, d.pin, d.on_ms) for d in m.drawer_openings] == [(5000, 2, 50)]
    assert status(m)[0] == 0x16                                     # DLE EOT 1 bit 2: the drawer is open
    m.close_drawer()
    assert status(m)[0] == 0x12
    assert m.png().startswith(b"\x89PNG")


@pytest.mark.parametrize("fault", ["paper_out", "cover_open"])
def test_while_offline_the_receipt_is_held_then_printed_once(fault):
    m = PrinterModel(VirtualClock(0))
    m.set_fault(fault, True)
    s = m.session()
    assert s.receive(RECEIPT + Q1) == b"\x1a"                       # still answers: offline
    assert m.documents == [] and m.held > 0
    m.set_fault(fault, False)
    assert [d.text_lines() for d in m.documents] == [["line one", "line two"]] and m.held == 0
    m.set_fault(fault, False)
    assert len(m.documents) == 1


def test_the_roll_ends_in_the_middle_of_a_receipt_and_the_rest_comes_after_a_new_roll():
    m = PrinterModel(VirtualClock(0))
    m.set_fault("paper_lines", 1)
    s = m.session()
    assert s.receive(RECEIPT + Q4) == b"\x72"
    assert m.paper_out and m.paper.current.text_lines() == ["line one"] and m.documents == []
    m.set_fault("paper_lines", None)
    m.set_fault("paper_out", False)
    assert [d.text_lines() for d in m.documents] == [["line one", "line two"]]


def test_hold_full_tells_the_front_to_stop_reading_and_nothing_is_dropped():
    m = PrinterModel(VirtualClock(0), hold_limit=5)
    m.set_fault("cover_open", True)
    m.session().receive(b"x\n" * 20)
    assert m.hold_full and m.held == 40
    m.set_fault("cover_open", False)
    assert m.held == 0 and m.paper.lines_printed == 20


def test_plan_on_the_virtual_clock():
    clock = VirtualClock(0)
    m = PrinterModel(clock)
    m.plan([FaultStep(1000, "paper_out", True), {"at_ms": 3000, "fault": "paper_out", "value": False},
            FaultStep(2000, "slow", 700)])
    s = m.session()
    clock.run_until(999)
    assert s.receive(Q4) == b"\x12" and m.delay_ms() == 0
    clock.run_until(1000)
    assert s.receive(Q4) == b"\x72"
    s.receive(RECEIPT)
    clock.run_until(2500)
    assert m.delay_ms() == 700 and m.documents == []
    clock.run_until(3000)
    assert s.receive(Q4) == b"\x12" and len(m.documents) == 1


def test_plan_live_is_applied_at_tick():
    m = PrinterModel()
    now = m.now_ms()
    m.plan([FaultStep(now - 1, "cover_open", True), FaultStep(now + 3_600_000, "cover_open", False)])
    assert m.cover_open
    m.tick()
    assert m.cover_open


@pytest.mark.parametrize("name,value", [("paper_out", 1), ("slow", -1), ("slow", True), ("smoke", True),
                                        ("paper_lines", "3"), ("offline", None)])
def test_bad_faults_are_refused_with_a_message_and_change_nothing(name, value):
    m = PrinterModel(VirtualClock(0))
    with pytest.raises(ValueError, match="printer fault"):
        m.set_fault(name, value)
    with pytest.raises(ValueError, match="printer fault"):
        m.plan([FaultStep(10, "cover_open", True), {"at_ms": 5, "fault": name, "value": value}])
    assert m.state()["ready"] and m.clock is not None and m.clock.pending() == 0
