"""The mock's history of answers is bounded: by count and by age on the clock."""

from __future__ import annotations

import tracemalloc

from emulator.servers.trueapi.model import TrueApi

CODE = "0104600000000017215Good1\x1d93abcd"
TOKEN = "7f0c0d6e-3b1a-4c53-9a8e-5d2f0e9b1c42"
DAY = 86_400_000


def check(api: TrueApi, at: int, codes: list[str] | None = None) -> dict:
    return api.codes_check(api.contour("prod"), {"codes": codes or [CODE]}, at)[0]


def found(api: TrueApi, answer: dict, at: int) -> str:
    api._last_create.clear()
    api._last_receive.clear()
    prod = api.contour("prod")
    qid = api.history_create(prod, TOKEN, {"requests": [{"reqId": answer["reqId"],
                                                         "reqTimestamp": answer["reqTimestamp"]}]}, at)["queryId"]
    return api.history_receive(prod, TOKEN, qid, at + api.history_delay_ms)["result"][0]["searchStatus"]


def test_history_keeps_the_newest_answers_only() -> None:
    api = TrueApi(seed=1)
    api.history_max_answers = 50
    first = check(api, 0)
    assert found(api, first, 1000) == "FOUND"
    last = None
    for i in range(200):
        last = check(api, 1000 + i)
    assert len(api.answers["prod"]) == 50
    assert found(api, first, 10_000) == "NOT_FOUND"
    assert found(api, last, 10_000) == "FOUND"


def test_history_forgets_answers_older_than_its_age_on_the_clock() -> None:
    api = TrueApi(seed=1)
    old = check(api, 0)
    assert found(api, old, api.history_max_age_ms - 60_000) == "FOUND"
    assert found(api, old, api.history_max_age_ms + 1) == "NOT_FOUND"
    check(api, 8 * DAY)
    assert len(api.answers["prod"]) == 1            # the old one dropped when a new one came


def test_history_memory_stays_bounded_under_big_submissions() -> None:
    api = TrueApi(seed=1)
    api.history_max_answers = 100
    tracemalloc.start()
    try:
        for i in range(300):                         # 100 kB of codes a request, each its own
            check(api, i, [f"{CODE}{i}-{j}" + "x" * 1000 for j in range(100)])
        current, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(api.answers["prod"]) == 100
    assert current < 20 << 20, current              # kept: 100 × 100 kB; unbounded, 300 × 100 kB and rising
