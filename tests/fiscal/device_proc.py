"""A whole device with its fiscal drive, selling in a loop, for the SIGKILL test of ``test_no_loss.py``.

Not a test module: ``python device_proc.py DIR PORT MODE`` builds a ``KktDevice``
on DIR (the drive's archive in it) whose OFD link is TCP to 127.0.0.1:PORT
(no worker thread: each delivery runs within the call that made the
document, so a kill lands between the drive's commit and the OFD's
acknowledgement as often as anywhere). It prints ``ready <last fd>``, then

* MODE ``sell``: forever, a receipt of 1-3 free positions a virtual second,
  the shift closed and a new one opened every 10 receipts, ``doc <n>`` after
  each document (flushed);
* MODE ``drain``: sends the queue until it is empty and prints ``drained <last fd>``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emulator.base.clock import VirtualClock  # noqa: E402
from emulator.devices.fn.model import FiscalDrive, archive_path  # noqa: E402
from emulator.devices.kkt.device import KktDevice  # noqa: E402
from emulator.devices.kkt.fiscal import FiscalUnit  # noqa: E402
from emulator.devices.kkt.fiscaldocs import Identity  # noqa: E402
from emulator.fronts.operator import Operator  # noqa: E402
from emulator.net.ofdlink import TcpFiscalLink  # noqa: E402
from emulator.net.simulated import SimulatedNetwork  # noqa: E402
from emulator.servers.trueapi import TrueApiBackend  # noqa: E402

FN = "9999078900000042"
SECRET = b"no-loss test drive secret 32 b.."
T0 = 1_770_000_000_000


def main() -> int:
    directory, port, mode = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    drive = FiscalDrive(archive_path(directory), FN, SECRET)
    docs = drive.documents()
    clock = VirtualClock(docs[-1].when_ms + 1000 if docs else T0)
    unit = FiscalUnit(clock, drive, Identity(), ofd=TcpFiscalLink("127.0.0.1", port, 5000), directory=directory,
                      images=False)
    device = KktDevice(clock, SimulatedNetwork(clock, TrueApiBackend()), directory, oism=unit, fiscal=unit)
    print(f"ready {drive.last_fd}", flush=True)
    if drive.state == "setting":
        unit.register()
    unit.deliver()
    if mode == "drain":
        while drive.pending():
            clock.advance(3600_000)         # the retry timers
        print(f"drained {drive.last_fd}", flush=True)
        return 0
    op = Operator(device)
    n = 0
    while True:
        clock.advance(1000)
        if not device.shift_open:
            op.open_shift()
        elif not device.in_cash_mode:
            op.enter_cash()
        for i in range(1 + n % 3):
            op.sell_free(100 * (n + 1) + i)
        op.close_receipt()
        op.dismiss()
        n += 1
        if n % 10 == 0:
            op.leave_cash()
            op.close_shift()
        print(f"doc {drive.last_fd}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
