"""Fuzz target: malformed driver API envelopes (``Driver.handle_bytes``, and the ASGI app over HTTP).

A KKT with its shift and a receipt open sits behind the driver, a session is
open. Whatever arrives — bytes that are not JSON, JSON that is not an object,
an unknown or missing command, a wrong session key, a command with one field
missing, mistyped or out of range — the answer is a defined non-zero
``result`` with a ``description``, within a time bound, and nothing changes:
not the device, not the open receipt, not the fiscal drive, not the sessions.
Over HTTP, every body gets status 200 and such an answer, never a 500.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.fronts.driverapi.spec import COMMANDS, F
from emulator.fronts.ecr import results as R
from tests.fronts.driverapi.rig import Rig
from tests.fuzz.budget import fuzz

BOUND_S = 2.0
SESSIONLESS = ("OpenSession", "GetDriverInfo", "ClosePorts")
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                      max_size=4), max_leaves=12)


@pytest.fixture(scope="module")
def rig():
    r = Rig(Path(tempfile.mkdtemp(prefix="kkt-fuzz-driver-")))
    r.shift()
    assert r.call("OpenCheck", checkType=0)["result"] == 0
    assert r.call("AddGoods", productName="Хлеб", qty=10000, price=5000)["result"] == 0
    yield r
    r.close()


def snapshot(r: Rig) -> Any:
    d = r.device
    return (d.shift_open, d.shift_number, d.fiscal.drive.last_fd, len(d.receipts), str(d.mode), d.display.text,
            [(p.number, p.price, p.marking) for p in d.receipt.positions] if d.receipt else None,
            r.commands.check_open, r.commands.drawer, dict(r.commands.table), r.commands.check,
            sorted(r.driver.sessions), len(d.logbook.records))


def bad_value(spec: F) -> st.SearchStrategy[Any]:
    """Values the field never accepts (an empty string is a null for a field that is not text, as the clients
    read it: not among them)."""
    k = spec.kind
    not_number = st.one_of(st.floats(allow_nan=False).filter(lambda x: not float(x).is_integer()),
                           st.booleans(), st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3),
                                                                                               st.integers(), max_size=2),
                           st.text(min_size=1, max_size=10).filter(lambda s: not s.strip().lstrip("-").isdigit()))
    if k in ("money", "qty", "int"):
        lo, hi = {"money": (0, 2_147_483_600), "qty": (10, 2_147_480_000)}.get(k, (spec.lo, spec.hi))
        lo = spec.lo if spec.lo is not None else lo
        hi = spec.hi if spec.hi is not None else hi
        out = [not_number]
        if lo is not None:
            out.append(st.integers(max_value=lo - 1))
        if hi is not None:
            out.append(st.integers(min_value=hi + 1))
        return st.one_of(*out)
    if k == "enum":
        return st.one_of(not_number, st.integers().filter(lambda n: n not in spec.values))
    if k == "bool":
        return st.one_of(st.integers(), st.text(min_size=1, max_size=8).filter(lambda s: s.strip().lower() not in ("true", "false")))
    if k in ("str", "base64", "date", "datetime"):
        wrong_type = st.one_of(st.integers(), st.booleans(), st.lists(st.text(max_size=3), max_size=2))
        if k == "base64":
            return st.one_of(wrong_type, st.text(alphabet="!@#$%^&*()", min_size=1, max_size=20))
        if k == "date":
            return st.one_of(wrong_type, st.sampled_from(["21.11.2023", "2023-13-01", "yesterday", "2023-11-21T00:00"]))
        if k == "datetime":
            return st.one_of(wrong_type, st.sampled_from(["2026-01-15", "15.01.2026 09:00", "2026-01-15T25:00:00"]))
        return st.one_of(wrong_type, st.just("x" * (spec.max_len + 1)))
    if k == "object":
        return st.one_of(st.integers(), st.text(min_size=1, max_size=5), st.lists(st.integers(), max_size=2))
    return st.one_of(st.integers(), st.text(min_size=1, max_size=5), st.dictionaries(st.text(max_size=3), st.integers(),
                                                                                     max_size=2),
                     st.lists(st.integers(), min_size=1, max_size=3))


MUTABLE = [(name, field, spec) for name, cmd in COMMANDS.items() for field, spec in cmd.fields.items()]


@st.composite
def malformed(draw: st.DrawFn, key: str) -> bytes:
    kind = draw(st.sampled_from(["bytes", "json", "command", "field", "missing", "session"]))
    if kind == "bytes":
        raw = draw(st.binary(max_size=200))
        try:
            json.loads(raw)
            return b"{" + raw       # never valid JSON
        except (ValueError, UnicodeDecodeError):
            return raw
    if kind == "json":   # any JSON that is not an object carrying a known command
        value = draw(json_values)
        if isinstance(value, dict) and isinstance(value.get("command"), str):
            value = [value]
        return json.dumps(value).encode()
    if kind == "command":
        name = draw(st.one_of(st.text(max_size=30), st.integers(), st.none(), st.lists(st.text(max_size=3), max_size=2)))
        if isinstance(name, str) and name in COMMANDS:
            name = name + "?"
        return json.dumps({"sessionKey": key, "command": name}).encode()
    if kind == "session":
        name = draw(st.sampled_from([n for n in COMMANDS if n not in SESSIONLESS]))
        body = {"command": name, **COMMANDS[name].example}
        body["sessionKey"] = draw(st.one_of(st.none(), st.just(""), st.text(max_size=40).filter(lambda s: s != key),
                                            st.integers(), st.lists(st.text(max_size=3), max_size=2)))
        return json.dumps(body).encode()
    name, field, spec = draw(st.sampled_from([m for m in MUTABLE if kind == "field" or m[2].required]))
    body = {"sessionKey": key, "command": name, **COMMANDS[name].example}
    if kind == "missing":
        body.pop(field, None)
    else:
        body[field] = draw(bad_value(spec))
    return json.dumps(body).encode()


@fuzz("driver_envelope", examples=10_000)
@given(data=st.data())
def test_malformed_envelopes_are_refused_and_change_nothing(rig, data):
    raw = data.draw(malformed(rig.key))
    before = snapshot(rig)
    t = time.process_time()
    answer = rig.driver.handle_bytes(raw)
    assert time.process_time() - t < BOUND_S
    assert isinstance(answer["result"], int) and answer["result"] != R.OK, (raw, answer)
    assert isinstance(answer["description"], str) and answer["description"], answer
    json.dumps(answer)
    assert snapshot(rig) == before, raw


@fuzz("driver_envelope_http", examples=300)
@given(body=st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode())))
def test_any_body_over_http_is_200_with_a_result(rig, body):
    from starlette.testclient import TestClient

    from emulator.fronts.driverapi.app import make_driver_app
    from emulator.fronts.driverapi.openapi import document

    global _client
    if _client is None:
        _client = TestClient(make_driver_app(rig.driver, document), base_url="http://127.0.0.1:50010")
    before = snapshot(rig)
    response = _client.post("/api.json", content=body, headers={"Content-Type": "application/json; charset=utf-8"})
    assert response.status_code == 200, response.text
    assert isinstance(response.json()["result"], int)
    assert snapshot(rig) == before


_client: Any = None
