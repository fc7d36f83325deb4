"""No document lost or doubled: a device process killed (SIGKILL) mid-document and mid-delivery.

A real mock OFD (``OfdTcp`` on loopback) runs in this process; a separate
device process (``device_proc.py``) sells, each receipt's document committed
to its drive and sent to the OFD at once. It is killed -9 after a random
number of documents, several times, then restarted to drain its queue. The
OFD must hold every document of the drive exactly once, in ФД order, byte for
byte as the drive archived it, and the drive must hold every acknowledgement.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

from emulator.devices.fn.model import FiscalDrive, archive_path
from emulator.servers.ofd.model import OfdModel
from emulator.servers.ofd.tcp import OfdTcp

PROC = Path(__file__).with_name("device_proc.py")
FN = "9999078900000042"


def _spawn(directory: Path, port: int, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(PROC), str(directory), str(port), mode], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})


def _line(p: subprocess.Popen[str]) -> str:
    assert p.stdout is not None
    line = p.stdout.readline()
    if not line:
        raise AssertionError(f"the device process ended: {p.stderr.read() if p.stderr else ''}")
    return line.strip()


def test_kill_9_mid_document_and_mid_delivery_loses_and_doubles_nothing(tmp_path: Path) -> None:
    rnd = random.Random(5)
    model = OfdModel()
    with OfdTcp(model, "127.0.0.1", 0) as ofd:
        port = ofd.address[1]
        made = 0
        for _ in range(6):
            p = _spawn(tmp_path, port, "sell")
            try:
                assert _line(p).startswith("ready")
                for _ in range(rnd.randrange(2, 12)):
                    made = max(made, int(_line(p).split()[1]))
            finally:
                p.send_signal(signal.SIGKILL)
                p.wait(timeout=30)
        p = _spawn(tmp_path, port, "drain")
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        last = int(out.split()[-1])
    assert last >= made > 20
    drive = FiscalDrive(archive_path(tmp_path), FN, readonly=True)
    try:
        held = [(r.fd_number, r.document) for r in model.received(FN)]
        assert [fd for fd, _ in held] == list(range(1, last + 1))           # each once, in order
        assert held == [(n, drive.document_bytes(n)) for n in range(1, last + 1)]   # byte for byte
        assert drive.pending() == []
        assert all(model.verify_ack(drive.acknowledgement(n) or b"", drive.document_bytes(n))
                   for n in range(1, last + 1))
    finally:
        drive.close_archive()
