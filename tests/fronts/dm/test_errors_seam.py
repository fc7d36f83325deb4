"""The errors of the DM's request path itself (any device), byte for byte against the table, over real HTTP:
1091 no such device, 1105 the device busy with another task, 1058 no task with that tag, 1016 a defect."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from emulator.fronts.dm import manager
from emulator.fronts.dm.envelope import Answer
from emulator.fronts.dm.errors import text
from emulator.fronts.dm.manager import Context
from emulator.world.dm import DmWorld


@pytest.fixture(scope="module")
def world() -> Iterator[DmWorld]:
    with DmWorld(start_ms=1_767_261_600_000) as w:
        w.add_prro("kasa")
        yield w


def post(world: DmWorld, body: dict[str, Any]) -> dict[str, Any]:
    r = httpx.post(world.http() + "/dm/execute", content=json.dumps(body).encode(), timeout=20)
    assert r.status_code == 200
    answer: dict[str, Any] = r.json()
    return answer


def busy(world: DmWorld) -> dict[str, Any]:
    entered, release = threading.Event(), threading.Event()

    def slow(ctx: Context) -> Answer:
        entered.set()
        release.wait(10)
        return Answer()

    manager.TASKS[("prro", 77)] = (slow, False)
    try:
        t = threading.Thread(target=post, args=(world, {"device": "kasa", "fiscal": {"task": 77}}))
        t.start()
        assert entered.wait(10)
        got = post(world, {"device": "kasa", "fiscal": {"task": 20}})
        release.set()
        t.join(10)
        return got
    finally:
        del manager.TASKS[("prro", 77)]


def defect(world: DmWorld) -> dict[str, Any]:
    def broken(ctx: Context) -> Answer:
        raise ZeroDivisionError

    manager.TASKS[("prro", 78)] = (broken, False)
    try:
        return post(world, {"device": "kasa", "fiscal": {"task": 78}})
    finally:
        del manager.TASKS[("prro", 78)]


CASES: dict[tuple[str, int], Callable[[DmWorld], dict[str, Any]]] = {
    ("dm", 1091): lambda w: post(w, {"device": "no such device", "fiscal": {"task": 20}}),
    ("dm", 1105): busy,
    ("prro", 1058): lambda w: post(w, {"device": "kasa", "tag": "never-sent", "type": 0}),
    ("dm", 1016): defect,
}


@pytest.mark.parametrize("key", sorted(CASES), ids=lambda k: f"{k[0]}-{k[1]}")
def test_each_error_byte_for_byte(world: DmWorld, key: tuple[str, int]) -> None:
    group, res = key
    got = CASES[key](world)
    assert got["res"] == res
    if res == 1016:     # «Internal error:» with the reason appended, as the table says
        assert got["errortxt"] == text(1016, group="dm") + " ZeroDivisionError" and got["res_action"] == 3
    else:
        assert got["errortxt"] == text(res, group=group)
