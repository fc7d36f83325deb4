"""Real TLS faults over real loopback sockets, classified into device failures.

Each test starts a small server on 127.0.0.1 (port 0) in a daemon thread that
stops itself (``RawServer.lifetime``), connects to it with the store's
``client_context`` through ``http.client`` and through ``httpx``, and checks
``classify`` on the exception that really came out. No exception is mocked.

Host names: the device connects to names like ``cdn01.crpt.ru``. The clients
here reach 127.0.0.1 but verify (and send SNI for) the device's host name:
``http.client`` through ``PinnedHTTPSConnection`` below, httpx through its
``sni_hostname`` request extension.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from emulator.base.failures import Failure
from tests.rawtls import BioTls, RawServer, corrupted_record_answer, read_request
from tls_store import TlsStore, classify, classify_detail
from tls_store.lab_ca import LabCA, ServerCert, server_context

HOST = "cdn01.crpt.ru"
TIMEOUT = 0.3  # the stall tests wait this long
REQUEST = b"GET /api/v4/true-api/cdn/health/check HTTP/1.1\r\nHost: " + HOST.encode() + b"\r\nConnection: close\r\n\r\n"
OK_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{\"code\":0}\n"


# ---------------------------------------------------------------------------------------------------------------
# servers


def _close(tls: ssl.SSLSocket, notify: bool) -> None:
    """Close a server-side TLS socket, sending close_notify first if ``notify``."""
    try:
        if notify:
            tls.unwrap()
    except OSError:
        pass  # the client may be gone already
    finally:
        tls.close()


def tls_answer(ctx: ssl.SSLContext, response: bytes = OK_RESPONSE):
    """Handshake, read the request, answer, close with close_notify."""
    def handler(conn: socket.socket, stop: threading.Event) -> None:
        tls = ctx.wrap_socket(conn, server_side=True)
        try:
            read_request(lambda: tls.recv(65536))
            tls.sendall(response)
        finally:
            _close(tls, notify=True)
    return handler


def tls_close_after_handshake(ctx: ssl.SSLContext, notify: bool):
    """Handshake, read the request, then close without answering (with or without close_notify)."""
    def handler(conn: socket.socket, stop: threading.Event) -> None:
        tls = ctx.wrap_socket(conn, server_side=True)
        try:
            read_request(lambda: tls.recv(65536))
        finally:
            _close(tls, notify)
    return handler


def tcp_stall(conn: socket.socket, stop: threading.Event) -> None:
    """Accept TCP and never answer: the handshake never completes."""
    stop.wait(2.0)


def tcp_garbage(conn: socket.socket, stop: threading.Event) -> None:
    """A plain-HTTP answer where the ServerHello should be."""
    conn.recv(65536)
    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    stop.wait(0.5)


def tls_truncated_record(ctx: ssl.SSLContext):
    """Answer with a TLS record cut short, then close the TCP connection (no close_notify)."""
    def handler(conn: socket.socket, stop: threading.Event) -> None:
        tls = BioTls(conn, ctx)
        read_request(tls.recv)
        rec = tls.records(OK_RESPONSE)
        conn.sendall(rec[: len(rec) // 2])
        conn.shutdown(socket.SHUT_RDWR)
    return handler


def tls_corrupted_record(ctx: ssl.SSLContext):
    """Answer with a TLS record whose ciphertext is damaged (bad record MAC)."""
    return corrupted_record_answer(ctx, OK_RESPONSE)


def tls_close_mid_answer(ctx: ssl.SSLContext, notify: bool):
    """Send the headers and part of the body, then close (with or without close_notify)."""
    def handler(conn: socket.socket, stop: threading.Event) -> None:
        tls = ctx.wrap_socket(conn, server_side=True)
        try:
            read_request(lambda: tls.recv(65536))
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"codes\":[")
            time.sleep(0.05)
        finally:
            _close(tls, notify)
    return handler


def tls_no_answer(ctx: ssl.SSLContext):
    """Handshake, read the request, never answer."""
    def handler(conn: socket.socket, stop: threading.Event) -> None:
        with ctx.wrap_socket(conn, server_side=True) as tls:
            read_request(lambda: tls.recv(65536))
            stop.wait(2.0)
    return handler


# ---------------------------------------------------------------------------------------------------------------
# clients


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """``HTTPSConnection`` that reaches ``address`` but sends SNI for, and verifies, ``host``."""

    def __init__(self, host: str, port: int, *, context: ssl.SSLContext, address: str = "127.0.0.1",
                 timeout: float = TIMEOUT) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self.tls_context = context
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls_context.wrap_socket(sock, server_hostname=self.host)


def via_http_client(port: int, ctx: ssl.SSLContext, host: str = HOST) -> tuple[str, BaseException | int]:
    """(phase, exception) of the first failure, or ("ok", status)."""
    conn = PinnedHTTPSConnection(host, port, context=ctx)
    phase = "connect"
    try:
        conn.connect()
        phase = "write"
        conn.request("GET", "/api/v4/true-api/cdn/health/check", headers={"Connection": "close"})
        phase = "read"
        resp = conn.getresponse()
        resp.read()
        return "ok", resp.status
    except Exception as exc:
        return phase, exc
    finally:
        conn.close()


def via_httpx(port: int, ctx: ssl.SSLContext, host: str = HOST) -> tuple[str, BaseException | int]:
    """("read", exception) of a failure (httpx names the real phase itself), or ("ok", status)."""
    with httpx.Client(verify=ctx, timeout=TIMEOUT) as client:
        try:
            resp = client.get(f"https://127.0.0.1:{port}/api/v4/true-api/cdn/health/check",
                              extensions={"sni_hostname": host})
            return "ok", resp.status_code
        except httpx.HTTPError as exc:
            return "read", exc  # a deliberately wrong phase: the httpx exception's own must win


def in_chain(exc: BaseException, kind: type[BaseException] | tuple[type[BaseException], ...]) -> bool:
    """Whether ``kind`` is ``exc`` or among the exceptions it was raised from."""
    cur: BaseException | None = exc
    for _ in range(10):
        if cur is None:
            return False
        if isinstance(cur, kind):
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def outcome(result: tuple[str, BaseException | int]) -> Failure | str:
    phase, value = result
    if phase == "ok":
        return f"ok {value}"
    assert isinstance(value, BaseException)
    return classify(value, phase)


CLIENTS = {"http.client": via_http_client, "httpx": via_httpx}


# ---------------------------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def ca() -> LabCA:
    return LabCA.create()


@pytest.fixture(scope="module")
def good_cert(ca: LabCA) -> ServerCert:
    return ca.issue_server([HOST, "*.crpt.ru"])


@pytest.fixture(scope="module")
def good_ctx(good_cert: ServerCert) -> ssl.SSLContext:
    return server_context(good_cert)


@pytest.fixture(scope="module")
def store(ca: LabCA) -> TlsStore:
    s = TlsStore(None)
    s.load(ca.cert_pem)
    return s


@pytest.fixture(scope="module")
def client_ctx(store: TlsStore) -> ssl.SSLContext:
    return store.client_context(host_check_off=False)


@contextmanager
def serving(handler: Callable[[socket.socket, threading.Event], None]) -> Iterator[RawServer]:
    with RawServer(handler, lifetime=5.0) as srv:
        yield srv


@pytest.fixture(params=sorted(CLIENTS))
def client(request: pytest.FixtureRequest) -> Callable[..., tuple[str, BaseException | int]]:
    return CLIENTS[request.param]


# ---------------------------------------------------------------------------------------------------------------
# tests


def test_success_with_the_right_root_and_host(client, good_ctx, client_ctx) -> None:
    with serving(tls_answer(good_ctx)) as srv:
        assert outcome(client(srv.port, client_ctx)) == "ok 200"


def test_unknown_ca_is_655(client, client_ctx) -> None:
    stranger = LabCA.create("someone else's root")
    with serving(tls_answer(server_context(stranger.issue_server([HOST])))) as srv:
        phase, exc = client(srv.port, client_ctx)
    assert isinstance(exc, BaseException)
    failure, detail = classify_detail(exc, phase)
    assert failure is Failure.TLS_CERT and failure.device_code == 655
    assert in_chain(exc, ssl.SSLCertVerificationError)
    assert "self-signed certificate in certificate chain" in detail  # the lab servers send their root too


def test_expired_certificate_is_655(client, ca, client_ctx) -> None:
    now = datetime.now(UTC)
    expired = ca.issue_server([HOST], not_before=now - timedelta(days=400), not_after=now - timedelta(days=1))
    with serving(tls_answer(server_context(expired))) as srv:
        phase, exc = client(srv.port, client_ctx)
    assert isinstance(exc, BaseException)
    failure, detail = classify_detail(exc, phase)
    assert failure is Failure.TLS_CERT
    assert "expired" in detail


def test_certificate_for_another_host_is_655(client, ca, client_ctx) -> None:
    wrong = ca.issue_server(["markirovka.sandbox.crptech.ru"])
    with serving(tls_answer(server_context(wrong))) as srv:
        phase, exc = client(srv.port, client_ctx)
    assert isinstance(exc, BaseException)
    failure, detail = classify_detail(exc, phase)
    assert failure is Failure.TLS_CERT
    assert "Hostname mismatch" in detail and HOST in detail


def test_host_check_off_accepts_an_unknown_ca_and_another_host(client, store) -> None:
    stranger = LabCA.create("someone else's root")
    cert = stranger.issue_server(["elsewhere.example"], ip_addresses=[])
    with serving(tls_answer(server_context(cert))) as srv:
        assert outcome(client(srv.port, store.client_context(host_check_off=True))) == "ok 200"
    assert store.describe(host_check_off=True) == "ПРОВЕРКА ХОСТА ОТКЛ"


def test_stalled_handshake_is_654(client, client_ctx) -> None:
    with serving(tcp_stall) as srv:
        t0 = time.monotonic()
        phase, exc = client(srv.port, client_ctx)
        assert time.monotonic() - t0 < TIMEOUT + 0.5
    assert isinstance(exc, BaseException)
    assert in_chain(exc, TimeoutError)  # "_ssl.c:...: The handshake operation timed out"
    assert classify_detail(exc, phase) == (Failure.TLS_HANDSHAKE, "handshake timed out")
    assert Failure.TLS_HANDSHAKE.device_code == 654


def test_garbage_instead_of_server_hello_is_654(client, client_ctx) -> None:
    with serving(tcp_garbage) as srv:
        phase, exc = client(srv.port, client_ctx)
    assert isinstance(exc, BaseException)
    failure, detail = classify_detail(exc, phase)
    assert failure is Failure.TLS_HANDSHAKE
    assert in_chain(exc, ssl.SSLError) and "WRONG_VERSION_NUMBER" in detail


@pytest.mark.parametrize("notify", [True, False], ids=["close_notify", "tcp-close"])
def test_closed_after_handshake_before_answering_is_658(client, good_ctx, client_ctx, notify) -> None:
    with serving(tls_close_after_handshake(good_ctx, notify)) as srv:
        phase, exc = client(srv.port, client_ctx)
    assert isinstance(exc, BaseException)
    assert in_chain(exc, (http.client.RemoteDisconnected, httpx.RemoteProtocolError))
    assert classify(exc, phase) is Failure.PEER_CLOSED
    assert Failure.PEER_CLOSED.device_code == 658


def tcp_close_in_handshake(reset: bool):
    """Read the ClientHello, then close the TCP connection (FIN, or RST with ``reset``)."""
    def handler(conn: socket.socket, stop: threading.Event) -> None:
        conn.recv(65536)
        if reset:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
    return handler


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
def test_closed_during_the_handshake_is_654(client, client_ctx, reset) -> None:
    # FIN gives ssl.SSLEOFError in the handshake, RST gives ConnectionResetError; both are 654:
    # the connection never got as far as TLS being up.
    with serving(tcp_close_in_handshake(reset)) as srv:
        phase, exc = client(srv.port, client_ctx)
    assert isinstance(exc, BaseException)
    assert in_chain(exc, ConnectionResetError if reset else ssl.SSLEOFError)
    assert classify(exc, phase) is Failure.TLS_HANDSHAKE


def test_closed_mid_answer_with_close_notify_is_658(client, good_ctx, client_ctx) -> None:
    with serving(tls_close_mid_answer(good_ctx, notify=True)) as srv:
        phase, exc = client(srv.port, client_ctx)
    assert isinstance(exc, BaseException)
    assert in_chain(exc, (http.client.IncompleteRead, http.client.RemoteDisconnected, httpx.RemoteProtocolError))
    assert classify(exc, phase) is Failure.PEER_CLOSED


def test_closed_mid_answer_without_close_notify_is_658(client, good_ctx, client_ctx) -> None:
    # ``ssl`` suppresses "ragged" EOFs by default (``suppress_ragged_eofs=True``, which http.client and
    # httpx keep): a TCP close without close_notify reads as a clean end of stream, so the HTTP layer
    # reports an incomplete body (IncompleteRead / RemoteProtocolError) -> the server closed -> 658.
    with serving(tls_close_mid_answer(good_ctx, notify=False)) as srv:
        phase, exc = client(srv.port, client_ctx)
    assert isinstance(exc, BaseException)
    assert in_chain(exc, (http.client.IncompleteRead, http.client.RemoteDisconnected, httpx.RemoteProtocolError))
    assert classify(exc, phase) is Failure.PEER_CLOSED


def test_truncated_record_is_658_through_http_clients(client, good_ctx, client_ctx) -> None:
    # Half a TLS record, then a TCP close: again a suppressed ragged EOF; no byte of the answer was
    # decrypted, so http.client says RemoteDisconnected and httpx "Server disconnected ..." -> 658.
    with serving(tls_truncated_record(good_ctx)) as srv:
        phase, exc = client(srv.port, client_ctx)
    assert isinstance(exc, BaseException)
    assert in_chain(exc, (http.client.IncompleteRead, http.client.RemoteDisconnected, httpx.RemoteProtocolError))
    assert classify(exc, phase) is Failure.PEER_CLOSED


def test_truncated_record_is_656_when_ragged_eofs_are_not_suppressed(good_ctx, client_ctx) -> None:
    # The same fault read by a strict client: ssl.SSLEOFError while reading -> 656.
    with serving(tls_truncated_record(good_ctx)) as srv:
        sock = socket.create_connection(("127.0.0.1", srv.port), TIMEOUT)
        with client_ctx.wrap_socket(sock, server_hostname=HOST, suppress_ragged_eofs=False) as tls:
            tls.sendall(REQUEST)
            with pytest.raises(ssl.SSLEOFError) as info:
                while tls.recv(65536):
                    pass
    failure, detail = classify_detail(info.value, "read")
    assert failure is Failure.TLS_READ and failure.device_code == 656
    assert "UNEXPECTED_EOF_WHILE_READING" in detail


def test_write_after_a_fatal_read_error_is_657(good_ctx, client_ctx) -> None:
    # A corrupted record kills the TLS session; the next request on it cannot be written.
    with serving(tls_corrupted_record(good_ctx)) as srv:
        sock = socket.create_connection(("127.0.0.1", srv.port), TIMEOUT)
        with client_ctx.wrap_socket(sock, server_hostname=HOST) as tls:
            tls.sendall(REQUEST)
            with pytest.raises(ssl.SSLError) as read_info:
                tls.recv(65536)
            with pytest.raises(ssl.SSLError) as write_info:
                tls.sendall(REQUEST)
    assert classify(read_info.value, "read") is Failure.TLS_READ
    assert classify(write_info.value, "write") is Failure.TLS_WRITE
    assert Failure.TLS_WRITE.device_code == 657


def test_corrupted_record_is_656(client, good_ctx, client_ctx) -> None:
    with serving(tls_corrupted_record(good_ctx)) as srv:
        phase, exc = client(srv.port, client_ctx)
    assert isinstance(exc, BaseException)
    failure, detail = classify_detail(exc, phase)
    assert failure is Failure.TLS_READ
    assert "BAD_RECORD_MAC" in detail or "DECRYPTION_FAILED" in detail


def test_no_answer_after_the_request_is_a_timeout(client, good_ctx, client_ctx) -> None:
    with serving(tls_no_answer(good_ctx)) as srv:
        phase, exc = client(srv.port, client_ctx)
    assert isinstance(exc, BaseException)
    assert in_chain(exc, TimeoutError) or isinstance(exc, httpx.ReadTimeout)
    assert classify(exc, phase) is Failure.TIMEOUT
    assert Failure.TIMEOUT.device_code == 748


def test_refused_port_is_748(client, client_ctx) -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # bound, never listening, now closed: nothing accepts on this port
    phase, exc = client(port, client_ctx)
    assert isinstance(exc, BaseException)
    assert in_chain(exc, ConnectionRefusedError)
    assert classify_detail(exc, phase) == (Failure.REFUSED, "connection refused")
    assert Failure.REFUSED.device_code == 748


def test_unknown_host_name_is_748(client_ctx) -> None:
    # getaddrinfo cannot be given a timeout: run it in a thread and skip if the resolver hangs.
    box: list[tuple[str, BaseException | int]] = []
    name = "kkt-emu-no-such-host.invalid"

    def run() -> None:
        with httpx.Client(verify=client_ctx, timeout=TIMEOUT) as c:
            try:
                box.append(("ok", c.get(f"https://{name}/").status_code))
            except httpx.HTTPError as exc:
                box.append(("connect", exc))

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(2.0)
    if not box:
        pytest.skip("the resolver did not answer within 2 s")
    phase, exc = box[0]
    assert isinstance(exc, BaseException)
    assert classify(exc, phase) is Failure.RESOLVE
    assert Failure.RESOLVE.device_code == 748


def test_phase_and_httpx_wrappers_decide_for_plain_os_errors() -> None:
    # A real OSError from a real closed socket, in each phase.
    s = socket.socket()
    s.close()
    with pytest.raises(OSError) as info:
        s.send(b"x")
    exc = info.value
    assert classify(exc, "write") is Failure.TLS_WRITE
    assert classify(exc, "read") is Failure.TLS_READ
    assert classify(exc, "handshake") is Failure.TLS_HANDSHAKE
    assert classify(exc, "connect") is Failure.REFUSED
    # httpx's wrapper names the phase, whatever the caller said.
    try:
        raise httpx.WriteError("write failed") from exc
    except httpx.WriteError as wrapped:
        assert classify(wrapped, "read") is Failure.TLS_WRITE
    try:
        raise httpx.ConnectError("connect failed") from exc
    except httpx.ConnectError as wrapped:
        assert classify(wrapped, "read") is Failure.REFUSED       # httpx: connect phase
        assert classify(wrapped, "handshake") is Failure.TLS_HANDSHAKE  # the caller knew better
    with pytest.raises(ValueError):
        classify(exc, "dns")
