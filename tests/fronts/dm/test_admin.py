"""The DM's extended API over real HTTP: a ПРРО created with a cabinet token, its key loaded and replaced,
the ПРРО list and state, the settings, ``sys_info``; the cabinet's word before fiscal tasks."""

from __future__ import annotations

import base64
import json
import logging
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.fronts.dm import admin, errors
from emulator.fronts.dm.envelope import dt_text
from emulator.fronts.dm.manager import DM_VERSION
from emulator.world.dm import DmWorld
from tests.fronts.dm.test_errors_d5 import START_MS, created, fiscal, keyed, open_shift

API = "/dm/vchasno-kasa/api/v1"


@pytest.fixture()
def world() -> Iterator[DmWorld]:
    with DmWorld(start_ms=START_MS) as w:
        yield w


@pytest.fixture()
def client(world: DmWorld) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world.http(), timeout=10) as c:
        yield c


def post(client: httpx.Client, path: str, body: Any, **params: str) -> dict[str, Any]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    r = client.post(path, content=raw, params=params, headers={"Content-Type": "application/json"})
    assert r.status_code == 200
    return r.json()


def get(client: httpx.Client, path: str, **params: str) -> dict[str, Any]:
    r = client.get(path, params=params)
    assert r.status_code == 200
    return r.json()


def key_body(world: DmWorld, key: str, password: str = "1111") -> dict[str, str]:
    if key not in world.prro.keys:
        world.prro.issue_key(key, owner="Романенко Данило", file="Key-6.dat", password=password)
        world.prro.register(key, "cashier", delay_ms=0)
    path = world.prro.key_files[key]
    return {"key": base64.b64encode(path.read_bytes()).decode(), "password": password, "filename": path.name}


def test_a_prro_is_created_keyed_and_works_over_http(world: DmWorld, client: httpx.Client) -> None:
    token = world.cabinet_token()
    made = post(client, f"{API}/prro", {"name": "Каса 1", "token": token})
    assert made["res"] == 0 and made["info"]["dev_id"] == 1 and made["info"]["is_fiscal"] is False
    fisid = made["info"]["fisid"]
    assert fisid in {i.fiscal_num for i in world.prro.identities.values()}     # registered with the tax server
    listed = get(client, f"{API}/prro")["info"]["prros"]
    assert [(p["name"], p["has_key"], p["shift_status"]) for p in listed] == [("Каса 1", False, 0)]
    assert token not in json.dumps(listed)
    assert get(client, f"{API}/prro/sign", dev_id="1")["res"] == 1095
    loaded = post(client, f"{API}/prro/sign", key_body(world, "k1"), dev_id="1")
    assert loaded["res"] == 0 and loaded["info"]["owner"] == "Романенко Данило"
    assert get(client, f"{API}/prro/sign", dev_id="Каса 1")["info"]["serial"] == loaded["info"]["serial"]
    task20 = post(client, "/dm/execute", {"device": "Каса 1", "fiscal": {"task": 20}})
    assert task20["res"] == 0 and task20["info"]["fisid"] == fisid
    open_shift(world, "Каса 1")
    state = get(client, f"{API}/prro/state", dev_id="1")
    assert state["res"] == 0 and state["info"]["shift_status"] == 1 and state["info"]["shift_no"] == 1


def test_the_prro_config_comes_from_the_cabinet_and_follows_it(world: DmWorld) -> None:
    groups = [{"code": "1", "name": "ПДВ 20%", "letter": "А", "vat_bp": 2000}]
    created(world, kind="fiscal", tax_groups=groups, pay_types=[{"code": 0, "name": "Готівка"}],
            offline_allowed=False)
    prro = world.dm.find("kasa")
    assert list(prro.config.tax_groups) == ["1"] and prro.config.pay_types == {0: "Готівка"}  # type: ignore[union-attr]
    assert prro.config.offline_allowed is False and prro.config.is_fiscal is True  # type: ignore[union-attr]
    cab = world.vchasno.prros[2]
    cab.pay_types = [{"code": 0, "name": "Готівка"}, {"code": 2, "name": "Картка"}]
    assert fiscal(world)["res"] == 0
    assert prro.config.pay_types == {0: "Готівка"}  # type: ignore[union-attr]   # the last answer is fresh
    world.clock.run_until(world.clock.now_ms + admin.REFRESH_MS)
    asked = world.vchasno.requests
    assert fiscal(world, task=9002)["res"] == 0 and world.vchasno.requests == asked + 1
    assert prro.config.pay_types == {0: "Готівка", 2: "Картка"}  # type: ignore[union-attr]


