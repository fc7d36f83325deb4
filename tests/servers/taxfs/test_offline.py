"""Offline sessions at the mock tax server: packages, control numbers, the hash chain, limits, REVOKELASTONLINEDOC."""

from __future__ import annotations

import datetime as dt

import pytest

from emulator.rules.prro import HOUR_MS
from emulator.wire import cms
from emulator.wire.prro import offline
from emulator.wire.prro.document import KYIV, OFFLINE_END, Document
from emulator.wire.prro.package import pack
from tests.servers.taxfs.world import FN, MIN, make_world

GOLDEN_HASH = "cdd68bb111f8993f3603f0179341571b35b73a07d5acee9b28fbfb714698e1b3"


@pytest.fixture
def world():
    return make_world()


def opened(world):
    till = world.till(world.key())
    assert till.open().error_code is None
    return till


def test_a_session_with_receipts_is_accepted_and_gives_the_next_pair(world):
    till = opened(world)
    first_session = till.session_id
    world.clock.advance(10 * MIN)
    docs = [till.begin(), till.offline_doc(till.sale(1200)), till.offline_doc(till.sale(800)), till.end()]
    answer = till.package(docs)
    assert answer.status == 200 and answer.error_code is None
    got = answer.json()
    assert int(got["OfflineSessionId"]) != first_session and got["OfflineSeed"]
    stored = [d for d in world.server.documents if d.offline]
    assert [d.fiscal.split(".")[:2] for d in stored] == [[str(first_session), str(n)] for n in (1, 2, 3, 4)]
    totals = till.command("LastShiftTotals", NumFiscal=FN).json()["Totals"]
    assert totals["SalesSum"] == 2000 and totals["SalesCount"] == 2
    assert till.package(docs).body == answer.body                        # the same package again: answered as before
    assert len([d for d in world.server.documents if d.offline]) == 4
    assert till.close()[1].error_code is None                             # back online, the Z-report adds up


def test_a_package_without_103_is_ok_and_the_session_goes_on(world):
    till = opened(world)
    assert till.package([till.begin(), till.offline_doc(till.sale(100))]).body == b"OK"
    assert till.package([till.offline_doc(till.sale(200)), till.end()]).body.startswith(b"{")


@pytest.mark.parametrize("spoil", ["control", "chain", "number", "online-doc"])
def test_a_bad_document_rejects_the_whole_package(world, spoil):
    till = opened(world)
    before = len(world.server.documents)
    begin, sale = till.begin(), till.sale(500)
    if spoil == "control":
        good = Document.from_xml(cms.verify(till.offline_doc(sale))[0])
        sid, n, c = offline.parse_fiscal_number(good.ordertaxnum)
        second = till.signer.sign(good.with_(ordertaxnum=f"{sid}.{n}.{c % 9999 + 1}").to_xml())
    elif spoil == "chain":
        till.first_after_begin, till.prev_hash = False, "ab" * 32     # the first one must carry no hash
        second = till.offline_doc(sale)
    elif spoil == "number":
        till.off_number += 5
        second = till.offline_doc(sale)
    else:
        second = till.signer.sign(sale.to_xml())
    answer = till.package([begin, second])
    assert answer.error_code == 9, answer.text
    assert len(world.server.documents) == before
    state = till.command("TransactionsRegistrarState", NumFiscal=FN).json()
    assert state["OfflineNextLocalNum"] == 1 and state["NextLocalNum"] == 2


def test_package_limits(world):
    till = opened(world)
    docs = [till.begin()] + [till.offline_doc(till.sale(100)) for _ in range(100)]
    with pytest.raises(ValueError):
        pack(docs)
    over = b"".join(len(d).to_bytes(4, "little") + d for d in docs)
    assert till.world.server.request("/fs/pck", till.signer.sign(over)).error_code == 10
    assert till.world.server.request("/fs/pck", till.signer.sign(b"\x01\x00")).error_code == 10


def test_over_36_hours_blocks_the_prro(world):
    till = opened(world)
    begin = till.begin()
    world.clock.advance(37 * HOUR_MS)
    docs = [begin, till.offline_doc(till.sale(100)), till.end()]
    assert till.package(docs).error_code is None
    state = till.command("TransactionsRegistrarState", NumFiscal=FN).json()
    assert state["Blocked"] and "36" in state["BlockReason"] and state["OfflineSessionDuration"] == 37 * 60
    answer = till.send(till.sale(100))
    assert answer.error_code == 9 and "заблоковано" in answer.text
    world.clock.run_until(int(dt.datetime(2027, 1, 1, 0, 0, 1, tzinfo=KYIV).timestamp() * 1000))
    assert till.send(till.z()).error_code is None                           # the next month: unblocked


