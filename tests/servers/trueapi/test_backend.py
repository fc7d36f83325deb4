"""The mock True API backend model: paths, statuses, header rules, tokens, plans, history."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.base.clock import VirtualClock
from emulator.base.failures import Failure
from emulator.net.seam import NetRequest, NetResult
from emulator.net.simulated import SimulatedNetwork
from emulator.servers.trueapi import BackendReply, Catalogue, CatalogueEntry, TrueApiBackend
from emulator.servers.trueapi.routes import (
    P_CDN_INFO,
    P_CHECK,
    P_HEALTH,
    P_HIST_CREATE,
    P_HIST_RECEIVE,
    P_PERMISSIVE,
)

TOKEN = "7f0c0d6e-3b1a-4c53-9a8e-5d2f0e9b1c42"
SB_TOKEN = "11111111-2222-4333-8444-555555555555"
BASE = "cdn.crpt.ru"
CDN = "cdn01.crpt.ru"
SB_BASE = "markirovka.sandbox.crptech.ru"
SB_CDN = "cdn01.am.crptech.ru"
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
JSON = ("Content-Type", "application/json; charset=utf-8")
GS = "\x1d"

# The operator's sandbox codes (Приложение 2), written out here to cross-check the bundled YAML.
SANDBOX = {
    1: "0104670540176099215'W9Um\x1d93dGVz",
    2: "0104670540176099215LnOjv\x1d93dGVz",
    3: "010462930887704421DzkcYt2\x1d8005177000\x1d93dGVz",
    4: "0104670540176099215NN*cM\x1d93dGVz",
    5: "0104602220006549215opFcmK\x1d93dGVz",
    6: "0104670540176099215<pGKy\x1d93dGVz",
    7: "010461013628057121/798DM%\x1d8005199000\x1d93dGVz",
    8: "04601653035829H;dV)bFACVUdGVz",
    9: "04601653035829H;vE)bFACVUdGVz",
    10: "0104670540176099215<pGKy\x1d93DGVz",
    11: "0104670540176099215!pGKy\x1d93dGVz",
    12: "0104670540176099215LpGKy\x1d93dGVz",
    13: "0104670540176099215PpGKy\x1d93dGVz",
    14: "0104670540176099215MpGKy\x1d93dGVz",
    15: "0104813445003293215TmiV,g\x1d93dGVz",
    16: "00840147505712Zz;ZnRbAAAAdGVz",
    17: "010085060000025821WbUN7If\x1d93dGVz",
    18: "010461013628057121/798DM%\x1d8005199000\x1d93dGVz",
    19: "04601653035829H;dV)bFADI8dGVz",
    20: "0108607405401894215cC3O4\x1d93dGVz",
    21: '01046700190342882151aj"K>X+mFcP\x1d93dGVz',
}
VALID = "0104670540176099215ZZZZZ\x1d93test"


# -- helpers ---------------------------------------------------------------
def world(seed: int = 0) -> TrueApiBackend:
    b = TrueApiBackend(seed=seed)
    b.add_token("prod", TOKEN)
    b.add_token("sandbox", SB_TOKEN)
    b.add_code(CatalogueEntry(code=VALID, groupIds=(8,)))
    return b


def req(method: str, host: str, path: str, body: Any = b"", token: str | None = TOKEN,
        headers: tuple[tuple[str, str], ...] | None = None) -> NetRequest:
    if not isinstance(body, bytes):
        body = json.dumps(body, ensure_ascii=False).encode("utf-8")
    if headers is None:
        headers = ((("X-API-KEY", token),) if token is not None else ()) + ((JSON,) if body else ())
    return NetRequest(1, method, host, path, headers, body)


def call(b: TrueApiBackend, method: str, host: str, path: str, body: Any = b"", now: int = 1_000_000,
         **kw: Any) -> BackendReply:
    return b.handle(host, req(method, host, path, body, **kw), now)


def check(b: TrueApiBackend, codes: list[str], host: str = CDN, now: int = 1_000_000, **kw: Any) -> BackendReply:
    return call(b, "POST", host, P_CHECK, {"codes": codes}, now=now, **kw)


def assert_error(r: BackendReply, status: int) -> dict[str, Any]:
    assert r.fault is None
    assert r.status == status, r.body
    doc = r.json()
    assert doc["code"] == status
    assert isinstance(doc["description"], str) and doc["description"]
    return doc


# -- hosts and contours ----------------------------------------------------
def test_default_world() -> None:
    b = TrueApiBackend()
    assert b.base_host("prod") == BASE and b.base_host("sandbox") == SB_BASE
    assert b.cdn_hosts("prod") == ["cdn01.crpt.ru", "cdn02.crpt.ru", "cdn03.crpt.ru"]
    assert b.cdn_hosts("sandbox") == ["cdn01.am.crptech.ru", "cdn02.am.crptech.ru", "cdn03.am.crptech.ru"]
    assert all(not c.tokens for c in b.contours.values())
    assert b.host(CDN).avg_time_ms == 300
    assert [b.host(h).faults.latency_ms for h in b.cdn_hosts("prod")] == [50, 150, 250]
    assert b.host(BASE).faults.latency_ms == 0
    assert b.host(BASE).is_base and not b.host(CDN).is_base
    with pytest.raises(KeyError):
        b.host("cdn04.crpt.ru")
    # No token registered by default.
    assert_error(call(b, "GET", BASE, P_CDN_INFO), 401)


def test_unknown_host_does_not_resolve() -> None:
    b = world()
    r = call(b, "GET", "cdn.example.org", P_CDN_INFO)
    assert r.fault == "resolve"
    assert call(b, "GET", "cdn04.crpt.ru", P_HEALTH).fault == "resolve"


def test_cdn_info_lists_hosts_with_scheme() -> None:
    b = world()
    r = call(b, "GET", BASE, P_CDN_INFO)
    assert r.status == 200 and r.fault is None
    assert r.json() == {"code": 0, "description": "ok", "hosts": [
        {"host": "https://cdn01.crpt.ru"}, {"host": "https://cdn02.crpt.ru"}, {"host": "https://cdn03.crpt.ru"}]}
    r = call(b, "GET", SB_BASE, P_CDN_INFO, token=SB_TOKEN)
    assert [h["host"] for h in r.json()["hosts"]] == [
        "https://cdn01.am.crptech.ru", "https://cdn02.am.crptech.ru", "https://cdn03.am.crptech.ru"]


def test_cdn_info_empty_list_fault_and_set_cdn_hosts() -> None:
    b = world()
    b.set_empty_cdn_list("prod", True)
    assert call(b, "GET", BASE, P_CDN_INFO).json()["hosts"] == []
    b.set_empty_cdn_list("prod", False)
    b.host(BASE).faults.plan(["empty-list"])
    assert call(b, "GET", BASE, P_CDN_INFO).json()["hosts"] == []
    assert len(call(b, "GET", BASE, P_CDN_INFO).json()["hosts"]) == 3

    b.host("cdn02.crpt.ru").faults.latency_ms = 77
    b.set_cdn_hosts("prod", ["https://cdn02.crpt.ru", "cdn07.crpt.ru"])
    assert b.cdn_hosts("prod") == ["cdn02.crpt.ru", "cdn07.crpt.ru"]
    assert b.host("cdn02.crpt.ru").faults.latency_ms == 77       # kept hosts keep their state
    assert call(b, "GET", "cdn01.crpt.ru", P_HEALTH).fault == "resolve"
    assert call(b, "GET", "cdn07.crpt.ru", P_HEALTH).status == 200
    assert [h["host"] for h in call(b, "GET", BASE, P_CDN_INFO).json()["hosts"]] == [
        "https://cdn02.crpt.ru", "https://cdn07.crpt.ru"]
    with pytest.raises(ValueError):
        b.set_cdn_hosts("sandbox", ["cdn02.crpt.ru"])


def test_paths_on_the_wrong_host_kind_are_404() -> None:
    b = world()
    for host, method, path in [(BASE, "POST", P_CHECK), (BASE, "GET", P_HEALTH), (CDN, "GET", P_CDN_INFO),
                               (CDN, "POST", P_PERMISSIVE), (CDN, "POST", P_HIST_CREATE),
                               (CDN, "GET", P_HIST_RECEIVE), (CDN, "GET", "/api/v4/true-api/nothing"),
                               (BASE, "GET", "/")]:
        doc = assert_error(call(b, method, host, path, {"codes": [VALID]} if method == "POST" else b""), 404)
        assert doc == {"code": 404, "description": "not found"}


def test_wrong_method_is_405() -> None:
    b = world()
    assert_error(call(b, "GET", CDN, P_CHECK), 405)
    assert_error(call(b, "POST", BASE, P_CDN_INFO, {"x": 1}), 405)


# -- tokens ------------------------------------------------------------------
@pytest.mark.parametrize("host,path,method", [(BASE, P_CDN_INFO, "GET"), (CDN, P_HEALTH, "GET"),
                                              (CDN, P_CHECK, "POST"), (BASE, P_HIST_CREATE, "POST")])
def test_token_rules(host: str, path: str, method: str) -> None:
    b = world()
    body = {"codes": [VALID]} if path == P_CHECK else ({"requests": []} if method == "POST" else b"")
    assert_error(call(b, method, host, path, body, token=None), 401)
    assert_error(call(b, method, host, path, body, token="no-such-token"), 401)
    assert_error(call(b, method, host, path, body, token=SB_TOKEN), 401)   # sandbox token on prod
    b.block_token(TOKEN)
    assert_error(call(b, method, host, path, body), 401)
    b.unblock_token(TOKEN)
    assert call(b, method, host, path, body).status != 401


def test_production_token_on_the_sandbox_is_401() -> None:
    b = world()
    assert_error(call(b, "GET", SB_BASE, P_CDN_INFO, token=TOKEN), 401)
    assert_error(check(b, [VALID], host=SB_CDN, token=TOKEN), 401)
    assert check(b, [VALID], host=SB_CDN, token=SB_TOKEN).status == 200


def test_token_valid_until() -> None:
    b = world()
    b.set_token_valid_until("prod", 2_000_000)
    assert call(b, "GET", BASE, P_CDN_INFO, now=1_999_999).status == 200
    assert_error(call(b, "GET", BASE, P_CDN_INFO, now=2_000_000), 401)
    assert call(b, "GET", SB_BASE, P_CDN_INFO, now=3_000_000, token=SB_TOKEN).status == 200
    b.set_token_valid_until("prod", None)
    assert call(b, "GET", BASE, P_CDN_INFO, now=9_000_000).status == 200


def test_blocked_fiscal_drive_is_401() -> None:
    b = world()
    b.block_fiscal_drive("prod", "9999078900012345")
    body = {"codes": [VALID], "fiscalDriveNumber": "9999078900012345"}
    assert_error(call(b, "POST", CDN, P_CHECK, body), 401)
    body["fiscalDriveNumber"] = "9999078900012346"
    assert call(b, "POST", CDN, P_CHECK, body).status == 200


# -- permissive-access -------------------------------------------------------
def test_permissive_access_issues_a_token() -> None:
    b = TrueApiBackend(seed=5)
    r = call(b, "POST", SB_BASE, P_PERMISSIVE, {"data": base64.b64encode(b"attached CAdES-BES").decode()}, token=None)
    assert r.status == 200, r.body
    doc = r.json()
    assert set(doc) == {"access_token", "token_type", "expires_in"}
    assert UUID4.match(doc["access_token"]) and doc["token_type"] == "Bearer" and doc["expires_in"] == 36000
    tok = doc["access_token"]
    assert call(b, "GET", SB_BASE, P_CDN_INFO, token=tok).status == 200
    assert_error(call(b, "GET", BASE, P_CDN_INFO, token=tok), 401)     # only in the contour that issued it
    # It expires expires_in seconds after it was issued.
    assert_error(call(b, "GET", SB_BASE, P_CDN_INFO, token=tok, now=1_000_000 + 36_000_000), 401)


def test_permissive_access_expires_in_is_configurable() -> None:
    b = TrueApiBackend()
    b.set_expires_in("prod", 600)
    doc = call(b, "POST", BASE, P_PERMISSIVE, {"data": "aGVsbG8="}, token=None).json()
    assert doc["expires_in"] == 600
    assert call(b, "GET", BASE, P_CDN_INFO, token=doc["access_token"], now=1_599_999).status == 200
    assert_error(call(b, "GET", BASE, P_CDN_INFO, token=doc["access_token"], now=1_600_000), 401)


@pytest.mark.parametrize("body", [{"data": ""}, {"data": "not base64!!"}, {"data": 12}, {}, b"{oops", [1]])
def test_permissive_access_bad_data_is_400(body: Any) -> None:
    assert_error(call(TrueApiBackend(), "POST", BASE, P_PERMISSIVE, body, token=None), 400)


def test_permissive_access_reject_signature_is_401() -> None:
    b = TrueApiBackend()
    b.set_reject_signature("prod", True)
    assert_error(call(b, "POST", BASE, P_PERMISSIVE, {"data": "aGVsbG8="}, token=None), 401)
    assert not b.contour("prod").tokens


# -- health/check ------------------------------------------------------------
def test_health_check_reports_avg_time_not_latency() -> None:
    b = world()
    h = b.host("cdn02.crpt.ru")
    h.faults.latency_ms = 1800
    h.avg_time_ms = 12
    r = call(b, "GET", "cdn02.crpt.ru", P_HEALTH, headers=(("X-API-KEY", TOKEN), ("Connection", "close")))
    assert r.status == 200 and r.latency_ms == 1800
    assert r.json() == {"code": 0, "description": "ok", "avgTimeMs": 12}
    assert h.health_checks == 1 and h.checks == 0 and h.requests == 1


# -- codes/check ---------------------------------------------------------------
def test_codes_check_known_code() -> None:
    b = world()
    b.host(CDN).faults.latency_ms = 437
    r = check(b, [VALID], now=1_712_095_348_976)
    assert r.status == 200 and r.latency_ms == 437
    doc = r.json()
    assert doc["code"] == 0 and doc["description"] == "ok"
    assert UUID4.match(doc["reqId"])
    assert doc["reqTimestamp"] == 1_712_095_348_976 + 437
    (c,) = doc["codes"]
    assert c == {"cis": VALID, "valid": True, "printView": VALID.split(GS)[0], "gtin": "04670540176099",
                 "groupIds": [8], "verified": True, "found": True, "realizable": True, "utilised": True,
                 "isBlocked": False, "errorCode": 0, "isTracking": False, "sold": False, "packageType": "UNIT",
                 "grayZone": False}
    assert b"\\u001d" in r.body                      # GS travels as \u001d
    assert b.host(CDN).checks == 1


def test_codes_check_unknown_code() -> None:
    b = world()
    (c,) = check(b, ["0104600000000000215nope\x1d93abcd"]).json()["codes"]
    assert c["found"] is False and c["errorCode"] == 10
    for flag in ("valid", "verified", "realizable", "utilised", "isBlocked", "sold", "grayZone", "isTracking"):
        assert c[flag] is False, flag
    assert c["cis"] == "0104600000000000215nope\x1d93abcd"


def test_codes_check_echoes_cis_and_keeps_order() -> None:
    b = world()
    codes = [SANDBOX[8], "garbage", VALID]
    doc = check(b, codes).json()
    assert [c["cis"] for c in doc["codes"]] == codes
    assert [c["found"] for c in doc["codes"]] == [True, False, True]


@pytest.mark.parametrize("body", [b"{not json", b"[]", b"{}", {"codes": []}, {"codes": "x"}, {"codes": [1]},
                                  {"codes": [VALID], "fiscalDriveNumber": 1234567890123456},
                                  {"codes": [VALID], "timeZone": 0}, {"codes": [VALID], "timeZone": 12},
                                  {"codes": [VALID], "timeZone": "2"}])
def test_codes_check_bad_request_is_400(body: Any) -> None:
    assert_error(call(world(), "POST", CDN, P_CHECK, body), 400)


def test_codes_check_optional_fields_accepted() -> None:
    body = {"codes": [VALID], "fiscalDriveNumber": "9999078900012345", "timeZone": 11}
    assert call(world(), "POST", CDN, P_CHECK, body).status == 200


@pytest.mark.parametrize("fdn", ["123", "", "9999078900012345 ", "ФН-1", "7" * 40])
@pytest.mark.parametrize("host", [CDN, SB_CDN])
def test_codes_check_accepts_any_fiscal_drive_number_string(fdn: str, host: str) -> None:
    # The guide calls the ФН number 16 digits but documents no refusal of other values: any string passes.
    token = TOKEN if host == CDN else SB_TOKEN
    r = call(world(), "POST", host, P_CHECK, {"codes": [VALID], "fiscalDriveNumber": fdn}, token=token)
    assert r.status == 200, r.body


def test_pinned_req_id_and_timestamp() -> None:
    b = world()
    code = "0104607001234567215Mf8kq\x1d93QWxy"
    b.add_code({"code": code, "groupIds": [3], "mrp": 14000, "smp": 12900,
                "req_id": "4ac3d96d-df56-4d56-8d97-a22006848d48", "req_timestamp": 1712141750370})
    doc = check(b, [code]).json()
    assert doc["reqId"] == "4ac3d96d-df56-4d56-8d97-a22006848d48"
    assert doc["reqTimestamp"] == 1712141750370
    assert doc["codes"][0]["mrp"] == 14000 and doc["codes"][0]["smp"] == 12900
    assert doc["codes"][0]["isTracking"] is True


def test_delay_and_status_of_several_codes() -> None:
    b = world()
    b.host(CDN).faults.latency_ms = 100
    slow = "0104670540176099215slow1\x1d93aaaa"
    b.add_code(CatalogueEntry(code=slow, delay_ms=5000, status=503))
    assert check(b, [SANDBOX[14], VALID]).latency_ms == 2100
    r = check(b, [SANDBOX[11], SANDBOX[14]])            # 504 wins the status, the delay still applies
    assert_error(r, 504)
    assert r.latency_ms == 2100
    r = check(b, [SANDBOX[13], slow, SANDBOX[11]])      # the slowest code with a status wins
    assert_error(r, 503)
    assert r.latency_ms == 5100


# -- the sandbox cases -----------------------------------------------------------
CASE_FLAGS: dict[int, dict[str, Any]] = {
    1: {"utilised": False},
    2: {"realizable": False, "utilised": True, "sold": False},
    3: {"realizable": False, "utilised": True, "sold": False, "grayZone": True, "groupIds": [3]},
    4: {"sold": True},
    5: {"isBlocked": True},
    6: {"expireDate": "2022-12-22T12:16:00.000Z", "found": True, "utilised": True, "realizable": True},
    7: {"smp": 20000, "packageQuantity": 10, "groupIds": [3]},
    8: {"found": True, "verified": True, "gtin": "04601653035829", "groupIds": [3]},
    9: {"found": False, "errorCode": 10},
    10: {"verified": False, "found": True},
    16: {"mrp": 20000, "groupIds": [16]},
    17: {"mrp": 20000, "groupIds": [12]},
    18: {"smp": 20000, "packageQuantity": 10},
    19: {"smp": 20000, "groupIds": [3]},
    20: {"isBlocked": True, "ogvs": ["VETRF"]},
    21: {"isBlocked": True, "ogvs": ["RD"]},
}


@pytest.mark.parametrize("case", sorted(CASE_FLAGS))
def test_sandbox_case_answer_flags(case: int) -> None:
    b = world()
    r = check(b, [SANDBOX[case]], host=SB_CDN, token=SB_TOKEN)
    assert r.status == 200
    (c,) = r.json()["codes"]
    assert c["cis"] == SANDBOX[case]
    for key, value in CASE_FLAGS[case].items():
        assert c[key] == value, (case, key)
    if not c["isBlocked"]:
        assert "ogvs" not in c
    if case not in (6,):
        assert "expireDate" not in c


@pytest.mark.parametrize("case,status,code", [(11, 504, 504), (12, 203, 203), (13, 500, 500), (15, 500, 5000)])
def test_sandbox_status_cases(case: int, status: int, code: int) -> None:
    r = check(world(), [SANDBOX[case]], host=SB_CDN, token=SB_TOKEN)
    assert r.status == status
    doc = r.json()
    assert doc["code"] == code
    if code == 5000:
        assert doc["codes"] == []


def test_sandbox_delay_case() -> None:
    b = world()
    b.host(SB_CDN).faults.latency_ms = 50
    r = check(b, [SANDBOX[14]], host=SB_CDN, token=SB_TOKEN, now=10_000)
    assert r.status == 200 and r.latency_ms == 2050
    assert r.json()["reqTimestamp"] == 12_050


def test_sandbox_catalogue_data() -> None:
    cat = Catalogue.sandbox()
    assert len(cat) == 20                                  # 21 cases, 7 and 18 share a code
    for case, code in SANDBOX.items():
        e = cat.by_case(case)
        assert e.code == code, case
        assert e.name
    assert cat.by_case(7) is cat.by_case(18)
    for case in (8, 9, 16, 19):
        assert len(SANDBOX[case]) == 29 and GS not in SANDBOX[case]
    assert '"' in cat.by_case(21).code
    assert cat.by_case(14).delay_ms == 2000
    assert [cat.by_case(n).status for n in (11, 12, 13, 15)] == [504, 203, 500, "5000"]


# -- catalogue ----------------------------------------------------------------------
def test_catalogue_from_yaml_data_and_override() -> None:
    cat = Catalogue.from_yaml_data([{"code": "0104600000000001215abc\x1d93xyz", "sold": True,
                                     "expireDate": "2030-01-02T03:04:05+03:00", "groupIds": [8]}])
    (e,) = list(cat)
    assert e.sold and e.expireDate == "2030-01-02T00:04:05.000Z" and e.groupIds == (8,)
    b = TrueApiBackend()
    b.add_token("sandbox", SB_TOKEN)
    b.add_code({"code": SANDBOX[4], "sold": False})            # user entry overrides the sandbox one
    assert check(b, [SANDBOX[4]], host=SB_CDN, token=SB_TOKEN).json()["codes"][0]["sold"] is False
    assert Catalogue.sandbox().by_case(4).sold is True         # the bundled data is untouched


@pytest.mark.parametrize("data,word", [
    ([{"code": "x", "isblocked": True}], "isblocked"),
    ([{"code": "x", "colour": "red"}], "colour"),
    ([{"sold": True}], "code"),
    ([{"code": "x", "sold": "yes"}], "sold"),
    ([{"code": "x", "status": 999}], "status"),
    ([{"code": "x", "expireDate": "yesterday"}], "expireDate"),
    ([{"code": "x", "req_id": "not-a-uuid"}], "req_id"),
    ({"code": "x"}, "list"),
])
def test_catalogue_rejects_bad_entries(data: Any, word: str) -> None:
    with pytest.raises(ValueError, match=word):
        Catalogue.from_yaml_data(data)


def test_yaml_datetime_values_are_accepted() -> None:
    import yaml

    data = yaml.safe_load('- {code: "01046000000000012150a\\x1d93aa", expireDate: 2022-12-22T12:16:00.000Z}')
    (e,) = list(Catalogue.from_yaml_data(data))
    assert e.expireDate == "2022-12-22T12:16:00.000Z"
    assert e.code.endswith("\x1d93aa")


# -- header rules -----------------------------------------------------------------
@pytest.mark.parametrize("headers", [
    (("X-API-KEY", TOKEN), ("x-api-key", TOKEN), JSON),
    (("X-API-KEY", TOKEN), JSON, ("content-type", "application/json")),
    (("X-API-KEY", TOKEN), ("Content-Type", "application/json; charset=windows-1251")),
    (("X-API-KEY", TOKEN), ("Content-Type", "application/json;charset=\"cp1251\"")),
])
def test_header_rules_reject(headers: tuple[tuple[str, str], ...]) -> None:
    b = world()
    assert_error(call(b, "POST", CDN, P_CHECK, {"codes": [VALID]}, headers=headers), 400)
    assert_error(call(b, "GET", BASE, P_CDN_INFO, headers=headers), 400)


@pytest.mark.parametrize("ct", ["application/json", "application/json; charset=utf-8",
                                "application/json; charset=UTF-8", 'application/json; charset="utf-8"'])
def test_header_rules_accept_utf8(ct: str) -> None:
    r = call(world(), "POST", CDN, P_CHECK, {"codes": [VALID]}, headers=(("x-api-key", TOKEN), ("Content-Type", ct)))
    assert r.status == 200


def test_body_not_utf8_is_400() -> None:
    b = world()
    body = '{"codes":["Ё"]}'.encode("cp1251")
    assert_error(call(b, "POST", CDN, P_CHECK, body), 400)
    assert_error(call(b, "POST", BASE, P_PERMISSIVE, b"\xff\xfe", token=None), 400)


# -- emergency -------------------------------------------------------------------
def test_emergency_answers_203_everywhere_in_the_contour() -> None:
    b = world()
    b.set_emergency("prod", True)
    for host, method, path, body in [(BASE, "GET", P_CDN_INFO, b""), (CDN, "GET", P_HEALTH, b""),
                                     ("cdn03.crpt.ru", "POST", P_CHECK, {"codes": [VALID]}),
                                     (BASE, "POST", P_PERMISSIVE, {"data": "aGVsbG8="}),
                                     (BASE, "POST", P_HIST_CREATE, {"requests": []}),
                                     (BASE, "GET", P_HIST_RECEIVE + "?queryId=x", b"")]:
        assert_error(call(b, method, host, path, body), 203)
    assert_error(call(b, "GET", BASE, P_CDN_INFO, token="whatever"), 203)
    assert check(b, [VALID], host=SB_CDN, token=SB_TOKEN).status == 200     # the sandbox is not affected
    b.set_emergency("prod", False)
    assert check(b, [VALID]).status == 200
    b.host("cdn02.crpt.ru").emergency = True                                  # one host only
    assert_error(check(b, [VALID], host="cdn02.crpt.ru"), 203)
    assert check(b, [VALID]).status == 200


# -- per-host state and fault plans ----------------------------------------------------
@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, 400, 404, 401, 203, 418])
def test_plan_status_items(status: int) -> None:
    b = world()
    b.host(CDN).faults.plan([status])
    assert_error(check(b, [VALID]), status)
    assert check(b, [VALID]).status == 200                 # consumed


def test_plan_items_each_kind() -> None:
    b = world()
    h = b.host(CDN)
    h.faults.latency_ms = 30
    h.faults.plan(["5000", "refuse", "close", "stall", "garbage", "truncated", "missing-reqid", "ok", 200])
    r = check(b, [VALID])
    assert r.status == 500 and r.json() == {"code": 5000, "description": r.json()["description"], "codes": []}
    assert check(b, [VALID]).fault == "refuse"
    r = check(b, [VALID])
    assert r.fault == "close" and r.latency_ms == 30
    assert check(b, [VALID]).fault == "stall"
    r = check(b, [VALID])
    assert r.status == 200 and r.fault is None
    with pytest.raises(ValueError):
        json.loads(r.body)
    r = check(b, [VALID])
    full = check(world(), [VALID]).body
    assert r.status == 200 and len(r.body) in (len(full) // 2, len(full) // 2 + 1)
    with pytest.raises(ValueError):
        json.loads(r.body)
    doc = check(b, [VALID]).json()
    assert "reqId" not in doc and doc["codes"][0]["found"] is True
    assert "reqId" in check(b, [VALID]).json()
    assert "reqId" in check(b, [VALID]).json()
    assert h.faults.items == [] and h.requests == 9 and h.checks == 9


def test_plan_is_consumed_before_header_and_token_rules() -> None:
    b = world()
    b.host(CDN).faults.plan([429])
    assert_error(check(b, [VALID], token="bad"), 429)
    assert_error(check(b, [VALID], token="bad"), 401)


def test_plan_repeat_cycles() -> None:
    b = world()
    b.host(CDN).faults.plan([500, "ok"], repeat=True)
    statuses = [check(b, [VALID]).status for _ in range(6)]
    assert statuses == [500, 200, 500, 200, 500, 200]
    assert b.host(CDN).faults.items == [500, "ok"]


def test_plan_rejects_unknown_items() -> None:
    b = world()
    for bad in (["boom"], [99], [True], [600]):
        with pytest.raises(ValueError):
            b.host(CDN).faults.plan(bad)


def test_latency_seq_last_value_sticks() -> None:
    b = world()
    h = b.host(CDN)
    h.faults.latency_seq = [1700, 1700, 1700, 40]
    assert [check(b, [VALID]).latency_ms for _ in range(6)] == [1700, 1700, 1700, 40, 40, 40]


def test_down_host_refuses_without_consuming() -> None:
    b = world()
    h = b.host(CDN)
    h.faults.down = True
    h.faults.plan([500])
    h.faults.latency_seq = [10, 20]
    assert check(b, [VALID]).fault == "refuse"
    assert call(b, "GET", CDN, P_HEALTH).fault == "refuse"
    assert h.faults.items == [500] and h.requests == 2 and h.checks == 0
    h.faults.down = False
    r = check(b, [VALID])
    assert r.status == 500 and r.latency_ms == 10


def test_host_counters_are_per_host() -> None:
    b = world()
    check(b, [VALID])
    check(b, [VALID], host="cdn02.crpt.ru")
    call(b, "GET", "cdn02.crpt.ru", P_HEALTH)
    call(b, "GET", BASE, P_CDN_INFO)
    assert (b.host(CDN).requests, b.host(CDN).checks, b.host(CDN).health_checks) == (1, 1, 0)
    assert (b.host("cdn02.crpt.ru").requests, b.host("cdn02.crpt.ru").checks,
            b.host("cdn02.crpt.ru").health_checks) == (2, 1, 1)
    assert b.host(BASE).requests == 1 and b.host("cdn03.crpt.ru").requests == 0


# -- history -------------------------------------------------------------------------
def _hist_create(b: TrueApiBackend, items: list[dict[str, Any]], now: int, token: str = TOKEN) -> BackendReply:
    return call(b, "POST", BASE, P_HIST_CREATE, {"requests": items}, now=now, token=token)


def _hist_receive(b: TrueApiBackend, qid: str, now: int, token: str = TOKEN) -> BackendReply:
    return call(b, "GET", BASE, f"{P_HIST_RECEIVE}?queryId={qid}", now=now, token=token)


def test_history_create_and_receive() -> None:
    b = world()
    b.host(CDN).faults.latency_ms = 200
    a1 = check(b, [VALID], now=1_000_000).json()
    a2 = check(b, [SANDBOX[4], VALID], now=1_005_000).json()
    items = [{"reqId": a1["reqId"], "reqTimestamp": a1["reqTimestamp"]},
             {"reqId": a2["reqId"], "reqTimestamp": a2["reqTimestamp"]},
             {"reqId": "00000000-0000-4000-8000-000000000000", "reqTimestamp": 1},
             {"reqId": a1["reqId"], "reqTimestamp": a1["reqTimestamp"] + 1}]
    r = _hist_create(b, items, now=2_000_000)
    assert r.status == 202
    qid = r.json()["queryId"]
    assert UUID4.match(qid)
    r = _hist_receive(b, qid, now=2_000_000)
    assert r.status == 202 and r.json() == {"queryId": qid, "queryStatus": "IN_PROGRESS"}
    assert_error(_hist_receive(b, qid, now=2_029_999), 429)              # 1 call per minute
    r = _hist_receive(b, qid, now=2_060_000)
    assert r.status == 202
    doc = r.json()
    assert doc["queryStatus"] == "DONE" and doc["queryId"] == qid
    res = doc["result"]
    assert [x["searchStatus"] for x in res] == ["FOUND", "FOUND", "NOT_FOUND", "NOT_FOUND"]
    assert res[0]["codes"] == a1["codes"] and res[1]["codes"] == a2["codes"]
    assert res[0]["reqId"] == a1["reqId"] and res[0]["reqTimestamp"] == a1["reqTimestamp"]


def test_history_in_progress_until_delay() -> None:
    b = world()
    b.history_delay_ms = 30_000
    qid = _hist_create(b, [{"reqId": "x", "reqTimestamp": 1}], now=0).json()["queryId"]
    assert _hist_receive(b, qid, now=0).json()["queryStatus"] == "IN_PROGRESS"
    b.history_interval_ms = 0
    assert _hist_receive(b, qid, now=29_999).json()["queryStatus"] == "IN_PROGRESS"
    assert _hist_receive(b, qid, now=30_000).json()["queryStatus"] == "DONE"


def test_history_limits() -> None:
    b = world()
    items = [{"reqId": f"id{i}", "reqTimestamp": i} for i in range(101)]
    assert_error(_hist_create(b, items, now=0), 400)                      # more than 100
    assert _hist_create(b, items[:100], now=0).status == 202              # the rejected call did not count
    assert_error(_hist_create(b, items[:1], now=59_999), 429)
    assert _hist_create(b, items[:1], now=60_000).status == 202
    assert _hist_create(b, items[:1], now=60_000, token="bad").status == 401
    for bad in ([], [{"reqId": 1, "reqTimestamp": 1}], [{"reqId": "a"}], [{"reqId": "a", "reqTimestamp": "1"}]):
        assert_error(_hist_create(b, bad, now=500_000), 400)
    assert_error(call(b, "POST", BASE, P_HIST_CREATE, b"{", now=500_000), 400)
    assert_error(call(b, "GET", BASE, P_HIST_RECEIVE, now=500_000), 400)
    assert_error(_hist_receive(b, "00000000-0000-4000-8000-000000000000", now=500_000), 404)


def test_history_rate_limit_is_per_token_and_query_is_private() -> None:
    b = world()
    other = "22222222-2222-4222-8222-222222222222"
    b.add_token("prod", other)
    qid = _hist_create(b, [{"reqId": "a", "reqTimestamp": 1}], now=0).json()["queryId"]
    assert _hist_create(b, [{"reqId": "a", "reqTimestamp": 1}], now=1, token=other).status == 202
    assert_error(_hist_receive(b, qid, now=40_000, token=other), 404)
    assert _hist_receive(b, qid, now=40_000).status == 202


# -- determinism -----------------------------------------------------------------------
def _script(b: TrueApiBackend) -> list[bytes]:
    b.host(CDN).faults.plan([500, "ok", "truncated"])
    out = [call(b, "POST", BASE, P_PERMISSIVE, {"data": "aGVsbG8="}, token=None).body]
    for i, code in enumerate([VALID, SANDBOX[3], "unknown", VALID]):
        out.append(check(b, [code], now=1000 * i).body)
    out.append(_hist_create(b, [{"reqId": "a", "reqTimestamp": 1}], now=10).body)
    return out


def test_same_seed_same_bytes() -> None:
    assert _script(world(42)) == _script(world(42))
    assert _script(world(42)) != _script(world(43))


def test_uuids_are_seeded_v4_shape() -> None:
    b = TrueApiBackend(seed=7)
    ids = [b.new_uuid() for _ in range(200)]
    assert all(UUID4.match(i) for i in ids) and len(set(ids)) == 200
    assert TrueApiBackend(seed=7).new_uuid() == ids[0]


# -- the simulated network calls the model -------------------------------------------------
def test_simulated_network_round_trip() -> None:
    b = world()
    b.host(CDN).faults.latency_ms = 120
    b.host("cdn02.crpt.ru").faults.plan(["refuse"])
    clock = VirtualClock(1_000_000)
    net = SimulatedNetwork(clock, b)
    got: list[NetResult] = []
    body = json.dumps({"codes": [VALID]}).encode()
    net.submit(NetRequest(1, "POST", CDN, P_CHECK, (("X-API-KEY", TOKEN), JSON), body, "r1"), got.append)
    net.submit(NetRequest(2, "POST", "cdn02.crpt.ru", P_CHECK, (("X-API-KEY", TOKEN), JSON), body, "r2"),
               got.append)
    net.submit(NetRequest(3, "GET", "nowhere.example", P_HEALTH, (("X-API-KEY", TOKEN),)), got.append)
    clock.run_until_idle()
    by_id = {r.request_id: r for r in got}
    assert by_id[1].status == 200 and by_id[1].elapsed_ms == 120
    assert json.loads(by_id[1].body)["reqTimestamp"] == 1_000_120
    assert by_id[2].failure is Failure.REFUSED
    assert by_id[3].failure is Failure.RESOLVE


# -- robustness ------------------------------------------------------------------------------
_HOSTS = st.sampled_from([BASE, CDN, SB_BASE, SB_CDN, "cdn02.crpt.ru", "nowhere.example", ""])
_PATHS = st.one_of(st.sampled_from([P_PERMISSIVE, P_CDN_INFO, P_HEALTH, P_CHECK, P_HIST_CREATE,
                                   P_HIST_RECEIVE + "?queryId=", P_HIST_RECEIVE + "?queryId=%ZZ&&=",
                                   P_CHECK + "?x=1"]), st.text(max_size=40))
_HEADER_NAMES = st.sampled_from(["X-API-KEY", "x-api-key", "Content-Type", "Connection", "X"]) | st.text(max_size=8)
_HEADER_VALUES = st.sampled_from([TOKEN, "application/json; charset=windows-1251", "application/json;charset",
                                  "a;charset=;b=", ""]) | st.text(max_size=20)
_BODIES = st.one_of(
    st.binary(max_size=64),
    st.sampled_from([b'{"codes":[]}', b'{"codes":null}', b'{"data":"aGVsbG8="}', b'{"requests":[{}]}',
                     b"[" * 3000, b'{"codes":["\\ud800"]}', b'{"timeZone":1e999,"codes":["a"]}']),
    st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
                 lambda ch: st.lists(ch, max_size=3) | st.dictionaries(
                     st.sampled_from(["codes", "data", "requests", "reqId", "reqTimestamp", "timeZone",
                                      "fiscalDriveNumber", "x"]), ch, max_size=3),
                 max_leaves=8).map(lambda d: json.dumps(d).encode()),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(method=st.sampled_from(["GET", "POST", "PUT", "get", ""]) | st.text(max_size=5), host=_HOSTS,
       path=_PATHS, headers=st.lists(st.tuples(_HEADER_NAMES, _HEADER_VALUES), max_size=4), body=_BODIES,
       plan=st.lists(st.sampled_from([429, 500, "5000", "ok", "truncated", "missing-reqid", "garbage",
                                      "empty-list", "stall"]), max_size=2),
       now=st.integers(min_value=0, max_value=2**45))
def test_handle_never_raises(method: str, host: str, path: str, headers: list[tuple[str, str]], body: bytes,
                             plan: list[Any], now: int) -> None:
    b = _FUZZ_WORLD
    if host in b.hosts():
        b.host(host).faults.plan(plan)
    r = b.handle(host, NetRequest(1, method, host, path, tuple(headers), body), now)
    assert isinstance(r, BackendReply)
    assert r.fault in (None, "resolve", "refuse", "close", "stall")
    assert isinstance(r.body, bytes) and r.latency_ms >= 0
    if r.fault is None and r.headers[0][1].startswith("application/json") and plan[:1] != ["truncated"]:
        json.loads(r.body)                              # a JSON reply is well-formed JSON


_FUZZ_WORLD = world(3)
