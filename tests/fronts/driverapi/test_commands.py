"""Every driver command on the in-process link: its happy path and its refusals, with nothing changed."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from emulator.fronts.ecr import results as R
from tests.fronts.driverapi.rig import CODE, Rig, b64

TOBACCO = "04699990300014Shop003AC=UTl03"          # МРЦ 189.00 in the pack code
SHOES = "010469999020001721Shop02ok\x1d93Tl02"
PERMIT_1260 = {"idFOIV": "030", "docDate": "2023-11-21", "docNum": "1944", "value": "UUID=pos-1&Time=1768456800000"}


@pytest.fixture
def rig(tmp_path):
    r = Rig(tmp_path)
    yield r
    r.close()


def state(r: Rig) -> Any:
    d = r.device
    receipt = d.receipt
    return (d.shift_open, d.shift_number, d.fiscal.drive.last_fd, len(d.receipts), str(d.mode),
            None if receipt is None else len(receipt.positions), r.commands.check_open, r.commands.drawer,
            dict(r.commands.table), len(r.driver.sessions))


def refused(r: Rig, code: int, command: str, **fields: Any) -> dict[str, Any]:
    before = state(r)
    answer = r.call(command, **fields)
    assert answer["result"] == code, answer
    assert answer["description"]
    assert state(r) == before, f"{command} refused but changed the state"
    return answer


# ----------------------------------------------------------------- envelope and sessions
def test_open_session_accepts_null_empty_and_missing_keys(rig):
    for key in (None, "", "absent"):
        body: dict[str, Any] = {"command": "OpenSession", "portName": "COM3"}
        if key != "absent":
            body["sessionKey"] = key
        answer = rig.driver.handle(body)
        assert answer["result"] == 0 and len(answer["sessionKey"]) == 36
        rig.driver.handle({"sessionKey": answer["sessionKey"], "command": "CloseSession"})


def test_session_refusals(rig):
    refused(rig, R.NO_SESSION, "GetStatus")
    rig.key = "not-a-session"
    refused(rig, R.NO_SESSION, "GetStatus")
    assert rig.driver.handle({"command": "OpenSession", "portName": "COM9"})["result"] == R.PORT_ERROR
    rig.session()
    second = rig.driver.handle({"command": "OpenSession", "portName": "COM3"})
    assert second["result"] == R.PORT_ERROR and "in use" in second["description"]
    assert rig.call("CloseSession")["result"] == 0
    refused(rig, R.NO_SESSION, "GetStatus")          # the key is gone
    rig.session()                                   # and the port free again


def test_an_idle_session_gives_its_port_up(rig):
    now = [0.0]
    rig.driver.clock = lambda: now[0]
    rig.session()
    old = rig.key
    now[0] += 601
    rig.session()
    assert rig.key != old and old not in rig.driver.sessions


def test_envelope_refusals(rig):
    d = rig.driver
    assert d.handle_bytes(b"\xff\xfe")["result"] == R.BAD_REQUEST
    assert d.handle_bytes(b"{not json")["result"] == R.BAD_REQUEST
    assert d.handle_bytes(b"[1, 2]")["result"] == R.BAD_REQUEST
    assert d.handle_bytes(b'{"sessionKey": null}')["result"] == R.BAD_REQUEST
    assert d.handle_bytes(b"x" * 1_000_001)["result"] == R.BAD_REQUEST
    assert d.handle({"command": "Frobnicate"})["result"] == R.UNKNOWN_COMMAND
    assert d.handle({"command": "GetStatus", "sessionKey": 5})["result"] == R.BAD_FIELD
    assert d.handle({"command": "OpenSession"})["result"] == R.BAD_FIELD
    assert d.handle({"command": "OpenSession", "portName": "COM3", "debug": "maybe"})["result"] == R.BAD_FIELD


def test_driver_info_and_close_ports(rig):
    assert rig.call("GetDriverInfo")["version"]
    rig.session()
    assert rig.call("ClosePorts")["result"] == 0
    assert rig.driver.sessions == {}


def test_not_modelled_commands_say_so(rig):
    rig.session()
    for name in ("GetGoodsBase", "CloseFN", "ClearSales"):
        refused(rig, R.NOT_SUPPORTED, name)


# ------------------------------------------------------------------ information
def test_status_info_registration_and_time(rig):
    rig.session()
    status = rig.call("GetStatus")
    assert status["result"] == 0 and status["shiftInfo"]["isOpen"] is False
    assert status["dateTime"] == "2026-01-15T09:00:00" and status["fnInfo"]["fnNum"] == rig.device.fn_number
    info = rig.call("GetCommonInfo")
    assert info["kktNum"] == rig.device.serial and info["ffdVersion"] == "1.2"
    reg = rig.call("GetRegistrationInfo")
    assert reg["organization"]["inn"] == rig.device.fiscal.ident.inn
    assert rig.call("GetDateTime")["dateTime"] == status["dateTime"]


def test_set_date_time(rig):
    rig.session()
    assert rig.call("SetDateTime", dateTime="2026-01-15T09:01:00")["result"] == 0
    refused(rig, R.NOT_SUPPORTED, "SetDateTime", dateTime="2027-01-01T00:00:00")
    refused(rig, R.BAD_FIELD, "SetDateTime", dateTime="15.01.2026 09:00")
    refused(rig, R.BAD_FIELD, "SetDateTime")
    rig.call("OpenShift")
    refused(rig, R.WRONG_STATE, "SetDateTime", dateTime="2026-01-15T09:00:00")


# ------------------------------------------------------------------------ shift
def test_open_and_close_shift(rig):
    rig.session()
    refused(rig, R.WRONG_STATE, "CloseShift")
    opened = rig.call("OpenShift", cashierInfo={"cashierName": "Иванова"})
    assert opened["result"] == 0 and opened["shiftNum"] == 1 and opened["fiscalDocNum"] == 2
    refused(rig, R.WRONG_STATE, "OpenShift")
    refused(rig, R.BAD_FIELD, "CloseShift", cashierInfo={"cashierName": ""})
    closed = rig.call("CloseShift")
    assert closed["result"] == 0 and closed["fiscalDocNum"] == 3
    assert rig.device.fiscal.drive.documents()[-1].document.doc_type == 5


# ---------------------------------------------------------------------- receipts
def test_a_sale_of_unmarked_goods_with_scaling(rig):
    rig.shift()
    refused(rig, R.WRONG_STATE, "AddGoods", productName="Хлеб", qty=10000, price=5000)
    assert rig.call("OpenCheck", checkType=0, taxSystem=0)["result"] == 0
    refused(rig, R.WRONG_STATE, "OpenCheck", checkType=0)
    # 2.5 kg at 80.00 = 200.00; money and quantity as strings of digits, as clients send them
    added = rig.call("AddGoods", productName="Яблоки", qty="25000", price="8000", taxCode=6)
    assert added == {"result": 0, "goodsNum": 1, "sum": 20000}
    refused(rig, R.BAD_FIELD, "AddGoods", productName="Яблоки", qty=1, price=8000)           # < 0.001
    refused(rig, R.BAD_FIELD, "AddGoods", productName="Яблоки", qty=10000, price=80.5)
    refused(rig, R.BAD_FIELD, "AddGoods", productName="Яблоки", qty=10000, price=-1)
    refused(rig, R.BAD_FIELD, "AddGoods", productName="", qty=10000, price=100)
    refused(rig, R.BAD_FIELD, "AddGoods", productName="Яблоки", qty=10000, price=100, taxCode=9)
    refused(rig, R.BAD_FIELD, "AddGoods", productName="Яблоки", qty=10000, price=100, mcInfo={"mc": "%%%"})
    refused(rig, R.BAD_FIELD, "CloseCheck", payment={"cash": 19999})
    refused(rig, R.NOT_SUPPORTED, "CloseCheck", payment={"cash": 20000, "ecash": 100})
    closed = rig.call("CloseCheck", payment={"cash": 50000})
    assert closed["result"] == 0 and closed["change"] == 30000 and closed["checkNum"] == 1
    refused(rig, R.WRONG_STATE, "CloseCheck")
    assert rig.device.receipts[-1].total == 20000
    assert rig.call("GetStatus")["shiftInfo"]["cash"] == 20000


def test_open_check_kinds_and_refusals(rig):
    rig.session()
    refused(rig, R.WRONG_STATE, "OpenCheck", checkType=0)          # shift closed
    rig.call("OpenShift")
    refused(rig, R.NOT_SUPPORTED, "OpenCheck", checkType=4)
    refused(rig, R.BAD_FIELD, "OpenCheck", checkType=8)
    refused(rig, R.BAD_FIELD, "OpenCheck")
    assert rig.call("OpenCheck", checkType=1)["result"] == 0
    rig.call("AddGoods", productName="Возврат", qty=10000, price=700)
    assert rig.call("CloseCheck")["result"] == 0
    assert rig.device.receipts[-1].kind == "sale_return"
    assert rig.device.fiscal.drive.documents()[-1].document.get(1054) == 2


def test_reset_check_and_break_operation(rig):
    rig.shift()
    refused(rig, R.WRONG_STATE, "ResetCheck")
    rig.call("OpenCheck", checkType=0)
    rig.call("AddGoods", productName="Хлеб", qty=10000, price=5000)
    fd = rig.device.fiscal.drive.last_fd
    assert rig.call("ResetCheck")["result"] == 0
    assert rig.device.receipt is None and rig.device.receipts[-1].state == "cancelled"
    assert rig.device.fiscal.drive.last_fd == fd              # no document for a cancelled receipt
    assert rig.call("BreakOperation")["result"] == 0


def test_bring_and_withdraw_money(rig):
    rig.session()
    refused(rig, R.WRONG_STATE, "BringMoney", cash=100)
    rig.call("OpenShift")
    assert rig.call("BringMoney", cash=100000)["cash"] == 100000
    refused(rig, R.WRONG_STATE, "WithdrawMoney", cash=100001)
    refused(rig, R.BAD_FIELD, "BringMoney", cash=0)
    assert rig.call("WithdrawMoney", cash=40000)["cash"] == 60000
    assert rig.call("OpenBox")["result"] == 0 and rig.commands.box_opened == 1


def test_reports_and_printing(rig):
    rig.shift()
    x = rig.call("PrintReport", reportCode=1)
    assert x["result"] == 0 and rig.device.fiscal.drive.documents()[-1].document.doc_type == 21
    assert rig.call("ReportStatusOfSettlements")["fiscalDocNum"] == x["fiscalDocNum"] + 1
    refused(rig, R.BAD_FIELD, "PrintReport", reportCode=7)
    rig.call("OpenCheck", checkType=0)
    refused(rig, R.WRONG_STATE, "PrintReport", reportCode=1)
    rig.call("ResetCheck")
    assert rig.call("PrintText", text="Спасибо\nза покупку")["lines"] == 2 and rig.commands.texts[-1] == "за покупку"
    refused(rig, R.BAD_FIELD, "PrintText")
    doc = rig.call("PrintDocFromFN", docNum=2)
    assert doc["result"] == 0 and doc["docType"] == 2 and any("ФД" in line for line in doc["lines"])
    refused(rig, R.BAD_FIELD, "PrintDocFromFN", docNum=999)
    refused(rig, R.BAD_FIELD, "PrintDocFromFN", docNum="two")


# ------------------------------------------------------------ the device checks (a)
def test_path_a_the_device_checks_and_fills_1260(rig):
    rig.shift()
    rig.call("OpenCheck", checkType=0)
    added = rig.call("AddGoods", productName="Брюки", qty=10000, price=10000, mcInfo={"mc": b64(CODE)})
    assert added["result"] == 0 and added["checkedBy"] == "device" and added["tag2106"] == 15
    assert added["industryAttribute"]["idFOIV"] == "030"
    assert rig.call("CloseCheck")["result"] == 0
    pos = rig.device.receipts[-1].positions[0]
    assert pos.gismt == "allowed" and pos.tag1265 == added["industryAttribute"]["value"]
    item = rig.device.fiscal.drive.documents()[-1].document.get(1059)
    assert dict(item)[1260][3] == (1265, pos.tag1265)


def test_path_a_a_refusal_is_the_device_code(rig):
    rig.shift()
    rig.call("OpenCheck", checkType=0)
    before = len(rig.device.logbook.records)
    answer = rig.call("AddGoods", productName="Сигареты", qty=10000, price=20000, mcInfo={"mc": b64(TOBACCO)})
    assert answer["result"] == 758 and answer["description"].startswith("758 ")
    assert len(rig.device.logbook.records) == before + 1            # the device logged its refusal
    assert rig.device.receipt is None or not rig.device.receipt.positions
    refused(rig, R.BAD_FIELD, "AddGoods", productName="Сигареты", qty=20000, price=100, mcInfo={"mc": b64(TOBACCO)})


def test_path_a_the_warning_question_is_answered_through_the_api(tmp_path):
    rig = Rig(tmp_path, settings={"sale_ban": "ПРЕДУПРЕЖДЕНИЕ"})
    try:
        rig.shift()
        rig.call("OpenCheck", checkType=0)
        asked = rig.call("AddGoods", productName="Сигареты", qty=10000, price=20000, mcInfo={"mc": b64(TOBACCO)})
        assert asked["result"] == 758 and asked["question"] is True
        assert "ПРОДАТЬ? [3]-ДА" in asked["description"]
        refused(rig, R.WRONG_STATE, "CloseCheck")
        sold = rig.call("AcceptMarkingCode")
        assert sold["result"] == 0 and sold["warning"].startswith("758")
        assert rig.device.receipt.positions[-1].gismt == "warned"
        assert rig.call("CloseCheck")["result"] == 0
        rig.call("OpenCheck", checkType=0)
        again = rig.call("AddGoods", productName="Сигареты", qty=10000, price=20000, mcInfo={"mc": b64(TOBACCO)})
        assert again["question"] is True
        assert rig.call("RejectMarkingCode") == {"result": 0, "sold": False}
        assert rig.device.receipt is None or not rig.device.receipt.positions
        refused(rig, R.MARKING, "AcceptMarkingCode")         # nothing asked, nothing checked
        assert rig.call("ResetCheck")["result"] == 0
    finally:
        rig.close()


# --------------------------------------------------------------- the POS checks (b)
def test_path_b_the_pos_checks_and_passes_1260(rig):
    rig.shift()
    rig.call("OpenCheck", checkType=0)
    refused(rig, R.MARKING, "AddGoods", productName="Туфли", qty=10000, price=10000, mcInfo={"mc": b64(SHOES)},
            industryAttribute=[PERMIT_1260])                          # not checked yet
    refused(rig, R.MARKING, "GetMarkingCodeCheckResult")
    refused(rig, R.MARKING, "AcceptMarkingCode")
    started = rig.call("CheckMarkingCode", mc=b64(SHOES), plannedStatus=1, qty=10000)
    assert started["fnCheck"] == {"checkResult": 0, "isValid": True}
    assert started["mcInfo"]["mcGoodsID"] == "04699990200017"
    refused(rig, R.MARKING, "CheckMarkingCode", mc=b64(SHOES), plannedStatus=1, qty=10000)   # one at a time
    result = rig.call("GetMarkingCodeCheckResult")
    assert result["isCompleted"] is True and result["onlineCheck"]["mcCheckResultRaw"] == 15
    assert rig.call("AcceptMarkingCode")["result"] == 0
    gismt_requests = rig.backend_requests()
    refused(rig, R.BAD_FIELD, "AddGoods", productName="Туфли", qty=10000, price=10000, mcInfo={"mc": b64(SHOES)},
            industryAttribute=[{**PERMIT_1260, "docNum": "1"}])
    added = rig.call("AddGoods", productName="Туфли", qty=10000, price=10000, mcInfo={"mc": b64(SHOES)},
                     industryAttribute=[PERMIT_1260])
    assert added["result"] == 0 and added["checkedBy"] == "pos"
    assert rig.backend_requests() == gismt_requests                  # the device asked GIS MT nothing
    assert rig.call("CloseCheck")["result"] == 0
    pos = rig.device.receipts[-1].positions[0]
    assert pos.gismt == "pos" and pos.tag1265 == PERMIT_1260["value"] and pos.tag2106 == 15
    item = dict(rig.device.fiscal.drive.documents()[-1].document.get(1059))
    assert item[1260][3] == (1265, PERMIT_1260["value"]) and item[2106] == 15


def test_path_b_reject_abort_and_clear(rig):
    rig.shift()
    refused(rig, R.BAD_FIELD, "CheckMarkingCode", mc=b64("not a code"), plannedStatus=1, qty=10000)
    refused(rig, R.BAD_FIELD, "CheckMarkingCode", mc=b64(SHOES), plannedStatus=7, qty=10000)
    refused(rig, R.BAD_FIELD, "CheckMarkingCode", mc=b64(SHOES), plannedStatus=1, qty=10000, processingMode=1)
    refused(rig, R.BAD_FIELD, "CheckMarkingCode", mc=b64(SHOES), plannedStatus=1)
    refused(rig, R.MARKING, "RejectMarkingCode")
    refused(rig, R.MARKING, "AbortMarkingCodeChecking")
    rig.call("CheckMarkingCode", mc=b64(SHOES), plannedStatus=1, qty=10000)
    assert rig.call("AbortMarkingCodeChecking")["result"] == 0
    rig.call("CheckMarkingCode", mc=b64(SHOES), plannedStatus=1, qty=10000)
    assert rig.call("RejectMarkingCode")["result"] == 0
    rig.call("CheckMarkingCode", mc=b64(SHOES), plannedStatus=1, qty=10000)
    rig.call("GetMarkingCodeCheckResult")
    rig.call("AcceptMarkingCode")
    assert rig.commands.table
    assert rig.call("ClearMarkingCodeValidationTable")["result"] == 0 and rig.commands.table == {}


def test_the_openapi_document_describes_every_example(rig):
    import jsonschema
    from openapi_spec_validator import validate

    from emulator.fronts.driverapi.openapi import document
    from emulator.fronts.driverapi.spec import COMMANDS

    doc = document()
    json.dumps(doc)
    validate(doc)                                   # a valid OpenAPI 3.1 document
    schemas = doc["components"]["schemas"]
    for name in COMMANDS:
        example = doc["paths"]["/api.json"]["post"]["requestBody"]["content"]["application/json"]["examples"][name]
        jsonschema.validate(example["value"], schemas[name])
        bad = {**example["value"], "command": "Other"}
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schemas[name])
    assert base64.b64decode(COMMANDS["CheckMarkingCode"].example["mc"]).decode() == CODE


def test_a_fault_inside_a_command_is_result_11_and_logged(rig, caplog):
    rig.session()

    def broken(args):
        raise ZeroDivisionError("boom")
    rig.commands.handlers["GetStatus"] = broken
    answer = rig.call("GetStatus")
    assert answer["result"] == R.INTERNAL and "ZeroDivisionError" in answer["description"]
    assert "boom" not in answer["description"] and any("GetStatus" in r.message for r in caplog.records)


def test_the_question_answered_at_the_keyboard_frees_the_receipt(tmp_path):
    rig = Rig(tmp_path, settings={"sale_ban": "ПРЕДУПРЕЖДЕНИЕ"})
    try:
        rig.shift()
        rig.call("OpenCheck", checkType=0)
        assert rig.call("AddGoods", productName="Сигареты", qty=10000, price=20000,
                        mcInfo={"mc": b64(TOBACCO)})["question"] is True
        rig.device.press("3")                      # the cashier sells it at the till
        assert rig.call("CloseCheck")["result"] == 0
        assert rig.device.receipts[-1].positions[0].gismt == "warned"
    finally:
        rig.close()


def test_a_document_the_drive_refuses_is_result_10_and_the_receipt_stays(rig):
    from emulator.devices.fn.errors import FnError

    rig.shift()
    rig.call("OpenCheck", checkType=0)
    rig.call("AddGoods", productName="Хлеб", qty=10000, price=5000)
    unit = rig.device.fiscal
    real = unit.receipt
    unit.receipt = lambda r: FnError(0x15, "30 days unsent")      # the drive's own refusal value
    fd = unit.drive.last_fd
    answer = rig.call("CloseCheck")
    assert answer["result"] == R.FN_REFUSED and answer["description"].startswith("ОШИБКА ФН 15")
    assert rig.device.receipt is not None and len(rig.device.receipt.positions) == 1
    assert unit.drive.last_fd == fd
    unit.receipt = real
    assert rig.call("CloseCheck")["result"] == 0                  # once the drive takes it, it closes
