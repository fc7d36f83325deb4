"""Every error of the ПРРО's fiscal tasks, each from a real situation of the emulated world, byte for byte
against the DM's table (``errors.text``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from emulator.devices.prro.device import PrroDevice
from emulator.fronts.dm import errors, prro_tasks
from emulator.fronts.dm.config import default_config
from emulator.fronts.dm.manager import DmPrro
from emulator.rules.prro import HOUR_MS
from emulator.world.dm import DmWorld

START = 1_767_261_600_000          # 2026-01-01 12:00 Kyiv


def ex(w: DmWorld, task: int, device: str = "kasa", tag: str = "", **fiscal: Any) -> dict[str, Any]:
    return w.dm.execute("execute", {"ver": 6, "device": device, "tag": tag, "fiscal": {"task": task, **fiscal}})


def sale(total: float, pay_type: int = 0) -> dict[str, Any]:
    return {"sum": total, "rows": [{"name": "Товар", "cnt": 1, "price": total, "cost": total, "taxgrp": 1}],
            "pays": [{"type": pay_type, "sum": total}]}


def done(ans: dict[str, Any]) -> dict[str, Any]:
    assert ans["res"] == 0, ans
    return ans


def prro_of(w: DmWorld, name: str, device: PrroDevice) -> DmPrro:
    entry = DmPrro(name, device, default_config(), dev_id=len(w.dm.prros()) + 1)
    w.dm.add(entry)
    return entry


def keyed(w: DmWorld, name: str, *, days: int = 365, register: bool = True, fiscal_num: str | None = None) -> None:
    """A ПРРО ``name`` in the DM with a key of its own (registered or not, valid ``days``)."""
    path = w.prro.issue_key(f"{name}-key", owner="Коваль Олена", file="Key-6.dat", days=days)
    if register:
        w.prro.register(f"{name}-key", "cashier", delay_ms=0)
    if fiscal_num is None:
        device = w.prro.add_prro(name)
    else:
        from emulator.devices.prro.device import Identity
        device = PrroDevice(w.directory / name, w.clock, w.prro.link(), identity=Identity(fiscal_num=fiscal_num))
    device.choose_key(str(path), "1111")
    assert device.read_key().ok and device.save_key().ok
    prro_of(w, name, device)


def offline_for(w: DmWorld, hours: float) -> None:
    """The shift open online, the server down, a sale made offline, ``hours`` passed."""
    done(ex(w, 0))
    w.prro.tax.faults.down = True
    assert done(ex(w, 1, receipt=sale(1)))["info"]["isoffline"] == 1
    w.clock.run_until(w.clock.now_ms + int(hours * HOUR_MS))


def c1006(w: DmWorld) -> dict[str, Any]:
    return ex(w, 11)


def c1092(w: DmWorld) -> dict[str, Any]:
    return ex(w, 1, receipt=sale(10))


def c1096(w: DmWorld) -> dict[str, Any]:
    done(ex(w, 0))
    return ex(w, 0)


def c1095(w: DmWorld) -> dict[str, Any]:
    prro_of(w, "bare", w.prro.add_prro("bare"))
    return ex(w, 0, "bare")


def c1069(w: DmWorld) -> dict[str, Any]:
    w.prro.move_key("kasa-key")
    return ex(w, 0)


def c1077(w: DmWorld) -> dict[str, Any]:
    done(ex(w, 0))
    done(ex(w, 3, cash={"sum": 10}))
    return ex(w, 4, cash={"sum": 10.01})


def c1063(w: DmWorld) -> dict[str, Any]:
    done(ex(w, 0))
    return ex(w, 3, cash={"sum": -5})


def c1052(w: DmWorld) -> dict[str, Any]:
    done(ex(w, 0))
    w.dm.devices["kasa"].config.offline_allowed = False   # type: ignore[union-attr]
    w.prro.tax.faults.down = True
    return ex(w, 1, receipt=sale(10))


def c1056(w: DmWorld) -> dict[str, Any]:
    w.prro.tax.faults.down = True             # no shift was ever opened online: no offline numbers
    return ex(w, 0)


def c1062(w: DmWorld) -> dict[str, Any]:
    offline_for(w, 35.1)
    return ex(w, 1, receipt=sale(2))


def c1117(w: DmWorld) -> dict[str, Any]:
    keyed(w, "short", days=2)
    done(ex(w, 0, "short"))
    w.prro.tax.faults.down = True
    return ex(w, 1, "short", receipt=sale(3))


def c1122(w: DmWorld) -> dict[str, Any]:
    offline_for(w, 0)                         # 102 and the sale: two numbers of the session's two
    return ex(w, 1, receipt=sale(2))


def c1075(w: DmWorld) -> dict[str, Any]:
    done(ex(w, 0))
    w.prro.tax.faults.plan(["ok", "lost-answer"])
    assert ex(w, 1, tag="a", receipt=sale(4))["res_action"] == errors.COLLISION
    w.prro.tax.faults.down = True
    return ex(w, 1, tag="b", receipt=sale(5))


def c1034(w: DmWorld) -> dict[str, Any]:
    done(ex(w, 0))
    w.prro.tax.faults.plan(["ok", "lost-answer"])
    return ex(w, 1, tag="a", receipt=sale(4))


def c1035(w: DmWorld) -> dict[str, Any]:
    done(ex(w, 0))
    w.prro.tax.faults.plan(["ok", 503])
    return ex(w, 1, receipt=sale(4))


def c1032(w: DmWorld) -> dict[str, Any]:
    w.prro.revoke("kasa-key")
    return ex(w, 0)


def c1033(w: DmWorld) -> dict[str, Any]:
    done(ex(w, 0))
    device = w.prro.add_prro("twin")          # another ПРРО, the same key: it holds the shift of the first
    device.choose_key(str(w.prro.key_files["kasa-key"]), "1111")
    assert device.read_key().ok and device.save_key().ok
    prro_of(w, "twin", device)
    return ex(w, 0, "twin")


def c1036(w: DmWorld) -> dict[str, Any]:
    offline_for(w, 37)
    done(ex(w, 11))                           # only the Z-report past 35 h; the session is 37 h long
    w.prro.tax.faults.down = False
    return ex(w, 0)                           # back online: the server blocked the ПРРО for the 36 h


def c1042(w: DmWorld) -> dict[str, Any]:
    prro_tasks.OFFLINE_NUMBERS = 100          # the fixture's monkeypatch restores it
    done(ex(w, 0))
    for _ in range(4):                        # four sessions of 34 h: 136 h this month
        w.prro.tax.faults.down = True
        assert done(ex(w, 1, receipt=sale(1)))["info"]["isoffline"] == 1
        w.clock.run_until(w.clock.now_ms + 34 * HOUR_MS)
        assert done(ex(w, 1, receipt=sale(1)))["info"]["isoffline"] == 1
        w.prro.tax.faults.down = False
        assert done(ex(w, 1, receipt=sale(1)))["info"]["isoffline"] == 0
    w.prro.tax.faults.down = True
    assert done(ex(w, 1, receipt=sale(1)))["info"]["isoffline"] == 1
    w.clock.run_until(w.clock.now_ms + 33 * HOUR_MS)
    return ex(w, 1, receipt=sale(1))          # 169 h this month


def c1040(w: DmWorld) -> dict[str, Any]:
    done(ex(w, 0))
    return ex(w, 2, receipt=sale(1, pay_type=2))   # a return on a ПРРО that never sold


def c1041(w: DmWorld) -> dict[str, Any]:
    done(ex(w, 0))
    done(ex(w, 1, receipt=sale(1)))
    w.prro.tax.faults.plan(["ok", "ok", 503])  # the Z-report taken, the shift's closing not
    assert ex(w, 11)["res"] == 1035
    return ex(w, 1, receipt=sale(1))          # a receipt after the shift's Z-report


def c1044(w: DmWorld) -> dict[str, Any]:
    keyed(w, "ghost", fiscal_num="4000009999")
    return ex(w, 0, "ghost")


def c1045(w: DmWorld) -> dict[str, Any]:
    keyed(w, "unreg", register=False)
    return ex(w, 0, "unreg")


CASES: dict[tuple[str, int], Callable[..., dict[str, Any]]] = {
    ("prro", 1006): c1006, ("prro", 1092): c1092, ("prro", 1096): c1096, ("prro", 1095): c1095,
    ("prro", 1069): c1069, ("prro", 1077): c1077, ("prro", 1063): c1063, ("prro", 1052): c1052,
    ("prro", 1056): c1056, ("prro", 1062): c1062, ("prro", 1117): c1117, ("prro", 1122): c1122,
    ("prro", 1075): c1075, ("prro", 1034): c1034, ("prro", 1035): c1035, ("prro", 1032): c1032,
    ("prro", 1033): c1033, ("prro", 1036): c1036, ("prro", 1042): c1042, ("prro", 1040): c1040,
    ("prro", 1041): c1041, ("prro", 1044): c1044, ("prro", 1045): c1045,
}
# what follows the table's text (1069: the signing library's message after the colon)
SUFFIX = {("prro", 1069): " Library not initialized"}
ACTION = {("prro", 1034): errors.COLLISION, ("prro", 1075): errors.COLLISION}


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[DmWorld]:
    monkeypatch.setattr(prro_tasks, "OFFLINE_NUMBERS", 2)
    with DmWorld(start_ms=START) as w:
        w.add_prro("kasa")
        yield w


@pytest.mark.parametrize("key", sorted(CASES), ids=[f"{g}-{r}" for g, r in sorted(CASES)])
def test_each_error_is_its_tables_text(world: DmWorld, key: tuple[str, int]) -> None:
    group, res = key
    before = {d.kind for d in world.dm.store.docs("kasa")}
    got = CASES[key](world)
    assert got["res"] == res, got
    assert got["errortxt"] == errors.text(res, group=group) + SUFFIX.get(key, "")
    assert got["res_action"] == ACTION.get(key, errors.REPEAT)
    assert {d.kind for d in world.dm.store.docs("kasa")} >= before
