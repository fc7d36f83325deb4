"""The DM's request path end to end over real HTTP: the envelope, devices by name, one task per device,
re-query by tag, always HTTP 200."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

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


@pytest.fixture(scope="module")
def client(world: DmWorld) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world.http(), timeout=10) as c:
        yield c


def post(client: httpx.Client, body: object, path: str = "/dm/execute") -> dict:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    r = client.post(path, content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 200
    return r.json()


def test_a_task_answers_in_the_envelope(client: httpx.Client) -> None:
    got = post(client, {"ver": 6, "source": "pos", "device": "kasa", "type": 1, "fiscal": {"task": 20}})
    assert got["res"] == 0 and got["res_action"] == 0 and got["errortxt"] == ""
    assert got["info"] == {"fisid": "4000002411"} and got["task"] == 20 and got["device"] == "kasa"
    assert len(got["dt"]) == 14 and got["dt"].startswith("2026")


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"device": 5.5e400}', b"\xff\xfe",
                                  b'{"device": "kasa", "fiscal": {"task": "twenty"}}',
                                  b'{"device": "kasa", "fiscal": {"task": 99}}',
                                  b"{" * 5000, b'{"device": "kasa", "fiscal": []}'])
def test_malformed_requests_are_2000_with_http_200(client: httpx.Client, world: DmWorld, body: bytes) -> None:
    before = world.dm.store.digest()
    got = post(client, body)
    assert (got["res"], got["res_action"], got["errortxt"]) == (2000, 3, "Невірний формат вхідного JSON")
    assert world.dm.store.digest() == before


def test_an_oversized_body_is_2000(client: httpx.Client) -> None:
    got = post(client, b'{"device": "' + b"x" * (2 << 20) + b'"}')
    assert got["res"] == 2000


def test_an_unknown_device_is_1091(client: httpx.Client) -> None:
    got = post(client, {"device": "nobody", "fiscal": {"task": 20}})
    assert (got["res"], got["errortxt"]) == (1091, "Пристрій не знайдено")


def test_an_unknown_tag_is_1058(client: httpx.Client) -> None:
    got = post(client, {"device": "kasa", "tag": "no-such-tag", "type": 0})
    assert (got["res"], got["errortxt"]) == (1058, "Чек з кодом синхронізації не знайдено")


def test_a_busy_device_is_1105(world: DmWorld, client: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    entered, release = threading.Event(), threading.Event()

    def slow(ctx: Context) -> Answer:
        entered.set()
        release.wait(10)
        return Answer(info={"slow": 1})

    monkeypatch.setitem(manager.TASKS, ("prro", 77), (slow, False))
    first: dict = {}
    t = threading.Thread(target=lambda: first.update(post(client, {"device": "kasa", "fiscal": {"task": 77}})))
    t.start()
    assert entered.wait(10)
    got = post(client, {"device": "kasa", "fiscal": {"task": 20}})
    release.set()
    t.join(10)
    assert (got["res"], got["errortxt"]) == (1105, "Пристрій зайнятий") and first["res"] == 0
    assert post(client, {"device": "kasa", "fiscal": {"task": 20}})["res"] == 0


def test_a_handler_defect_is_1016_not_a_500(client: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(ctx: Context) -> Answer:
        raise ZeroDivisionError

    monkeypatch.setitem(manager.TASKS, ("prro", 78), (broken, False))
    got = post(client, {"device": "kasa", "fiscal": {"task": 78}})
    assert got["res"] == 1016 and got["errortxt"].startswith(text(1016, group="dm"))


def test_a_fiscal_task_with_a_used_tag_is_answered_from_the_store(world: DmWorld, client: httpx.Client,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def counted(ctx: Context) -> Answer:
        calls.append(1)
        return Answer(info={"n": len(calls)})

    monkeypatch.setitem(manager.TASKS, ("prro", 79), (counted, True))
    body = {"device": "kasa", "tag": "T-1", "fiscal": {"task": 79}}
    one = post(client, body)
    two = post(client, body)
    again = post(client, {"device": "kasa", "tag": "T-1", "type": 0})
    assert one == two == again and one["info"] == {"n": 1} and calls == [1]


def test_unknown_paths_are_404_json(client: httpx.Client) -> None:
    r = client.get("/dm/nothing-here")
    assert r.status_code == 404 and "error" in r.json()
