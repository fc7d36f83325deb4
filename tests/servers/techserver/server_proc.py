"""The technological server as a separate process, for the SIGKILL tests of ``test_no_loss.py``.

Not a test module: ``python server_proc.py DB [--delay S]`` runs ``TechServerTcp``
over a ``TechServer`` SQLite file on a free loopback port, prints ``port <n>``
(flushed) and serves until it is killed. ``--delay`` sleeps that long before
each batch of log records is stored, so that a kill lands inside an upload;
``stored <n>`` is printed after each batch's commit.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emulator.servers.techserver.model import TechServer  # noqa: E402
from emulator.servers.techserver.tcp import TechServerTcp  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("db", type=Path)
    ap.add_argument("--delay", type=float, default=0.0)
    args = ap.parse_args()
    model = TechServer(args.db)
    store = model.store_records

    def slow_store(serial, records, now_ms):  # type: ignore[no-untyped-def]
        time.sleep(args.delay)
        result = store(serial, records, now_ms)
        print(f"stored {len(result.stored)}", flush=True)
        return result

    model.store_records = slow_store  # type: ignore[method-assign]
    srv = TechServerTcp(model).start()
    print(f"port {srv.port}", flush=True)
    threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
