#!/usr/bin/env python3
"""A small POS program: one shift at the emulated KKT through the Mercury driver API only.

Stand-alone on purpose (the standard library, nothing of the emulator): it
talks to the driver service as shop software does, ``POST /api.json`` with
the envelope of incotex-kkt.md §14.1, and prints each request and answer as
one JSON line each (``>>`` and ``<<``). The shift:

1. ``OpenSession`` on the KKT's port (``COM3`` by default), ``GetStatus``,
   ``OpenShift`` (a shift left open is closed first with ``CloseShift``);
2. receipt A, the KKT checks (path a): an unmarked item and a marked one,
   ``AddGoods`` with ``mcInfo`` only: the KKT asks ОИСМ and GIS MT itself;
3. receipt B, the POS checks (path b): ``CheckMarkingCode``,
   ``GetMarkingCodeCheckResult``, the POS's own ``codes/check`` to the GIS MT
   (True API) host given with ``--gismt`` (HTTPS, the lab CA, the token),
   ``AcceptMarkingCode`` (``RejectMarkingCode`` when GIS MT forbids it), then
   ``AddGoods`` with ``industryAttribute`` = the permit-mode 1260 (ФОИВ 030,
   2023-11-21, 1944, ``UUID=<reqId>&Time=<reqTimestamp>``) and an unmarked item;
4. receipt C, a return (``checkType`` 1) of receipt A's marked item;
5. ``PrintReport`` (X), ``CloseShift`` (Z), ``CloseSession``.

The last line is a summary (``== {...}``: the receipts' ФД numbers and how
each marked item was checked). Exit status 0 when every step answered
``result`` 0, 1 otherwise, 2 for bad arguments.

    python tools/pos_sim.py --driver http://127.0.0.1:50010/api.json \\
        --gismt https://cdn01.crpt.ru:37525 --gismt-ip 127.0.0.3 --ca .kkt-emu/lab-ca/ca.pem --token-file token.txt
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import socket
import ssl
import sys
import time
import urllib.parse
import urllib.request
from typing import Any

LP = "010469999010001021Shop01ok\x1d93Tl01"
SHOES = "010469999020001721Shop02ok\x1d93Tl02"
CHECK_PATH = "/api/v4/true-api/codes/check"
CASHIER = {"cashierName": "Кассир Иванова"}


class StepFailed(Exception):
    pass


class Pos:
    def __init__(self, driver_url: str, out: Any = sys.stdout) -> None:
        self.url = driver_url
        self.out = out
        self.key: str | None = None

    def send(self, command: str, allow: tuple[int, ...] = (0,), **fields: Any) -> dict[str, Any]:
        body = {"sessionKey": self.key, "command": command, **fields}
        print(">> " + json.dumps(body, ensure_ascii=False), file=self.out, flush=True)
        request = urllib.request.Request(self.url, json.dumps(body, ensure_ascii=False).encode("utf-8"),
                                         {"Content-Type": "application/json; charset=utf-8"}, method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            answer: dict[str, Any] = json.loads(response.read().decode("utf-8"))
        print("<< " + json.dumps(answer, ensure_ascii=False), file=self.out, flush=True)
        if answer.get("result") not in allow:
            raise StepFailed(f"{command}: result {answer.get('result')}: {answer.get('description')}")
        return answer


class GisMt:
    """The POS's own permit-mode check: ``codes/check`` on a True API host over HTTPS."""

    def __init__(self, url: str, ip: str | None, ca: str, token: str) -> None:
        parts = urllib.parse.urlsplit(url)
        self.host = parts.hostname or ""
        self.port = parts.port or 443
        self.ip = ip or self.host
        self.context = ssl.create_default_context(cafile=ca)
        self.token = token

    def check(self, code: str, out: Any) -> dict[str, Any]:
        sock = socket.create_connection((self.ip, self.port), timeout=10)
        tls = self.context.wrap_socket(sock, server_hostname=self.host)
        conn = http.client.HTTPSConnection(self.host, self.port, timeout=10, context=self.context)
        conn.sock = tls
        body = json.dumps({"codes": [code]}, ensure_ascii=False).encode("utf-8")
        print(f">> POST https://{self.host}:{self.port}{CHECK_PATH} {body.decode('utf-8')!r}", file=out, flush=True)
        try:
            conn.request("POST", CHECK_PATH, body, {"Content-Type": "application/json", "X-API-KEY": self.token,
                                                     "Host": f"{self.host}:{self.port}"})
            response = conn.getresponse()
            status, raw = response.status, response.read()
        finally:
            conn.close()
        print(f"<< HTTP {status} {raw.decode('utf-8', 'replace')}", file=out, flush=True)
        if status != 200:
            raise StepFailed(f"codes/check: HTTP {status}")
        answer: dict[str, Any] = json.loads(raw)
        return answer


def sellable(answer: dict[str, Any]) -> bool:
    """The POS's decision on the True API answer (the guide's conditions for a sale)."""
    codes = answer.get("codes") or [{}]
    c = codes[0]
    return (answer.get("code") == 0 and not c.get("errorCode") and all(c.get(k) for k in
            ("found", "valid", "verified", "realizable", "utilised")) and not c.get("isBlocked")
            and not c.get("sold"))


