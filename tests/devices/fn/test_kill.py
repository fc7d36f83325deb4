"""Nothing lost, nothing twice: the drive's archive survives kill -9 at random moments.

A separate process (``writer_proc.py``) writes documents in a loop — shift
reports, receipts of random sizes, OFD acknowledgements — and is SIGKILLed at
a random moment, round after round, on the same archive file. After each
kill the archive is reopened here: it must take without a complaint, hold
every document the writer said it committed (and at most the one it was
committing), ФД numbers 1..N with no gap and no duplicate, every document
decoding and carrying this drive's sign, every acknowledgement the writer
reported kept, the queue exactly the unacknowledged documents, the counters
those the documents imply, and SQLite's integrity_check ``ok``.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

from emulator.devices.fn.archive import ARCHIVE_FILE
from emulator.devices.fn.model import FiscalDrive
from emulator.wire.ffd.document import Document
from tests.servers.techserver.test_no_loss import Child

HERE = Path(__file__).resolve().parent
WRITER = HERE / "writer_proc.py"
FN = "9999078900005488"
ROUNDS = 24
BUDGET_S = 120.0


def _check(path: Path, said_docs: int, said_acks: set[int]) -> tuple[int, int]:
    drive = FiscalDrive(path, FN)        # raises DamagedArchive on anything half-written
    try:
        docs = drive.documents()
        n = len(docs)
        assert [s.fd_number for s in docs] == list(range(1, n + 1))
        assert [s.document.get(1040) for s in docs] == list(range(1, n + 1))
        assert said_docs <= n <= said_docs + 1, (said_docs, n)     # committed ones all there; one more at most
        for s in docs:
            assert Document.decode(drive.document_bytes(s.fd_number)) == s.document
        assert all(drive.delivered(fd) for fd in said_acks)
        pending = [s.fd_number for s in drive.pending()]
        assert pending == [fd for fd in range(1, n + 1) if not drive.delivered(fd)]
        assert set(pending) <= set(range(1, n + 1))
        # the counters are the ones the documents imply
        shifts = [s for s in docs if s.document.doc_type == 2]
        assert drive.shift_number == len(shifts)
        last_type = docs[-1].document.doc_type if docs else None
        assert drive.shift_open == (last_type in (2, 3, 31))
        if drive.shift_open:
            since = [s for s in docs if s.fd_number > shifts[-1].fd_number]
            assert drive.receipts_in_shift == len(since)
            assert [s.document.get(1042) for s in since] == list(range(1, len(since) + 1))
        assert drive.integrity_check() == "ok"
        return n, n - len(pending)
    finally:
        drive.close_archive()


def test_kill_9_loses_and_duplicates_nothing(tmp_path):
    path = tmp_path / ARCHIVE_FILE
    rnd = random.Random(20261201)
    start = time.monotonic()
    said_acks: set[int] = set()
    killed_at: list[int] = []
    n = 0
    for round_no in range(ROUNDS):
        assert time.monotonic() - start < BUDGET_S, f"{round_no} rounds took over {BUDGET_S} s"
        child = Child(tmp_path, f"writer{round_no}", [str(path), str(round_no)], WRITER)
        try:
            assert int(child.wait_line("ready ").split()[1]) == n
            child.wait_line("doc ")
            time.sleep(rnd.uniform(0.0, 0.25))
            child.kill()
            child.finish()
        finally:
            child.close()
        said = [int(line.split()[1]) for line in child.lines if line.startswith("doc ")]
        said_acks |= {int(line.split()[1]) for line in child.lines if line.startswith("ack ")}
        n, acked = _check(path, max(said), said_acks)
        killed_at.append(n)
    assert len(killed_at) == ROUNDS and n == killed_at[-1]
    assert n >= 2 * ROUNDS, f"only {n} documents in {ROUNDS} rounds"
    # the figures for the README: rounds, documents, acknowledged
    print(f"\nkill -9 rounds {ROUNDS}, documents {n}, acknowledged {acked}, "
          f"{time.monotonic() - start:.1f} s")
