"""The DM-side ECR JSON client against the emulated terminal over real TCP, in real time (short delays)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.net.bankterm import RETENTION_MS, BankTermLink, Journal
from emulator.servers.bankterm.model import BankTerminal
from emulator.servers.bankterm.tcp import BankTermTcp


def wall_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
def term() -> BankTerminal:
    t = BankTerminal(wall_ms)
    t.holder.present_ms, t.holder.pin_ms, t.config.host_ms = 30, 30, 30
    return t


@pytest.fixture
def server(term: BankTerminal) -> Iterator[BankTermTcp]:
    with BankTermTcp(term) as srv:
        yield srv


@pytest.fixture
def link(server: BankTermTcp) -> Iterator[BankTermLink]:
    with BankTermLink(*server.address, timeout_s=1.0, handshake_timeout_s=1.0, resync_s=2.0,
                      poll_interval_s=0.02) as lk:
        assert lk.open().ok
        yield lk


def test_open_follows_the_reference_sequence(server: BankTermTcp, term: BankTerminal) -> None:
    with BankTermLink(*server.address, timeout_s=2) as lk:
        r = lk.open()
        assert r.ok and r.info == {"vendor": "PrivatBank", "model": "kkt-emu ECR JSON terminal"}
        assert list(term.received) == ["PingDevice", "identify", "GetReceiptInfo"]
        assert server.stats["connections"] == 3          # ping, identify, then the long-lived one
        for _ in range(3):
            assert lk.ping().ok
        assert server.stats["connections"] == 3


def test_purchase_is_stored_and_found_again_by_transaction_id(link: BankTermLink, term: BankTerminal) -> None:
    r = link.purchase(12_50, transaction_id="7d1c0f9e-0000-4000-8000-000000000001")
    assert r.ok and r.restxt == "ОПЕРАЦІЯ УСПІШНА" and r.info["restxt"] == "ОПЕРАЦІЯ УСПІШНА"
    assert r.info["amount"] == "12.50" and r.info["refundid"] == term.batch[0].rrn and r.info["cancelid"] == "1"
    assert r.info["cardmask"] == "4731XXXXXXXX9838" and "ОПЕРАЦІЯ УСПІШНА" in r.info["receipt"]
    n = term.stats["requests"]
    again = link.purchase(12_50, transaction_id=r.transaction_id, transaction_search=True)
    assert again == r and term.stats["requests"] == n and len(term.batch) == 1    # not charged twice
    miss = link.purchase(12_50, transaction_id="nope", transaction_search=True)
    assert (miss.res, miss.errortxt) == (5013, 'Транзакцію з id="nope" не знайдено в БД')
    assert link.last_transaction() == r


def test_the_journal_keeps_90_days_in_a_sqlite_file(tmp_path: Path) -> None:
    now = [1_780_000_000_000]
    path = str(tmp_path / "terminal.sqlite")
    j = Journal(path, lambda: now[0])
    from emulator.net.bankterm import TermResult
    j.put("a", "Purchase", TermResult(0, restxt="ОПЕРАЦІЯ УСПІШНА", transaction_id="a"))
    j.close()
    j = Journal(path, lambda: now[0])
    now[0] += RETENTION_MS
    assert j.get("a") is not None
    now[0] += 1
    assert j.get("a") is None and j.count() == 0
    j.close()


@pytest.mark.parametrize(("plan", "res", "text"), [
    (["decline"], 5000, "Помилка терміналу: ВІДМОВА. НЕ ОБСЛУГОВУВАТИ"),
    (["insufficient"], 5000, "Помилка терміналу: НЕДОСТАТНЬО КОШТІВ"),
    (["wrong_pin"], 5000, "Помилка терміналу: НЕВІРНИЙ PIN"),
    (["cancel"], 5001, "Помилка терміналу: Операція скасована користувачем"),
    (["emv_decline"], 5002, "Помилка терміналу: EMV Decline"),
])
def test_holder_outcomes_as_dm_results(link: BankTermLink, term: BankTerminal, plan: list[str], res: int,
                                       text: str) -> None:
    term.holder.plan(plan)
    r = link.purchase(100_00, transaction_id="t")
    assert (r.res, r.errortxt) == (res, text)
    assert link.journal.get("t") == r


@pytest.mark.parametrize(("item", "res", "text"), [
    ("log_full", 5003, "Помилка терміналу: Transaction log is full. Need close batch"),
    ("no_host", 5004, "Помилка терміналу: Немає зв'язку з банком"),
    ("no_paper", 5005, "Помилка терміналу: Немає паперу в принтері"),
    ("keys", 5006, "Помилка терміналу: Error Crypto keys"),
    ("reader", 5007, "Помилка терміналу: Card reader is not connected"),
])
def test_terminal_faults_as_dm_results(link: BankTermLink, term: BankTerminal, item: str, res: int,
                                       text: str) -> None:
    term.faults.plan([item])
    r = link.purchase(1_00)
    assert (r.res, r.errortxt) == (res, text) and r.restxt


def test_void_refund_x_and_settlement(link: BankTermLink, term: BankTerminal) -> None:
    sale = link.purchase(100_00)
    ref = link.refund(30_00, sale.info["refundid"])
    assert ref.ok and ref.raw["txnType"] == "2"
    sale2 = link.purchase(5_00)
    void = link.void(sale2.info["cancelid"])
    assert void.ok and void.raw["txnType"] == "3"
    again = link.void(sale2.info["cancelid"])
    assert (again.res, again.errortxt) == (5008, "Помилка терміналу: Transaction is already complete")
    x = link.x_balance()
    assert x.ok and "РАЗОМ: 70.00 UAH" in x.raw["receipt"] and term.batch
    z = link.settlement()
    assert z.ok and "ЗАГАЛЬНИЙ ЗВІТ" in z.raw["receipt"] and not term.batch
    assert link.echo().ok


def test_service_methods(link: BankTermLink) -> None:
    ml = link.merchant_list()
    assert ml.ok and "ТОВ «ЕМУЛЯТОР»" in ml.info["merchListValue"]
    assert '"0": "4*;5*"' in link.mask_list().info["maskListValue"]
    assert link.transaction_status().info == {"LastResult": "0", "LastStatMsgCode": "0"}


def test_nothing_listening_is_5067_and_a_silent_terminal_5068(term: BankTerminal) -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    r = BankTermLink("127.0.0.1", port).open()
    assert (r.res, r.errortxt) == (5067, f"Помилка при з'єднанні за вказаною адресою: 127.0.0.1:{port}")
    term.stalled = True
    with BankTermTcp(term) as srv:
        t0 = time.monotonic()
        r = BankTermLink(*srv.address, handshake_timeout_s=0.3).open()
        assert (r.res, r.errortxt) == (5068, "Таймаут при перевірці зв'язку з терміналом")
        assert time.monotonic() - t0 < 2


def test_a_second_dm_is_closed_gracefully(link: BankTermLink, server: BankTermTcp) -> None:
    with BankTermLink(*server.address, handshake_timeout_s=0.5) as other:
        r = other.open()
        assert (r.res, r.errortxt) == (5068, "Таймаут при перевірці зв'язку з терміналом")
    assert link.purchase(1_00).ok


def test_the_terminal_closing_the_connection_is_1016(link: BankTermLink, term: BankTerminal) -> None:
    term.faults.plan(["close"])
    r = link.x_balance()
    assert (r.res, r.errortxt) == (1016, "Internal error: Connection Closed Gracefully")
    assert link.x_balance().ok                          # the next request reconnects


def test_a_lost_answer_is_credited_after_resync(link: BankTermLink, term: BankTerminal) -> None:
    term.faults.plan(["lose_answer"])
    r = link.purchase(77_00, transaction_id="lost")
    assert (r.res, r.errortxt) == (411, "Error receiving TimeOut: 1000 ms") and link.pending is not None
    nxt = link.purchase(10_00, transaction_id="next")
    assert nxt.ok and link.pending is None
    stored = link.journal.get("lost")
    assert stored is not None and stored.ok and stored.info["resync"] == "credited"
    assert stored.info["amount"] == "77.00" and stored.info["refundid"] == term.batch[0].rrn
    assert list(term.received).count("Purchase") == 2


def test_a_lost_request_leaves_an_earlier_receipt_that_is_not_credited(link: BankTermLink,
                                                                      term: BankTerminal) -> None:
    assert link.purchase(77_00).ok                      # the terminal's last receipt: 77.00
    term.faults.plan(["lose_request"])
    r = link.purchase(77_00, transaction_id="lost")    # same amount: only the receipt number tells
    assert r.res == 411
    assert link.echo().ok
    stored = link.journal.get("lost")
    assert stored is not None and stored.res == 411 and stored.info["resync"] == "foreign"
    assert link.purchase(0, transaction_id="lost", transaction_search=True).res == 411


def test_a_sale_keyed_on_the_terminal_is_not_credited(link: BankTermLink, term: BankTerminal) -> None:
    term.faults.plan(["lose_request"])
    assert link.purchase(50_00, transaction_id="lost").res == 411
    term.keyboard_purchase(49_99)                        # newer receipt, another amount
    assert link.echo().ok
    assert link.journal.get("lost").info["resync"] == "foreign"   # type: ignore[union-attr]


def test_no_second_sale_while_the_terminal_is_still_busy(term: BankTerminal, server: BankTermTcp) -> None:
    term.holder.plan(["no_card"])
    term.holder.card_timeout_ms = 1_500
    with BankTermLink(*server.address, timeout_s=0.3, resync_s=0.3, poll_interval_s=0.05) as lk:
        assert lk.open().ok
        assert lk.purchase(10_00, transaction_id="a").res == 411
        r = lk.purchase(20_00, transaction_id="b")
        assert (r.res, r.errortxt) == (5000, "Помилка терміналу: пристрій зайнятий")
        assert list(term.received).count("Purchase") == 1      # the second sale never went out
        time.sleep(1.5)
        assert lk.purchase(20_00, transaction_id="c").ok
        assert lk.journal.get("a").info["resync"] == "foreign"   # type: ignore[union-attr]


def test_a_fault_scheduled_live_takes_effect_on_the_wall_clock(link: BankTermLink, term: BankTerminal) -> None:
    term.schedule(wall_ms() + 1_000, host_down=True)
    assert link.echo().ok
    time.sleep(1.05)
    r = link.echo()
    assert (r.res, r.errortxt) == (5004, "Помилка терміналу: Немає зв'язку з банком")


def test_reconnecting_at_once_is_never_refused_as_a_second_client(server: BankTermTcp, term: BankTerminal) -> None:
    for _ in range(20):
        with BankTermLink(*server.address, timeout_s=2) as lk:
            assert lk.open().ok and lk.ping().ok
            lk.close()
            assert server.open_connections == 0        # close() returns once the terminal let go
    assert server.stats["rejected"] == 0


def test_resync_with_the_terminal_gone_answers_at_once(term: BankTerminal) -> None:
    srv = BankTermTcp(term).start()
    lk = BankTermLink(*srv.address, timeout_s=0.5, resync_s=30)
    assert lk.open().ok
    term.faults.plan(["lose_request"])
    assert lk.purchase(1_00, transaction_id="a").res == 411
    srv.stop()
    t0 = time.monotonic()
    r = lk.purchase(2_00, transaction_id="b")
    assert r.res == 5067 and time.monotonic() - t0 < 5
    assert lk.pending is not None                          # still to settle when the terminal is back
    lk.close()


def test_a_lost_decline_is_stored_as_that_decline(link: BankTermLink, term: BankTerminal) -> None:
    term.faults.plan(["lose_answer"])
    term.holder.plan(["insufficient"])
    assert link.purchase(30_00, transaction_id="d").res == 411
    assert link.echo().ok
    stored = link.journal.get("d")
    assert stored is not None and stored.info["resync"] == "declined"
    assert (stored.res, stored.errortxt) == (5000, "Помилка терміналу: НЕДОСТАТНЬО КОШТІВ")


def test_a_lost_sale_voided_on_the_terminal_since_is_not_credited(link: BankTermLink, term: BankTerminal) -> None:
    term.faults.plan(["lose_answer"])
    assert link.purchase(30_00, transaction_id="v").res == 411
    term.batch[-1].status = "3"                         # reversed on the terminal before the link asked
    assert link.echo().ok
    stored = link.journal.get("v")
    assert stored is not None and stored.res == 411 and stored.info["resync"] == "reversed"


def test_every_result_is_journalled_even_without_an_id(link: BankTermLink) -> None:
    r = link.purchase(1_00)
    assert len(r.transaction_id) == 36 and link.last_transaction() == r
    assert link.journal.get(r.transaction_id) == r


def test_ping_on_a_busy_terminal_is_busy(term: BankTerminal, server: BankTermTcp) -> None:
    term.holder.plan(["no_card"])
    with BankTermLink(*server.address, timeout_s=0.3) as a:
        assert a.open().ok and a.purchase(1_00).res == 411
    with BankTermLink(*server.address) as b:
        r = b.open()
        assert (r.res, r.errortxt) == (5000, "Помилка терміналу: пристрій зайнятий")
        assert term.busy
