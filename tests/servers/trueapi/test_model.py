"""The True API model without HTTP: typed refusals, and the fault plan every mock server uses."""

from __future__ import annotations

import base64

import pytest

from emulator.net.faults import TLS_FAULTS, FaultPlan
from emulator.servers.trueapi.model import (
    PLAN_WORDS,
    BadRequest,
    Emergency,
    ExternalSystemFailure,
    NotFound,
    Refusal,
    TooManyRequests,
    TrueApi,
    Unauthorized,
    status_refusal,
)

TOKEN = "7f0c0d6e-3b1a-4c53-9a8e-5d2f0e9b1c42"


def test_refusals_are_typed_with_their_status() -> None:
    api = TrueApi(seed=1)
    prod = api.contour("prod")
    with pytest.raises(Unauthorized, match="не передан"):
        api.authorize(prod, "", 0)
    api.add_token("sandbox", TOKEN)
    with pytest.raises(Unauthorized, match="другого контура"):
        api.authorize(prod, TOKEN, 0)
    with pytest.raises(BadRequest) as bad:
        api.codes_check(prod, {"codes": []}, 0)
    assert bad.value.status == 400 and bad.value.delay_ms == 0
    with pytest.raises(NotFound):
        api.history_receive(prod, TOKEN, "no-such-query", 0)
    api.history_create(prod, TOKEN, {"requests": [{"reqId": "r", "reqTimestamp": 1}]}, 0)
    with pytest.raises(TooManyRequests):
        api.history_create(prod, TOKEN, {"requests": [{"reqId": "r", "reqTimestamp": 1}]}, 59_999)
    api.set_emergency("prod", True)
    with pytest.raises(Emergency) as emergency:
        api.check_open(api.host("cdn01.crpt.ru"))
    assert emergency.value.status == 203


def test_a_configured_status_is_a_refusal() -> None:
    assert isinstance(status_refusal("5000", 30), ExternalSystemFailure)
    refusal = status_refusal(503, 30)
    assert isinstance(refusal, Refusal) and refusal.status == 503 and refusal.delay_ms == 30
    assert refusal.description is None


def test_permissive_access_token_expires_after_expires_in() -> None:
    api = TrueApi(seed=1)
    prod = api.contour("prod")
    doc = api.permissive_access(prod, {"data": base64.b64encode(b"signed").decode()}, sent_ms=1_000)
    token = doc["access_token"]
    api.authorize(prod, token, 1_000 + 36_000_000 - 1)
    with pytest.raises(Unauthorized, match="истёк"):
        api.authorize(prod, token, 1_000 + 36_000_000)


def test_fault_plan_items_latency_and_repeat() -> None:
    plan = FaultPlan(words=PLAN_WORDS, latency_ms=40)
    plan.plan([500, "refuse", 200], repeat=True)
    assert plan.head() == 500
    assert [plan.next_item() for _ in range(4)] == [500, "refuse", 200, 500]
    assert plan.next_latency() == 40
    plan.latency_seq = [10, 20]
    assert [plan.next_latency() for _ in range(3)] == [10, 20, 20]
    assert FaultPlan().next_item() == "ok" and FaultPlan().head() is None
    with pytest.raises(ValueError, match="bad fault-plan item"):
        FaultPlan().plan(["garbage"])              # a word of the True API, not of a bare plan
    plan.items.append(True)                        # set directly: checked when consumed
    plan.repeat = False
    with pytest.raises(ValueError):
        for _ in range(4):
            plan.next_item()
    assert "stall" in TLS_FAULTS
