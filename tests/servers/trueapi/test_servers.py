"""The mock True API as real HTTPS servers on 127.0.0.x: real sockets, real TLS, the lab CA."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from emulator.servers.trueapi import TrueApiBackend
from emulator.servers.trueapi.routes import GARBAGE_BODY, P_CDN_INFO, P_CHECK, P_HEALTH
from emulator.servers.trueapi.servers import WRONG_HOST_NAME, TrueApiServers
from tls_store.lab_ca import LabCA

TOKEN = "7f0c0d6e-3b1a-4c53-9a8e-5d2f0e9b1c42"
SB_TOKEN = "11111111-2222-4333-8444-555555555555"
BASE = "cdn.crpt.ru"
CDN1, CDN2, CDN3 = "cdn01.crpt.ru", "cdn02.crpt.ru", "cdn03.crpt.ru"
SB_BASE = "markirovka.sandbox.crptech.ru"
SB_CDN = "cdn01.am.crptech.ru"
IDLE_S = 1.0


@pytest.fixture(scope="module")
def ca() -> LabCA:
    return LabCA.create(common_name="test lab CA")


@pytest.fixture(scope="module")
def srv(ca: LabCA) -> Iterator[TrueApiServers]:
    b = TrueApiBackend(seed=7)
    b.add_token("prod", TOKEN)
    b.add_token("sandbox", SB_TOKEN)
    with TrueApiServers(b, ca, idle_timeout_s=IDLE_S, stall_s=5.0) as s:
        yield s


@pytest.fixture(autouse=True)
def _reset(srv: TrueApiServers) -> Iterator[None]:
    with srv.lock:
        latency = {name: srv.backend.host(name).faults.latency_ms for name in srv.hosts}
    yield
    for name in srv.hosts:
        srv.set_cert_fault(name, None)
        srv.set_handshake_stall(name, False)
        srv.set_down(name, False)
        with srv.lock:
            h = srv.backend.host(name)
            h.faults.plan([])
            h.faults.latency_ms = latency[name]
            h.faults.latency_seq = []


@pytest.fixture
def client(srv: TrueApiServers) -> Iterator[httpx.Client]:
    with httpx.Client(verify=srv.client_ssl_context(), timeout=5.0) as c:
        yield c


def get(c: httpx.Client, srv: TrueApiServers, host: str, path: str, token: str | None = TOKEN,
        **kw: Any) -> httpx.Response:
    args = srv.client_kwargs(host)
    if token is not None:
        args["headers"]["X-API-KEY"] = token
    return c.get(srv.url(host, path), **args, **kw)


def causes(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and e not in out:
        out.append(e)
        e = e.__cause__ or e.__context__
    return out


def tls_socket(srv: TrueApiServers, host: str, sni: str | None = None, timeout: float = 5.0) -> ssl.SSLSocket:
    ctx = srv.client_ssl_context()
    raw = socket.create_connection(srv.address(host), timeout=timeout)
    try:
        return ctx.wrap_socket(raw, server_hostname=sni or host)
    except BaseException:
        raw.close()
        raise


def san(s: ssl.SSLSocket | ssl.SSLObject) -> Any:
    cert = s.getpeercert()
    assert cert is not None
    return cert["subjectAltName"]


def read_all(s: socket.socket) -> bytes:
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except (ssl.SSLEOFError, ConnectionResetError):
            return data
        if not chunk:
            return data
        data += chunk


def read_response(s: socket.socket) -> bytes:
    """One response with a Content-Length, leaving the connection open."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += s.recv(65536)
    return head + b"\r\n\r\n" + body


# -- addressing, TLS, the base host ---------------------------------------
def test_every_host_on_its_own_loopback_address(srv: TrueApiServers) -> None:
    res = srv.resolver()
    assert set(res) == set(srv.backend.hosts()) and len(res) == 8
    assert res[BASE][0] == "127.0.0.2" and res[CDN1][0] == "127.0.0.3"
    ips = [ip for ip, _ in res.values()]
    assert len(set(ips)) == 8 and all(ip.startswith("127.0.0.") for ip in ips)
    assert all(port > 0 for _, port in res.values())
    assert srv.url(BASE, "/x") == f"https://{res[BASE][0]}:{res[BASE][1]}/x"
    assert b"BEGIN CERTIFICATE" in srv.ca_pem


