"""`kkt-emu serve` as a person starts it: endpoints printed, curl answered, Ctrl-C stops it."""

import argparse
import io
import json
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from emulator.devices.kkt.events import LogWritten

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


def stop_with_ctrl_c(proc):
    proc.send_signal(signal.SIGINT)
    try:
        rest = proc.communicate(timeout=15)[0]
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 0 and "kkt-emu serve: stopped" in rest, rest


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
        stop_with_ctrl_c(proc)


def test_serve_refuses_a_bad_configuration(tmp_path):
    cfg = tmp_path / "serve.yaml"
    cfg.write_text("nonsense: 1\n")
    out = subprocess.run([sys.executable, "-m", "emulator.cli", "serve", "--config", str(cfg), "--no-console",
                          "--state-dir", str(tmp_path / "s")], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "unknown keys" in (out.stderr + out.stdout)


def serve_cli(*args):
    return subprocess.run([sys.executable, "-m", "emulator.cli", "serve", "--no-console", *args],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, encoding="utf-8", timeout=30)


def assert_one_line_refusal(out, expected):
    assert out.returncode == 1, out
    assert "Traceback" not in out.stderr, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kkt-emu serve: "), out.stderr
    assert expected in lines[0], out.stderr
    assert "https://" not in out.stdout, out.stdout   # refused before any server started


BAD_SETUPS = {
    # id: (configuration file text or None, flags, what the one line says)
    "unknown-host": ("world:\n  hosts:\n    nosuch.example: {latency_ms: 5}\n", [],
                     "serve.yaml: world: hosts: unknown host 'nosuch.example'"),
    "bad-plan-item": ("world:\n  hosts:\n    cdn01.crpt.ru: {plan: [bogus]}\n", [],
                      "serve.yaml: world.hosts.cdn01.crpt.ru.plan[0]: 'bogus' is not valid"),
    "world-a-list": ("world: [1, 2]\n", [], "serve.yaml: world: [1, 2] is not of type 'object'"),
    "tokens-a-string": (f'world: {{tokens: {{prod: "{TOKEN}"}}}}\n', [],
                        "serve.yaml: world.tokens.prod: '7f0c…1c42' is not of type 'array'"),
    "malformed-yaml": ("world: {tokens: [\n", [], "serve.yaml: YAML error at line 2, column 1"),
    "integer-token": ("device:\n  settings: {token: 12345678}\n", [],
                      "serve.yaml: device.settings.token: 12345678 is not of type 'string'"),
    "no-config-file": (None, ["--config", "{tmp}/nope.yaml"], "nope.yaml: cannot read it: No such file or directory"),
    "first-ip": (None, ["--first-ip", "250"], "--first-ip 250: not enough room in 127.0.0.0/24 for 8 hosts"),
    "state-dir": (None, ["--state-dir", "{tmp}/a-file/state"], "/a-file/state: cannot create it"),
    "ca-without-real": (None, ["--ca", "{tmp}/root.pem"], "--ca goes with --real"),
}


@pytest.mark.parametrize("name", list(BAD_SETUPS))
def test_serve_refuses_a_bad_setup_in_one_line_before_starting(tmp_path, name):
    text, flags, expected = BAD_SETUPS[name]
    (tmp_path / "a-file").write_text("not a folder")
    flags = [f.replace("{tmp}", str(tmp_path)) for f in flags]
    if text is not None:
        (tmp_path / "serve.yaml").write_text(text, encoding="utf-8")
        flags += ["--config", "serve.yaml"]
    out = subprocess.run([sys.executable, "-m", "emulator.cli", "serve", "--no-console", "--token", TOKEN,
                          "--state-dir", str(tmp_path / "state"), *flags], cwd=tmp_path,
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, encoding="utf-8", timeout=30)
    assert_one_line_refusal(out, expected)
    assert TOKEN not in out.stderr


def test_serve_names_a_damaged_lab_ca_and_the_fix(tmp_path):
    ca_dir = tmp_path / "state" / "lab-ca"
    ca_dir.mkdir(parents=True)
    (ca_dir / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\ngarbage\n")
    (ca_dir / "ca.key").write_text("")
    out = serve_cli("--state-dir", str(tmp_path / "state"), "--no-techserver")
    assert_one_line_refusal(out, f"{ca_dir / 'ca.pem'}: the lab CA certificate is damaged")
    assert f"delete the folder {ca_dir}" in out.stderr


def serve_in_process(tmp_path, *flags):
    from emulator.serve import Serve, add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--state-dir", str(tmp_path / "state"), "--token", TOKEN, "--no-console",
                              "--no-techserver", *flags])
    out = io.StringIO()
    return Serve(args, out), out