def b64(code: str) -> str:
    return base64.b64encode(code.encode("utf-8")).decode("ascii")


def shift(pos: Pos, gismt: GisMt | None, port: str, device_code: str, pos_code: str) -> dict[str, Any]:
    summary: dict[str, Any] = {"receipts": []}
    pos.key = None
    pos.key = pos.send("OpenSession", portName=port, model="185F", baudRate=115200)["sessionKey"]
    if pos.send("GetStatus")["shiftInfo"]["isOpen"]:
        pos.send("CloseShift", cashierInfo=CASHIER)
    pos.send("OpenShift", cashierInfo=CASHIER)

    # A: the KKT checks the marked item itself.
    pos.send("OpenCheck", checkType=0, taxSystem=0, cashierInfo=CASHIER)
    pos.send("AddGoods", productName="Хлеб", qty=10000, price=4500, taxCode=6, paymentFormCode=4, productTypeCode=1)
    a = pos.send("AddGoods", productName="Рубашка", qty=10000, price=150000, taxCode=6, paymentFormCode=4,
                 productTypeCode=33, mcInfo={"mc": b64(device_code)})
    closed = pos.send("CloseCheck", payment={"cash": 200000})
    summary["receipts"].append({"fd": closed["fiscalDocNum"], "kind": "sale", "marked": [a.get("checkedBy")]})

    # B: the POS checks the marked item.
    pos.send("OpenCheck", checkType=0, taxSystem=0, cashierInfo=CASHIER)
    pos.send("CheckMarkingCode", mc=b64(pos_code), plannedStatus=1, qty=10000, measureUnit=0, timeout=30)
    for _ in range(50):
        result = pos.send("GetMarkingCodeCheckResult")
        if result.get("isCompleted"):
            break
        time.sleep(0.1)
    else:
        raise StepFailed("GetMarkingCodeCheckResult: never completed")
    if gismt is None:
        raise StepFailed("the POS-side check needs --gismt, --ca and --token-file")
    answer = gismt.check(pos_code, pos.out)
    if not sellable(answer):
        pos.send("RejectMarkingCode")
        raise StepFailed("GIS MT forbids selling the POS-checked code")
    pos.send("AcceptMarkingCode")
    attribute = {"idFOIV": "030", "docDate": "2023-11-21", "docNum": "1944",
                 "value": f"UUID={answer['reqId']}&Time={answer['reqTimestamp']}"}
    b = pos.send("AddGoods", productName="Туфли", qty=10000, price=350000, taxCode=6, paymentFormCode=4,
                 productTypeCode=33, mcInfo={"mc": b64(pos_code)}, industryAttribute=[attribute])
    pos.send("AddGoods", productName="Пакет", qty=20000, price="500", taxCode=6)
    closed = pos.send("CloseCheck", payment={"cash": 351000})
    summary["receipts"].append({"fd": closed["fiscalDocNum"], "kind": "sale", "marked": [b.get("checkedBy")],
                                "1265": attribute["value"]})

    # C: the customer brings receipt A's marked item back.
    pos.send("OpenCheck", checkType=1, taxSystem=0, cashierInfo=CASHIER)
    c = pos.send("AddGoods", productName="Рубашка", qty=10000, price=150000, taxCode=6, mcInfo={"mc": b64(device_code)})
    closed = pos.send("CloseCheck", payment={"cash": 150000})
    summary["receipts"].append({"fd": closed["fiscalDocNum"], "kind": "sale_return", "marked": [c.get("checkedBy")]})

    summary["x_report"] = pos.send("PrintReport", reportCode=1).get("fiscalDocNum")
    summary["z_report"] = pos.send("CloseShift", cashierInfo=CASHIER).get("fiscalDocNum")
    pos.send("CloseSession")
    return summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--driver", default="http://127.0.0.1:50010/api.json", help="the driver API's URL")
    p.add_argument("--port", default="COM3", help="the KKT's port for OpenSession (COMn or a pty path)")
    p.add_argument("--gismt", help="a True API CDN host for the POS's own check, https://NAME:PORT")
    p.add_argument("--gismt-ip", help="the address NAME is at (instead of the system resolver)")
    p.add_argument("--ca", help="the CA certificate the True API host's certificate is checked against")
    p.add_argument("--token-file", help="the True API token (one line)")
    p.add_argument("--device-code", default=LP, help="the code receipt A sells (the KKT checks it); GS as <GS>")
    p.add_argument("--pos-code", default=SHOES, help="the code receipt B sells (the POS checks it)")
    args = p.parse_args(argv)
    gismt = None
    if args.gismt:
        if not (args.ca and args.token_file):
            p.error("--gismt needs --ca and --token-file")
        with open(args.token_file, encoding="utf-8") as f:
            token = f.readline().strip()
        gismt = GisMt(args.gismt, args.gismt_ip, args.ca, token)
    pos = Pos(args.driver)
    try:
        summary = shift(pos, gismt, args.port, args.device_code.replace("<GS>", "\x1d"),
                        args.pos_code.replace("<GS>", "\x1d"))
    except (StepFailed, OSError, ValueError, KeyError) as exc:
        print(f"!! {type(exc).__name__}: {exc}", flush=True)
        return 1
    print("== " + json.dumps(summary, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