def test_base_host_cdn_info_through_the_resolver(srv: TrueApiServers, client: httpx.Client) -> None:
    r = get(client, srv, BASE, P_CDN_INFO, token=None)
    assert r.status_code == 401 and r.json()["code"] == 401
    r = get(client, srv, BASE, P_CDN_INFO)
    assert r.status_code == 200
    assert r.json()["hosts"] == [{"host": f"https://{h}"} for h in (CDN1, CDN2, CDN3)]
    # The certificate was checked against the SNI name, not the IP we connected to.
    sslobj = r.extensions["network_stream"].get_extra_info("ssl_object")
    assert sslobj.server_hostname == BASE
    assert ("DNS", BASE) in san(sslobj)
    with srv.lock:
        assert srv.backend.host(BASE).requests >= 2


def test_codes_check_on_a_cdn_host_gives_the_sandbox_answers(srv: TrueApiServers, client: httpx.Client) -> None:
    cases = [1, 3, 8, 9]
    codes = [srv.backend.catalogue.by_case(n).code for n in cases]
    args = srv.client_kwargs(SB_CDN)
    args["headers"].update({"X-API-KEY": SB_TOKEN, "Content-Type": "application/json; charset=utf-8"})
    r = client.post(srv.url(SB_CDN, P_CHECK), content=json.dumps({"codes": codes}).encode(), **args)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["code"] == 0 and doc["reqId"] and isinstance(doc["reqTimestamp"], int)
    assert doc["codes"] == [srv.backend.catalogue.by_case(n).answer(c) for n, c in zip(cases, codes)]
    emergency = srv.backend.catalogue.by_case(12).code                 # the sandbox's HTTP 203 case
    r = client.post(srv.url(SB_CDN, P_CHECK), content=json.dumps({"codes": [emergency]}).encode(), **args)
    assert r.status_code == 203 and r.json()["code"] == 203
    r = get(client, srv, SB_CDN, P_HEALTH, token=SB_TOKEN)
    assert r.status_code == 200 and r.json()["avgTimeMs"] == 300


def test_latency_is_really_applied(srv: TrueApiServers, client: httpx.Client) -> None:
    assert get(client, srv, CDN2, P_HEALTH).status_code == 200       # connection up: time only the answer
    with srv.lock:
        srv.backend.host(CDN2).faults.latency_ms = 300
    t0 = time.monotonic()
    r = get(client, srv, CDN2, P_HEALTH)
    dt = time.monotonic() - t0
    assert r.status_code == 200
    assert 0.28 <= dt < 1.0, dt


def test_a_repeated_api_key_header_reaches_the_backend(srv: TrueApiServers, client: httpx.Client) -> None:
    r = client.get(srv.url(CDN1, P_HEALTH), headers=[("Host", CDN1), ("X-API-KEY", TOKEN), ("X-API-KEY", TOKEN)],
                   extensions={"sni_hostname": CDN1})
    assert r.status_code == 400 and r.json()["code"] == 400


# -- transport faults -------------------------------------------------------
def test_down_gives_a_real_connection_refused(srv: TrueApiServers, client: httpx.Client) -> None:
    assert get(client, srv, CDN3, P_HEALTH).status_code == 200
    address = srv.address(CDN3)
    srv.set_down(CDN3, True)
    assert srv.backend.host(CDN3).faults.down and not srv.is_listening(CDN3)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=2).close()
    with pytest.raises(httpx.ConnectError) as e:
        get(client, srv, CDN3, P_HEALTH)      # the kept-alive connection was dropped too
    assert any(isinstance(x, ConnectionRefusedError) for x in causes(e.value))
    srv.set_down(CDN3, False)
    assert srv.address(CDN3) == address       # reopened on the same ip:port
    assert get(client, srv, CDN3, P_HEALTH).status_code == 200