@pytest.mark.parametrize("host, own, other", [("cdn.crpt.ru", "prod", "sandbox"),
                                              ("markirovka.sandbox.crptech.ru", "sandbox", "prod")])
def test_serve_registers_the_token_only_in_the_contour_of_the_device_host(tmp_path, host, own, other):
    import httpx

    from emulator.serve import CDN_INFO

    serve, out = serve_in_process(tmp_path, "--host", host)
    serve.start()
    status = {}
    try:
        servers = serve.servers
        with httpx.Client(verify=servers.client_ssl_context(), timeout=10) as client:
            for contour in ("prod", "sandbox"):
                base = serve.backend.base_host(contour)
                kw = servers.client_kwargs(base)
                reply = client.get(servers.url(base, CDN_INFO), headers={**kw["headers"], "X-API-KEY": TOKEN},
                                   extensions=kw["extensions"])
                status[contour] = reply.status_code
    finally:
        serve.shutdown()
    assert status == {own: 200, other: 401}
    text = out.getvalue()
    assert f"the device's token is valid in the {own} contour only" in text
    curl = next(line for line in text.splitlines() if line.strip().startswith("curl "))
    assert f"https://{serve.backend.base_host(own)}:" in curl   # the curl line asks a host that takes the token


def test_serve_real_trusts_only_the_given_roots(tmp_path):
    from cryptography import x509

    from tls_store.lab_ca import LabCA

    proc = start(tmp_path, "--no-console", "--no-techserver")   # a mock run first: the lab CA in its store
    try:
        lines = read_until(proc, "Ctrl-C stops")
    finally:
        stop_with_ctrl_c(proc)
    assert any(line.startswith("device: ") and line.endswith("TLS СЕРТИФИКАТЫ: 1/4") for line in lines)
    roots = []
    for name in ("one.pem", "two.pem"):
        roots.append(tmp_path / name)
        roots[-1].write_bytes(LabCA.create().cert_pem)
    for root in roots:   # each --real run: exactly its --ca, neither the lab CA nor the roots of an earlier run
        proc = start(tmp_path, "--real", "--ca", str(root), "--no-console", "--no-techserver")
        try:
            lines = read_until(proc, "Ctrl-C stops")
        finally:
            stop_with_ctrl_c(proc)
        device = next(line for line in lines if line.startswith("device: "))
        assert "device-real" in device and device.endswith("TLS СЕРТИФИКАТЫ: 1/4"), device
        stored = x509.load_pem_x509_certificate((tmp_path / "state" / "device-real" / "tls" / "slot1.pem").read_bytes())
        assert stored == x509.load_pem_x509_certificate(root.read_bytes())


def test_serve_applies_the_configured_tls_faults_and_refusals_from_the_first_connection(tmp_path):
    # The device's own status check, on the configured world: cdn01's server shows an expired
    # certificate (655), cdn02's plan refuses the connection (748); cdn03 is chosen.
    cfg = tmp_path / "serve.yaml"
    cfg.write_text('world:\n  hosts:\n    cdn01.crpt.ru: {tls: expired}\n    cdn02.crpt.ru: {plan: ["refuse"]}\n',
                   "utf-8")
    serve, out = serve_in_process(tmp_path, "--config", str(cfg))
    serve.start()
    try:
        assert serve.servers.cert_fault("cdn01.crpt.ru") == "expired"
        d = serve.device
        serve.command("goto СТАТУС ГИС МТ")
        serve.command("press ИТ")
        records = {r.code for r in d.logbook.records}
        events = [e.text for e in d.events if isinstance(e, LogWritten)]
    finally:
        serve.shutdown()
    assert records == {655, 748}, events
    assert any("655" in e and "expired" in e for e in events), events
    assert any("748" in e and "cdn02.crpt.ru" in e and "refused" in e for e in events), events
    assert "CDN: cdn03.crpt.ru" in out.getvalue()
