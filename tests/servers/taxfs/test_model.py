"""The mock tax server's rules: form 5-ПРРО and the delay, certificates, shifts, numbering, errors, no loss."""

from __future__ import annotations

import gzip
import json
import zlib

import pytest

from emulator.rules.prro import DAY_MS, Role
from emulator.servers.ca.model import CertificationAuthority
from emulator.servers.taxfs.model import TaxServer
from emulator.wire import cms
from emulator.wire.prro.document import CLOSE_SHIFT, RETURN, Item, Payment
from tests.servers.taxfs.world import FN, MIN, make_world


@pytest.fixture
def world():
    return make_world()


def code(answer) -> int | None:
    return answer.error_code


def test_objects_is_204_until_the_propagation_delay_has_passed(world):
    key = world.key(register=False)
    till = world.till(key)
    assert till.command("Objects").status == 204                         # not registered: «No available business units»
    receipt = world.server.register_operator(key.certificate, Role.CASHIER, delay_ms=40 * MIN)
    assert receipt.active_from_ms == receipt.accepted_ms + 40 * MIN
    world.clock.advance(39 * MIN)
    assert till.command("Objects").status == 204                         # «Квитанція №2» came, the databases lag
    assert code(till.open()) == 2
    world.clock.advance(MIN)
    answer = till.command("Objects")
    assert answer.status == 200
    regs = answer.json()["TaxObjects"][0]["TransactionsRegistrars"]
    assert regs == [{"NumFiscal": FN, "NumLocal": "1", "Name": "ПРРО 1"}]
    ops = till.command("Operators").json()["Operators"]
    assert [(o["SubjectKeyId"], o["ChiefCashier"]) for o in ops] == [(key.key_id, False)]


def test_default_delay_is_fifteen_minutes(world):
    key = world.key(register=False)
    r = world.server.register_operator(key.certificate, Role.SENIOR_CASHIER)
    assert r.active_from_ms - r.accepted_ms == 15 * MIN


def test_a_whole_shift_online(world):
    till = world.till(world.key())
    opened = till.open()
    assert opened.status == 200 and code(opened) is None
    t = till.ticket(opened)
    assert t.ordernum == 1 and t.ordertaxnum and t.offline_session_id and t.offline_seed
    sale = till.ticket(till.send(till.sale(2500)))
    assert int(sale.ordertaxnum) == int(t.ordertaxnum) + 1
    state = till.command("TransactionsRegistrarState", NumFiscal=FN).json()
    assert state["ShiftState"] == 1 and state["SubjectKeyId"] == till.signer.key_id and state["NextLocalNum"] == 3
    assert state["OfflineSessionId"] == t.offline_session_id
    totals = till.command("LastShiftTotals", NumFiscal=FN).json()["Totals"]
    assert totals["SalesSum"] == 2500 and totals["SalesCount"] == 1
    z, close = till.close()
    assert z.status == close.status == 200
    state = till.command("TransactionsRegistrarState", NumFiscal=FN).json()
    assert state["ShiftState"] == 0 and state["SubjectKeyId"] is None
    docs = till.command("Documents", NumFiscal=FN).json()["Documents"]
    assert [d["DocClass"] for d in docs] == ["Check", "Check", "ZRep", "Check"] and [d["NumLocal"] for d in docs] == [
        1, 2, 3, 4]
    original = till.command("Check", RegistrarNumFiscal=FN, NumFiscal=sale.ordertaxnum)
    assert original.status == 200 and "Хліб".encode("cp1251") in original.body
    assert world.server.ocsp_checks >= 8


def test_shift_already_opened(world):
    till = world.till(world.key())
    till.open()
    again = till.open()
    assert code(again) == 4 and again.status == 400
    assert again.text.startswith("Код помилки: 4 ShiftAlreadyOpened\r\n")
    other = world.till(world.key("Касир Два"))
    other.local = till.local
    assert code(other.open()) == 4                                       # a new key, the old shift not closed


def test_one_key_on_two_prro(world):
    world.server.register_prro("4000002412")
    key = world.key()
    first, second = world.till(key), world.till(key, "4000002412")
    assert code(first.open()) is None
    answer = second.open()
    assert code(answer) == 4 and "4000002411" in answer.text


