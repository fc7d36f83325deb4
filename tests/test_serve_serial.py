"""`serve`'s serial ports for real: a driver opens the KKT's pty by its COM name (the fixed link in the state
directory) and runs commands over the framed link; the scanner's pty sells a marked item; a second driver
finds the port busy; the ports vanish when serve stops."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest
import serial

from emulator.net.serialport import PortMap, SerialDeviceLink, SerialLinkError
from tests.test_serve import read_until

TOKEN = "7f0c0d6e-3b1a-4c53-9a8e-5d2f0e9b1c42"
CODE = "010469999010001021Shop01ok\x1d93Tl01"


def say(proc, *lines):
    proc.stdin.write("".join(line + "\n" for line in lines))
    proc.stdin.flush()


def test_driver_over_the_kkt_pty_and_a_sale_from_the_scanner_pty(tmp_path):
    (tmp_path / "token").write_text(TOKEN + "\n")
    os.chmod(tmp_path / "token", 0o600)
    state = tmp_path / "state"
    proc = subprocess.Popen([sys.executable, "-m", "emulator.cli", "serve", "--state-dir", str(state),
                             "--token-file", str(tmp_path / "token"), "--no-techserver", "--device-port", "COM7"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, encoding="utf-8")
    try:
        banner = "\n".join(read_until(proc, "Ctrl-C stops"))
        kkt = re.search(r"KKT serial port \(framing modelled\): (/dev/pts/\d+)  = COM7", banner).group(1)
        scanner = re.search(r"scanner port: (/dev/pts/\d+)", banner).group(1)
        assert os.readlink(state / "serial" / "COM7") == kkt
        ports = PortMap({"COM7": str(state / "serial" / "COM7")})
        with SerialDeviceLink("COM7", ports=ports, timeout_s=60) as link:
            with pytest.raises(SerialLinkError) as busy:
                SerialDeviceLink(kkt, timeout_s=5)
            assert busy.value.code == "port-busy"
            assert link.call("OpenShift", {})["result"] == 0
            status = link.call("GetStatus", {})
            assert status["shiftInfo"]["isOpen"] is True and status["mode"] == "cash_ready", status
            say(proc, "keys 1 2 0")
            read_until(proc, "120")          # the price typed at the till, then the pack scanned
            with serial.Serial(scanner, 9600) as s:
                s.write(CODE.encode("ascii") + b"\r")
            for _ in range(100):
                status = link.call("GetStatus", {})
                if status["checkInfo"]["goodsQty"] == 1 and status["mode"] == "cash_ready":
                    break
                time.sleep(0.1)
            assert status["checkInfo"]["goodsQty"] == 1, status
            say(proc, "press ИТ")
            read_until(proc, "ЧЕК ЗАКРЫТ", timeout=60)
            status = link.call("GetStatus", {})
            assert status["checkInfo"] == {"isOpen": False, "num": 1, "goodsQty": 0}, status
        proc.send_signal(2)
        read_until(proc, "kkt-emu serve: stopped", timeout=30)
        proc.wait(timeout=30)
        assert not (state / "serial" / "COM7").exists()
        from emulator.devices.fn.show import document_json, open_archive

        drive = open_archive(state / "device")
        receipt = document_json(drive, drive.last_fd)
        items = receipt["document"]["items"]
        assert [i.get("productType") for i in items] == [33] and items[0]["price"] == 12000, receipt
        with pytest.raises(SerialLinkError) as gone:
            SerialDeviceLink(kkt, timeout_s=2).call("GetStatus", {})
        assert gone.value.code in ("port-missing", "timeout")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
