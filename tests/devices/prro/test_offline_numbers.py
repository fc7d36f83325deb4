"""The ПРРО's offline numbering: the reference's worked example (4758) through the device's own session."""

from emulator.devices.prro.offline import OfflineSession
from emulator.devices.prro.store import PrroStore
from emulator.wire.prro.document import CHECK, Document

HASH = "cdd68bb111f8993f3603f0179341571b35b73a07d5acee9b28fbfb714698e1b3"


def _doc(doctype: int, ordernum: int, **kw) -> Document:
    return Document(kind=CHECK, doctype=doctype, uid="u", tin="1", orgnm="o", pointnm="p", pointaddr="a",
                    date="20082020", time="142338", ordernum=ordernum, cashdesknum="10",
                    cashregisternum="4000002411", cashier="c", **kw)


def test_the_reference_example_103_gets_5008_3_4758():
    store = PrroStore(None)
    session = OfflineSession(store)
    session.remember_seed("5008", "179625192271939")
    assert session.begin(0) is None
    store.put("offline", {**store.get("offline"), "n": 3, "prev_hash": HASH})
    doc, number = session.number(_doc(103, 10))
    assert number == "5008.3.4758"
    assert doc.ordertaxnum == "5008.3.4758" and doc.offline and doc.prevdochash == HASH


def test_102_carries_no_prevdochash_and_the_chain_restarts_each_session():
    store = PrroStore(None)
    session = OfflineSession(store)
    session.remember_seed("5008", "179625192271939")
    session.begin(0)
    begin, _ = session.number(_doc(102, 1))
    assert begin.prevdochash is None
    sale, _ = session.number(_doc(0, 2, docsubtype=0, total=10000))
    assert sale.prevdochash is None                      # the first settlement document
    session.chain(sale, b"signed sale")
    nxt, number = session.number(_doc(0, 3, docsubtype=0, total=500))
    assert nxt.prevdochash is not None and number.startswith("5008.3.")
