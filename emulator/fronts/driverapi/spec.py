"""The driver API's commands and fields: one table for checking requests, scaling values and the OpenAPI.

Field names, types, ranges and enums follow the public client code of the
Mercury driver service (incotex-kkt.md §14): camelCase names; money as an
integer number of kopecks (a price of 123.45 ₽ is ``12345``, 0 … 21474836.00
₽); a quantity as an integer number of ten-thousandths (1 piece is
``10000``, 0.001 … 214748); dates ``yyyy-MM-dd``, date-times
``yyyy-MM-ddTHH:mm:ss``. Accepted as real clients send them: money,
quantities and integers also as strings of digits (the clients' converters
read both), booleans also as the strings ``"true"`` / ``"false"``, null
fields as absent. Fields a command does not name are ignored (clients send
many optional requisites the emulated device has no place for).

``check(command, body)`` gives the command's arguments, checked and
converted, or raises ``FieldError`` naming the field; nothing reaches the
device before every field passed.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

MONEY_MAX = 2_147_483_600          # 21 474 836.00 ₽ in kopecks
QTY_MIN, QTY_MAX = 10, 2_147_480_000   # 0.001 … 214 748 in ten-thousandths
MAX_STR = 4096


class FieldError(ValueError):
    """A field missing, mistyped or out of range: the message names it."""


@dataclass(frozen=True)
class F:
    kind: str                        # money qty int enum bool str base64 datetime date object array
    required: bool = False
    lo: int | None = None
    hi: int | None = None
    values: tuple[Any, ...] = ()
    max_len: int = MAX_STR
    pattern: str | None = None
    fields: dict[str, F] = field(default_factory=dict)     # object / array items
    max_items: int = 16
    doc: str = ""


def _int_of(name: str, v: Any) -> int:
    if isinstance(v, bool):
        raise FieldError(f"{name}: expected a number, got a boolean")
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str) and re.fullmatch(r"-?\d{1,19}", v.strip()):
        return int(v.strip())
    raise FieldError(f"{name}: expected an integer, got {_shown(v)}")


def _shown(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def convert(name: str, spec: F, v: Any) -> Any:
    k = spec.kind
    if k in ("money", "qty", "int", "enum"):
        n = _int_of(name, v)
        if k == "enum":
            if n not in spec.values:
                raise FieldError(f"{name}: {n} is not one of {', '.join(map(str, spec.values))}")
            return n
        lo, hi = {"money": (0, MONEY_MAX), "qty": (QTY_MIN, QTY_MAX)}.get(k, (spec.lo, spec.hi))
        lo = spec.lo if spec.lo is not None else lo
        hi = spec.hi if spec.hi is not None else hi
        if (lo is not None and n < lo) or (hi is not None and n > hi):
            raise FieldError(f"{name}: {n} is out of range {lo}..{hi}"
                             + (" (kopecks)" if k == "money" else " (ten-thousandths)" if k == "qty" else ""))
        return n
    if k == "bool":
        if isinstance(v, bool):
            return v
        if isinstance(v, str) and v.strip().lower() in ("true", "false"):
            return v.strip().lower() == "true"
        raise FieldError(f"{name}: expected true or false, got {_shown(v)}")
    if k in ("str", "base64", "datetime", "date"):
        if not isinstance(v, str):
            raise FieldError(f"{name}: expected a string, got {_shown(v)}")
        if len(v) > spec.max_len:
            raise FieldError(f"{name}: longer than {spec.max_len} characters")
        if k == "str":
            if spec.values and v not in spec.values:
                raise FieldError(f"{name}: {_shown(v)} is not one of {', '.join(spec.values)}")
            if spec.pattern and not re.fullmatch(spec.pattern, v):
                raise FieldError(f"{name}: {_shown(v)} is not of the form {spec.pattern}")
            return v
        if k == "base64":
            try:
                raw = base64.b64decode(v.strip(), validate=True)
                text = raw.decode("utf-8")
            except (binascii.Error, ValueError):
                raise FieldError(f"{name}: not Base64 of a UTF-8 text") from None
            if not text:
                raise FieldError(f"{name}: empty")
            return text
        fmt = "%Y-%m-%dT%H:%M:%S" if k == "datetime" else "%Y-%m-%d"
        try:
            when = datetime.strptime(v, fmt)
        except ValueError:
            raise FieldError(f"{name}: {_shown(v)} is not a {'yyyy-MM-ddTHH:mm:ss' if k == 'datetime' else 'yyyy-MM-dd'}"
                             " date") from None
        return when if k == "datetime" else v
    if k == "object":
        if not isinstance(v, dict):
            raise FieldError(f"{name}: expected an object, got {_shown(v)}")
        return check_fields(spec.fields, v, f"{name}.")
    if k == "array":
        if not isinstance(v, list):
            raise FieldError(f"{name}: expected an array, got {_shown(v)}")
        if len(v) > spec.max_items:
            raise FieldError(f"{name}: more than {spec.max_items} items")
        out = []
        for i, item in enumerate(v):
            if not isinstance(item, dict):
                raise FieldError(f"{name}[{i}]: expected an object, got {_shown(item)}")
            out.append(check_fields(spec.fields, item, f"{name}[{i}]."))
        return out
    raise AssertionError(k)


def check_fields(fields: dict[str, F], body: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, spec in fields.items():
        v = body.get(name)
        if v is None or (v == "" and spec.kind not in ("str",)):
            if spec.required:
                raise FieldError(f"{prefix}{name}: required")
            continue
        if spec.kind == "str" and spec.required and isinstance(v, str) and not v.strip():
            raise FieldError(f"{prefix}{name}: empty")
        out[name] = convert(prefix + name, spec, v)
    return out


CASHIER = F("object", fields={"cashierName": F("str", True, max_len=64), "cashierINN": F("str", pattern=r"\d{10}|\d{12}")},
            doc="the cashier (tag 1021, 1203)")
INDUSTRY = F("array", max_items=3, fields={
    "docDate": F("date"), "idFOIV": F("str", max_len=3, pattern=r"\d{3}"), "docNum": F("str", max_len=32),
    "value": F("str", max_len=256)}, doc="industry requisite 1260 (permit mode: 030, 2023-11-21, 1944, UUID=…&Time=…)")
PLANNED = (1, 2, 3, 4, 5, 6, 255)
PART = F("object", fields={"numerator": F("int", True, lo=1, hi=2**31 - 1), "denominator": F("int", True, lo=2, hi=2**31 - 1)})


@dataclass(frozen=True)
class Command:
    name: str
    summary: str
    fields: dict[str, F] = field(default_factory=dict)
    example: dict[str, Any] = field(default_factory=dict)
    driver: bool = False              # answered by the driver itself, not by the device
    modelled: bool = True             # False: a known command the emulated device gives no meaning


def _c(name: str, summary: str, fields: dict[str, F] | None = None, example: dict[str, Any] | None = None,
       **kw: Any) -> Command:
    return Command(name, summary, fields or {}, example or {}, **kw)


COMMANDS: dict[str, Command] = {c.name: c for c in [
    _c("OpenSession", "open a session with the KKT on a port; answers sessionKey",
       {"portName": F("str", True, max_len=256), "baudRate": F("int", lo=1200, hi=921600),
        "model": F("str", max_len=16), "serialNumber": F("str", max_len=32), "debug": F("bool"),
        "logPath": F("str", max_len=1024)},
       {"portName": "COM3", "model": "185F", "baudRate": 115200}, driver=True),
    _c("CloseSession", "end the session and free its port", driver=True),
    _c("GetDriverInfo", "the driver's version", driver=True),
    _c("ClosePorts", "close every session and port of the driver", driver=True),
    _c("GetStatus", "date and time, paper, shift, receipt and ФН state"),
    _c("GetCommonInfo", "the KKT's serial number, model, ФН number, FFD version"),
    _c("GetRegistrationInfo", "the registration requisites (organisation, РН ККТ, OFD)"),
    _c("GetDateTime", "the KKT's date and time"),
    _c("SetDateTime", "set the KKT's clock (shift closed)", {"dateTime": F("datetime", True)},
       {"dateTime": "2026-01-15T09:00:00"}),
    _c("OpenShift", "open the shift (document «Отчет об открытии смены»)", {"cashierInfo": CASHIER},
       {"cashierInfo": {"cashierName": "Иванова"}}),
    _c("CloseShift", "Z report: close the shift", {"cashierInfo": CASHIER},
       {"cashierInfo": {"cashierName": "Иванова"}}),
    _c("OpenCheck", "open a receipt: checkType 0 sale, 1 sale return, 2 expense, 3 expense return",
       {"checkType": F("enum", True, values=tuple(range(8))), "taxSystem": F("int", lo=0, hi=5),
        "cashierInfo": CASHIER, "printDoc": F("bool"), "industryInfo": INDUSTRY},
       {"checkType": 0, "taxSystem": 0, "printDoc": True, "cashierInfo": {"cashierName": "Иванова"}}),
    _c("AddGoods", "add a position; a marked good with mcInfo (the device checks it) and, when the POS "
                   "checked it, industryAttribute (1260)",
       {"productName": F("str", True, max_len=128), "qty": F("qty", True), "price": F("money", True),
        "sum": F("money"), "taxCode": F("enum", values=(1, 2, 3, 4, 5, 6)),
        "paymentFormCode": F("int", lo=1, hi=7), "productTypeCode": F("int", lo=1, hi=33),
        "measureUnit": F("int", lo=0, hi=255), "section": F("int", lo=1, hi=16),
        "mcInfo": F("object", fields={"mc": F("base64", True), "ean": F("str", max_len=13),
                                      "processingMode": F("int", lo=0, hi=255),
                                      "plannedStatus": F("enum", values=PLANNED), "part": PART}),
        "industryAttribute": INDUSTRY},
       {"productName": "Хлеб", "qty": 10000, "price": 5000, "taxCode": 6, "paymentFormCode": 4,
        "productTypeCode": 1}),
    _c("CloseCheck", "close the receipt with its payment (cash)",
       {"payment": F("object", fields={k: F("money") for k in ("cash", "ecash", "prepayment", "credit",
                                                               "consideration")}),
        "sendCheckTo": F("str", max_len=64), "addInfo": F("str", max_len=512)},
       {"payment": {"cash": 5000}}),
    _c("ResetCheck", "cancel the open receipt"),
    _c("BreakOperation", "interrupt what the KKT waits for (the warning-mode question, a price prompt, a check)"),
    _c("BringMoney", "cash into the drawer", {"cash": F("money", True, lo=1), "cashierInfo": CASHIER},
       {"cash": 100000}),
    _c("WithdrawMoney", "cash out of the drawer", {"cash": F("money", True, lo=1), "cashierInfo": CASHIER},
       {"cash": 50000}),
    _c("PrintReport", "X report (reportCode 1..5: «Отчет о текущем состоянии расчетов» of the drive)",
       {"reportCode": F("enum", True, values=(1, 2, 3, 4, 5))}, {"reportCode": 1}),
    _c("PrintText", "print non-fiscal text", {"text": F("str", True)}, {"text": "Спасибо за покупку!"}),
    _c("PrintDocFromFN", "print a document of the drive again by its ФД number",
       {"docNum": F("int", True, lo=1, hi=2**32 - 1)}, {"docNum": 1}),
    _c("ReportStatusOfSettlements", "«Отчет о текущем состоянии расчетов»"),
    _c("OpenBox", "open the cash drawer"),
    _c("CheckMarkingCode", "FFD 1.2: start the check of a marking code (ФН and ОИСМ); mc is Base64",
       {"mc": F("base64", True), "plannedStatus": F("enum", True, values=PLANNED), "qty": F("qty", True),
        "measureUnit": F("int", lo=0, hi=255), "processingMode": F("int", lo=0, hi=255),
        "timeout": F("int", lo=1, hi=255), "part": PART},
       {"mc": "MDEwNDY5OTk5MDEwMDAxMDIxU2hvcDAxb2sdOTNUbDAx", "plannedStatus": 1, "qty": 10000,
        "measureUnit": 0, "timeout": 30}),
    _c("GetMarkingCodeCheckResult", "FFD 1.2: the result of the running check"),
    _c("AcceptMarkingCode", "FFD 1.2: accept the checked code (or answer «ПРОДАТЬ?» with yes)"),
    _c("RejectMarkingCode", "FFD 1.2: reject the checked code (or answer «ПРОДАТЬ?» with no)"),
    _c("AbortMarkingCodeChecking", "FFD 1.2: abort the running check"),
    _c("ClearMarkingCodeValidationTable", "FFD 1.2: clear the table of checked codes"),
] + [_c(name, "known to the driver; the emulated device has no meaning for it (goods base, sales, ФН closing)",
        modelled=False)
     for name in ("ClearSales", "CloseFN", "ConvertBaseFromBin", "ConvertBaseToBin", "ConvertSalesFromBin",
                  "GetBaseVer", "GetGoodsBase", "GetProgress", "GetSales", "PrintBarCode", "ReadGoodsBase",
                  "ReadSales", "WriteGoodsBase")]}


def check(command: Command, body: dict[str, Any]) -> dict[str, Any]:
    return check_fields(command.fields, body)
