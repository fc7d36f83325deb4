"""The POS simulator drives a full shift against `kkt-emu serve`, each in its own process.

Real sockets and the real pty all the way: the POS (``tools/pos_sim.py``,
standard library only) posts to the driver API over HTTP; the driver opens
``COM3``, which serve maps to the KKT's pseudo-terminal only, so every
command crosses pyserial, the framed link and the device's thread; for the
POS-checked receipt the POS itself asks a mock True API host over HTTPS with
the lab CA. Afterwards, with serve stopped, the fiscal drive holds the
receipts with 1260 as each path filled it, every document acknowledged by
the mock OFD (its type-7 «Подтверждение оператора» kept for the same ФД).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

from emulator.devices.fn.show import open_archive
from emulator.devices.kkt.fiscalqueue import reply_document
from tests.test_serve import read_until, stop_with_ctrl_c

TOKEN = "7f0c0d6e-3b1a-4c53-9a8e-5d2f0e9b1c42"
ROOT = Path(__file__).resolve().parent.parent
LP = "010469999010001021Shop01ok\x1d93Tl01"
SHOES = "010469999020001721Shop02ok\x1d93Tl02"


def test_pos_simulator_runs_a_shift_on_both_paths_through_http_and_the_pty(tmp_path):
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    os.chmod(token, 0o600)
    state = tmp_path / "state"
    serve = subprocess.Popen([sys.executable, "-m", "emulator.cli", "serve", "--state-dir", str(state),
                              "--token-file", str(token), "--no-techserver", "--driver-port", "0"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, encoding="utf-8")
    try:
        banner = "\n".join(read_until(serve, "Ctrl-C stops"))
        driver = re.search(r"driver API \(INECRMAN JSON, loopback only\): (http://127\.0\.0\.1:\d+/api\.json)",
                           banner).group(1)
        pty = re.search(r"KKT port COM3 = (/dev/\S+)", banner).group(1)
        host, ip = re.search(r"(https://cdn01\.crpt\.ru:\d+)  ->  (127\.0\.0\.\d+):", banner).groups()
        with urllib.request.urlopen(driver.replace("/api.json", "/openapi.json"), timeout=10) as r:
            openapi = json.loads(r.read())
        assert openapi["openapi"].startswith("3.") and "AddGoods" in openapi["components"]["schemas"]
        pos = subprocess.run([sys.executable, str(ROOT / "tools" / "pos_sim.py"), "--driver", driver,
                              "--gismt", host, "--gismt-ip", ip, "--ca", str(state / "lab-ca" / "ca.pem"),
                              "--token-file", str(token)],
                             capture_output=True, text=True, encoding="utf-8", timeout=180)
        assert pos.returncode == 0, pos.stdout + pos.stderr
        lines = pos.stdout.splitlines()
        requests = [json.loads(line[3:]) for line in lines if line.startswith(">> {")]
        answers = [json.loads(line[3:]) for line in lines if line.startswith("<< {")]
        assert len(requests) == len(answers) >= 20 and all(a["result"] == 0 for a in answers)
        assert requests[0] == {"sessionKey": None, "command": "OpenSession", "portName": "COM3", "model": "185F",
                               "baudRate": 115200}
        assert any(line.startswith(">> POST https://cdn01.crpt.ru") for line in lines)   # the POS's own check
        summary = json.loads(lines[-1][3:])
        assert lines[-1].startswith("== ")
    finally:
        if serve.poll() is None:
            stop_with_ctrl_c(serve)          # a clean stop: status 0 and «stopped»
    assert pty.startswith("/dev/pts/")

    a, b, c = summary["receipts"]
    assert [r["marked"] for r in summary["receipts"]] == [["device"], ["pos"], ["none"]]
    drive = open_archive(state / "device")
    try:
        docs = {s.fd_number: s.document for s in drive.documents()}

        def marked_item(fd: int) -> dict[int, object]:
            items = [dict(i) for i in docs[fd].all(1059) if dict(i).get(2000)]
            assert len(items) == 1
            return items[0]

        # A: the KKT checked: 1260 from its own GIS MT answer; B: the POS's value, byte for byte.
        item_a = marked_item(a["fd"])
        assert item_a[2000] == LP and item_a[2106] == 15
        assert dict(item_a[1260])[1262] == "030" and str(dict(item_a[1260])[1265]).startswith("UUID=")
        item_b = marked_item(b["fd"])
        assert item_b[2000] == SHOES and dict(item_b[1260])[1265] == b["1265"]
        item_c = marked_item(c["fd"])
        assert docs[c["fd"]].get(1054) == 2 and 1260 not in item_c     # a return asks GIS MT nothing
        assert docs[summary["x_report"]].doc_type == 21 and docs[summary["z_report"]].doc_type == 5
        # Every document reached the mock OFD: its acknowledgement for that very ФН and ФД is kept.
        for fd in docs:
            ack = drive.acknowledgement(fd)
            assert ack is not None, f"ФД {fd} not acknowledged by the OFD"
            _, answer = reply_document(ack)
            assert answer.doc_type == 7 and answer.get(1040) == fd and answer.get(1041) == drive.fn_number
    finally:
        drive.close_archive()
