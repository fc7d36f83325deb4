"""Malformed requests to the Device Manager: not JSON, bad UTF-8, wrong types, unknown devices and tasks,
deep nesting, oversized bodies — through the DM's ASGI app (the bulk, 10 000 cases) and over a real socket
(a sample). Each is answered with HTTP 200 and a refusal (``res`` > 0, never the defect's 1016), within a
bound, and leaves the DM's database, the ПРРО and the tax server as they were."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.fronts.dm import manager, values
from emulator.fronts.dm.app import make_app
from emulator.fronts.dm.envelope import MAX_BODY, MAX_DEPTH
from emulator.fronts.dm.errors import DmError
from emulator.world.dm import DmWorld
from tests.fuzz.budget import fuzz

BOUND_S = 2.0
PRRO, TERMINAL, PRINTER = "kasa", "term", "prn"
PATHS = ("/dm/execute", "/dm/execute-prn", "/dm/execute-pkg")


@pytest.fixture(scope="module")
def world() -> Iterator[DmWorld]:
    with DmWorld(start_ms=1_767_261_600_000) as w:
        w.add_prro(PRRO)
        w.add_terminal(TERMINAL)
        w.add_printer(PRINTER)
        START.append(whole(w))
        yield w


START: list[str] = []


class AsgiClient:
    """httpx over ``ASGITransport`` on one event loop kept for the module (the bulk's fast path)."""

    def __init__(self, app: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="fuzz-asgi-loop")
        self.thread.start()          # one running loop: its worker threads are kept between requests
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:3939")

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return asyncio.run_coroutine_threadsafe(self.http.post(path, **kw), self.loop).result(60)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.http.aclose(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def client(world: DmWorld) -> Iterator[AsgiClient]:
    c = AsgiClient(make_app(world.dm))
    yield c
    c.close()


def snapshot(world: DmWorld) -> tuple[Any, ...]:
    """What one request could change: the DM's database, the tax server's documents, the peers' work."""
    return (world.dm.store.digest(), len(world.prro.tax.documents), world.printers[PRINTER][0].paper.ended,
            len(world.terminals[TERMINAL][0].batch))


def whole(world: DmWorld) -> str:
    """``snapshot`` and the ПРРО's own state (its documents, shift, key): taken before and after the module."""
    dev = world.dm.find(PRRO).device  # type: ignore[union-attr]
    return json.dumps([snapshot(world), dev.state(), world.printers[PRINTER][0].state()], sort_keys=True, default=str)


def not_integer(x: Any) -> bool:
    """``x`` is not read as an integer by the envelope (``"2e1"`` and ``20.0`` are 20)."""
    try:
        values.integer(x, "x")
    except DmError:
        return True
    return False


scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                             st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                           max_leaves=5)
FIELDS = ("ver", "source", "device", "tag", "type", "token", "need_pf_txt", "need_pf_img", "need_pf_pdf",
          "userinfo", "fiscal", "pay", "transaction_id", "transaction_search")
WRONG = {  # per field, values of a type the envelope does not take
    "ver": st.one_of(st.text(min_size=1, max_size=5), st.lists(scalars, max_size=2),
                     st.dictionaries(st.text(max_size=3), scalars, max_size=2)).filter(not_integer),
    "device": st.one_of(st.lists(scalars, min_size=1, max_size=2), st.dictionaries(st.text(max_size=3), scalars,
                                                                                    min_size=1, max_size=2),
                        st.text(min_size=201, max_size=300)),
    "fiscal": st.one_of(st.lists(scalars, min_size=1, max_size=3), st.text(min_size=1, max_size=5),
                        st.integers(), st.booleans()),
    "pay": st.one_of(st.lists(scalars, min_size=1, max_size=3), st.text(min_size=1, max_size=5), st.integers()),
    "userinfo": st.one_of(st.lists(scalars, min_size=1, max_size=3), st.text(min_size=1, max_size=5)),
    "tag": st.one_of(st.lists(scalars, min_size=1, max_size=2), st.dictionaries(st.text(max_size=3), scalars,
                                                                                 min_size=1, max_size=2)),
}


def known_tasks(kind: str) -> set[int]:
    return {t for (k, t) in manager.TASKS if k == kind}


@st.composite
def malformed(draw: st.DrawFn) -> tuple[str, bytes]:
    path = draw(st.sampled_from(PATHS))
    kind = draw(st.sampled_from(["bytes", "utf8", "json", "wrong_type", "unknown_device", "unknown_task",
                                 "nested", "task_type", "requery"]))
    if kind == "bytes":                       # not JSON at all
        raw = draw(st.binary(max_size=200))
        try:
            json.loads(raw)
            raw = b"{" + raw
        except (ValueError, UnicodeDecodeError):
            pass
        return path, raw
    if kind == "utf8":                        # bad UTF-8 inside an otherwise good request
        bad = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf0\x28\x8c\x28", b"\x80"]))
        return path, b'{"device": "' + PRRO.encode() + bad + b'", "fiscal": {"task": 20}}'
    if kind == "json":                        # JSON that is no object
        value = draw(json_values.filter(lambda x: not isinstance(x, dict)))
        return path, json.dumps(value).encode()
    if kind == "wrong_type":
        field = draw(st.sampled_from(sorted(WRONG)))
        body: dict[str, Any] = {"ver": 6, "device": PRRO, "fiscal": {"task": 20}}
        body[field] = draw(WRONG[field])
        return path, json.dumps(body).encode()
    if kind == "unknown_device":
        name = draw(st.text(max_size=30).filter(lambda s: s not in (PRRO, TERMINAL, PRINTER)))
        extra = draw(st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=3))
        return path, json.dumps({**extra, "device": name}).encode()
    if kind == "unknown_task":
        dev = draw(st.sampled_from([PRRO, TERMINAL, PRINTER]))
        kind_of = {PRRO: "prro", TERMINAL: "terminal", PRINTER: "printer"}[dev]
        task = draw(st.integers(min_value=-(2 ** 40), max_value=2 ** 40).filter(
            lambda t: t not in known_tasks(kind_of) and not 0 <= t <= 99))
        where = "pay" if dev == TERMINAL else "fiscal"
        return "/dm/execute", json.dumps({"device": dev, where: {"task": task}}).encode()
    if kind == "task_type":                   # a task that is not a number
        task = draw(st.one_of(st.text(max_size=6), st.lists(scalars, max_size=2), st.booleans(),
                              st.dictionaries(st.text(max_size=2), scalars, max_size=2),
                              st.floats(allow_nan=False)).filter(not_integer))
        return path, json.dumps({"device": PRRO, "fiscal": {"task": task}}).encode()
    if kind == "requery":                     # a re-query of a tag nobody used
        tag = draw(st.text(min_size=1, max_size=40).map(lambda s: "no-such-" + s))
        return path, json.dumps({"device": PRRO, "tag": tag, "type": 0}).encode()
    depth = draw(st.integers(min_value=MAX_DEPTH + 1, max_value=5_000))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    inner = opener * depth + "1" + closer * depth
    return path, ('{"device": "kasa", "fiscal": {"task": 20, "x": ' + inner + "}}").encode()


