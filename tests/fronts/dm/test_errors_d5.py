"""Every error of the DM's extended API and of the cabinet check, byte for byte against the tables.

``CASES[(group, res)]`` takes a fresh ``DmWorld`` and returns the DM's answer that must carry ``res``;
``VALUES`` gives the placeholders' values of a row that has them."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from emulator.fronts.dm import errors, manager
from emulator.fronts.dm.envelope import Answer
from emulator.world.dm import DmWorld

START_MS = 1_767_261_600_000
PROBE_TASK = 9001          # a fiscal task of this test only: the cabinet check runs before every fiscal task


def created(w: DmWorld, name: str = "kasa", *, kind: str = "test", **settings: Any) -> str:
    token = w.cabinet_token(kind, **settings)
    assert w.create_prro(name, token)["res"] == 0
    return token


def keyed(w: DmWorld, name: str = "kasa") -> None:
    created(w, name)
    assert w.load_key(name)["res"] == 0


def fiscal(w: DmWorld, name: str = "kasa", task: int = PROBE_TASK) -> dict[str, Any]:
    """A fiscal task on ``name`` through the whole manager (the handler itself does nothing)."""
    had = manager.TASKS.get(("prro", task))
    manager.TASKS[("prro", task)] = (lambda ctx: Answer(info={"probe": 1}), True)
    try:
        return w.dm.execute("execute", {"device": name, "tag": f"t-{task}", "fiscal": {"task": task}})
    finally:
        if had is None:
            manager.TASKS.pop(("prro", task), None)
        else:
            manager.TASKS[("prro", task)] = had


def open_shift(w: DmWorld, name: str = "kasa") -> None:
    device = w.dm.find(name).device  # type: ignore[union-attr]
    assert device.open_shift().ok


def _2003(w: DmWorld) -> dict[str, Any]:
    created(w)
    w.prro.issue_key("bad", owner="Романенко Данило", file="Key-6.dat")
    w.prro.damage_key("bad")
    return w.load_key("kasa", key="bad")


def _2009_busy(w: DmWorld) -> dict[str, Any]:
    created(w)
    with w.dm.busy("kasa"):
        return w.load_key("kasa")


def _2013(w: DmWorld) -> dict[str, Any]:
    keyed(w)
    open_shift(w)
    assert w.dm.find("kasa").device.go_offline().ok  # type: ignore[union-attr]
    return w.load_key("kasa", key="second")


def _2009(w: DmWorld) -> dict[str, Any]:
    keyed(w)
    open_shift(w)
    return w.load_key("kasa", key="second")


def _1083(w: DmWorld) -> dict[str, Any]:
    token = created(w)
    w.vchasno.revoke_token(token)
    return _refresh_now(w)


def _1123(w: DmWorld) -> dict[str, Any]:
    w.vchasno.balance_kop = 0
    created(w, kind="fiscal")
    return fiscal(w)


def _1125(w: DmWorld) -> dict[str, Any]:
    w.vchasno.min_dm_version = "9.0.0"
    return w.create_prro("kasa", w.cabinet_token())


def _1121(w: DmWorld) -> dict[str, Any]:
    created(w)
    w.vchasno.clock_skew_ms = 30 * 60_000
    return _refresh_now(w)


def _refresh_now(w: DmWorld) -> dict[str, Any]:
    """A fiscal task once the cabinet's last answer is stale (the DM asks again)."""
    w.clock.run_until(w.clock.now_ms + 16 * 60_000)
    return fiscal(w)


def _1048(w: DmWorld) -> dict[str, Any]:
    w.vchasno.faults.plan([502])
    return w.create_prro("kasa", w.cabinet_token())


def _2005(w: DmWorld) -> dict[str, Any]:
    w.vchasno.faults.down = True
    return w.create_prro("kasa", w.cabinet_token())


def _2002(w: DmWorld) -> dict[str, Any]:
    created(w)
    return w.create_prro("kasa", w.cabinet_token("fiscal"))


