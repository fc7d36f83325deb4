"""Fuzz target: the True API's HTTP/1.1 request parser (``http11.Http11Connection``) over real TLS.

Whatever bytes a client sends, the server answers with a well-formed status
line (or closes), within its limits' time, and keeps serving."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.servers.trueapi import TrueApiBackend
from emulator.servers.trueapi.http11 import Limits
from emulator.servers.trueapi.routes import P_CDN_INFO
from emulator.servers.trueapi.servers import TrueApiServers
from tests.fuzz.budget import fuzz
from tls_store.lab_ca import LabCA

HOST = "cdn.crpt.ru"
TOKEN = "7f0c0d6e-3b1a-4c53-9a8e-5d2f0e9b1c42"
LIMITS = Limits(max_body_bytes=4096, max_head_bytes=2048, head_timeout_s=0.3, handshake_timeout_s=1.0)
PIECES = [b"GET ", b"POST ", b"HEAD ", b"/api/v4/true-api/cdn/info", b"/api/v4/true-api/codes/check", b"?x=%",
          b" HTTP/1.1", b" HTTP/1.0", b" HTTP/9", b"\r\n", b"\n", b"Host: cdn.crpt.ru", b"X-API-KEY: " + TOKEN.encode(),
          b"Content-Length: ", b"5", b"99999999999", b"-1", b"Transfer-Encoding: chunked", b"Connection: close",
          b"0\r\n\r\n", b"ffff\r\n", b"{\"codes\": [\"x\"]}", b": ", b" ", b"\x00", b"\xff", b"A" * 3000]
REQUEST = st.one_of(st.lists(st.sampled_from(PIECES), max_size=20).map(b"".join), st.binary(max_size=300))


@pytest.fixture(scope="module")
def srv() -> Iterator[TrueApiServers]:
    b = TrueApiBackend(seed=1)
    b.add_token("prod", TOKEN)
    with TrueApiServers(b, LabCA.create(), hosts=[HOST], limits=LIMITS, idle_timeout_s=0.3) as s:
        with s.lock:
            s.backend.host(HOST).faults.latency_ms = 0
        yield s


def first_answer(srv: TrueApiServers, data: bytes) -> bytes:
    raw = socket.create_connection(srv.address(HOST), timeout=3)
    with srv.client_ssl_context().wrap_socket(raw, server_hostname=HOST) as s:
        try:
            s.sendall(data)
        except (OSError, ssl.SSLError):
            pass
        got = b""
        try:
            while b"\r\n" not in got:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        except (ConnectionResetError, ssl.SSLError):
            pass
        return got


@fuzz("http11", examples=150)
@given(data=REQUEST)
def test_any_request_bytes_get_a_status_line_or_a_close(srv: TrueApiServers, data: bytes) -> None:
    t0 = time.monotonic()
    answer = first_answer(srv, data)
    assert time.monotonic() - t0 < 2.5
    if answer:
        assert answer.startswith(b"HTTP/1.1 "), answer[:80]
        assert 200 <= int(answer[9:12]) <= 599


def test_the_server_still_serves_after_the_fuzzing(srv: TrueApiServers) -> None:
    answer = first_answer(srv, f"GET {P_CDN_INFO} HTTP/1.1\r\nHost: {HOST}\r\nX-API-KEY: {TOKEN}\r\n"
                               "Connection: close\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 200 ")
