"""The emulated PrivatBank terminal on the virtual clock: card holder, timings, operations, faults."""

from __future__ import annotations

import pytest

from emulator.base.clock import VirtualClock
from emulator.servers.bankterm.card import CARD_TIMEOUT_MS
from emulator.servers.bankterm.model import BankTerminal, Close, parse_amount
from emulator.wire.ecrjson import Message

T0 = 1_780_000_000_000


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(T0)


@pytest.fixture
def term(clock: VirtualClock) -> BankTerminal:
    return BankTerminal(lambda: clock.now_ms)


def run(term: BankTerminal, clock: VirtualClock, msg: Message, max_ms: int = 400_000) -> list[Message]:
    out = [m for m in term.handle(msg) if isinstance(m, Message)]
    end = clock.now_ms + max_ms
    while not out and (due := term.next_due()) is not None and due <= end:
        clock.run_until(due)
        out += [m for m in term.poll() if isinstance(m, Message)]
    return out


def purchase(amount: str = "12.50", merchant: str = "0") -> Message:
    return Message("Purchase", {"amount": amount, "discount": "", "merchantId": merchant, "facepay": "false"})


def stat(term: BankTerminal) -> str:
    return term.handle(Message("ServiceMessage", {"msgType": "getLastStatMsgCode"}))[0].params["LastStatMsgCode"]


def test_ping_identify_and_version(term: BankTerminal) -> None:
    [ping] = term.handle(Message("PingDevice"))
    assert ping.params == {"code": "00", "responseCode": "0000"} and ping.error is False
    [ident] = term.handle(Message("ServiceMessage", {"msgType": "identify"}))
    assert ident.params["vendor"] and ident.params["model"]
    assert term.handle(Message("GetTerminalInfo"))[0].params["version"]


def test_a_purchase_waits_for_the_card_the_pin_and_the_bank(term: BankTerminal, clock: VirtualClock) -> None:
    assert term.handle(purchase("600.00")) == []
    seen = [stat(term)]
    while (due := term.next_due()) is not None:
        clock.run_until(due)
        out = term.poll()
        seen.append(stat(term))
    assert seen == ["9", "6", "3", "0"]        # waiting for the card, PIN (the card read with it), bank, idle
    assert clock.now_ms - T0 == term.holder.present_ms + term.holder.pin_ms + term.config.host_ms
    [ans] = out
    assert isinstance(ans, Message) and ans.method == "Purchase" and ans.error is False
    p = ans.params
    assert all(isinstance(v, str) for v in p.values())
    assert (p["responseCode"], p["amount"], p["txnType"], p["trnStatus"]) == ("0000", "600.00", "1", "1")
    assert p["pan"] == "4731XXXXXXXX9838" and len(p["rrn"]) == 12 and p["invoiceNumber"] == "1"
    assert p["receipt"].splitlines()[-1] == "ОПЕРАЦІЯ УСПІШНА" and "СУМА: 600.00 UAH" in p["receipt"]


def test_below_the_pin_limit_no_pin_is_asked(term: BankTerminal, clock: VirtualClock) -> None:
    run(term, clock, purchase("10,00"))
    assert clock.now_ms - T0 == term.holder.present_ms + term.config.host_ms


def test_no_card_for_300_seconds_ends_the_purchase(term: BankTerminal, clock: VirtualClock) -> None:
    term.holder.plan(["no_card"])
    term.handle(purchase())
    clock.run_until(T0 + CARD_TIMEOUT_MS - 1)
    assert term.poll() == [] and stat(term) == "9"
    clock.run_until(T0 + CARD_TIMEOUT_MS)
    [ans] = term.poll()
    assert isinstance(ans, Message) and ans.error is True
    assert ans.params == {"responseCode": "1000"} and ans.description == "Час очікування картки вичерпано"
    assert stat(term) == "0" and not term.batch


@pytest.mark.parametrize(("action", "code"), [("decline", "0005"), ("insufficient", "0051"), ("wrong_pin", "0055"),
                                              ("cancel", "1001"), ("emv_decline", "1002")])
