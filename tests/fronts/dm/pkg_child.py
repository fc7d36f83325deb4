"""A Device Manager in a process of its own for the package-mode kill test: one ПРРО (its fiscalization a
stand-in that appends a line to ``fiscalized.txt``), linked to the terminal at ``127.0.0.1:PORT``; it runs one
``/dm/execute-pkg`` sale with the given tag and prints the answer as JSON.

    python -m tests.fronts.dm.pkg_child DIR PORT TAG
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from emulator.base.clock import VirtualClock
from emulator.fronts.dm import manager
from emulator.fronts.dm.config import default_config
from emulator.fronts.dm.envelope import Answer
from emulator.fronts.dm.manager import Context, DeviceManager, DmPrro, DmTerminal
from emulator.net.bankterm import BankTermLink, Journal


def main(directory: str, port: int, tag: str) -> int:
    d = Path(directory)
    dm = DeviceManager(VirtualClock(int(time.time() * 1000)), d / "dm")

    def fiscalize(ctx: Context) -> Answer:
        with (d / "fiscalized.txt").open("a", encoding="utf-8") as f:
            f.write(json.dumps(ctx.req.fiscal["receipt"]["pays"], ensure_ascii=False) + "\n")
        return Answer(info={"docno": 1})

    manager.TASKS[("prro", 1)] = (fiscalize, True)
    dm.add(DmPrro("kasa", SimpleNamespace(shift={"open": True}), default_config()))
    journal = Journal(str(d / "dm" / "terminal-term.sqlite"))
    dm.add(DmTerminal("term", BankTermLink("127.0.0.1", port, journal=journal)))
    dm.store.put("package:kasa", {"terminal": "term", "printer": "", "pay_types": [2], "auto_cancel": True,
                                  "merchant": "0"})
    body = {"ver": 6, "device": "kasa", "tag": tag, "type": 1, "fiscal": {"task": 1, "receipt": {
        "sum": 31, "rows": [{"code": "1", "name": "Товар", "cnt": 1, "price": 31, "cost": 31, "taxgrp": 2}],
        "pays": [{"type": 2, "sum": 31}]}}}
    print("asking", flush=True)
    print(json.dumps(dm.execute("execute-pkg", body), ensure_ascii=False), flush=True)
    dm.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
