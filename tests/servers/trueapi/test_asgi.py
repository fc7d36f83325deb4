"""The ASGI front of the mock True API, under a plain uvicorn over real sockets (no TLS here).

This is the app alone, as another ASGI server would run it: no transport in the
scope, so faults that drop a connection raise ``DropConnection`` (the TLS
servers of ``servers.py`` are tested in ``test_servers.py``).
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.net.seam import NetRequest
from emulator.servers.trueapi import BackendReply, TrueApiBackend
from emulator.servers.trueapi.asgi import DropConnection, TrueApiApp, make_app
from emulator.servers.trueapi.routes import GARBAGE_BODY, P_CDN_INFO, P_CHECK, P_HIST_RECEIVE

TOKEN = "7f0c0d6e-3b1a-4c53-9a8e-5d2f0e9b1c42"
BASE = "cdn.crpt.ru"
CDN = "cdn01.crpt.ru"


class Recorder(TrueApiBackend):
    """A backend that remembers what it was handed."""

    def __init__(self) -> None:
        super().__init__(seed=1)
        self.seen: list[tuple[str, NetRequest, int]] = []
        self.explode = False

    def handle(self, host: str, request: NetRequest, now_ms: int) -> BackendReply:
        self.seen.append((host, request, now_ms))
        if self.explode:
            raise RuntimeError("backend bug")
        return super().handle(host, request, now_ms)


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run ``app`` under a plain uvicorn in a thread; yields its base URL."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, http="h11", ws="none", lifespan="off", interface="asgi3", log_config=None,
                            access_log=False, proxy_headers=False, timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()
        assert not thread.is_alive()


RAISED: list[BaseException] = []


def spy(app: Any) -> Any:
    """Records what the app raises to the server."""
    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        try:
            await app(scope, receive, send)
        except BaseException as exc:
            RAISED.append(exc)
            raise
    return wrapped


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[Recorder, dict[str, str]]]:
    b = Recorder()
    b.add_token("prod", TOKEN)
    clock = {"now": 1_700_000_000_000}
    apps = {BASE: make_app(b, BASE, lambda: clock["now"]), CDN: make_app(b, CDN, lambda: clock["now"])}
    with serve(spy(apps[BASE])) as base_url, serve(spy(apps[CDN])) as cdn_url:
        yield b, {BASE: base_url, CDN: cdn_url}


@pytest.fixture(autouse=True)
def _clean(world: tuple[Recorder, dict[str, str]]) -> Iterator[None]:
    b, _ = world
    b.seen.clear()
    RAISED.clear()
    latency = {name: b.host(name).faults.latency_ms for name in b.hosts()}
    yield
    b.explode = False
    for name in b.hosts():
        h = b.host(name)
        h.faults.plan([])
        h.faults.latency_ms = latency[name]
        h.faults.latency_seq = []


def test_make_app_is_an_asgi_callable() -> None:
    app = make_app(TrueApiBackend(), BASE, lambda: 0)
    assert isinstance(app, TrueApiApp) and callable(app) and app.host_name == BASE


def test_request_reaches_the_backend_as_received(world: tuple[Recorder, dict[str, str]]) -> None:
    b, urls = world
    with httpx.Client() as c:
        r = c.get(urls[BASE] + P_CDN_INFO, headers={"X-API-KEY": TOKEN})
        assert r.status_code == 200 and r.json()["hosts"][0] == {"host": "https://cdn01.crpt.ru"}
        assert r.headers["content-type"] == "application/json; charset=utf-8"
        r = c.get(urls[BASE] + P_HIST_RECEIVE + "?queryId=abc%20def&x=1", headers={"X-API-KEY": TOKEN})
        assert r.status_code == 404      # unknown queryId: the query string reached the backend
    host, req, now = b.seen[-1]
    assert host == BASE and req.host == BASE and req.method == "GET" and req.key is None
    assert req.path == P_HIST_RECEIVE + "?queryId=abc%20def&x=1"    # raw, as sent
    assert now == 1_700_000_000_000
    names = [k for k, _ in req.headers]
    assert names[0] == "host" and "x-api-key" in names                # order kept, names lower-cased
    assert dict(req.headers)["x-api-key"] == TOKEN
    assert b.seen[0][1].id != b.seen[1][1].id


def test_duplicate_headers_and_body_survive(world: tuple[Recorder, dict[str, str]]) -> None:
    b, urls = world
    body = json.dumps({"codes": ["0104670540176099215'W9Um\x1d93dGVz"]}).encode()
    with httpx.Client() as c:
        r = c.post(urls[CDN] + P_CHECK, content=body,
                   headers=[("X-API-KEY", TOKEN), ("Content-Type", "application/json"), ("x-api-key", TOKEN)])
    assert r.status_code == 400 and "X-API-KEY" in r.json()["description"].upper()
    _, req, _ = b.seen[-1]
    assert [v for k, v in req.headers if k == "x-api-key"] == [TOKEN, TOKEN]
    assert req.body == body and req.method == "POST"


def test_statuses_and_mangled_bodies_pass_unchanged(world: tuple[Recorder, dict[str, str]]) -> None:
    b, urls = world
    b.host(BASE).faults.plan([503, "garbage", "truncated", "ok", "5000"])
    with httpx.Client(headers={"X-API-KEY": TOKEN}) as c:
        r = c.get(urls[BASE] + P_CDN_INFO)
        assert r.status_code == 503 and r.json()["code"] == 503
        r = c.get(urls[BASE] + P_CDN_INFO)
        assert r.status_code == 200 and r.content == GARBAGE_BODY
        assert r.headers["content-type"] == "text/html"
        r = c.get(urls[BASE] + P_CDN_INFO)
        full = c.get(urls[BASE] + P_CDN_INFO).content
        assert r.status_code == 200 and r.content == full[: len(full) // 2]
        assert int(r.headers["content-length"]) == len(r.content)
        with pytest.raises(json.JSONDecodeError):
            json.loads(r.content)
        r = c.get(urls[BASE] + P_CDN_INFO)
        assert r.status_code == 500 and r.json()["code"] == 5000


def test_latency_is_applied(world: tuple[Recorder, dict[str, str]]) -> None:
    b, urls = world
    with httpx.Client(headers={"X-API-KEY": TOKEN}) as c:
        c.get(urls[BASE] + P_CDN_INFO)                        # warm the connection
        b.host(BASE).faults.latency_ms = 300
        t0 = time.monotonic()
        r = c.get(urls[BASE] + P_CDN_INFO)
        dt = time.monotonic() - t0
    assert r.status_code == 200
    assert 0.28 <= dt < 1.0, dt


def test_close_fault_drops_the_connection_mid_answer(world: tuple[Recorder, dict[str, str]]) -> None:
    b, urls = world
    b.host(BASE).faults.plan(["close"])
    port = int(urls[BASE].rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"GET {P_CDN_INFO} HTTP/1.1\r\nHost: {BASE}\r\nX-API-KEY: {TOKEN}\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    assert 0 < len(body) < length                    # headers and part of the body, then EOF
    b.host(BASE).faults.plan(["close"])
    with httpx.Client() as c, pytest.raises(httpx.RemoteProtocolError):
        c.get(urls[BASE] + P_CDN_INFO, headers={"X-API-KEY": TOKEN})
    # No transport in the scope under a plain uvicorn: the app raised to make the server close.
    assert len(RAISED) == 2 and all(isinstance(e, DropConnection) for e in RAISED)


def test_backend_exception_becomes_a_500_json(world: tuple[Recorder, dict[str, str]],
                                              caplog: pytest.LogCaptureFixture) -> None:
    b, urls = world
    b.explode = True
    with caplog.at_level(logging.ERROR, logger="emulator.servers.trueapi.asgi"), httpx.Client() as c:
        r = c.get(urls[BASE] + P_CDN_INFO)
    assert r.status_code == 500 and r.json()["code"] == 500
    assert any("backend failed" in rec.getMessage() for rec in caplog.records)


def test_statuses_http_cannot_carry(world: tuple[Recorder, dict[str, str]]) -> None:
    b, urls = world
    b.host(BASE).faults.plan([204, 304])
    with httpx.Client() as c:
        for status in (204, 304):
            r = c.get(urls[BASE] + P_CDN_INFO)
            assert r.status_code == status and r.content == b""
        r = c.get(urls[BASE] + P_CDN_INFO)
        assert r.status_code == 401


# -- fuzzing over real HTTP ---------------------------------------------------
_TCHAR = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_PATHCHARS = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
_known_paths = st.sampled_from([P_CDN_INFO, P_CHECK, P_HIST_RECEIVE, "/", "//", "/api/v4/true-api/codes/check/"])
_paths = st.one_of(_known_paths, st.text(_PATHCHARS, max_size=60).map(lambda s: "/" + s),
                   st.tuples(_known_paths, st.text(_PATHCHARS, max_size=30)).map(lambda t: t[0] + "?" + t[1]))
_header_names = st.one_of(st.sampled_from(["X-API-KEY", "x-api-key", "Content-Type", "Accept", "X-Odd"]),
                          st.text(_TCHAR, min_size=1, max_size=20))
_header_values = st.one_of(
    st.sampled_from([TOKEN, "application/json; charset=utf-8", "application/json; charset=cp1251", "", "a" * 300]),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"), max_size=40)
    .map(str.strip))
_bodies = st.one_of(st.binary(max_size=300),
                    st.sampled_from([b'{"codes":[]}', b'{"codes":["x"]}', b"\xff\xfe", b"[", b"{}", b"null"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "BREW"]),
       path=_paths, headers=st.lists(st.tuples(_header_names, _header_values), max_size=6), body=_bodies)
def test_app_never_crashes_on_odd_requests(world: tuple[Recorder, dict[str, str]], method: str, path: str,
                                           headers: list[tuple[str, str]], body: bytes) -> None:
    b, urls = world
    b.host(CDN).faults.latency_ms = 0                  # the default CDN latency would only slow the examples down
    port = int(urls[CDN].rsplit(":", 1)[1])
    head = f"{method} {path} HTTP/1.1\r\nHost: {CDN}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers if k.lower() not in ("content-length", "transfer-encoding",
                                                                              "host", "connection", "expect"))
    head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(head.encode("latin-1") + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    status_line = data.split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 ")
    status = int(status_line.split()[1])
    # uvicorn itself answers 400 to what h11 rejects; everything else is the backend's answer.
    assert status != 500, data
    assert status in (200, 400, 401, 404, 405), data
    assert not RAISED