def test_the_holder_and_the_bank_refuse(term: BankTerminal, clock: VirtualClock, action: str, code: str) -> None:
    term.holder.plan([action])
    [ans] = run(term, clock, purchase())
    assert ans.error is True and ans.params["responseCode"] == code and ans.description
    if code.startswith("0"):        # a bank decline leaves a declined slip in the batch
        assert ans.params["trnStatus"] == "2" and ans.params["receipt"].endswith("ОПЕРАЦІЮ ВІДХИЛЕНО")
        assert term.batch[-1].status == "2"
    else:
        assert not term.batch


def test_interrupt_ends_a_purchase_waiting_for_the_card(term: BankTerminal, clock: VirtualClock) -> None:
    term.holder.plan(["no_card"])
    term.handle(purchase())
    clock.advance(10_000)
    out = term.handle(Message("ServiceMessage", {"msgType": "interrupt"}))
    assert [m.params.get("msgType") for m in out if isinstance(m, Message)] == ["interruptTransmitted", None]
    assert isinstance(out[1], Message) and out[1].params["responseCode"] == "1001"
    assert not term.busy and term.next_due() is None


def test_one_operation_at_a_time_service_messages_still_answer(term: BankTerminal, clock: VirtualClock) -> None:
    term.handle(purchase())
    [busy] = term.handle(Message("PingDevice"))
    assert busy.method == "ServiceMessage" and busy.params["msgType"] == "deviceBusy"
    [res] = term.handle(Message("ServiceMessage", {"msgType": "getLastResult"}))
    assert res.params["LastResult"] == "2"
    clock.run_until(term.next_due() or 0)
    assert term.poll() == []                  # the card read; the bank still to ask
    clock.advance(term.config.host_ms)
    assert [m.method for m in term.poll() if isinstance(m, Message)] == ["Purchase"]
    assert term.handle(Message("ServiceMessage", {"msgType": "getLastResult"}))[0].params["LastResult"] == "0"


def test_refund_by_rrn_and_its_limits(term: BankTerminal, clock: VirtualClock) -> None:
    [sale] = run(term, clock, purchase("100.00"))
    rrn = sale.params["rrn"]
    [ref] = run(term, clock, Message("Refund", {"amount": "40.00", "rrn": rrn, "merchantId": "0"}))
    assert ref.error is False and ref.params["txnType"] == "2" and ref.params["receipt"].count("ПОВЕРНЕННЯ") == 1
    [over] = run(term, clock, Message("Refund", {"amount": "60.01", "rrn": rrn, "merchantId": "0"}))
    assert over.error is True and over.params["responseCode"] == "0025"
    [unknown] = run(term, clock, Message("Refund", {"amount": "1.00", "rrn": "999", "merchantId": "0"}))
    assert unknown.params["responseCode"] == "0025"


def test_void_by_invoice_once_and_not_after_settlement(term: BankTerminal, clock: VirtualClock) -> None:
    [sale] = run(term, clock, purchase("50.00"))
    inv = sale.params["invoiceNumber"]
    [void] = run(term, clock, Message("Withdrawal", {"invoiceNumber": inv}))
    assert void.error is False and void.params["txnType"] == "3" and void.params["amount"] == "50.00"
    [info] = run(term, clock, Message("GetReceiptInfo", {"invoiceNumber": inv}))
    assert info.params["trnStatus"] == "3" and info.error is False
    [again] = run(term, clock, Message("Withdrawal", {"invoiceNumber": inv}))
    assert again.params["responseCode"] == "1008" and again.error is True
    [sale2] = run(term, clock, purchase("5.00"))
    run(term, clock, Message("Verify", {"merchantId": "0"}))
    [late] = run(term, clock, Message("Withdrawal", {"invoiceNumber": sale2.params["invoiceNumber"]}))
    assert late.params["responseCode"] == "0025"


