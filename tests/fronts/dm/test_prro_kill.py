"""The tag semantics end to end: a DM process killed (SIGKILL) between fiscalization and its stored answer
answers the repeated tag with the real result, and nothing is fiscalized twice.

The tax server (its HTTP front under uvicorn on loopback) runs in this process; the DM and its ПРРО run in
``dm_proc.py``, which kills itself at an exact point of the task (armed per request): right after the tax
server answered, after the ПРРО marked the document sent, inside the DM's copy, before the answer is
stored by tag. After each kill the process is started again on the same files and the same request (same
``tag``) is sent: its answer is the document the tax server holds, once; the Z-report at the end, whose
totals the server checks against its documents, is taken, and the DM's copy holds every document once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from emulator.world.prro import PrroWorld

PROC = Path(__file__).with_name("dm_proc.py")
START = 1_767_261_600_000
POINTS = ("server-answered", "device-sent", "dm-copy", "answer")


class Dm:
    def __init__(self, args: list[str]) -> None:
        self.p = subprocess.Popen([sys.executable, str(PROC), *args], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env={**os.environ, "PRRO_KEY_PASSWORD": "1111", "PYTHONHASHSEED": "0"})
        assert self.line() == "ready"

    def line(self) -> str:
        assert self.p.stdout is not None
        return self.p.stdout.readline().strip()

    def send(self, obj: dict[str, Any]) -> str:
        assert self.p.stdin is not None
        self.p.stdin.write(json.dumps(obj, ensure_ascii=False) + "\n")
        self.p.stdin.flush()
        return self.line()

    def execute(self, task: int, tag: str, **fiscal: Any) -> dict[str, Any]:
        got = self.send({"ver": 6, "device": "kasa", "tag": tag, "type": 1, "fiscal": {"task": task, **fiscal}})
        assert got, f"the DM process ended: {self.stderr()}"
        answer: dict[str, Any] = json.loads(got)
        return answer

    def stderr(self) -> str:
        self.p.kill()
        _, err = self.p.communicate(timeout=30)
        return err

    def killed(self) -> None:
        self.p.wait(timeout=30)
        assert self.p.returncode == -9, self.stderr()

    def close(self) -> None:
        assert self.p.stdin is not None
        self.p.stdin.close()
        assert self.p.wait(timeout=60) == 0


def sale(total: int) -> dict[str, Any]:
    return {"sum": total, "rows": [{"code": str(total), "name": "Товар", "cnt": 1, "price": total, "cost": total,
                                    "taxgrp": 1}], "pays": [{"type": 0, "sum": total}]}


def test_kill_9_between_fiscalization_and_the_stored_answer(tmp_path: Path) -> None:
    with PrroWorld(tmp_path / "world", start_ms=START, network="real") as world:
        key = world.issue_key("k", owner="Кравчук Іван", file="Key-6.dat", password="1111")
        world.register("k", "cashier", delay_ms=0)
        identity = world.register_prro("kasa")
        args = [str(tmp_path / "dm"), str(tmp_path / "prro"), world.http_url() + "/fs",
                json.dumps(identity.as_json()), str(key), str(START)]

        def at_server(total_kop: int) -> list[str]:
            return [d.fiscal for d in world.tax.documents if d.doc.total == total_kop]

        dm = Dm(args)
        assert dm.execute(0, "open")["res"] == 0
        answers: dict[str, dict[str, Any]] = {}
        for n, point in enumerate(POINTS, 1):
            body = sale(10 * n)
            assert dm.send({"arm": point}) == "armed"
            assert dm.send({"ver": 6, "device": "kasa", "tag": point, "type": 1,
                            "fiscal": {"task": 1, "receipt": body}}) == ""
            dm.killed()
            dm = Dm(args)
            got = dm.execute(1, point, receipt=body)
            assert got["res"] == 0 and got["res_action"] == 0, got
            assert at_server(1000 * n) == [got["info"]["doccode"]], point         # there once: this one
            again = dm.execute(1, point, receipt=body)
            assert again == got
            assert json.loads(dm.send({"device": "kasa", "tag": point, "type": 0})) == got
            answers[point] = got
        # killed mid-Z: after the server took the Z-report
        assert dm.send({"arm": "server-answered"}) == "armed"
        assert dm.send({"ver": 6, "device": "kasa", "tag": "z", "type": 1, "fiscal": {"task": 11}}) == ""
        dm.killed()
        dm = Dm(args)
        z = dm.execute(11, "z")
        assert z["res"] == 0, z
        assert z["info"]["summary"]["calc_p"] == 100.0 and z["info"]["receipt"]["count_p"] == 4
        registrar = world.tax.registrars[identity.fiscal_num]
        assert registrar.shift is None or registrar.shift.closed_ms is not None
        assert sum(1 for d in world.tax.documents if d.doc.kind == "ZREP") == 1
        dm.close()
    from emulator.fronts.dm.store import DmStore
    store = DmStore(tmp_path / "dm")
    try:
        sales = store.docs("kasa", ("sale",))
        assert sorted(d.tag for d in sales) == sorted(POINTS)
        assert {d.tag: d.fiscal_num for d in sales} == {p: a["info"]["doccode"] for p, a in answers.items()}
        assert [d.kind for d in store.docs("kasa", ("z_report",))] == ["z_report"]
    finally:
        store.close()