def _1082(w: DmWorld) -> dict[str, Any]:
    """A DM with no database directory (in memory) cannot keep a key file."""
    from emulator.fronts.dm.manager import DeviceManager, DmPrro

    dm = DeviceManager(w.clock, None)
    try:
        dm.add(DmPrro("kasa", w.prro.add_prro("bare"), w.dm.find("kasa").config, dev_id=1))  # type: ignore[union-attr]
        w.prro.issue_key("k", owner="Романенко Данило", file="Key-6.dat")
        body = {"key": base64.b64encode(w.prro.key_files["k"].read_bytes()).decode(), "password": "1111",
                "filename": "Key-6.dat"}
        return dm.route("POST", "/dm/vchasno-kasa/api/v1/prro/sign", {"dev_id": "kasa"},  # type: ignore[return-value]
                        json.dumps(body).encode())
    finally:
        dm.close()


def _1124(w: DmWorld) -> dict[str, Any]:
    w.ready_prro("kasa")
    assert w.dm.execute("execute", {"device": "kasa", "fiscal": {"task": 0}})["res"] == 0
    assert w.load_key("kasa", key="senior", role="senior_cashier", emergency=True)["res"] == 0
    return w.dm.execute("execute", {"device": "kasa", "fiscal": {"task": 4, "cash": {"sum": 1}}})


def _created_then(w: DmWorld) -> DmWorld:
    created(w)
    return w


CASES: dict[tuple[str, int], Callable[..., dict[str, Any]]] = {
    ("dm", 1082): lambda w: _1082(_created_then(w)),
    ("prro", 2000): lambda w: w.dm.route("POST", "/dm/vchasno-kasa/api/v1/prro", {}, b"{not json"),
    ("prro", 2001): lambda w: w.create_prro("kasa", "no-such-token-here"),
    ("prro", 2002): _2002,
    ("prro", 2003): _2003,
    ("prro", 2005): _2005,
    ("prro", 2007): lambda w: w.admin("GET", "/prro/sign", dev_id="77"),
    ("prro", 2009): _2009,
    ("prro", 2011): lambda w: (created(w), w.admin("GET", "/prro/state", dev_id="1"))[1],
    ("prro", 2013): _2013,
    ("prro", 2014): lambda w: w.create_prro("kasa", w.cabinet_token("fiscal", tax_groups=[])),
    ("prro", 1048): _1048,
    ("prro", 1083): _1083,
    ("prro", 1095): lambda w: (created(w), w.admin("GET", "/prro/sign", dev_id="kasa"))[1],
    ("prro", 1121): _1121,
    ("prro", 1123): _1123,
    ("prro", 1124): _1124,
    ("prro", 1125): _1125,
}
VALUES: dict[tuple[str, int], tuple[object, ...]] = {
    ("prro", 2003): ("Error loading key certificates",),
    ("prro", 2007): ("77",),
    ("prro", 2009): ("kasa",),
    ("prro", 2011): ("1",),
    ("prro", 2013): ("kasa",),
    ("prro", 1124): ("kasa",),
}


@pytest.fixture()
def world() -> Iterator[DmWorld]:
    with DmWorld(start_ms=START_MS) as w:
        yield w


@pytest.mark.parametrize("case", sorted(CASES), ids=lambda c: f"{c[0]}-{c[1]}")
def test_each_error_is_the_tables_text(world: DmWorld, case: tuple[str, int]) -> None:
    group, res = case
    got = CASES[case](world)
    assert got["res"] == res
    assert got["errortxt"] == errors.text(res, *VALUES.get(case, ()), group=group)


def test_2009_also_while_the_prro_runs_a_task(world: DmWorld) -> None:
    got = _2009_busy(world)
    assert (got["res"], got["errortxt"]) == (2009, errors.text(2009, "kasa", group="prro"))
    assert "ІД" in got["errortxt"] and "IД" not in got["errortxt"]      # Cyrillic І in 2009 only


def test_2007_2011_2013_keep_the_latin_i() -> None:
    for res in (2007, 2011, 2013):
        assert "IД" in errors.text(res, "1", group="prro")


def test_a_revoked_token_is_2001_at_creation(world: DmWorld) -> None:
    token = world.cabinet_token()
    world.vchasno.revoke_token(token)
    assert world.create_prro("kasa", token)["res"] == 2001
