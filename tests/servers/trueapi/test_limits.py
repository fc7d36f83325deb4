"""The mock True API's HTTPS servers under abuse: body and head limits, slow and vanishing clients.

Real servers on 127.0.0.x, real TLS, raw sockets for what a polite client never does."""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Iterator

import pytest

from emulator.servers.trueapi import TrueApiBackend
from emulator.servers.trueapi.http11 import Limits
from emulator.servers.trueapi.routes import P_CHECK
from emulator.servers.trueapi.servers import TrueApiServers
from tests.servers.trueapi.test_servers import TOKEN, read_all, tls_socket
from tls_store.lab_ca import LabCA

CDN1 = "cdn01.crpt.ru"
LIMITS = Limits(max_body_bytes=64 << 10, max_head_bytes=8 << 10, head_timeout_s=0.5, handshake_timeout_s=0.5)


@pytest.fixture(scope="module")
def srv() -> Iterator[TrueApiServers]:
    b = TrueApiBackend(seed=7)
    b.add_token("prod", TOKEN)
    with TrueApiServers(b, LabCA.create(), hosts=[CDN1], limits=LIMITS) as s:
        with s.lock:
            s.backend.host(CDN1).faults.latency_ms = 0
        yield s


def head(path: str, extra: str = "") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: {CDN1}\r\nX-API-KEY: {TOKEN}\r\n"
            f"Content-Type: application/json\r\n{extra}").encode()


def status_and_body(answer: bytes) -> tuple[int, bytes]:
    line, _, rest = answer.partition(b"\r\n")
    return int(line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def until(condition, timeout: float = 3.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_a_body_over_the_limit_by_its_length_is_413_at_once(srv: TrueApiServers) -> None:
    with tls_socket(srv, CDN1) as s:
        t0 = time.monotonic()
        s.sendall(head(P_CHECK, f"Content-Length: {100 << 20}\r\n\r\n"))   # says 100 MB, sends none of it
        status, body = status_and_body(read_all(s))
    assert status == 413 and time.monotonic() - t0 < 2.0
    doc = json.loads(body)
    assert doc["code"] == 413 and "65536" in doc["description"]


def test_a_chunked_body_over_the_limit_is_413_without_being_kept(srv: TrueApiServers) -> None:
    with tls_socket(srv, CDN1) as s:
        s.sendall(head(P_CHECK, "Transfer-Encoding: chunked\r\n\r\n"))
        chunk = b"%x\r\n%s\r\n" % (16 << 10, b"a" * (16 << 10))
        try:
            for _ in range(8):                 # 128 kB, twice the limit
                s.sendall(chunk)
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
            pass
        status, body = status_and_body(read_all(s))
    assert status == 413 and json.loads(body)["code"] == 413


def test_a_body_within_the_limit_is_answered(srv: TrueApiServers) -> None:
    doc = json.dumps({"codes": ["0104600000000017215Good1\x1d93abcd"] * 200}).encode()
    with tls_socket(srv, CDN1) as s:
        s.sendall(head(P_CHECK, f"Content-Length: {len(doc)}\r\nConnection: close\r\n\r\n") + doc)
        status, body = status_and_body(read_all(s))
    assert status == 200 and json.loads(body)["code"] == 0


def test_a_head_over_the_limit_is_431(srv: TrueApiServers) -> None:
    with tls_socket(srv, CDN1) as s:
        s.sendall(head(P_CHECK, f"X-Filler: {'x' * (16 << 10)}\r\n\r\n"))
        status, body = status_and_body(read_all(s))
    assert status == 431 and json.loads(body)["code"] == 431


def test_a_head_that_keeps_coming_is_431(srv: TrueApiServers) -> None:
    with tls_socket(srv, CDN1) as s:
        try:
            s.sendall(head(P_CHECK, f"X-Filler: {'x' * (16 << 10)}"))   # no end of the head in sight
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
            pass
        status, _ = status_and_body(read_all(s))
    assert status == 431


@pytest.mark.parametrize("sent, expected", [(b"", None), (b"POST /api/v4/true-api/codes/check HTTP/1.1\r\nHo", 408)])
def test_a_slow_head_is_cut_off(srv: TrueApiServers, sent: bytes, expected: int | None) -> None:
    with tls_socket(srv, CDN1) as s:
        s.settimeout(5)
        t0 = time.monotonic()
        s.sendall(sent) if sent else None
        answer = read_all(s)
        took = time.monotonic() - t0
    assert 0.4 < took < 2.0
    if expected is None:
        assert answer == b""                 # nothing asked, nothing said: just closed
    else:
        assert status_and_body(answer)[0] == expected


def test_a_stalled_body_is_cut_off(srv: TrueApiServers) -> None:
    with tls_socket(srv, CDN1) as s:
        s.settimeout(5)
        s.sendall(head(P_CHECK, "Content-Length: 100\r\n\r\n") + b'{"codes": [')
        t0 = time.monotonic()
        status, _ = status_and_body(read_all(s))
    assert status == 408 and time.monotonic() - t0 < 2.0


def test_a_client_that_never_starts_tls_is_dropped(srv: TrueApiServers) -> None:
    with socket.create_connection(srv.address(CDN1), timeout=5) as raw:
        t0 = time.monotonic()
        assert raw.recv(100) == b""
    assert time.monotonic() - t0 < 2.0


def test_many_slow_clients_are_released_when_they_go_and_when_they_dawdle(srv: TrueApiServers) -> None:
    n = 200
    socks = []
    for _ in range(n):
        s = tls_socket(srv, CDN1)
        s.sendall(b"POST /api/v4/true-api/codes/check HTTP/1.1\r\n")
        socks.append(s)
    assert until(lambda: srv.open_connections(CDN1) == n, 2.0) or srv.open_connections(CDN1) == 0
    for s in socks[: n // 2]:
        s.close()                            # half of them leave
    assert until(lambda: srv.open_connections(CDN1) <= n // 2)
    assert until(lambda: srv.open_connections(CDN1) == 0)    # the other half are cut off by the head limit
    for s in socks[n // 2:]:
        s.close()
    host = srv._host(CDN1)
    assert until(lambda: not host.group.tasks and not host.setups)


def test_a_crowd_over_the_connection_limit_is_refused_at_once() -> None:
    b = TrueApiBackend(seed=7)
    limits = Limits(max_connections=20, head_timeout_s=5.0)
    with TrueApiServers(b, LabCA.create(), hosts=[CDN1], limits=limits) as srv:
        socks, refused = [], 0
        for _ in range(30):
            try:
                s = tls_socket(srv, CDN1, timeout=3)
                s.sendall(b"GET / HTTP/1.1\r\n")
                socks.append(s)
            except (OSError, ssl.SSLError):
                refused += 1
        try:
            assert until(lambda: srv.open_connections(CDN1) == 20)
            assert refused == 10
        finally:
            for s in socks:
                s.close()
        assert until(lambda: srv.open_connections(CDN1) == 0)
