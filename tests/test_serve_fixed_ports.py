"""`serve --https-port 443 --hosts-file`: a client that knows only the names, the lab CA and a token.

The client is a separate process that resolves the names through the system
resolver (getaddrinfo reads /etc/hosts), with no port and no address anywhere:
it asks `cdn/info` on cdn.crpt.ru, `health/check` on every host it names and
`codes/check` on the first. The test may neither bind 443 in the machine's own
network nor edit the machine's /etc/hosts, so serve and the client run in a
network and mount namespace of their own (`unshare`; as a user without root,
also a user namespace, `-r`): port 443 there is free and the namespace's own
loopback carries 127.0.0.x, and the hosts file serve wrote is bind-mounted
over /etc/hosts in that namespace only. Nothing is stubbed: real sockets on
port 443, real TLS checked against the lab CA, the real resolver.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

TOKEN = "7f0c0d6e-3b1a-4c53-9a8e-5d2f0e9b1c42"
CODE = "0104670540176099215'W9Um\x1d93dGVz"   # a sandbox test code: found, valid, sellable

CLIENT = r'''
import json, ssl, sys, httpx
ca, token_file, code = sys.argv[1], sys.argv[2], sys.argv[3]
token = open(token_file).read().strip()
ctx = ssl.create_default_context(cafile=ca)
head = {"X-API-KEY": token}
urls = []
with httpx.Client(verify=ctx, timeout=10) as c:
    def get(url):
        urls.append(url)
        return c.get(url, headers=head)
    info = get("https://cdn.crpt.ru/api/v4/true-api/cdn/info")
    hosts = [h["host"] for h in info.json()["hosts"]]
    health = {h: get(h + "/api/v4/true-api/cdn/health/check").json() for h in hosts}
    urls.append(hosts[0] + "/api/v4/true-api/codes/check")
    check = c.post(urls[-1], headers=head, json={"codes": [code]})
    print(json.dumps({"info": info.status_code, "hosts": hosts, "health": health, "check_status": check.status_code,
                      "check": check.json(), "urls": urls}))
'''

SCRIPT = r'''
set -u
ip link set lo up
"$PY" -m emulator.cli serve --state-dir "$DIR/state" --token-file "$DIR/token" --https-port 443 \
    --hosts-file "$DIR/hosts" --no-console --no-techserver --no-control > "$DIR/serve.log" 2>&1 &
pid=$!
i=0
while [ ! -s "$DIR/hosts" ]; do
    i=$((i + 1))
    if [ $i -gt 600 ] || ! kill -0 $pid 2>/dev/null; then kill $pid 2>/dev/null; cat "$DIR/serve.log"; exit 3; fi
    sleep 0.05
done
cat /etc/hosts "$DIR/hosts" > "$DIR/etc-hosts"
mount --bind "$DIR/etc-hosts" /etc/hosts || { kill $pid; exit 4; }
"$PY" "$DIR/client.py" "$DIR/state/lab-ca/ca.pem" "$DIR/token" "$CODE" > "$DIR/client.out" 2> "$DIR/client.err"
rc=$?
kill -INT $pid
wait $pid
echo "serve exit $?" >> "$DIR/serve.log"
exit $rc
'''


def test_a_client_that_knows_only_the_names_the_ca_and_a_token(tmp_path):
    assert shutil.which("unshare") and shutil.which("ip"), "util-linux unshare and iproute2 ip are needed"
    (tmp_path / "token").write_text(TOKEN + "\n")
    os.chmod(tmp_path / "token", 0o600)
    (tmp_path / "client.py").write_text(CLIENT)
    ns = ["unshare", "--mount", "--net"] if os.getuid() == 0 else ["unshare", "--map-root-user", "--mount", "--net"]
    env = {**os.environ, "PY": sys.executable, "DIR": str(tmp_path), "CODE": CODE,
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    run = subprocess.run([*ns, "sh", "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120)
    log = (tmp_path / "serve.log").read_text() if (tmp_path / "serve.log").exists() else ""
    err = (tmp_path / "client.err").read_text() if (tmp_path / "client.err").exists() else ""
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}\nserve:\n{log}\nclient:\n{err}"
    out = json.loads((tmp_path / "client.out").read_text())
    # No port and no address anywhere the client went: names only.
    assert all(url.startswith("https://") and ":" not in url.removeprefix("https://") for url in out["urls"]), out
    assert out["info"] == 200
    assert out["hosts"] == ["https://cdn01.crpt.ru", "https://cdn02.crpt.ru", "https://cdn03.crpt.ru"]
    assert all(h["code"] == 0 for h in out["health"].values()), out["health"]
    assert out["check_status"] == 200 and out["check"]["code"] == 0
    assert out["check"]["codes"][0]["found"] is True and out["check"]["codes"][0]["cis"] == CODE
    # What serve printed: the hosts on port 443 by name, the hosts lines it wrote, and no token in full.
    assert "https://cdn01.crpt.ru  ->  127.0.0.3:443" in log, log
    assert "127.0.0.3  cdn01.crpt.ru" in (tmp_path / "hosts").read_text()
    assert TOKEN not in log and "serve exit 0" in log, log


def test_serve_names_what_to_do_when_port_443_needs_privileges():
    # As a user without the privilege (root drops every capability here with setpriv, keeping its uid so
    # that it can still read a checkout only root may read, in a network namespace of its own so that
    # nothing could take the machine's port 443), serve stops with one line saying what to do.
    state = Path(tempfile.mkdtemp(prefix="kkt-emu-443-"))
    try:
        os.chmod(state, 0o777)
        if os.getuid() == 0:
            assert shutil.which("setpriv"), "setpriv (util-linux) is needed to drop root for this test"
            prefix = ["unshare", "--net", "setpriv", "--inh-caps=-all", "--bounding-set=-all"]
        else:
            prefix = []
        proc = subprocess.Popen([*prefix, sys.executable, "-m", "emulator.cli", "serve", "--state-dir",
                                 str(state / "state"), "--https-port", "443", "--no-console", "--no-techserver",
                                 "--no-control"],
                                env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            # It started: only where unprivileged users may bind 443 (net.ipv4.ip_unprivileged_port_start).
            start = Path("/proc/sys/net/ipv4/ip_unprivileged_port_start")
            assert start.exists() and int(start.read_text()) <= 443
            return
        assert proc.returncode == 1 and err.count("\n") == 1, err
        assert err.startswith("kkt-emu serve: --https-port 443: binding a port below 1024 needs privileges"), err
        assert "--https-port 8443" in err and "unshare -r -n" in err
    finally:
        shutil.rmtree(state, ignore_errors=True)
