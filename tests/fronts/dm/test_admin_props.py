"""Any body to any route of the extended API: a defined answer (never 1016, never an exception), and a
refused request changes nothing — neither the DM's database nor the ПРРО's key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.fronts.dm.admin import API
from emulator.world.dm import DmWorld
from tests.fronts.dm.test_errors_d5 import START_MS, keyed

ROUTES = [("POST", f"{API}/prro"), ("GET", f"{API}/prro"), ("GET", f"{API}/prro/state"),
          ("POST", f"{API}/prro/token"), ("POST", f"{API}/prro/sign"), ("GET", f"{API}/prro/sign"),
          ("GET", f"{API}/settings"), ("POST", f"{API}/settings"), ("GET", "/dm/api/v1/sys_info")]
ANSWERS = {0, 2000, 2001, 2002, 2003, 2007, 2009, 2011, 1095}

scalars = st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=False) | st.text(max_size=30)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)
fields = st.sampled_from(["name", "dev_name", "token", "key", "password", "filename", "logdays", "pf_aspdf",
                          "token", "supmail", "autoupdate"])
bodies = (st.dictionaries(fields | st.text(max_size=8), values, max_size=5).map(lambda d: json.dumps(d).encode())
          | st.binary(max_size=200) | values.map(lambda x: json.dumps(x).encode()))


@pytest.fixture(scope="module")
def world() -> Iterator[DmWorld]:
    with DmWorld(start_ms=START_MS) as w:
        keyed(w)
        yield w


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(ROUTES), body=bodies, dev_id=st.sampled_from(["", "1", "kasa", "2", "x" * 300]))
def test_any_body_gets_a_defined_answer_and_a_refusal_changes_nothing(world: DmWorld, route: tuple[str, str],
                                                                       body: bytes, dev_id: str) -> None:
    device = world.dm.find("kasa").device  # type: ignore[union-attr]
    before, key = world.dm.store.digest(), device.store.get("key")
    got: dict[str, Any] | None = world.dm.route(*route, {"dev_id": dev_id} if dev_id else {}, body)
    assert got is not None and got["res"] in ANSWERS, got
    assert len(got["errortxt"]) < 200
    if got["res"] != 0:
        assert world.dm.store.digest() == before and device.store.get("key") == key
    assert [p.name for p in world.dm.prros()] == ["kasa"] or got["res"] == 0