def test_another_key_cannot_sell_in_the_shift_and_a_senior_cashier_closes_it(world):
    old = world.till(world.key("Старий ключ", days=2))
    old.open()
    old.send(old.sale(700))
    world.clock.advance(3 * DAY_MS)                                       # the old key expired: the shift is stuck
    stuck = old.send(old.sale(100))
    assert code(stuck) == 12 and "Термін дії сертифікату" in stuck.text and "не відповідає поточному часу" in stuck.text
    cashier = world.till(world.key("Новий касир"))
    cashier.local, cashier.sales, cashier.sales_count = old.local, old.sales, old.sales_count
    assert code(cashier.send(cashier.sale(100))) == 4
    assert code(cashier.send(cashier.z())) == 4                            # a plain cashier may not close it
    senior = world.till(world.key("Старший касир", Role.SENIOR_CASHIER))
    senior.local, senior.sales, senior.sales_count = old.local, old.sales, old.sales_count
    z, close = senior.close()
    assert code(z) is None and code(close) is None
    cashier.local = senior.local
    assert code(cashier.open()) is None                                    # the till works again under the new key


def test_revoked_and_unknown_certificates(world):
    key = world.key()
    till = world.till(key)
    till.open()
    world.ca.revoke(key.info.serial)
    answer = till.send(till.sale())
    assert code(answer) == 12 and "CertStatus: 1" in answer.text
    stranger_ca = CertificationAuthority(world.clock, seed=b"a CA the tax service does not know")
    issued, data = stranger_ca.issue("Чужий", "1234567890", Role.CASHIER, days=10, password="p")
    stranger = cms.load_container(data, "p", name="k.pfx")
    world.server.register_operator(stranger.certificate, Role.CASHIER, delay_ms=0)
    answer = world.till(stranger).open()
    assert code(answer) == 12 and "невідомим ЦСК" in answer.text


def test_ocsp_unknown_is_certificate_not_found():
    w = make_world()
    w.server.cert_status = lambda cert: "unknown"
    answer = w.till(w.key()).open()
    assert code(answer) == 12 and "Сертифікат не знайдено" in answer.text


def test_ocsp_unreachable_is_a_cryptography_error():
    w = make_world()

    def down(cert):
        raise ConnectionError("no route")
    w.server.cert_status = down
    assert "OCSP" in w.till(w.key()).open().text


def test_result_as_json(world):
    till = world.till(world.key())
    answer = till.send(till.sale(), as_json=True)
    assert answer.status == 200 and answer.json() == {"ErrorCode": 5, "ErrorMessage": "Зміну не відкрито"}


def test_numbering_and_shift_order_errors(world):
    till = world.till(world.key())
    till.open()
    till.local = 7
    assert code(till.send(till.sale())) == 7
    till.local = 2
    assert code(till.send(till.document(doctype=CLOSE_SHIFT))) == 6
    bad = till.sale(1000).with_(total=999)
    assert code(till.send(bad)) == 9
    ret = till.document(docsubtype=RETURN, items=(Item("Хліб", 500),), payments=(Payment(500),), total=500,
                        orderretnum="123")
    assert code(till.send(ret)) == 9
    till.send(till.sale(300))
    assert code(till.send(till.z().with_(z=till.z().z.__class__(1, 1)))) == 9          # totals do not add up
    assert code(till.send(till.z())) is None
    assert code(till.send(till.z())) == 8
    assert code(till.send(till.sale())) == 8


def test_unregistered_key_and_unknown_prro(world):
    till = world.till(world.key(register=False))
    assert code(till.open()) == 2
    other = world.till(world.key(), fn="4999999999")
    assert code(other.open()) == 1


def test_gross_errors(world):
    server = world.server
    till = world.till(world.key())
    unsigned = server.request("/fs/doc", till.document(doctype=100).to_xml())
    assert unsigned.status == 400 and "кваліфікованим електронним підписом" in unsigned.text
    assert server.request("/fs/cmd", b'{"Command": "Objects"}', content_type="application/json").status == 400
    assert server.request("/fs/cmd", b"{nope").status == 400
    assert server.request("/fs/nowhere", b"").status == 404
    assert server.request("/fs/doc", b"x" * (200 * 1024 + 1)).status == 416
    assert server.request("/fs/doc", b"x", content_encoding="br").status == 415
    bomb = gzip.compress(b"\0" * (5 * 1024 * 1024))
    assert server.request("/fs/doc", bomb, content_encoding="gzip").status == 416
    assert server.request("/fs/doc", b"not gzip", content_encoding="gzip").status == 400
    state = server.request("/fs/cmd", b'{"Command": "ServerState", "UID": "1"}', content_type="application/json")
    assert state.status == 200 and state.json()["UID"] == "1"


@pytest.mark.parametrize("encoding,pack", [("gzip", gzip.compress), ("deflate", zlib.compress),
                                           ("deflate", lambda b: zlib.compress(b, wbits=-15))])
