"""No document lost or doubled at the tax server: a ПРРО process killed (SIGKILL) mid-receipt and mid-package.

The tax server (its HTTP front under uvicorn on loopback, the CA's OCSP over
HTTP) runs in this process, with 15 ms of latency after each request is
handled, so that a kill lands as often as anywhere between the server
registering a document and the ПРРО hearing of it. A separate ПРРО process
(``prro_proc.py``) sells online and is killed -9 at random moments, then sells
offline and is killed while its packages go out, and is restarted each time.
At the end every document of the ПРРО is at the server exactly once (by UID,
with the ПРРО's bytes), nothing else is there, and the Z-report — whose totals
the server checks against the documents it holds — is accepted.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from emulator.devices.prro.store import PrroStore
from emulator.world.prro import PrroWorld

PROC = Path(__file__).with_name("prro_proc.py")
START = 1_772_434_800_000     # 2026-03-02T07:00:00Z


def _spawn(args: list[str], mode: str, n: int) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(PROC), *args, mode, str(n)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PRRO_KEY_PASSWORD": "1111", "PYTHONHASHSEED": "0"})


def _line(p: subprocess.Popen[str]) -> str:
    assert p.stdout is not None
    line = p.stdout.readline()
    if not line:
        raise AssertionError(f"the ПРРО process ended: {p.stderr.read() if p.stderr else ''}")
    return line.strip()


def _kill(p: subprocess.Popen[str]) -> None:
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)


def _finish(p: subprocess.Popen[str]) -> list[str]:
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, f"{out}\n{err}"
    return out.split("\n")


def test_kill_9_mid_receipt_and_mid_package_loses_and_doubles_nothing(tmp_path: Path) -> None:
    rnd = random.Random(14)
    with PrroWorld(tmp_path / "world", start_ms=START, network="real") as world:
        key = world.issue_key("k", owner="Кравчук Іван", file="Key-6.dat", password="1111")
        world.register("k", "cashier", delay_ms=0)
        identity = world.register_prro("A")
        url = world.http_url() + "/fs"
        world.tax.faults.latency_ms = 15
        args = [str(tmp_path / "prro"), url, json.dumps(identity.as_json()), str(key), str(START)]

        kills = 0
        for _ in range(5):                       # online: killed mid-receipt
            p = _spawn(args, "sell", 60)
            try:
                assert _line(p) == "ready"
                for _ in range(rnd.randrange(1, 8)):
                    _line(p)
                time.sleep(rnd.uniform(0, 0.03))
            finally:
                _kill(p)
                kills += 1
        assert "done" in _finish(_spawn(args, "sell", 60))

        for _ in range(2):                       # offline: killed while selling
            p = _spawn(args, "offline", 260)
            try:
                assert _line(p) == "ready"
                for _ in range(rnd.randrange(5, 40)):
                    _line(p)
            finally:
                _kill(p)
        target = 260
        for _ in range(3):                       # killed while the packages go out (a new session each time)
            target += 110
            p = _spawn(args, "offline", target)
            try:
                assert _line(p) == "ready"
                while (line := _line(p)) != "online":
                    assert line.startswith("doc"), line
                time.sleep(rnd.uniform(0, 0.04))
            finally:
                _kill(p)
        assert "done" in _finish(_spawn(args, "offline", target))
        assert "z ok" in _finish(_spawn(args, "finish", 0))

        at_server = [d for d in world.tax.documents if d.registrar == identity.fiscal_num]
        by_uid = {stored.uid: stored for stored in at_server}
    store = PrroStore(tmp_path / "prro")
    try:
        docs = store.docs()
        assert {d.state for d in docs} == {"sent"}, {d.state for d in docs}
        assert len(at_server) == len(by_uid) == len(docs)
        assert set(by_uid) == {d.uid for d in docs}
        for d in docs:
            assert by_uid[d.uid].signed == d.signed       # the server holds the ПРРО's own bytes
        assert sum(1 for d in docs if d.kind == "sale") == target
        assert sum(1 for d in docs if d.kind == "offline_end") >= 1
        assert [d.local_num for d in docs] == list(range(1, len(docs) + 1))
    finally:
        store.close()
    assert kills == 5