def test_over_168_hours_a_month_blocks_the_prro(world):
    till = opened(world)
    for _ in range(5):                                                     # 5 × 35 h = 175 h in December
        begin = till.begin()
        world.clock.advance(35 * HOUR_MS)
        assert till.package([begin, till.offline_doc(till.sale(100)), till.end()]).error_code is None
    state = till.command("TransactionsRegistrarState", NumFiscal=FN).json()
    assert state["Blocked"] and "168" in state["BlockReason"]
    assert state["OfflineSessionsMonthlyDuration"] == 175 * 60


def test_revokelastonlinedoc_removes_the_duplicate_of_a_lost_answer(world):
    till = opened(world)
    sale = till.sale(4200)
    world.server.faults.plan(["lost-answer"])
    assert world.server.request("/fs/doc", till.signer.sign(sale.to_xml())).fault == "lost-answer"
    till.local += 1                                                       # the till kept it, number spent
    info = till.command("DocumentInfoByLocalNum", NumFiscal=FN, NumLocal=sale.ordernum).json()
    assert info["Uid"] == sale.uid                                         # the server did register it
    docs = [till.begin(revokelastonlinedoc=True), till.offline_doc(till.sale(4200)), till.end()]
    assert till.package(docs).error_code is None
    listed = till.command("Documents", NumFiscal=FN).json()["Documents"]
    assert [d["Revoked"] for d in listed if d["Uid"] == sale.uid] == [True]
    totals = till.command("LastShiftTotals", NumFiscal=FN).json()["Totals"]
    assert totals["SalesSum"] == 4200 and totals["SalesCount"] == 1


def test_offline_not_allowed():
    w = make_world(offline_supported=False)
    till = w.till(w.key())
    ticket = till.ticket(till.open())
    assert not ticket.offline_session_id
    till.session_id, till.seed = 1, 1
    assert till.package([till.begin()]).error_code == 9


def test_golden_4758_on_the_server():
    """The reference's worked example: a 103 numbered 5008.3.4758 is accepted with the given seed and hash."""
    start = int(dt.datetime(2020, 8, 20, 12, 0, tzinfo=KYIV).timestamp() * 1000)
    w = make_world(start)
    w.server.registrars.pop(FN)
    reg = w.server.register_prro("4000002411", local_num="10")
    till = w.till(w.key())
    off = reg.offline
    off.session_id, off.seed, off.active, off.next_number = 5008, 179625192271939, True, 3
    off.begin_ms, off.prev_hash, off.after_begin = start, GOLDEN_HASH, False
    reg.next_local_num = 10
    w.clock.run_until(int(dt.datetime(2020, 8, 20, 14, 30, tzinfo=KYIV).timestamp() * 1000))
    doc = Document(kind="CHECK", doctype=OFFLINE_END, uid="golden", tin="1234567890", orgnm="", pointnm="",
                   pointaddr="", date="20082020", time="142338", ordernum=10, cashdesknum="10",
                   cashregisternum="4000002411", cashier="", offline=True, prevdochash=GOLDEN_HASH,
                   ordertaxnum="5008.3.4758")
    unswapped = till.package([till.signer.sign(doc.with_(ordertaxnum="5008.3.413").to_xml())])
    assert unswapped.error_code == 9 and "контрольне число 413" in unswapped.text     # plain zlib CRC-32 is wrong
    answer = till.package([till.signer.sign(doc.to_xml())])
    assert answer.error_code is None and "OfflineSessionId" in answer.json()


def test_a_refused_package_takes_its_revokelastonlinedoc_back(world):
    till = opened(world)
    sale = till.sale(4200)
    assert till.send(sale).error_code is None
    bad = till.offline_doc(till.sale(100))
    till.off_number, till.local = 1, till.local - 1
    begin = till.begin(revokelastonlinedoc=True)
    assert till.package([begin, bad]).error_code == 9                    # the sale numbered before the 102
    assert not world.server.by_uid[sale.uid].revoked
    totals = till.command("LastShiftTotals", NumFiscal=FN).json()["Totals"]
    assert totals["SalesSum"] == 4200


def test_a_refused_package_restores_the_same_registrar_object(world):
    till = opened(world)
    reg = world.server.registrars[FN]
    assert till.package([till.begin(), till.signer.sign(till.sale().to_xml())]).error_code == 9
    assert world.server.registrars[FN] is reg and not reg.offline.active and reg.offline.next_number == 1