def test_compressed_documents(world, encoding, pack):
    till = world.till(world.key())
    signed = till.signer.sign(till.document(doctype=100).to_xml())
    answer = world.server.request("/fs/doc", pack(signed), content_encoding=encoding)
    assert answer.status == 200 and code(answer) is None


def test_timeout_cancels_a_command(world):
    till = world.till(world.key())
    stale = till.command("Operators", Timestamp=world.clock.now_ms - 10_000, Timeout=5_000)
    assert code(stale) == 11
    assert till.command("Operators", Timestamp=world.clock.now_ms, Timeout=5_000).status == 200


def test_lost_answer_then_resend_registers_once(world):
    till = world.till(world.key())
    till.open()
    sale = till.sale(1500)
    world.server.faults.plan(["lost-answer"])
    signed = till.signer.sign(sale.to_xml())
    lost = world.server.request("/fs/doc", signed)
    assert lost.fault == "lost-answer"
    again = world.server.request("/fs/doc", till.signer.sign(sale.to_xml()))     # re-signed, same document
    assert again.status == 200 and again.body == lost.body
    docs = till.command("Documents", NumFiscal=FN).json()["Documents"]
    assert [d["Uid"] for d in docs].count(sale.uid) == 1
    clash = sale.with_(total=1, items=(Item("Хліб", 1),), payments=(Payment(1),))
    assert code(world.server.request("/fs/doc", till.signer.sign(clash.to_xml()))) == 9


def test_fault_plan_items(world):
    till = world.till(world.key())
    world.server.faults.plan([503, "close"])
    assert world.server.request("/fs/doc", b"").status == 503
    assert world.server.request("/fs/doc", b"").fault == "close"
    world.server.faults.down = True
    assert world.server.request("/fs/doc", b"").fault == "refuse"
    world.server.faults.down = False
    world.server.faults.latency_ms = 250
    assert till.open().delay_ms == 250
    assert not world.server.documents[1:]                                       # nothing but the one opening


def test_summary_lists_operators_registrars_documents(world):
    till = world.till(world.key())
    till.open()
    s = world.server.summary()
    assert s["operators"][0]["key_id"] == till.signer.key_id and s["registrars"][0]["shift_open"]
    assert json.dumps(s, ensure_ascii=False)


def test_server_without_ocsp_or_trust(world):
    server = TaxServer(world.clock)
    server.register_prro(FN)
    key = world.key(register=False)
    server.register_operator(key.certificate, Role.CASHIER, delay_ms=0)
    till = world.till(key)
    till.world = type(world)(world.clock, world.ca, server)
    assert code(till.open()) is None


def test_check_ext_types_and_results(world):
    from emulator.wire.prro.document import Document

    till = world.till(world.key())
    till.open()
    sale = till.sale(1234)
    fiscal = till.ticket(till.send(sale)).ordertaxnum

    def ext(kind, num=fiscal, reg=FN, name="CheckExt"):
        return till.command(name, RegistrarNumFiscal=reg, NumFiscal=num, Type=kind)

    assert ext(0).json() == {"Result": 0, "Revoked": False}
    assert Document.from_xml(ext(1).body) == sale
    content, cert = cms.verify(ext(2).body)
    assert Document.from_xml(content) == sale and cert == world.server.signer.certificate
    assert "Хліб 1 x 12.34 = 12.34" in ext(3).text and "СУМА 12.34" in ext(3).text
    assert cms.verify(ext(4).body)[1] == till.signer.certificate
    inner, cert = cms.verify(ext(5).body)
    assert cms.verify(inner)[0] == sale.to_xml() and cert == world.server.signer.certificate
    assert ext(1, num="999").json() == {"Result": 1}
    assert ext(1, reg="4999999999").json() == {"Result": 4}
    assert ext(0, num=f"{till.session_id}.1.5").json() == {"Result": 2}
    assert ext(0, num="1.1.5").json() == {"Result": 3}
    assert ext(1, name="ZRepExt").json() == {"Result": 1}              # a receipt is not a Z-report
    assert code(ext(9)) == 11
    assert till.command("Schemas").json()["Schemas"]


def test_refusals_are_logged_in_one_line(world, caplog):
    till = world.till(world.key())
    with caplog.at_level("INFO", logger="kkt_emu.taxfs"):
        till.send(till.sale())
    (record,) = caplog.records
    assert "5 ShiftNotOpened" in record.getMessage() and "\n" not in record.getMessage()
