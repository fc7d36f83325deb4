"""Terminal tasks on ``/dm/execute`` and the terminal's service routes, over real HTTP to the DM and real
TCP to the emulated PrivatBank terminal, on the world's virtual clock (pumped while the DM waits)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from emulator.fronts.dm.errors import text
from emulator.servers.bankterm.model import BankTerminal
from emulator.world.dm import DmWorld

START = 1_767_261_600_000


@pytest.fixture(scope="module")
def world() -> Iterator[DmWorld]:
    with DmWorld(start_ms=START) as w:
        w.add_prro("kasa")
        w.add_terminal("term", timeout_s=2.0)
        yield w


@pytest.fixture(scope="module")
def client(world: DmWorld) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world.http(), timeout=30) as c:
        yield c


def reset_terminal(m: BankTerminal) -> None:
    """Every fault and holder action a test set on the emulated terminal, cleared."""
    m.stalled = m.host_down = m.paper_out = m.faults.down = False
    m.faults.plan([])
    m.holder.plan([])


@pytest.fixture()
def model(world: DmWorld) -> Iterator[BankTerminal]:
    m = world.terminals["term"][0]
    yield m
    reset_terminal(m)


def pay(client: httpx.Client, task: int, device: str = "term", **fields: object) -> dict:
    top = {k: fields.pop(k) for k in ("transaction_id", "transaction_search") if k in fields}
    body = {"ver": 6, "source": "pos", "device": device, "type": 1, "pay": {"task": task, **fields}, **top}
    r = client.post("/dm/execute", content=json.dumps(body).encode())
    assert r.status_code == 200
    return r.json()


def get(client: httpx.Client, path: str, dev_name: str = "term") -> dict:
    r = client.get(path, params={"dev_name": dev_name})
    assert r.status_code == 200
    return r.json()


def test_a_payment_takes_the_holders_virtual_seconds(world: DmWorld, client: httpx.Client, model: BankTerminal) -> None:
    before = world.clock.now_ms
    got = pay(client, 1, sum=123.45)
    assert (got["res"], got["res_action"], got["errortxt"]) == (0, 0, "")
    info = got["info"]
    assert info["restxt"] == "ОПЕРАЦІЯ УСПІШНА" and info["amount"] == "123.45"
    assert info["refundid"] and info["cancelid"] and info["cardmask"] == "4731XXXXXXXX9838"
    assert info["paysys"] == "VISA" and info["authcode"] and got["transaction_id"]
    # card presented 2 s, the bank's 1.5 s (no PIN under 500 UAH): the clock moved exactly that, no more
    assert world.clock.now_ms - before == 3_500


def test_a_card_that_never_comes_is_300_virtual_seconds_in_little_wall_time(
        world: DmWorld, client: httpx.Client, model: BankTerminal) -> None:
    model.holder.plan(["no_card"])
    before, t0 = world.clock.now_ms, time.monotonic()
    got = pay(client, 1, sum="10,00")
    assert (got["res"], got["errortxt"]) == (5000, text(5000, "Час очікування картки вичерпано", group="privatbank"))
    assert got["info"]["restxt"] == "Час очікування картки вичерпано" and got["res_action"] == 1
    assert world.clock.now_ms - before == 300_000 and time.monotonic() - t0 < 5


def test_a_decline_and_a_cancel_on_the_terminal(client: httpx.Client, model: BankTerminal) -> None:
    model.holder.plan(["decline", "cancel"])
    got = pay(client, 1, sum=5)
    assert (got["res"], got["errortxt"]) == (5000, text(5000, "ВІДМОВА. НЕ ОБСЛУГОВУВАТИ", group="privatbank"))
    assert got["info"]["restxt"] == "ВІДМОВА. НЕ ОБСЛУГОВУВАТИ"
    got = pay(client, 1, sum=5)
    assert (got["res"], got["errortxt"]) == (5001, text(5001, group="bpos1"))


def test_refund_by_rrn_and_cancel_by_number(client: httpx.Client, model: BankTerminal) -> None:
    sale = pay(client, 1, sum=40)
    assert sale["res"] == 0
    refund = pay(client, 2, sum=15, refundid=sale["info"]["refundid"])
    assert refund["res"] == 0 and refund["info"]["amount"] == "15.00"
    too_much = pay(client, 2, sum=30, refundid=sale["info"]["refundid"])
    assert too_much["res"] == 5000 and too_much["info"]["restxt"] == "ОПЕРАЦІЮ НЕ ЗНАЙДЕНО"
    wrong = pay(client, 2, sum=1, refundid="000000000000")
    assert wrong["res"] == 5000 and wrong["info"]["restxt"] == "ОПЕРАЦІЮ НЕ ЗНАЙДЕНО"
    other = pay(client, 1, sum=7)
    void = pay(client, 3, cancelid=other["info"]["cancelid"])
    assert void["res"] == 0 and void["info"]["amount"] == "7.00"
    again = pay(client, 3, cancelid=other["info"]["cancelid"])
    assert (again["res"], again["errortxt"]) == (5008, text(5008, group="bpos1"))


def test_x_balance_settlement_and_the_last_operation(client: httpx.Client, model: BankTerminal) -> None:
    sale = pay(client, 1, sum=12)
    last = pay(client, 17)
    assert last["res"] == 0 and last["info"]["cancelid"] == sale["info"]["cancelid"]
    earlier = pay(client, 17, cancelid=sale["info"]["cancelid"])
    assert earlier["info"]["refundid"] == sale["info"]["refundid"]
    x = pay(client, 10)
    assert x["res"] == 0 and "X-БАЛАНС" in x["info"]["receipt"]
    z = pay(client, 11)
    assert z["res"] == 0 and "ПАКЕТ ЗАКРИТО" in z["info"]["receipt"]
    assert not model.batch or all(t.merchant.id != "0" for t in model.batch)
    other = pay(client, 10, merchant="1")
    assert other["res"] == 0 and "ФОП ТЕСТОВИЙ" in other["info"]["receipt"]


@pytest.mark.parametrize("task", [4, 5, 6, 7, 8, 14, 15, 16])
def test_tasks_the_terminal_has_not_are_5029(client: httpx.Client, task: int) -> None:
    got = pay(client, task, sum=1)
    assert (got["res"], got["errortxt"]) == (5029, text(5029, "term", "PrivatBankJSON", task, group="connection"))
    assert got["res_action"] == 3
    assert got["errortxt"] == f"Термінал term (PrivatBankJSON) не підтримує завдання з типом {task}"


def test_transaction_search_answers_the_stored_result(world: DmWorld, client: httpx.Client,
                                                      model: BankTerminal) -> None:
    sale = pay(client, 1, sum=3, transaction_id="6f0c1c1e-0000-4000-8000-000000000001")
    requests = model.stats["requests"]
    again = pay(client, 1, sum=3, transaction_id="6f0c1c1e-0000-4000-8000-000000000001", transaction_search=1)
    assert again["info"] == sale["info"] and again["res"] == 0 and model.stats["requests"] == requests
    missing = pay(client, 1, sum=3, transaction_id="nope", transaction_search=True)
    assert (missing["res"], missing["errortxt"]) == (5013, text(5013, "nope", group="connection"))
    looked = pay(client, 17, transaction_id="6f0c1c1e-0000-4000-8000-000000000001", transaction_search=1)
    assert looked["info"] == sale["info"]


def test_service_routes(client: httpx.Client, model: BankTerminal) -> None:
    assert get(client, "/dm/bankping")["res"] == 0
    merchants = get(client, "/dm/getmerchantlist")
    assert json.loads(merchants["info"]["merchListValue"]) == {"0": "S1A00001 ТОВ «ЕМУЛЯТОР»",
                                                                "1": "S1A00002 ФОП ТЕСТОВИЙ"}
    masks = get(client, "/dm/getmasklist")
    assert json.loads(masks["info"]["maskListValue"]) == {"0": "4*;5*", "1": "6*;9*"}
    assert get(client, "/dm/getgetmasklist")["info"] == masks["info"]
    assert get(client, "/dm/bankecho")["res"] == 0
    assert get(client, "/dm/transaction-status")["info"] == {"LastResult": "0", "LastStatMsgCode": "0"}
    sale = pay(client, 1, sum=2)
    last = get(client, "/dm/lasttransaction")
    assert last["res"] == 0 and last["info"] == sale["info"] and last["transaction_id"] == sale["transaction_id"]
    model.host_down = True
    echo = get(client, "/dm/bankecho")
    assert (echo["res"], echo["errortxt"]) == (5004, text(5004, group="bpos1"))


@pytest.mark.parametrize("path", ["/dm/bankping", "/dm/getmerchantlist", "/dm/getmasklist", "/dm/bankecho",
                                  "/dm/transaction-status", "/dm/lasttransaction"])
def test_an_unknown_dev_name_is_303(client: httpx.Client, path: str) -> None:
    for name in ("nobody", "kasa"):        # nothing by that name; a ПРРО is no terminal
        got = get(client, path, name)
        assert (got["res"], got["errortxt"]) == (303, text(303, "", name, group="connection"))
        assert got["errortxt"] == f'Protocol id="", name="{name}" do not recognised'


def test_the_link_reopens_after_the_terminal_was_away(client: httpx.Client, model: BankTerminal) -> None:
    model.faults.down = True
    cut = pay(client, 1, sum=1)        # the open connection reset under the payment: it may have been done
    assert (cut["res"], cut["res_action"], cut["errortxt"]) == (1016, 2, text(1016, group="connection"))
    away = pay(client, 10)             # a new connection: the handshake gets no answer
    assert (away["res"], away["res_action"], away["errortxt"]) == (5068, 1, text(5068, group="connection"))
    model.faults.down = False
    assert pay(client, 1, sum=1)["res"] == 0
    found = pay(client, 1, transaction_id=cut["transaction_id"], transaction_search=True)
    assert found["res"] == 1016 and found["info"]["resync"] == "foreign"    # not credited: the receipt was not it


def test_a_lost_answer_is_settled_by_the_next_request(world: DmWorld, client: httpx.Client,
                                                     model: BankTerminal) -> None:
    model.faults.plan(["lose_answer"])
    lost = pay(client, 1, sum=9, transaction_id="lost-1")
    assert (lost["res"], lost["res_action"]) == (411, 2)
    assert lost["errortxt"] == text(411, 2000, group="connection")
    assert pay(client, 10)["res"] == 0                       # the next request resyncs first
    found = pay(client, 1, sum=9, transaction_id="lost-1", transaction_search=True)
    assert found["res"] == 0 and found["info"]["resync"] == "credited" and found["info"]["amount"] == "9.00"


def test_a_busy_terminal_is_1105_to_a_second_request(world: DmWorld, client: httpx.Client,
                                                     model: BankTerminal) -> None:
    model.faults.plan(["stall"])
    first: dict = {}
    t = threading.Thread(target=lambda: first.update(pay(client, 1, sum=4)))
    t.start()
    deadline = time.monotonic() + 5
    while not model.stalled and time.monotonic() < deadline:
        time.sleep(0.01)
    ping = get(client, "/dm/bankping")
    other = pay(client, 10)
    t.join(10)
    assert (ping["res"], ping["errortxt"]) == (1105, text(1105))
    assert (other["res"], other["errortxt"]) == (1105, text(1105))
    assert first["res"] == 411
    model.stalled = False
    assert pay(client, 10)["res"] == 0
