"""The Vchasno.Kasa cabinet model: tokens, settings, billing, the DM's version, the fault plan — through its
one gate, and over real HTTP through its front and the DM's link."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from emulator.net.vchasnolink import HttpVchasnoLink, LocalVchasnoLink, VchasnoDown, mask
from emulator.servers.vchasno.model import DAY_MS, PERIOD_DAYS, PRRO_PATH, TARIFF_KOP, VchasnoCabinet, version_tuple
from emulator.servers.vchasno.web import make_host


class Clock:
    def __init__(self) -> None:
        self.now = 1_767_261_600_000

    def __call__(self) -> int:
        return self.now


def ask(cab: VchasnoCabinet, token: str, version: str = "5.183.0") -> tuple[int, dict]:
    got = cab.request("POST", PRRO_PATH, json.dumps({"dm_version": version}).encode(), token=token)
    assert got.fault is None
    return got.status, json.loads(got.body)


def test_every_account_has_a_free_test_prro() -> None:
    cab = VchasnoCabinet(Clock(), balance_kop=0)
    status, data = ask(cab, cab.issue_token(cab.test_prro.id))
    assert status == 200 and data["prro"]["is_fiscal"] is False and data["billing"]["blocked"] is False
    assert [g["code"] for g in data["prro"]["tax_groups"]] == [str(n) for n in range(1, 10)]
    assert [p["code"] for p in data["prro"]["pay_types"]] == list(range(7))


def test_a_new_token_revokes_the_previous_one_and_an_unknown_token_is_401() -> None:
    cab = VchasnoCabinet(Clock())
    p = cab.add_prro("Каса 1")
    old = cab.issue_token(p.id)
    new = cab.issue_token(p.id)
    assert ask(cab, old) == (403, {"code": "token_revoked", "message": "the token was replaced or revoked"})
    assert ask(cab, new)[0] == 200
    assert ask(cab, "no-such-token-at-all")[1]["code"] == "token_invalid"
    cab.revoke_token(new)
    assert ask(cab, new)[1]["code"] == "token_revoked"


def test_an_old_dm_is_refused_and_a_bad_request_is_400() -> None:
    cab = VchasnoCabinet(Clock(), min_dm_version="5.183.0")
    token = cab.issue_token(cab.test_prro.id)
    assert ask(cab, token, "5.182.9")[1]["code"] == "dm_outdated"
    assert ask(cab, token, "5.183.0")[0] == 200
    assert ask(cab, token, "not a version")[0] == 400
    assert cab.request("POST", PRRO_PATH, b"\xff" * 10, token=token).status == 400
    assert version_tuple("5.183.0") > version_tuple("5.99.10")


def test_billing_renews_from_the_balance_and_blocks_when_it_cannot() -> None:
    clock = Clock()
    cab = VchasnoCabinet(clock, balance_kop=TARIFF_KOP + 100)
    p = cab.add_prro("Каса 1")                  # the first period paid
    token = cab.issue_token(p.id)
    assert cab.balance_kop == 100
    first = ask(cab, token)[1]["billing"]
    assert first["blocked"] is False and first["paid_to_ms"] == clock.now + PERIOD_DAYS * DAY_MS
    assert first["enough_to_renew_subscription"] is False
    clock.now = first["paid_to_ms"]
    assert ask(cab, token)[1]["billing"]["blocked"] is True
    cab.top_up(TARIFF_KOP)
    again = ask(cab, token)[1]["billing"]
    assert again["blocked"] is False and cab.balance_kop == 100
    with pytest.raises(ValueError):
        cab.top_up(0)


def test_the_fault_plan_answers_first() -> None:
    cab = VchasnoCabinet(Clock())
    token = cab.issue_token(cab.test_prro.id)
    cab.faults.plan(["refuse", 500, "garbage", "ok"])
    assert cab.request("POST", PRRO_PATH, b"{}", token=token).fault == "refuse"
    assert cab.request("POST", PRRO_PATH, b'{"dm_version": "5.183.0"}', token=token).status == 500
    assert cab.request("POST", PRRO_PATH, b'{"dm_version": "5.183.0"}', token=token).body.startswith(b"<html>")
    assert ask(cab, token)[0] == 200
    cab.faults.down = True
    assert cab.request("POST", PRRO_PATH, b"{}", token=token).fault == "down"


def test_the_local_link_sees_faults_as_no_answer_and_moves_the_clock() -> None:
    cab = VchasnoCabinet(Clock())
    moved: list[int] = []
    link = LocalVchasnoLink(cab, advance=moved.append)
    token = cab.issue_token(cab.test_prro.id)
    cab.faults.latency_ms = 250
    assert link.prro(token, "5.183.0").status == 200 and moved == [250]
    cab.faults.plan(["close"])
    with pytest.raises(VchasnoDown, match="close"):
        link.prro(token, "5.183.0")
    cab.faults.plan(["garbage"])
    assert link.prro(token, "5.183.0").data is None


def test_the_summary_keeps_no_token_in_full() -> None:
    cab = VchasnoCabinet(Clock())
    token = cab.issue_token(cab.test_prro.id)
    assert token not in json.dumps(cab.summary())
    assert mask(token) == f"{token[:4]}…({len(token)})" and token not in mask(token)


@pytest.fixture()
def served() -> Iterator[tuple[VchasnoCabinet, str]]:
    cab = VchasnoCabinet(Clock())
    host = make_host(cab).start()
    try:
        yield cab, str(host.url)
    finally:
        host.stop()


def test_over_http_the_link_reads_the_prro_and_sees_broken_connections(served: tuple[VchasnoCabinet, str]) -> None:
    cab, url = served
    token = cab.issue_token(cab.test_prro.id)
    link = HttpVchasnoLink(url, timeout_s=5)
    try:
        got = link.prro(token, "5.183.0")
        assert got.status == 200 and got.data is not None and got.data["prro"]["name"] == "Тестовий ПРРО"
        assert link.prro("wrong-token-123", "5.183.0").status == 401
        cab.faults.plan(["close"])
        with pytest.raises(VchasnoDown):
            link.prro(token, "5.183.0")
        assert link.prro(token, "5.183.0").status == 200
    finally:
        link.close()
    with pytest.raises(VchasnoDown):
        HttpVchasnoLink("http://127.0.0.1:9", timeout_s=2).prro(token, "5.183.0")


def test_the_page_and_state_show_no_token(served: tuple[VchasnoCabinet, str]) -> None:
    cab, url = served
    token = cab.issue_token(cab.test_prro.id)
    page = httpx.get(url + "/", timeout=5)
    state = httpx.get(url + "/api/state", timeout=5)
    assert page.status_code == 200 and "Тестовий ПРРО" in page.text and token not in page.text
    assert state.status_code == 200 and token not in state.text and state.json()["tokens"][0]["revoked"] is False
    foreign = httpx.get(url + "/", headers={"Host": "evil.example"}, timeout=5)
    assert foreign.status_code == 400
