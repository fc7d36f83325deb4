"""`serve` changed while it runs: the console and the control API switch a host's faults, the device reacts.

One `serve` process, its console on standard input and its control API over
HTTP; nothing restarts between the changes. The device's own status check
shows each change: a host taken down through the API is refused (748) and
shown as down, a TLS fault set at the console is 655, an emergency switched
on through the API is HTTP 203 and emergency mode («A»).
"""

import json
import os
import re
import signal
import subprocess
import sys

import httpx

from tests.test_serve import read_until

TOKEN = "7f0c0d6e-3b1a-4c53-9a8e-5d2f0e9b1c42"
OTHER_TOKEN = "11111111-2222-4333-8444-555555555555"


def say(proc, *lines):
    proc.stdin.write("".join(line + "\n" for line in lines))
    proc.stdin.flush()


def status_check(proc, until):
    say(proc, "goto СТАТУС ГИС МТ", "press ИТ")
    return "\n".join(read_until(proc, until))


def test_console_and_control_api_change_the_hosts_live_and_the_device_reacts(tmp_path):
    (tmp_path / "token").write_text(TOKEN + "\n")
    os.chmod(tmp_path / "token", 0o600)
    proc = subprocess.Popen([sys.executable, "-m", "emulator.cli", "serve", "--state-dir", str(tmp_path / "state"),
                             "--token-file", str(tmp_path / "token"), "--no-techserver"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, encoding="utf-8")
    try:
        banner = "\n".join(read_until(proc, "Ctrl-C stops"))
        assert "warning" not in banner and TOKEN not in banner
        api = re.search(r"control API \(JSON, loopback only\): (http://127\.0\.0\.1:\d+/api/)", banner).group(1)
        assert "CDN: cdn01.crpt.ru" in status_check(proc, "CDN: cdn01.crpt.ru")

        with httpx.Client(base_url=api, timeout=30) as c:
            # cdn01 down through the API: the next status check is refused by it and goes to cdn02.
            r = c.post("hosts/cdn01.crpt.ru", json={"down": True})
            assert r.status_code == 200 and r.json()["down"] is True and r.json()["listening"] is False, r.text
            read_until(proc, "[control] cdn01.crpt.ru: down=on (from the control API)")
            text = status_check(proc, "CDN: cdn02.crpt.ru")
            assert "748" in text and "cdn01.crpt.ru" in text
            say(proc, "cdn")
            table = "\n".join(read_until(proc, "cdn01.crpt.ru  "))
            assert re.search(r"cdn01\.crpt\.ru .* down$", table, re.M), table

            # cdn02's certificate expired, at the console: 655, and cdn03 is taken.
            say(proc, "host cdn02.crpt.ru tls expired")
            read_until(proc, "[control] cdn02.crpt.ru: tls=expired (from the console)")
            text = status_check(proc, "CDN: cdn03.crpt.ru")
            assert "655" in text

            # A bad change is refused whole and changes nothing.
            bad = c.post("hosts/cdn03.crpt.ru", json={"latency_ms": 5, "plan": ["bogus"]})
            assert bad.status_code == 400 and "plan[0]" in bad.json()["error"]
            assert c.get("hosts/cdn03.crpt.ru").json()["latency_ms"] == 250
            assert c.post("hosts/nosuch.example", json={"down": True}).status_code == 404

            # Tokens through the API: accepted, and never returned in full.
            w = c.post("world", json={"tokens": {"prod": [OTHER_TOKEN]}})
            assert w.status_code == 200 and OTHER_TOKEN not in w.text and "1111…5555" in w.text

            # Emergency on cdn03 through the API: its health check answers 203, the device goes emergency.
            assert c.post("hosts/cdn03.crpt.ru", json={"emergency": True}).status_code == 200
            read_until(proc, "[control] cdn03.crpt.ru: emergency=on (from the control API)")
            say(proc, "goto СТАТУС ГИС МТ", "press ИТ", "screen")
            read_until(proc, " A")
            state = c.get("state").json()
            assert state["device"]["status"].endswith("A"), state["device"]
            assert [h["server"] for h in state["cdn"] if h["host"] == "cdn01.crpt.ru"] == ["down"]

            # The API answers only this machine's own pages and scripts.
            assert c.get("hosts", headers={"Origin": "http://evil.example"}).status_code == 403
            assert c.get("hosts", headers={"Host": "evil.example"}).status_code == 400
            plain = c.post("hosts/cdn03.crpt.ru", content=json.dumps({"down": True}),
                           headers={"Content-Type": "text/plain"})
            assert plain.status_code == 403
            assert c.get("hosts/cdn03.crpt.ru").json()["down"] is False
            log = c.get("log", params={"limit": 50}).json()
            assert {655, 748} <= {r["code"] for r in log}
    finally:
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=20)[0]
    assert proc.returncode == 0 and "kkt-emu serve: stopped" in rest, rest
    assert TOKEN not in rest and OTHER_TOKEN not in rest