def test_backend_down_flag_maps_to_the_listener(srv: TrueApiServers, client: httpx.Client) -> None:
    address = srv.address(CDN2)
    with srv.lock:
        srv.backend.host(CDN2).faults.down = True
    srv.sync_faults()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=2).close()
    with srv.lock:
        srv.backend.host(CDN2).faults.down = False
    deadline = time.monotonic() + 2                 # the watcher applies it on its own
    while not srv.is_listening(CDN2):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert get(client, srv, CDN2, P_HEALTH).status_code == 200


def test_close_gives_a_connection_closed_mid_answer(srv: TrueApiServers, client: httpx.Client) -> None:
    with srv.lock:
        srv.backend.host(CDN1).faults.plan(["close"])
    with pytest.raises(httpx.RemoteProtocolError, match="incomplete|complete message body"):
        get(client, srv, CDN1, P_HEALTH)
    with srv.lock:
        srv.backend.host(CDN1).faults.plan(["close"])
    with tls_socket(srv, CDN1) as s:
        s.sendall(f"GET {P_HEALTH} HTTP/1.1\r\nHost: {CDN1}\r\nX-API-KEY: {TOKEN}\r\n\r\n".encode())
        data = read_all(s)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    assert 0 < len(body) < length
    assert get(client, srv, CDN1, P_HEALTH).status_code == 200


def test_refuse_plan_item_resets_before_any_byte(srv: TrueApiServers, client: httpx.Client) -> None:
    with srv.lock:
        srv.backend.host(CDN1).faults.plan(["refuse"])
    with tls_socket(srv, CDN1) as s:
        s.sendall(f"GET {P_HEALTH} HTTP/1.1\r\nHost: {CDN1}\r\nX-API-KEY: {TOKEN}\r\n\r\n".encode())
        assert read_all(s) == b""
    with srv.lock:
        srv.backend.host(CDN1).faults.plan(["refuse"])
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        get(client, srv, CDN1, P_HEALTH)
    assert get(client, srv, CDN1, P_HEALTH).status_code == 200


def test_stall_never_answers(srv: TrueApiServers, client: httpx.Client) -> None:
    with srv.lock:
        srv.backend.host(CDN1).faults.plan(["stall"])
    t0 = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        get(client, srv, CDN1, P_HEALTH, timeout=httpx.Timeout(5.0, read=0.5))
    assert time.monotonic() - t0 >= 0.5
    assert get(client, srv, CDN1, P_HEALTH).status_code == 200


def test_garbage_and_truncated_bodies_arrive_as_such(srv: TrueApiServers, client: httpx.Client) -> None:
    with srv.lock:
        srv.backend.host(BASE).faults.plan(["garbage", "truncated"])
    r = get(client, srv, BASE, P_CDN_INFO)
    assert r.status_code == 200 and r.content == GARBAGE_BODY and r.headers["content-type"] == "text/html"
    r = get(client, srv, BASE, P_CDN_INFO)
    full = get(client, srv, BASE, P_CDN_INFO).content
    assert r.status_code == 200 and r.content == full[: len(full) // 2] and len(r.content) < len(full)
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.content)


@pytest.mark.parametrize("fault,reason", [("unknown-ca", "certificate"), ("expired", "expired"),
                                          ("wrong-host", "Hostname mismatch")])
def test_certificate_faults_fail_verification(srv: TrueApiServers, fault: str, reason: str) -> None:
    srv.set_cert_fault(CDN2, fault)
    assert srv.cert_fault(CDN2) == fault
    with httpx.Client(verify=srv.client_ssl_context(), timeout=5.0) as c, pytest.raises(httpx.ConnectError) as e:
        get(c, srv, CDN2, P_HEALTH)
    errors = [x for x in causes(e.value) if isinstance(x, ssl.SSLCertVerificationError)]
    assert errors and reason in str(errors[0]), causes(e.value)
    if fault == "wrong-host":
        # The certificate is valid for its own name: only the name check fails.
        ctx = srv.client_ssl_context()
        ctx.check_hostname = False
        with socket.create_connection(srv.address(CDN2), timeout=5) as raw, \
                ctx.wrap_socket(raw, server_hostname=CDN2) as s:
            assert ("DNS", WRONG_HOST_NAME) in san(s)
    srv.set_cert_fault(CDN2, None)
    with httpx.Client(verify=srv.client_ssl_context(), timeout=5.0) as c:
        assert get(c, srv, CDN2, P_HEALTH).status_code == 200