def test_x_balance_keeps_the_batch_and_settlement_closes_it(term: BankTerminal, clock: VirtualClock) -> None:
    run(term, clock, purchase("100.00"))
    [sale] = run(term, clock, purchase("20.00"))
    run(term, clock, Message("Refund", {"amount": "30.00", "rrn": term.batch[0].rrn, "merchantId": "0"}))
    [x] = run(term, clock, Message("Audit", {"merchantId": "0"}))
    slip = x.params["receipt"].splitlines()
    assert "X-БАЛАНС" in slip and "ОПЛАТА: 2 НА 120.00 UAH" in slip and "РАЗОМ: 90.00 UAH" in slip
    assert len(term.batch) == 3
    [z] = run(term, clock, Message("Verify", {"merchantId": "0"}))
    assert "ЗАГАЛЬНИЙ ЗВІТ" in z.params["receipt"] and z.params["receipt"].endswith("ПАКЕТ ЗАКРИТО")
    assert z.params["batchNum"] == "1" and term.batch_no == 2 and not term.batch
    [info] = run(term, clock, Message("GetReceiptInfo", {"invoiceNumber": ""}))
    assert info.error is False and info.params["txnType"] == "0"
    assert sale.params["invoiceNumber"] == "2"


def test_a_full_batch_refuses_until_settlement(term: BankTerminal, clock: VirtualClock) -> None:
    term.config.max_batch = 2
    run(term, clock, purchase())
    run(term, clock, purchase())
    [full] = run(term, clock, purchase())
    assert full.params["responseCode"] == "1003"
    run(term, clock, Message("Verify", {"merchantId": "0"}))
    assert run(term, clock, purchase())[0].error is False


@pytest.mark.parametrize(("item", "code"), [("no_host", "1004"), ("no_paper", "1005"), ("keys", "1006"),
                                            ("reader", "1007"), ("log_full", "1003")])
def test_local_faults_from_the_plan(term: BankTerminal, clock: VirtualClock, item: str, code: str) -> None:
    term.faults.plan([item])
    [ans] = run(term, clock, purchase())
    assert ans.params == {"responseCode": code} and ans.error is True and ans.description
    assert run(term, clock, purchase())[0].error is False      # the item was consumed


def test_switches_and_latency(term: BankTerminal, clock: VirtualClock) -> None:
    term.host_down = True
    assert run(term, clock, Message("CheckConnection", {}))[0].params["responseCode"] == "1004"
    term.host_down, term.paper_out = False, True
    assert run(term, clock, purchase())[0].params["responseCode"] == "1005"
    term.paper_out = False
    term.faults.latency_ms = 20_000
    start = clock.now_ms
    run(term, clock, Message("CheckConnection", {}))
    assert clock.now_ms - start == term.config.host_ms + 20_000


def test_a_lost_answer_still_completes_the_purchase(term: BankTerminal, clock: VirtualClock) -> None:
    term.faults.plan(["lose_answer"])
    assert run(term, clock, purchase("77.00")) == []
    assert term.stats["lost_answers"] == 1 and len(term.batch) == 1
    [info] = run(term, clock, Message("GetReceiptInfo", {"invoiceNumber": "0"}))
    assert info.params["amount"] == "77.00" and info.params["responseCode"] == "0000"


def test_lost_request_close_and_stall(term: BankTerminal, clock: VirtualClock) -> None:
    term.faults.plan(["lose_request", "close", "stall"])
    assert term.handle(purchase()) == [] and not term.busy and term.stats["lost_requests"] == 1
    assert term.handle(purchase()) == [Close()]
    assert term.handle(purchase()) == [] and term.stalled
    assert term.handle(Message("PingDevice")) == [] and term.bad_frame("x") == []
    term.stalled = False
    assert term.handle(Message("PingDevice"))[0].params["responseCode"] == "0000"


def test_bad_input_gets_a_defined_answer(term: BankTerminal, clock: VirtualClock) -> None:
    [nm] = term.handle(Message("Teleport", {}))
    assert nm.method == "ServiceMessage" and nm.params == {"msgType": "methodNotImplemented", "method": "Teleport"}
    for bad in ("", "0", "-1", "1.234", "1e3", "abc", "١٢", "1000000.00"):
        [ans] = term.handle(purchase(bad))
        assert ans.params == {"responseCode": "1000"} and ans.description == "Невірна сума", bad
    [m] = term.handle(purchase("1.00", merchant="7"))
    assert m.description == "Невідомий мерчант"
    [b] = term.bad_frame("not JSON")
    assert b.method == "" and b.error is True and b.description == "not JSON"
    assert not term.busy


