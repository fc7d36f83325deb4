"""Every terminal error the DM produces (terminal tasks, service routes, package mode), byte for byte
against the tables: ``CASES[(group, res)]`` makes the situation on a real world and returns the answer;
``VALUES[(group, res)]`` gives the placeholders' values (none when absent)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from emulator.fronts.dm import errors
from emulator.world.dm import DmWorld

START = 1_767_261_600_000


class W:
    """The world of these cases and a client to its DM."""

    def __init__(self, world: DmWorld, client: httpx.Client) -> None:
        self.world, self.client = world, client

    def term(self, name: str = "term") -> Any:
        return self.world.terminals[name][0]

    def pay(self, task: int, device: str = "term", **fields: object) -> dict[str, Any]:
        top = {k: fields.pop(k) for k in ("transaction_id", "transaction_search") if k in fields}
        body = {"ver": 6, "device": device, "type": 1, "pay": {"task": task, **fields}, **top}
        return self.client.post("/dm/execute", content=json.dumps(body).encode()).json()  # type: ignore[no-any-return]

    def get(self, path: str, dev_name: str) -> dict[str, Any]:
        return self.client.get(path, params={"dev_name": dev_name}).json()  # type: ignore[no-any-return]

    def planned(self, *plan: str, holder: str = "") -> W:
        self.term().faults.plan(list(plan))
        self.term().holder.plan([holder] if holder else [])
        return self


@pytest.fixture(scope="module")
def w() -> Iterator[W]:
    with DmWorld(start_ms=START) as world:
        world.add_prro("kasa")
        world.add_terminal("term", timeout_s=2.0)
        world.add_terminal("gone")
        world.terminals["gone"][1].stop()
        with httpx.Client(base_url=world.http(), timeout=30) as client:
            yield W(world, client)


def _gone_address(w: W) -> tuple[object, ...]:
    link = w.world.dm.find("gone").link  # type: ignore[union-attr]
    return (f"{link.host}:{link.port}",)


def _voided_twice(w: W) -> dict[str, Any]:
    sale = w.pay(1, sum=3)
    assert w.pay(3, cancelid=sale["info"]["cancelid"])["res"] == 0
    return w.pay(3, cancelid=sale["info"]["cancelid"])


def _lost(w: W) -> dict[str, Any]:
    got = w.planned("lose_answer").pay(1, sum=2)
    assert w.pay(10)["res"] == 0                 # settled before the next case
    return got


def _closed(w: W) -> dict[str, Any]:
    got = w.planned("close").pay(10)
    return got


def _unanswered_handshake(w: W) -> dict[str, Any]:
    w.term().faults.down = True             # connections accepted and reset: the handshake gets nothing
    try:
        w.pay(10)                           # the open connection goes first (1016)
        return w.pay(10)
    finally:
        w.term().faults.down = False


CASES: dict[tuple[str, int], Callable[..., dict[str, Any]]] = {
    ("connection", 303): lambda w: w.get("/dm/bankping", "nobody"),
    ("connection", 411): _lost,
    ("connection", 1016): _closed,
    ("connection", 5013): lambda w: w.pay(1, sum=1, transaction_id="nope", transaction_search=1),
    ("connection", 5029): lambda w: w.pay(15, sum=1),
    ("connection", 5067): lambda w: w.pay(1, "gone", sum=1),
    ("connection", 5068): _unanswered_handshake,
    ("privatbank", 5000): lambda w: w.planned(holder="decline").pay(1, sum=1),
    ("bpos1", 5001): lambda w: w.planned(holder="cancel").pay(1, sum=1),
    ("bpos1", 5002): lambda w: w.planned(holder="emv_decline").pay(1, sum=1),
    ("bpos1", 5003): lambda w: w.planned("log_full").pay(1, sum=1),
    ("bpos1", 5004): lambda w: w.planned("no_host").pay(1, sum=1),
    ("bpos1", 5005): lambda w: w.planned("no_paper").pay(1, sum=1),
    ("bpos1", 5006): lambda w: w.planned("keys").pay(1, sum=1),
    ("bpos1", 5007): lambda w: w.planned("reader").pay(1, sum=1),
    ("bpos1", 5008): _voided_twice,
}

VALUES: dict[tuple[str, int], Callable[[W], tuple[object, ...]]] = {
    ("connection", 303): lambda w: ("", "nobody"),
    ("connection", 411): lambda w: (2000,),
    ("connection", 5013): lambda w: ("nope",),
    ("connection", 5029): lambda w: ("term", "PrivatBankJSON", 15),
    ("connection", 5067): _gone_address,
    ("privatbank", 5000): lambda w: ("ВІДМОВА. НЕ ОБСЛУГОВУВАТИ",),
}


@pytest.mark.parametrize("key", list(CASES), ids=[f"{g}-{r}" for g, r in CASES])
def test_error_text_is_the_tables(w: W, key: tuple[str, int]) -> None:
    group, res = key
    got = CASES[key](w)
    values = VALUES.get(key, lambda _: ())(w)
    assert got["res"] == res, got
    assert got["errortxt"] == errors.text(res, *values, group=group)
