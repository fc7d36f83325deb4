"""A ПРРО in its own process, for the SIGKILL test of ``test_no_loss.py``.

Not a test module: ``python prro_proc.py DIR URL IDENTITY_JSON KEY_FILE START_MS MODE N`` runs a
``PrroDevice`` on DIR with an httpx link to the tax server at URL (the key's
password in the environment, ``PRRO_KEY_PASSWORD``). At start it does what a
restarted ПРРО does: sends again what was not answered (pending documents,
then offline packages left unsent). Then

* MODE ``sell``: opens a shift if none is open and sells until N sales exist, printing ``doc <n>``;
* MODE ``offline``: goes offline (unless it is), sells until N sales exist, prints ``online`` and
  goes online (103 and the packages of at most 100);
* MODE ``finish``: the Z-report; prints ``z ok`` or ``z failed: …``.

Every line is flushed; ``done`` ends a mode that finished.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emulator.base.clock import VirtualClock  # noqa: E402
from emulator.devices.prro.device import Identity, Outcome, PrroDevice  # noqa: E402
from emulator.net.taxlink import HttpTaxLink  # noqa: E402


def say(text: str) -> None:
    print(text, flush=True)


def main() -> int:
    directory, url, identity, key_file, start_ms, mode, n = sys.argv[1:8]
    device = PrroDevice(Path(directory), VirtualClock(int(start_ms)), HttpTaxLink(url, timeout_s=10),
                        identity=Identity(**json.loads(identity)))
    if device.store.get("key") is None:
        device.choose_key(key_file, os.environ["PRRO_KEY_PASSWORD"])
        assert device.read_key().ok and device.save_key().ok
    say("ready")
    if device.store.count("pending") and not device.resend().ok:
        say("resend failed")
        return 1
    if not device.offline.active and device.store.count("offline"):
        out = device.send_packages(Outcome(False))
        if not out.ok:
            say(f"packages failed: {out.text}")
            return 1
    sales = sum(1 for d in device.store.docs() if d.kind == "sale" and d.state != "refused")
    if mode == "finish":
        out = device.z_report()
        say("z ok" if out.ok else f"z failed: {out.text}")
        return 0
    if not device.shift.get("open"):
        assert device.open_shift().ok
    if mode == "offline" and not device.offline.active and sales < int(n):
        assert device.go_offline().ok
    while sales < int(n):
        out = device.receipt("sale", 100 + sales)
        if not out.ok:
            say(f"sale failed: {out.text}")
            return 1
        sales += 1
        say(f"doc {out.local_num}")
    if mode == "offline" and device.offline.active:
        say("online")
        out = device.go_online()
        if not out.ok:
            say(f"online failed: {out.text}")
            return 1
    say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