def test_lists_and_keyboard_sales(term: BankTerminal, clock: VirtualClock) -> None:
    [ml] = term.handle(Message("ServiceMessage", {"msgType": "getMerchantList"}))
    assert set(ml.params) == {"msgType", "0", "1"}
    [mk] = term.handle(Message("ServiceMessage", {"msgType": "getMaskList"}))
    assert mk.params["0"] == "4*;5*"
    txn = term.keyboard_purchase(5_000)
    assert txn.source == "keyboard" and term.batch[-1] is txn


def test_amount_parsing() -> None:
    assert parse_amount("0.60") == 60 and parse_amount("0,6") == 60 and parse_amount("12") == 1200
    assert parse_amount(" 1.5 ") == 150 and parse_amount("1.") is None and parse_amount(".5") is None


def test_faults_scheduled_on_the_virtual_clock(term: BankTerminal, clock: VirtualClock) -> None:
    hour = 3_600_000
    term.schedule(T0 + hour, host_down=True, holder=["insufficient"])
    term.schedule(T0 + 2 * hour, host_down=False, plan=["no_paper"], latency_ms=5_000)
    assert run(term, clock, purchase())[0].error is False
    clock.run_until(T0 + hour)
    assert run(term, clock, purchase())[0].params["responseCode"] == "1004"
    clock.run_until(T0 + 2 * hour)
    assert run(term, clock, purchase())[0].params["responseCode"] == "1005"
    start = clock.now_ms
    [ans] = run(term, clock, purchase())
    assert ans.params["responseCode"] == "0051"          # the holder's plan set an hour ago
    assert clock.now_ms - start == term.holder.present_ms + term.config.host_ms + 5_000


def test_bad_scheduled_changes_are_refused_when_set(term: BankTerminal, clock: VirtualClock) -> None:
    for bad in ({"plan": ["explode"]}, {"holder": ["dance"]}, {"host_down": "yes"}, {"latency_ms": -1},
                {"colour": True}, {"paper_out": True, "plan": [5]}, {"plan": [200]}):
        with pytest.raises(ValueError):
            term.schedule(T0, **bad)
    [ans] = run(term, clock, purchase())
    assert ans.error is False and not term.paper_out       # nothing of the refused changes applied


def test_the_bank_remembers_a_bounded_number_of_sales(term: BankTerminal, clock: VirtualClock,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import emulator.servers.bankterm.model as model

    monkeypatch.setattr(model, "MAX_RRNS", 3)
    rrns = [term.keyboard_purchase(100).rrn for _ in range(5)]
    assert list(term.rrns) == rrns[2:]
    [old] = run(term, clock, Message("Refund", {"amount": "1.00", "rrn": rrns[0], "merchantId": "0"}))
    assert old.params["responseCode"] == "0025"
    assert run(term, clock, Message("Refund", {"amount": "1.00", "rrn": rrns[4], "merchantId": "0"}))[0].error is False


def test_voiding_a_refund_gives_the_amount_back_to_refund(term: BankTerminal, clock: VirtualClock) -> None:
    [sale] = run(term, clock, purchase("10.00"))
    rrn = sale.params["rrn"]
    [ref] = run(term, clock, Message("Refund", {"amount": "10.00", "rrn": rrn, "merchantId": "0"}))
    assert run(term, clock, Message("Refund", {"amount": "0.01", "rrn": rrn}))[0].params["responseCode"] == "0025"
    run(term, clock, Message("Withdrawal", {"invoiceNumber": ref.params["invoiceNumber"]}))
    assert run(term, clock, Message("Refund", {"amount": "10.00", "rrn": rrn}))[0].error is False


def test_without_the_bank_the_x_balance_still_counts(term: BankTerminal, clock: VirtualClock) -> None:
    term.host_down = True
    assert run(term, clock, Message("Audit", {"merchantId": "0"}))[0].error is False
    for m in ("Verify", "CheckConnection", "Withdrawal"):
        assert run(term, clock, Message(m, {"invoiceNumber": "1"}))[0].params["responseCode"] == "1004", m
