"""Offline fiscal numbers: the reference's worked example (golden 4758), the rules of the control number."""

from __future__ import annotations

import zlib

from emulator.wire.prro import offline
from emulator.wire.prro.document import OFFLINE_END, Document

GOLDEN_HASH = "cdd68bb111f8993f3603f0179341571b35b73a07d5acee9b28fbfb714698e1b3"
GOLDEN_STRING = f"179625192271939,20082020,142338,10,4000002411,10,{GOLDEN_HASH}"


def test_golden_4758():
    s = offline.control_string(179625192271939, "20082020", "142338", 10, "4000002411", 10, None, GOLDEN_HASH)
    assert s == GOLDEN_STRING
    assert zlib.crc32(s.encode()) == 0xA6BDDBBD            # the standard CRC-32 would give 413
    assert offline.crc32_swapped(s) == 3185294758
    assert offline.control_number(179625192271939, "20082020", "142338", 10, "4000002411", 10,
                                  prevdochash=GOLDEN_HASH) == 4758


def test_golden_document_103_number():
    doc = Document(kind="CHECK", doctype=OFFLINE_END, uid="u", tin="1", orgnm="", pointnm="", pointaddr="",
                   date="20082020", time="142338", ordernum=10, cashdesknum="10", cashregisternum="4000002411",
                   cashier="", offline=True, prevdochash=GOLDEN_HASH, ordertaxnum="5008.3.4758")
    back = Document.from_xml(doc.to_xml())
    sid, n, control = offline.parse_fiscal_number(back.ordertaxnum or "")
    assert (sid, n) == (5008, 3)
    assert control == offline.control_number(179625192271939, back.date, back.time, back.ordernum,
                                             back.cashregisternum, back.cashdesknum, back.total, back.prevdochash)


def test_total_and_hash_only_when_present():
    base = offline.control_string(1, "01012026", "000000", 1, "4000000001", 1)
    assert base == "1,01012026,000000,1,4000000001,1"
    assert offline.control_string(1, "01012026", "000000", 1, "4000000001", 1, 12345) == base + ",123.45"
    assert offline.control_string(1, "01012026", "000000", 1, "4000000001", 1, 5, "ab") == base + ",0.05,ab"


def test_control_number_range():
    values = {offline.control_number(s, "01012026", "120000", 1, "4000000001", 1) for s in range(2000)}
    assert all(1 <= v <= 9999 for v in values)


def test_parse_fiscal_number():
    assert offline.parse_fiscal_number("82563.25.6127") == (82563, 25, 6127)
    for bad in ("", "1.2", "a.b.c", "1.2.34567", "12345"):
        assert offline.parse_fiscal_number(bad) is None
