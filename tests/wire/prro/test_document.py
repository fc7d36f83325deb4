"""The XML documents: windows-1251, round trips, clear errors for bad input."""

from __future__ import annotations

import pytest

from emulator.wire.prro import package
from emulator.wire.prro.document import (
    CHECK,
    SALE,
    ZREP,
    Document,
    DocumentError,
    Item,
    Payment,
    Ticket,
    ZTotals,
    local_date_time,
    ms_of_local,
)


def receipt(**kw) -> Document:
    d = dict(kind=CHECK, doctype=0, docsubtype=SALE, uid="6f1c", tin="1234567890", orgnm="ФОП Іваненко",
             pointnm="Крамниця «Їжак»", pointaddr="м. Київ, вул. Хрещатик, 1", date="01122026", time="143000",
             ordernum=7, cashdesknum="1", cashregisternum="4000002411", cashier="Іваненко І.",
             items=(Item("Хліб", 2550, 2000), Item("Молоко", 4200)), payments=(Payment(9300),), total=9300)
    d.update(kw)
    return Document(**d)  # type: ignore[arg-type]


def test_receipt_round_trip_in_cp1251():
    doc = receipt()
    xml = doc.to_xml()
    assert xml.startswith(b'<?xml version="1.0" encoding="windows-1251"?><CHECK><CHECKHEAD><DOCTYPE>0</DOCTYPE>')
    assert "Їжак".encode("cp1251") in xml
    back = Document.from_xml(xml)
    assert back == doc and back.items[0].cost == 5100 and back.is_receipt and back.financial


def test_zrep_round_trip():
    z = Document(kind=ZREP, doctype=0, uid="z", tin="1", orgnm="", pointnm="", pointaddr="", date="01122026",
                 time="200000", ordernum=9, cashdesknum="1", cashregisternum="4000002411", cashier="",
                 z=ZTotals(10000, 3, 500, 1, 2000, 100))
    back = Document.from_xml(z.to_xml())
    assert back == z and back.financial and b"<ZREPHEAD>" in z.to_xml() and b"<DOCTYPE>" not in z.to_xml()


def test_characters_outside_cp1251_are_refused():
    with pytest.raises(DocumentError, match="windows-1251"):
        receipt(cashier="李").to_xml()


@pytest.mark.parametrize("xml,why", [
    (b"<nope/>", "not a document"),
    (b"<CHECK/>", "head"),
    (b"<CHECK><CHECKHEAD><DOCTYPE>77</DOCTYPE></CHECKHEAD></CHECK>", "DOCTYPE 77"),
    (b"<CHECK><CHECKHEAD><DOCTYPE>0</DOCTYPE><ORDERNUM>x</ORDERNUM></CHECKHEAD></CHECK>", "ORDERNUM"),
    (b"<!DOCTYPE a [<!ENTITY x 'y'>]><CHECK/>", "DTD"),
    (b"<CHECK", "well-formed"),
    (b"<a>" + b"x" * 210_000 + b"</a>", "over"),
])
def test_bad_documents(xml, why):
    with pytest.raises(DocumentError, match=why):
        Document.from_xml(xml)


def test_bad_amount_and_date():
    xml = receipt().to_xml()
    with pytest.raises(DocumentError, match="amount"):
        Document.from_xml(xml.replace(b"<SUM>93.00</SUM>", b"<SUM>93</SUM>", 1))
    with pytest.raises(DocumentError, match="ORDERDATE"):
        Document.from_xml(xml.replace(b"01122026", b"32132026"))


def test_kyiv_time():
    ms = ms_of_local("01122026", "143000")
    assert local_date_time(ms) == ("01122026", "143000")
    assert local_date_time(ms_of_local("01072026", "000000")) == ("01072026", "000000")   # summer time too


def test_ticket_round_trip():
    t = Ticket("u", "01122026", "143001", 7, "123456", "82563", "179625192271939")
    assert Ticket.from_xml(t.to_xml()) == t


def test_package_round_trip_and_limits():
    docs = [b"a" * n for n in range(1, 101)]
    assert package.unpack(package.pack(docs)) == docs
    with pytest.raises(package.PackageError, match="at most 100"):
        package.pack(docs + [b"x"])
    with pytest.raises(package.PackageError, match="more than 100"):
        package.unpack(b"".join(len(d).to_bytes(4, "little") + d for d in docs + [b"x"]))
    for bad in (b"", b"\x01\x00", b"\x05\x00\x00\x00ab", b"\x00\x00\x00\x00"):
        with pytest.raises(package.PackageError):
            package.unpack(bad)


def test_another_declared_encoding_is_refused():
    xml = receipt().to_xml().replace(b"windows-1251", b"utf-8", 1)
    with pytest.raises(DocumentError, match="windows-1251 is required"):
        Document.from_xml(xml)
    with pytest.raises(DocumentError, match="well-formed"):
        Document.from_xml(receipt().to_xml().replace(b"windows-1251", b"no-such-encoding", 1).replace(
            b'encoding="no-such-encoding"', b"encoding='cp1251' encoding='x'"))
