"""A fiscal drive writing documents in a loop, for the SIGKILL test of ``test_kill.py``.

Not a test module: ``python writer_proc.py ARCHIVE SEED`` opens (or creates)
the drive's archive, prints ``ready <last fd>``, then forever: opens a shift,
writes receipts of random sizes (20 a shift), closes it, and every few
documents acknowledges the oldest pending one. After each document is
committed it prints ``doc <n>``, after each acknowledgement ``ack <n>``
(flushed), so the parent knows what the archive must hold at least. Time is
virtual: one second after the archive's last document, a second a document.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emulator.devices.fn.model import FiscalDrive  # noqa: E402

FN = "9999078900005488"
T0 = 1_700_000_000_000
RECEIPTS_A_SHIFT = 20


def main() -> int:
    path, seed = Path(sys.argv[1]), int(sys.argv[2])
    rnd = random.Random(seed)
    drive = FiscalDrive(path, FN)
    docs = drive.documents()
    now = docs[-1].when_ms + 1000 if docs else T0
    print(f"ready {drive.last_fd}", flush=True)
    if drive.state == "setting":
        s = drive.register(now, ((1037, "0000000005008570    "), (1018, "7702203276  ")))
        print(f"doc {s.fd_number}", flush=True)
    while True:
        now += 1000
        if not drive.shift_open:
            s = drive.open_shift(now, ((1021, "Кассир"),))
        elif drive.receipts_in_shift >= RECEIPTS_A_SHIFT:
            s = drive.close_shift(now, ((1021, "Кассир"),))
        else:
            items = tuple((1048, "Товар " + "ж" * rnd.randrange(0, 200)) for _ in range(rnd.randrange(1, 20)))
            s = drive.receipt(now, ((1020, rnd.randrange(1, 10**9)), *items),
                              doc_type=31 if rnd.random() < 0.1 else 3)
        print(f"doc {s.fd_number}", flush=True)
        if rnd.random() < 0.4 and drive.pending():
            fd = drive.pending()[0].fd_number
            drive.acknowledge(fd, b"\x07" + fd.to_bytes(4, "little"), now)
            print(f"ack {fd}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