def test_handshake_stall_times_out_the_client(srv: TrueApiServers) -> None:
    address = srv.address(CDN3)
    srv.set_handshake_stall(CDN3, True)
    assert srv.address(CDN3) == address
    with httpx.Client(verify=srv.client_ssl_context(), timeout=0.5) as c:
        t0 = time.monotonic()
        with pytest.raises(httpx.ConnectTimeout):
            get(c, srv, CDN3, P_HEALTH)
        assert time.monotonic() - t0 >= 0.45
    with socket.create_connection(address, timeout=2):      # TCP itself is accepted
        pass
    srv.set_handshake_stall(CDN3, False)
    with httpx.Client(verify=srv.client_ssl_context(), timeout=5.0) as c:
        assert get(c, srv, CDN3, P_HEALTH).status_code == 200


def test_sni_of_another_host_fails_the_handshake(srv: TrueApiServers) -> None:
    # cdn02's address, asking for cdn01 (whose certificate would verify fine). The server aborts the
    # handshake; asyncio does not flush the alert, so the client sees an EOF during the handshake.
    with pytest.raises(ssl.SSLError):
        tls_socket(srv, CDN2, sni=CDN1).close()
    with httpx.Client(verify=srv.client_ssl_context(), timeout=5.0) as c, pytest.raises(httpx.ConnectError):
        c.get(srv.url(CDN2, P_HEALTH), headers={"Host": CDN1, "X-API-KEY": TOKEN},
              extensions={"sni_hostname": CDN1})
    # No SNI at all is refused as well.
    ctx = srv.client_ssl_context()
    ctx.check_hostname = False
    with socket.create_connection(srv.address(CDN2), timeout=5) as raw, pytest.raises(ssl.SSLError):
        ctx.wrap_socket(raw, server_hostname=None).close()
    with tls_socket(srv, CDN2) as s:                       # the right name still works
        assert ("DNS", CDN2) in san(s)


# -- keep-alive ----------------------------------------------------------------
def test_keep_alive_then_idle_close(srv: TrueApiServers, client: httpx.Client) -> None:
    before = srv.connections_opened(SB_BASE)
    assert get(client, srv, SB_BASE, P_CDN_INFO, token=SB_TOKEN).status_code == 200
    assert get(client, srv, SB_BASE, P_CDN_INFO, token=SB_TOKEN).status_code == 200
    assert srv.connections_opened(SB_BASE) == before + 1        # two requests, one connection
    assert srv.open_connections(SB_BASE) == 1
    with tls_socket(srv, SB_BASE) as s:
        s.sendall(f"GET {P_CDN_INFO} HTTP/1.1\r\nHost: {SB_BASE}\r\nX-API-KEY: {SB_TOKEN}\r\n\r\n".encode())
        first = read_response(s)
        assert first.startswith(b"HTTP/1.1 200 ")
        t0 = time.monotonic()
        s.settimeout(IDLE_S + 3)
        assert read_all(s) == b""                               # the server closed the idle connection
        assert IDLE_S - 0.2 <= time.monotonic() - t0 < IDLE_S + 2
    deadline = time.monotonic() + 3                             # the httpx one is gone as well (TCP
    while srv.open_connections(SB_BASE):                        # dropped once the TLS shutdown times out)
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert get(client, srv, SB_BASE, P_CDN_INFO, token=SB_TOKEN).status_code == 200
    assert srv.connections_opened(SB_BASE) == before + 3


