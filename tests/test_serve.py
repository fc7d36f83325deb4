"""`kkt-emu serve` as a person starts it: endpoints printed, curl answered, Ctrl-C stops it."""

import json
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

TOKEN = "7f0c0d6e-3b1a-4c53-9a8e-5d2f0e9b1c42"


def start(tmp_path, *extra):
    cmd = [sys.executable, "-m", "emulator.cli", "serve", "--state-dir", str(tmp_path / "state"),
           "--token", TOKEN, *extra]
    return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, encoding="utf-8")


def read_until(proc, marker, timeout=30):
    lines = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if marker in line:
            return lines
    proc.kill()
    raise AssertionError("no " + repr(marker) + " in:\n" + "\n".join(lines))


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_serve_prints_endpoints_answers_curl_and_stops_on_ctrl_c(tmp_path):
    proc = start(tmp_path)
    try:
        lines = read_until(proc, "Ctrl-C stops")
        text = "\n".join(lines)
        assert TOKEN not in text and "7f0c…1c42" in text
        endpoints = dict(re.findall(r"https://(\S+?):\d+\s+->\s+(\S+)", text))
        assert {"cdn.crpt.ru", "cdn01.crpt.ru", "markirovka.sandbox.crptech.ru"} <= set(endpoints)
        assert all(addr.startswith("127.0.0.") for addr in endpoints.values())
        curl = next(line.strip() for line in lines if line.strip().startswith("curl "))
        curl = curl.replace("<token>", TOKEN)
        out = subprocess.run(curl + " -s -w '\\n%{http_code}'", shell=True, capture_output=True, text=True,
                             timeout=20)
        body, status = out.stdout.rsplit("\n", 1)
        assert status == "200", out
        hosts = [h["host"] for h in json.loads(body)["hosts"]]
        assert hosts == ["https://cdn01.crpt.ru", "https://cdn02.crpt.ru", "https://cdn03.crpt.ru"]
        # A wrong CA: curl refuses the certificate.
        other = tmp_path / "other.pem"
        from tls_store.lab_ca import LabCA
        other.write_bytes(LabCA.create().cert_pem)
        bad = subprocess.run(curl.replace(str(tmp_path / "state" / "lab-ca" / "ca.pem"), str(other)) + " -s",
                             shell=True, capture_output=True, timeout=20)
        assert bad.returncode == 60  # curl: peer certificate cannot be authenticated
        # The technological server's pages answer on loopback.
        web = re.search(r"pages (http://127\.0\.0\.1:\d+/)", text)
        assert web, text
        page = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", web.group(1)], capture_output=True,
                              timeout=20)
        html, code = page.stdout.decode("utf-8").rsplit("\n", 1)
        assert code == "200" and "<h1>Список ККТ</h1>" in html
        # The console drives the device over the same servers.
        proc.stdin.write("goto СТАТУС ГИС МТ\npress ИТ\n")
        proc.stdin.flush()
        screen = "\n".join(read_until(proc, "CDN: cdn01.crpt.ru"))
        assert "ГИС МТ: OK" in screen
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            rest = proc.communicate(timeout=15)[0]
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0
    assert "kkt-emu serve: stopped" in rest


def test_serve_refuses_a_bad_configuration(tmp_path):
    cfg = tmp_path / "serve.yaml"
    cfg.write_text("nonsense: 1\n")
    out = subprocess.run([sys.executable, "-m", "emulator.cli", "serve", "--config", str(cfg), "--no-console",
                          "--state-dir", str(tmp_path / "s")], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "unknown keys" in (out.stderr + out.stdout)