def _check(answer: Any) -> None:
    assert isinstance(answer, dict), answer
    assert isinstance(answer["res"], int) and answer["res"] > 0 and answer["res"] != 1016, answer
    assert answer["res_action"] in (1, 2, 3) and isinstance(answer["errortxt"], str) and answer["errortxt"]


@fuzz("dm_requests", examples=10_000)
@given(case=malformed())
def test_malformed_requests_are_refused_and_change_nothing(world: DmWorld, client: AsgiClient,
                                                           case: tuple[str, bytes]) -> None:
    path, raw = case
    before = snapshot(world)
    t = time.process_time()
    r = client.post(path, content=raw, headers={"Content-Type": "application/json"})
    assert time.process_time() - t < BOUND_S, raw[:200]
    assert r.status_code == 200, (raw[:200], r.text[:200])
    _check(r.json())
    assert snapshot(world) == before, raw[:200]


@pytest.mark.parametrize("raw", [
    b'{"device": "' + b"x" * (MAX_BODY + 10) + b'"}',
    b"[" * (MAX_BODY // 2),
    b'{"device": "kasa", "fiscal": {"task": 20, "rows": [' + b'{"a": 1},' * 120_000 + b"{}]}}",
])
def test_oversized_bodies_are_2000_in_bounded_time(world: DmWorld, client: AsgiClient, raw: bytes) -> None:
    before = snapshot(world)
    t = time.process_time()
    r = client.post("/dm/execute", content=raw, headers={"Content-Type": "application/json"})
    assert time.process_time() - t < BOUND_S * 2
    assert r.status_code == 200 and r.json()["res"] == 2000
    assert snapshot(world) == before


@fuzz("dm_requests_socket", examples=200)
@given(case=malformed())
def test_a_sample_over_a_real_socket(world: DmWorld, case: tuple[str, bytes]) -> None:
    path, raw = case
    before = snapshot(world)
    with httpx.Client(base_url=world.http(), timeout=10, trust_env=False) as c:
        r = c.post(path, content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 200
    _check(r.json())
    assert snapshot(world) == before


def test_a_good_request_still_works_after_the_fuzz(world: DmWorld, client: AsgiClient) -> None:
    assert whole(world) == START[0]
    r = client.post("/dm/execute", json={"device": PRRO, "fiscal": {"task": 20}})
    assert r.json()["res"] == 0 and r.json()["info"]["fisid"]