def test_the_dm_works_on_the_last_answer_while_the_cabinet_is_down(world: DmWorld,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    created(world)
    world.vchasno.faults.down = True
    world.clock.run_until(world.clock.now_ms + admin.REFRESH_MS)
    with caplog.at_level(logging.INFO, logger="kkt_emu.dm"):
        assert fiscal(world)["res"] == 0
    assert "works on the cabinet's answer" in caplog.text


def test_1123_until_the_balance_is_topped_up(world: DmWorld) -> None:
    world.vchasno.balance_kop = 0
    created(world, kind="fiscal")
    assert fiscal(world)["res"] == 1123
    world.vchasno.top_up(100_000)
    assert fiscal(world, task=9002)["res"] == 0       # the paid period has ended: asked again at once


def test_a_new_token_cures_1083_and_a_foreign_one_is_refused(world: DmWorld, client: httpx.Client) -> None:
    token = created(world, kind="fiscal")
    new = world.vchasno.issue_token(2)          # «Сформувати токен» again: the old one is revoked
    assert token != new
    world.clock.run_until(world.clock.now_ms + admin.REFRESH_MS)
    assert fiscal(world)["res"] == 1083
    foreign = world.cabinet_token()          # the test ПРРО's token, not this ПРРО's
    assert post(client, f"{API}/prro/token", {"token": foreign}, dev_id="1")["res"] == 2001
    assert post(client, f"{API}/prro/token", {"token": new}, dev_id="1")["res"] == 0
    assert fiscal(world, task=9002)["res"] == 0


def test_a_rejected_key_leaves_the_loaded_one(world: DmWorld, client: httpx.Client,
                                              caplog: pytest.LogCaptureFixture) -> None:
    keyed(world)
    device = world.dm.find("kasa").device  # type: ignore[union-attr]
    before = device.store.get("key")
    bad = key_body(world, "second", password="secret-pass-42")
    bad["password"] = "wrong-pass-42"
    with caplog.at_level(logging.DEBUG):
        got = post(client, f"{API}/prro/sign", bad, dev_id="kasa")
    assert (got["res"], got["errortxt"]) == (2003, "Помилка при зчитуванні особистого ключа ЕЦП: "
                                                   "Error loading key certificates")
    assert device.store.get("key") == before and Path(before["path"]).is_file()
    assert sorted(p.name for p in Path(before["path"]).parent.iterdir()) == [Path(before["path"]).name]
    assert "wrong-pass-42" not in caplog.text and "wrong-pass-42" not in json.dumps(got)
    assert device.open_shift().ok                     # the loaded key still signs


def test_a_replaced_key_signs_and_its_file_is_private(world: DmWorld, client: httpx.Client) -> None:
    keyed(world)
    old = world.dm.find("kasa").device.store.get("key")  # type: ignore[union-attr]
    got = post(client, f"{API}/prro/sign", key_body(world, "second", password="pw-2"), dev_id="kasa")
    assert got["res"] == 0
    new = world.dm.find("kasa").device.store.get("key")  # type: ignore[union-attr]
    assert new["serial"] != old["serial"] and not Path(old["path"]).exists()
    assert stat.S_IMODE(Path(new["path"]).stat().st_mode) == 0o600
    assert "pw-2" not in json.dumps(got)
    open_shift(world)


@pytest.mark.parametrize("body", [b"[]", b'{"key": "%%%", "filename": "k.dat"}', b'{"key": ""}',
                                  b'{"key": "AAAA", "filename": "../../etc/passwd"}', b'{"key": 5}'])
def test_a_malformed_key_body_is_2000_and_changes_nothing(world: DmWorld, client: httpx.Client,
                                                          body: bytes) -> None:
    keyed(world)
    device = world.dm.find("kasa").device  # type: ignore[union-attr]
    before, digest = device.store.get("key"), world.dm.store.digest()
    got = post(client, f"{API}/prro/sign", body, dev_id="kasa")
    assert (got["res"], got["res_action"]) == (2000, 3)
    assert device.store.get("key") == before and world.dm.store.digest() == digest


def test_settings_read_and_save(world: DmWorld, client: httpx.Client) -> None:
    got = get(client, f"{API}/settings")["info"]
    assert sorted(got) == sorted(["supmail", "logdays", "token", "autoupdate", "autoupdatetime", "extAccess",
                                  "packdays", "pf_charcount", "pf_charwidth", "pf_astext", "pf_asimage",
                                  "pf_aspdf", "pf_del_custom"])
    secret = "integration-token-0123456789"
    saved = post(client, f"{API}/settings", {"logdays": "14", "pf_aspdf": 1, "token": secret})
    assert saved["res"] == 0 and saved["info"]["logdays"] == 14 and saved["info"]["pf_aspdf"] is True
    assert saved["info"]["token"] == admin.mask(secret) and secret not in json.dumps(get(client, f"{API}/settings"))
    digest = world.dm.store.digest()
    for bad in ({"nosuch": 1}, {"logdays": "many"}, {"logdays": -1}, {"autoupdate": "perhaps"}):
        assert post(client, f"{API}/settings", bad)["res"] == 2000
    assert world.dm.store.digest() == digest


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_sys_info(client: httpx.Client, method: str) -> None:
    r = client.request(method, "/dm/api/v1/sys_info", headers={"Content-Type": "application/json"})
    got = r.json()
    assert r.status_code == 200 and got["res"] == 0
    assert got["version"] == DM_VERSION and got["database"] == "SQLite" and got["info"]["database"] == "SQLite"


def test_the_token_never_reaches_the_log(world: DmWorld, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        token = created(world)
        world.vchasno.revoke_token(token)
        world.clock.run_until(world.clock.now_ms + admin.REFRESH_MS)
        assert fiscal(world)["res"] == 1083
    assert token not in caplog.text and admin.mask(token) in caplog.text


def test_over_the_real_network_the_dm_reaches_the_cabinet_over_http(tmp_path: Path) -> None:
    with DmWorld(tmp_path / "w", start_ms=START_MS, network="real") as w:
        token = w.cabinet_token()
        assert w.create_prro("kasa", token)["res"] == 0
        assert w.vchasno.requests == 1 and w._vchasno_http is not None
        w.vchasno.faults.plan(["close"])
        assert w.create_prro("two", w.cabinet_token("fiscal"))["res"] == 2005


def test_1121_at_creation_when_the_clocks_are_apart_and_not_below_30_minutes(world: DmWorld) -> None:
    world.vchasno.clock_skew_ms = -(30 * 60_000 - 1)
    assert world.create_prro("kasa", world.cabinet_token())["res"] == 0
    world.vchasno.clock_skew_ms = -30 * 60_000
    assert world.create_prro("two", world.cabinet_token("fiscal"))["res"] == 1121


def test_errors_dm_lists_every_row_of_both_tables(capsys: pytest.CaptureFixture[str]) -> None:
    import yaml

    from emulator.cli import main

    root = Path(__file__).resolve().parents[3] / "emulator" / "data"
    dm = yaml.safe_load((root / "dm_errors.yaml").read_text("utf-8"))
    term = yaml.safe_load((root / "terminal_errors.yaml").read_text("utf-8"))
    assert main(["errors", "--dm", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    want = ([("dm", r["res"], r["text"]) for r in dm["dm"]] + [("prro", r["res"], r["text"]) for r in dm["prro"]])
    assert [(r["group"], r["res"], r["text"]) for r in rows][:len(want)] == want
    assert len(rows) == len(want) + len(term["dm"])
    assert {r["res"] for r in rows[len(want):]} == {int(r["res"]) for r in term["dm"]}
    assert main(["errors", "--dm"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["GROUP", "RES", "TEXT"]
    assert "prro       2007  ПРРО з IД %s не знайдено" in table


def test_two_creations_at_once_make_one_prro(world: DmWorld, client: httpx.Client) -> None:
    import threading

    token = world.cabinet_token()
    got: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda n=n: got.append(post(client, f"{API}/prro", {"name": n, "token": token})))
               for n in ("one", "two")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sorted(g["res"] for g in got) == [0, 2002]
    assert len(world.dm.prros()) == 1 and len(world.prro.devices) == 1


def test_a_slow_cabinet_holds_no_other_prro(tmp_path: Path) -> None:
    """The DM waits for the cabinet without the world's lock: another ПРРО's task goes on meanwhile."""
    import threading
    import time

    with DmWorld(tmp_path / "w", start_ms=START_MS, network="real") as w:
        w.add_prro("other")
        w.vchasno.faults.latency_ms = 1500          # slept by the cabinet's HTTP front
        done: dict[str, Any] = {}
        t = threading.Thread(target=lambda: done.update(w.create_prro("kasa", w.cabinet_token())))
        t.start()
        time.sleep(0.3)
        started = time.monotonic()
        with w.dm.world_lock:
            took = time.monotonic() - started
        assert w.dm.execute("execute", {"device": "other", "fiscal": {"task": 20}})["res"] == 0
        t.join(20)
        assert took < 1.0 and done["res"] == 0


def test_billing_goes_into_the_info_of_tasks_0_10_11_18(world: DmWorld) -> None:
    prro = world.ready_prro("kasa", kind="fiscal")
    assert prro.device.store.get("key") and prro.config.is_fiscal
    paid_to = world.vchasno.prros[2].paid_to_ms
    for task, renew in ((0, False), (10, True), (11, True), (18, True), (20, None)):
        got = fiscal(world, task=task)
        assert got["res"] == 0, got
        want = None if renew is None else {"paid_date_to": dt_text(paid_to)}
        if renew:
            assert want is not None
            want["enough_to_renew_subscription"] = True
        assert got["info"].get("billing") == want


def test_an_unpaid_prro_may_still_close_its_shift(world: DmWorld) -> None:
    world.vchasno.balance_kop = 0
    created(world, kind="fiscal")
    assert fiscal(world, task=1)["res"] == 1123
    assert fiscal(world, task=11)["res"] == 0


def test_an_emergency_key_replacement_allows_only_the_shifts_closing(world: DmWorld) -> None:
    """The shift opened with one key, the key replaced in an emergency (a senior cashier's): receipts are 1124,
    the Z-report closes the shift, and the next shift works as ever."""
    world.ready_prro("kasa")

    def task(n: int, **fiscal: Any) -> dict[str, Any]:
        return world.dm.execute("execute", {"device": "kasa", "fiscal": {"task": n, **fiscal}})

    receipt = {"sum": 10, "rows": [{"name": "Хліб", "cnt": 1, "price": 10, "cost": 10, "taxgrp": 1}],
               "pays": [{"type": 0, "sum": 10}]}
    assert task(0)["res"] == 0 and task(1, receipt=receipt)["res"] == 0
    assert world.load_key("kasa", key="senior", role="senior_cashier")["res"] == 2009
    assert world.load_key("kasa", key="senior", emergency=True)["res"] == 0
    refused = task(1, receipt=receipt)
    assert (refused["res"], refused["errortxt"]) == (1124, errors.text(1124, "kasa", group="prro"))
    assert task(20)["res"] == 0                       # not a fiscal task: answered
    z = task(11)
    assert z["res"] == 0, z
    assert task(0)["res"] == 0 and task(1, receipt=receipt)["res"] == 0


def test_the_real_tasks_carry_the_billing_and_an_unpaid_receipt_is_1123(world: DmWorld) -> None:
    world.ready_prro("kasa", kind="fiscal")

    def task(n: int, **fiscal: Any) -> dict[str, Any]:
        return world.dm.execute("execute", {"device": "kasa", "fiscal": {"task": n, **fiscal}})

    paid_to = world.vchasno.prros[2].paid_to_ms
    opened = task(0)
    assert opened["res"] == 0 and opened["info"]["billing"] == {"paid_date_to": dt_text(paid_to)}
    assert task(18)["info"]["billing"] == {"paid_date_to": dt_text(paid_to), "enough_to_renew_subscription": True}
    world.vchasno.balance_kop = 0
    world.clock.run_until(paid_to)
    receipt = {"sum": 10, "rows": [{"name": "Хліб", "cnt": 1, "price": 10, "cost": 10, "taxgrp": 1}],
               "pays": [{"type": 0, "sum": 10}]}
    refused = task(1, receipt=receipt)
    assert (refused["res"], refused["errortxt"]) == (1123, errors.text(1123, group="prro"))
    assert world.dm.store.docs("kasa", ("sale",)) == []
    closed = task(11)
    assert closed["res"] == 0 and closed["info"]["billing"]["enough_to_renew_subscription"] is False


def test_a_restarted_dm_gets_back_the_prro_made_through_the_api(world: DmWorld) -> None:
    from emulator.fronts.dm.manager import DeviceManager

    world.ready_prro("kasa", kind="fiscal", pay_types=[{"code": 0, "name": "Готівка"}])
    world.add_prro("plain")                                  # not from the cabinet: the world adds it again
    assert world.dm.execute("execute", {"device": "kasa", "fiscal": {"task": 0}})["res"] == 0
    listed = world.admin("GET", "/prro")["info"]["prros"]
    cabinet = world.dm.cabinet
    world.dm.close()
    world.dm = DeviceManager(world.clock, world.directory / "dm")
    world.dm.cabinet = cabinet
    back = admin.restore(world.dm)
    assert [(p.name, p.dev_id, p.config.pay_types) for p in back] == [("kasa", 1, {0: "Готівка"})]
    assert world.admin("GET", "/prro")["info"]["prros"] == [p for p in listed if p["name"] == "kasa"]
    receipt = {"sum": 10, "rows": [{"name": "Хліб", "cnt": 1, "price": 10, "cost": 10, "taxgrp": 1}],
               "pays": [{"type": 0, "sum": 10}]}
    sold = world.dm.execute("execute", {"device": "kasa", "fiscal": {"task": 1, "receipt": receipt}})
    assert sold["res"] == 0, sold
    assert admin.restore(world.dm) == []                    # what the DM has is kept