# -- our HTTP/1.1 protocol (http11.py) ----------------------------------------------
def test_pipelined_requests_are_answered_in_order_on_one_connection(srv: TrueApiServers) -> None:
    request = f"GET {P_CDN_INFO} HTTP/1.1\r\nHost: {SB_BASE}\r\nX-API-KEY: {SB_TOKEN}\r\n\r\n".encode()
    with tls_socket(srv, SB_BASE) as s:
        s.sendall(request + request.replace(P_CDN_INFO.encode(), b"/nowhere"))
        data, answers = b"", []
        while len(answers) < 2:
            data += s.recv(65536)
            while b"\r\n\r\n" in data:
                head, _, rest = data.partition(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                if len(rest) < length:
                    break
                answers.append(head + b"\r\n\r\n" + rest[:length])
                data = rest[length:]
        first, second = answers
        assert first.startswith(b"HTTP/1.1 200 OK\r\n") and b"\r\ndate: " in first.lower()
        assert b"server:" not in first.lower()
        assert second.startswith(b"HTTP/1.1 404 Not Found\r\n")


def test_connection_close_and_bad_requests_close_the_connection(srv: TrueApiServers) -> None:
    with tls_socket(srv, SB_BASE) as s:
        s.sendall(f"GET {P_CDN_INFO} HTTP/1.1\r\nHost: {SB_BASE}\r\nX-API-KEY: {SB_TOKEN}\r\n"
                  "Connection: close\r\n\r\n".encode())
        s.settimeout(5)
        answer = read_all(s)                                    # ends: the server closed after the answer
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b"}")
    with tls_socket(srv, SB_BASE) as s:
        s.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        s.settimeout(5)
        answer = read_all(s)
        assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n") and answer.endswith(b"Invalid HTTP request received.")


# -- lifecycle -------------------------------------------------------------------
def test_subset_start_stop_is_clean_and_quick(ca: LabCA) -> None:
    b = TrueApiBackend()
    b.add_token("prod", TOKEN)
    b.host(CDN1).faults.plan(["stall"])
    threads = set(threading.enumerate())
    s = TrueApiServers(b, ca, hosts=[CDN1, BASE], first_ip=40, idle_timeout_s=IDLE_S)
    s.start()
    assert set(s.resolver()) == {CDN1, BASE} and s.address(CDN1)[0] == "127.0.0.40"
    with pytest.raises(KeyError):
        s.url(CDN2)
    stalled: list[BaseException] = []

    def stall() -> None:
        try:
            with httpx.Client(verify=s.client_ssl_context(), timeout=10) as c:
                get(c, s, CDN1, P_HEALTH)
        except BaseException as e:  # noqa: BLE001 - we want what the client saw
            stalled.append(e)

    t = threading.Thread(target=stall)
    t.start()
    deadline = time.monotonic() + 3
    while b.host(CDN1).requests == 0:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    address = s.address(BASE)
    t0 = time.monotonic()
    s.stop()
    assert time.monotonic() - t0 < 2
    t.join(5)
    assert stalled and isinstance(stalled[0], httpx.TransportError)   # the stalled request was cut off
    assert set(threading.enumerate()) == threads
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=2).close()
    s.stop()                                                     # twice is fine
    with pytest.raises(RuntimeError):
        s.set_down(BASE, True)
    b.host(CDN1).faults.plan([])
    with s, httpx.Client(verify=s.client_ssl_context(), timeout=5) as c:     # and it starts again
        assert s.address(BASE) == address
        assert get(c, s, BASE, P_CDN_INFO).status_code == 200
        with s.lock:
            b.set_cdn_hosts("prod", [CDN2])                      # cdn01 leaves the backend
        assert set(s.resolver()) == {BASE}                       # (cdn02 is not served by this instance)
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            get(c, s, CDN1, P_HEALTH)                            # its server resets what still comes
    assert set(threading.enumerate()) == threads


def test_bad_arguments(srv: TrueApiServers, ca: LabCA) -> None:
    with pytest.raises(ValueError):
        srv.set_cert_fault(CDN1, "bogus")
    with pytest.raises(KeyError):
        TrueApiServers(srv.backend, ca, hosts=["cdn09.crpt.ru"])
