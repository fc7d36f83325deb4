"""A Device Manager with one ПРРО in its own process, for the SIGKILL test of ``test_prro_kill.py``.

Not a test module: ``python dm_proc.py DM_DIR PRRO_DIR URL IDENTITY_JSON KEY_FILE START_MS`` runs a
``DeviceManager`` on DM_DIR over a ``PrroDevice`` on PRRO_DIR with an httpx link to the tax server at URL
(the key's password in ``PRRO_KEY_PASSWORD``). It reads one JSON line at a time from stdin and prints the
answer of ``/dm/execute`` as one JSON line. A line ``{"arm": POINT}`` arms a kill: the process SIGKILLs
itself at the next

* ``server-answered`` — the tax server registered a document and answered, the ПРРО has not heard it;
* ``device-sent`` — the ПРРО marked the document sent, the DM has no copy of it yet;
* ``dm-copy`` — the DM wrote its copy, not yet committed;
* ``answer`` — everything committed but the answer stored by tag.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emulator.base.clock import VirtualClock  # noqa: E402
from emulator.devices.prro.device import Identity, PrroDevice  # noqa: E402
from emulator.fronts.dm.config import default_config  # noqa: E402
from emulator.fronts.dm.manager import DeviceManager, DmPrro  # noqa: E402
from emulator.net.taxlink import HttpTaxLink, TaxAnswer  # noqa: E402

armed: dict[str, str] = {}


def die_at(point: str) -> None:
    if armed.get("point") == point:
        os.kill(os.getpid(), signal.SIGKILL)


def main() -> int:
    dm_dir, prro_dir, url, identity, key_file, start_ms = sys.argv[1:7]
    clock = VirtualClock(int(start_ms))
    link = HttpTaxLink(url, timeout_s=10)
    device = PrroDevice(Path(prro_dir), clock, link, identity=Identity(**json.loads(identity)))
    if device.store.get("key") is None:
        device.choose_key(key_file, os.environ["PRRO_KEY_PASSWORD"])
        assert device.read_key().ok and device.save_key().ok
    dm = DeviceManager(clock, Path(dm_dir))
    dm.add(DmPrro("kasa", device, default_config(), dev_id=1))

    post = link.post

    def post_then_die(path: str, body: bytes, content_type: str) -> TaxAnswer:
        got = post(path, body, content_type)
        if path == "doc":
            die_at("server-answered")
        return got
    link.post = post_then_die  # type: ignore[method-assign]

    mark = device.store.mark

    def mark_then_die(doc_id: int, state: str, **kw: Any) -> None:
        mark(doc_id, state, **kw)
        if state == "sent":
            die_at("device-sent")
    device.store.mark = mark_then_die  # type: ignore[method-assign]

    add_doc = dm.store.add_doc

    def add_doc_then_die(*a: Any, **kw: Any) -> int:
        got = add_doc(*a, **kw)
        die_at("dm-copy")
        return got
    dm.store.add_doc = add_doc_then_die  # type: ignore[method-assign]

    close_result = dm.store.close_result

    def die_then_close(*a: Any, **kw: Any) -> None:
        die_at("answer")
        close_result(*a, **kw)
    dm.store.close_result = die_then_close  # type: ignore[method-assign]

    print("ready", flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        if "arm" in req:
            armed["point"] = req["arm"]
            print("armed", flush=True)
            continue
        print(json.dumps(dm.execute("execute", req), ensure_ascii=False), flush=True)
    dm.close()
    device.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
