import json
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.base import errors as E
from emulator.devices.kkt.permit import AnswerError, decide, parse_check_answer, parse_code
from emulator.rules.marking import GS, parse

NOW = datetime(2026, 1, 15, 12, 0, 0)
PLAIN = parse("0104670540176099215'W9Um" + GS + "93dGVz")
PACK_14500 = parse("04601653035829H;dV)bFACVUdGVz")
BLOCK_199000 = parse("010461013628057121/798DM%" + GS + "8005199000" + GS + "93dGVz")

GOOD = {"cis": "x", "found": True, "valid": True, "verified": True, "realizable": True, "utilised": True,
        "isBlocked": False, "sold": False, "grayZone": False, "errorCode": 0}


def ans(**over):
    d = dict(GOOD)
    d.update(over)
    return parse_code(d)


@pytest.mark.parametrize("over,code", [
    ({"found": False, "errorCode": 10}, E.NOT_FOUND),
    ({"utilised": False}, E.NOT_APPLIED),
    ({"verified": False}, E.CRYPTO_FAILED),
    ({"sold": True, "realizable": False}, E.WITHDRAWN),       # 754 wins over 756 (the vendor's example)
    ({"isBlocked": True, "ogvs": ["RD"]}, E.BLOCKED_BY_OGV),
    ({"isBlocked": True, "ogvs": ["VETRF"]}, E.BLOCKED_BY_OGV),
    ({"realizable": False}, E.NOT_IN_CIRCULATION),
    ({"expireDate": "2022-12-22T12:16:00.000Z"}, E.EXPIRED),
])
def test_each_prohibition_rule_gives_its_code(over, code):
    d = decide(ans(**over), PLAIN, 10000, NOW)
    assert not d.allowed and d.error == code and d.usable


def test_grey_zone_tobacco_is_allowed_and_future_expiry_is_fine():
    assert decide(ans(realizable=False, grayZone=True, groupIds=[3]), PLAIN, 10000, NOW).allowed
    # No group named: a code carrying an МРЦ is a tobacco code.
    assert decide(ans(realizable=False, grayZone=True), BLOCK_199000, 199000, NOW).allowed
    assert decide(ans(expireDate="2026-01-15T12:00:01.000Z"), PLAIN, 1, NOW).allowed
    # Expiry compares local wall time with the date as written: no zone conversion.
    assert decide(ans(expireDate="2026-01-15T12:00:00.000Z"), PLAIN, 1, NOW).error == E.EXPIRED


def test_price_rules_758():
    assert decide(ans(groupIds=[3]), PACK_14500, 14500, NOW).allowed
    assert decide(ans(groupIds=[3]), PACK_14500, 14600, NOW).error == E.PRICE_VS_MRP
    assert decide(ans(groupIds=[3]), PACK_14500, 14400, NOW).error == E.PRICE_VS_MRP
    assert decide(ans(groupIds=[3], mrp=14000), PLAIN, 24800, NOW).error == E.PRICE_VS_MRP
    # block: МРЦ 1990.00 from AI 8005, but ЕМЦ 200.00 x 10 packs = 2000.00
    assert decide(ans(groupIds=[3], smp=20000, packageQuantity=10), BLOCK_199000, 199000, NOW).error == 758
    assert decide(ans(groupIds=[3]), BLOCK_199000, 199000, NOW).allowed
    # nicotine products / alternative tobacco: below МЦ only
    assert decide(ans(groupIds=[16], mrp=20000), PLAIN, 19999, NOW).error == 758
    assert decide(ans(groupIds=[16], mrp=20000), PLAIN, 25000, NOW).allowed


@pytest.mark.parametrize("groups", [[8], [16], [12], [13], []])
def test_the_grey_zone_exempts_tobacco_only(groups):
    # Rule 5: «not for tobacco with grayZone = true»; any other group (or none) out of circulation is 756.
    d = decide(ans(realizable=False, grayZone=True, groupIds=groups), PLAIN, 10000, NOW)
    assert d.error == E.NOT_IN_CIRCULATION


# A pack code of 29 characters whose characters 22-25 decode (ACVU = 145.00), and a GS1 code with AI 8005.
NCP_PACK = parse("00840147505712Zz;ZnRbACVUdGVz")
OTP_8005 = parse("010085060000025821WbUN7If" + GS + "8005014500" + GS + "93dGVz")


@pytest.mark.parametrize("code", [NCP_PACK, OTP_8005])
@pytest.mark.parametrize("group", [16, 12])
def test_the_mrp_in_the_code_binds_tobacco_only(code, group):
    assert code.mrp_kopecks == 14500
    # Above the group's minimum price (МЦ 200.00) the code's «МРЦ» is no limit: the sale is allowed.
    assert decide(ans(groupIds=[group], mrp=20000), code, 25000, NOW).allowed
    # Below the minimum price it is refused (rules 9, 10), at the МРЦ of the code too.
    assert decide(ans(groupIds=[group], mrp=20000), code, 14500, NOW).error == E.PRICE_VS_MRP
    # Other groups are not held to a price at all; tobacco is held to the МРЦ of its code.
    assert decide(ans(groupIds=[8]), code, 25000, NOW).allowed
    assert decide(ans(groupIds=[3]), code, 25000, NOW).error == E.PRICE_VS_MRP
    # ЕМЦ (smp) is a tobacco limit.
    assert decide(ans(groupIds=[group], mrp=20000, smp=30000), code, 25000, NOW).allowed


def test_unexplained_error_code_is_an_unusable_answer():
    d = decide(ans(errorCode=7), PLAIN, 100, NOW)
    assert d.error == E.REMOTE_ERROR and not d.usable and not d.prohibited


def body(**over):
    doc = {"code": 0, "description": "ok", "codes": [GOOD], "reqId": "2ce10bdb-6510-4d37-be04-dd473b98c728",
           "reqTimestamp": 1692691702065}
    doc.update(over)
    return json.dumps(doc).encode()


def test_parse_good_answer():
    a = parse_check_answer(body())
    assert a.req_id == "2ce10bdb-6510-4d37-be04-dd473b98c728" and a.codes[0].found


@pytest.mark.parametrize("raw", [
    b"", b"not json", b"[]", body(reqId="abc95c24-283b-4783-868d-d605fcb4cf6"), body(reqId=None),
    body(reqTimestamp="x"), body(codes=[]), body(codes=[{"cis": "x"}]), body(codes=[dict(GOOD, found="yes")]),
    body(codes=[dict(GOOD, expireDate="tomorrow")]), b"{\"code\":0}", b"\xff\xfe",
    body(codes=[dict(GOOD, mrp=2 ** 63)]), body(codes=[dict(GOOD, smp=-(2 ** 63) - 1)]),
    body(reqTimestamp=10 ** 30),
])
def test_malformed_answers_are_750(raw):
    with pytest.raises(AnswerError):
        parse_check_answer(raw)


def test_remote_error_code_passes_parsing_for_the_caller_to_map():
    a = parse_check_answer(json.dumps({"code": 4, "description": "boom"}).encode())
    assert a.code == 4 and a.codes == ()


@given(st.binary(max_size=200))
def test_parser_only_ever_raises_answer_error(raw):
    try:
        parse_check_answer(raw)
    except AnswerError:
        pass
