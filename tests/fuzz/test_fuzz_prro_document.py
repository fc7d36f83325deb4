"""Fuzz target: the ПРРО's XML documents, tickets and offline packages. Any input gives a value or
``DocumentError`` / ``PackageError``, never another exception, in bounded time."""

import time

from hypothesis import given
from hypothesis import strategies as st

from emulator.wire.prro.document import CHECK, Document, DocumentError, Item, Payment, Ticket
from emulator.wire.prro.package import PackageError, unpack
from tests.fuzz.budget import fuzz

VALID = Document(kind=CHECK, doctype=0, docsubtype=0, uid="u", tin="1234567890", orgnm="ФОП", pointnm="Крамниця",
                 pointaddr="Київ", date="01122026", time="120000", ordernum=3, cashdesknum="1",
                 cashregisternum="4000002411", cashier="Касир", items=(Item("Хліб", 1000),),
                 payments=(Payment(1000),), total=1000).to_xml()
TAGS = [b"<CHECK>", b"</CHECK>", b"<CHECKHEAD>", b"<ZREP>", b"<ZREPHEAD>", b"<DOCTYPE>", b"<ORDERNUM>", b"<SUM>",
        b"<ROW>", b"<AMOUNT>", b"<PRICE>", b"<TICKET>", b"<ERRORCODE>", b"-1", b"1.5", b"99999999999", b"&amp;",
        b"&#0;", b"<!ENTITY", b"\xff", b"\x00", b"<![CDATA[", b"]]>"]


def check(data: bytes) -> None:
    start = time.monotonic()
    for parse in (Document.from_xml, Ticket.from_xml):
        try:
            parse(data)
        except DocumentError:
            pass
    try:
        unpack(data)
    except PackageError:
        pass
    assert time.monotonic() - start < 2.0


@fuzz("prro_document")
@given(st.lists(st.one_of(st.sampled_from(TAGS), st.binary(max_size=20)), max_size=30))
def test_any_tag_soup(parts):
    check(b"".join(parts))


@fuzz("prro_document")
@given(st.integers(0, len(VALID) - 1), st.binary(min_size=0, max_size=12), st.integers(0, 12))
def test_splices_of_a_valid_receipt(pos, insert, drop):
    check(VALID[:pos] + insert + VALID[pos + drop:])


def test_a_large_document_is_bounded():
    many = VALID.replace(b"</CHECKBODY>", b"<ROW><NAME>x</NAME><PRICE>1.00</PRICE></ROW>" * 4000 + b"</CHECKBODY>")
    check(many)
