"""Every TLS code and every network-caused GIS MT code, reached by a real fault on real sockets.

The device talks to the mock True API over httpx and TLS (``RealNetwork``);
the servers are real HTTPS servers on 127.0.0.x (``TrueApiServers``) or, for
faults those do not make, a raw socket server in this file. Nothing is
mocked: every failure the device logs comes from an exception that really
came out of a socket, classified by ``tls_store.errors``.

Which fault gives which code (the tests below, in code order):

=====  ==================================================================
650    a fifth root certificate into the four-slot store (``load_certificate``)
651    an empty TLS store with option 92 = 0: the request fails before any socket
652    garbage bytes, or a server (leaf) certificate, given as a root
653    empty certificate data (``load_certificate``); a slot out of range (store)
654    a server that answers the ClientHello with plain HTTP, or hangs up in the
       handshake (raw server), on a check and on a health check. A stalled
       handshake (``set_handshake_stall``) is 748 instead: the device's own 1.5 s
       deadline fires long before httpx's handshake timeout (10 s)
655    ``set_cert_fault`` unknown-ca / expired / wrong-host; option 92 = 1 accepts them
656    a TLS record of the answer damaged on the wire (raw server): bad record MAC
657    not reachable through httpx on loopback (see ``test_657_...``): the
       classifier is checked on real write errors of a real TLS socket
658    ``plan(["close"])``; a TCP reset right after the handshake (raw server); a
       kept-alive receipt connection closed by the server's idle timeout
       (reopened, the sale goes on)
747    no ranked list: cdn/info answered garbage or JSON nested too deep (raw server),
       then a sale: no check goes out (cdn/info *unreachable* instead: the device
       takes the operator's fallback list cdn01..11, see the 748 tests)
748    ``set_down`` (ECONNREFUSED), a name missing from the resolver (cdn/info's too:
       then the fallback list, its names this world lacks 748 each)
750    ``plan(["garbage" | "truncated" | "missing-reqid"])``; JSON nested too deep for the
       parser (raw server); a 500 with such a body is a plain 5xx (760, 768)
760    ``plan([500])`` once, then the repeat succeeds
761    a token the backend does not know
762    ``set_emergency("prod", True)``: HTTP 203
764    every CDN host down: all blocked, then «every CDN host is blocked»
765    ``plan([400])``
766    ``plan(["5000", "5000"])`` and the sandbox case 15 code
768    ``plan([500, 500])``; three answers later than 1.5 s (latency 1700 ms)
=====  ==================================================================
"""

from __future__ import annotations

import errno
import socket
import ssl
import struct
import threading
from collections.abc import Callable

import pytest

from emulator.base import errors as E
from emulator.base.failures import Failure
from tests.integration.conftest import BASE, CDN1, CDN2, CDN3, CDN_HOSTS, GOOD_CODE, World
from tests.rawtls import Handler, corrupted_record_answer, read_request
from tls_store import TlsError, classify_detail
from tls_store.lab_ca import LabCA, server_context

# ---------------------------------------------------------------------------------------------------------------
# raw servers for faults the HTTPS servers do not make


def plain_http_instead_of_server_hello(conn: socket.socket, stop: threading.Event) -> None:
    """Read the ClientHello and answer it with plain HTTP: no ServerHello ever comes."""
    conn.recv(65536)
    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    stop.wait(1.0)


def hang_up_in_handshake(conn: socket.socket, stop: threading.Event) -> None:
    """Read the ClientHello, then close the TCP connection (FIN) without a word."""
    conn.recv(65536)


OK_ANSWER = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n"
             b'{"code":0,"description":"ok"}'[:27])


def corrupted_answer(ctx: ssl.SSLContext) -> Handler:
    """A proper handshake (the host's own certificate from the lab CA), then an answer whose record is damaged."""
    return corrupted_record_answer(ctx, OK_ANSWER, hold_s=1.0)


def host_context(world: World, host: str) -> ssl.SSLContext:
    """A server context presenting a certificate for ``host`` from the world's lab CA (trusted by the device)."""
    return server_context(world.ca.issue_server([host], ip_addresses=[]))


TOO_DEEP = b"[" * 100_000       # deeper than Python's JSON parser goes: RecursionError inside json


def answering(ctx: ssl.SSLContext, status: int, body: bytes, count: int = 1) -> Handler:
    """Answer ``count`` requests on the connection with ``status`` and ``body``, then hold it until stopped."""
    head = (f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()

    def handler(conn: socket.socket, stop: threading.Event) -> None:
        tls = ctx.wrap_socket(conn, server_side=True)
        data = b""
        for _ in range(count):
            while b"\r\n\r\n" not in data:
                chunk = tls.recv(65536)
                if not chunk:
                    return
                data += chunk
            request, _, data = data.partition(b"\r\n\r\n")
            length = 0
            for line in request.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(data) < length:
                chunk = tls.recv(65536)
                if not chunk:
                    return
                data += chunk
            data = data[length:]
            tls.sendall(head + body)
        stop.wait(5.0)
    return handler


def last(world: World) -> tuple[int, str]:
    rec = world.device.logbook.records[-1]
    return rec.code, rec.note


# ---------------------------------------------------------------------------------------------------------------
# the fixture itself


def test_the_world_ranks_the_hosts_and_sells(world: World) -> None:
    d = world.device
    assert world.codes == [] and d.last_error is None
    assert [h.name for h in d.book.hosts] == [CDN1, CDN2, CDN3]
    assert d.status_symbol == "S"
    world.sell()
    assert world.positions() == [("allowed", None)]
    assert world.net.stats.opened[CDN1] == 2      # one-shot health check + the receipt's connection
    assert d.beeps == []


# ---------------------------------------------------------------------------------------------------------------
# 650-653: the TLS store, through the device


def test_650_a_root_more_than_the_store_holds(world: World) -> None:
    d = world.device
    assert len(d.tls) == 1 and d.tls.capacity == 4
    for i in range(d.tls.capacity - 1):
        d.load_certificate(LabCA.create(common_name=f"extra root {i}").cert_pem)
    assert d.tls.free_slots == 0
    with pytest.raises(TlsError) as info:
        d.load_certificate(LabCA.create(common_name="one too many").cert_pem)
    assert info.value.code == 650
    assert d.last_error == 650
    assert d.display.text.startswith(E.error(650).line[:16])
    assert len(d.tls) == 4


def test_651_no_root_and_host_check_on_fails_before_any_socket(make_world: Callable[..., World]) -> None:
    w = make_world(load_ca=False)
    d = w.device
    assert len(d.tls) == 0 and d.settings.options.get(92, 0) == 0
    assert w.codes == [651]
    assert "cdn/info" in w.notes[0] and "tls-settings" in w.notes[0]
    assert d.last_error == 651
    assert w.servers.requests(BASE) == 0 and w.servers.connections_opened(BASE) == 0
    assert w.net.stats.opened == {}


@pytest.mark.parametrize("what", ["garbage", "leaf certificate"])
def test_652_not_a_ca_certificate(world: World, what: str) -> None:
    d = world.device
    data = (b"\x30\x82\x01\x00 this is not a certificate" if what == "garbage"
            else world.ca.issue_server([CDN1], ip_addresses=[]).cert_pem)
    with pytest.raises(TlsError) as info:
        d.load_certificate(data)
    assert info.value.code == 652
    assert d.last_error == 652
    assert d.display.text.startswith("652")
    assert len(d.tls) == 1


def test_653_bad_input_to_the_tls_layer(world: World) -> None:
    d = world.device
    with pytest.raises(TlsError) as info:
        d.load_certificate(b"")
    assert info.value.code == 653
    assert d.last_error == 653 and d.display.text.startswith("653")
    # A slot out of range is refused by the store itself (the device's loader takes no slot number).
    with pytest.raises(TlsError) as info:
        d.tls.load(world.servers.ca_pem, slot=d.tls.capacity + 1)
    assert info.value.code == 653
    with pytest.raises(TlsError) as info:
        d.tls.remove(0)
    assert info.value.code == 653
    assert len(d.tls) == 1


# ---------------------------------------------------------------------------------------------------------------
# 654: the handshake


@pytest.mark.parametrize("fault", [plain_http_instead_of_server_hello, hang_up_in_handshake],
                         ids=["plain-http", "hang-up"])
def test_654_the_handshake_fails_on_a_check(world: World, fault: Handler) -> None:
    raw = world.raw_server(fault)
    world.point(CDN1, raw.address)
    world.sell()
    d = world.device
    code, note = last(world)
    assert world.codes == [654], world.notes
    assert code == 654 and "tls-handshake" in note
    assert raw.connections == 1                         # 654 is not repeated
    assert d.last_error == 654
    assert world.positions() == [("failed", 654)]
    assert len(d.beeps) == 1 and d.status_symbol == "!"


def test_654_in_a_health_check_leaves_the_host_out(make_world: Callable[..., World]) -> None:
    w = make_world(status=False)
    raw = w.raw_server(plain_http_instead_of_server_hello)
    w.point(CDN3, raw.address)
    w.status_check()
    assert w.codes == [654]
    assert f"health/check {CDN3}" in w.notes[0]
    assert w.blocked() == [CDN3] and w.active() == CDN1
    assert w.device.last_error is None                   # the status check itself succeeded


def test_a_stalled_handshake_is_748_because_the_decision_deadline_comes_first(world: World) -> None:
    # A real stall (the server accepts TCP and never sends a ServerHello): httpx would give up on the
    # handshake after the request's timeout_ms (10 s), but the device's 1.5 s decision deadline fires
    # first, so the record is 748 "no answer within 1.5 s", not 654. (The same holds for the health
    # check: its 2 s deadline and its 2 s transport timeout race, and the device's timer usually wins.)
    world.servers.set_handshake_stall(CDN1, True)
    world.sell()
    assert world.codes == [748]
    assert "no answer within 1.5 s" in world.notes[0]
    assert world.device.last_error == 748
    assert world.positions() == [("failed", 748)]


# ---------------------------------------------------------------------------------------------------------------
# 655: the server certificate


@pytest.mark.parametrize("fault", ["unknown-ca", "expired", "wrong-host"])
def test_655_the_certificate_check_fails(world: World, fault: str) -> None:
    world.servers.set_cert_fault(CDN1, fault)
    world.sell()
    d = world.device
    code, note = last(world)
    assert world.codes == [655], world.notes
    assert "tls-cert" in note and "certificate verify failed" in note
    assert d.last_error == 655
    assert world.positions() == [("failed", 655)]
    assert len(d.beeps) == 1 and d.status_symbol == "!"


def test_655_not_with_host_check_off(world: World) -> None:
    world.servers.set_cert_fault(CDN1, "unknown-ca")
    world.set_option(92, 1)
    assert world.device.settings.host_check_off
    world.sell()
    assert world.codes == []
    assert world.positions() == [("allowed", None)]
    assert world.device.last_error is None and world.device.beeps == []


# ---------------------------------------------------------------------------------------------------------------
# 656, 657: reading and writing over TLS


def test_656_a_damaged_record_in_the_answer(world: World) -> None:
    raw = world.raw_server(corrupted_answer(host_context(world, CDN1)))
    world.point(CDN1, raw.address)
    world.sell()
    d = world.device
    code, note = last(world)
    assert world.codes == [656], world.notes
    assert "tls-read" in note and ("BAD_RECORD_MAC" in note or "DECRYPTION_FAILED" in note)
    assert d.last_error == 656
    assert world.positions() == [("failed", 656)]
    assert len(d.beeps) == 1


def test_657_a_real_write_error_on_a_tls_socket(world: World) -> None:
    """657 is not reached through the device: no write failure could be provoked reliably on loopback.

    The device's requests are a few hundred bytes: they always fit into the socket buffer, so
    sending one fails only when the socket is already dead when the write starts. httpcore checks
    a kept-alive connection for readability before reusing it (a server's close_notify, RST or
    stray record makes it open a new one), and on a new connection the request follows the
    handshake at once: a server that resets right after the handshake gets the request written
    into the buffer and the client fails while reading, 658 (``test_658_reset_right_after_the_
    handshake``). A reset that did land before the write would raise ConnectionResetError or
    BrokenPipeError, which is 658 by the classifier's rules too (the server closed the connection).

    So the classifier is checked here on REAL write errors of a REAL TLS socket made with the
    device's own TLS context, not on constructed exceptions:

    * writing on a TLS session that a damaged record killed (``ssl.SSLError`` from SSL_write);
    * writing on a TLS socket after closing it (``OSError`` EBADF: SSL_write reaches the closed descriptor).
    """
    raw = world.raw_server(corrupted_answer(host_context(world, CDN1)))
    ctx = world.device.tls_context()
    request = (f"GET /api/v4/true-api/cdn/health/check HTTP/1.1\r\nHost: {CDN1}\r\n\r\n").encode()

    sock = socket.create_connection(raw.address, timeout=2.0)
    with ctx.wrap_socket(sock, server_hostname=CDN1) as tls:
        tls.sendall(request)
        with pytest.raises(ssl.SSLError) as read_error:
            tls.recv(65536)
        with pytest.raises(ssl.SSLError) as write_error:
            tls.sendall(request)
    assert classify_detail(read_error.value, "read")[0] is Failure.TLS_READ
    failure, detail = classify_detail(write_error.value, "write")
    assert failure is Failure.TLS_WRITE and failure.device_code == 657, detail

    # A TLS socket closed by its owner, then written to: the write reaches a dead descriptor (EBADF).
    sock = socket.create_connection(world.resolve[CDN2], timeout=2.0)
    tls = ctx.wrap_socket(sock, server_hostname=CDN2)
    tls.close()
    with pytest.raises(OSError) as closed_error:
        tls.sendall(request)
    assert closed_error.value.errno == errno.EBADF
    failure, detail = classify_detail(closed_error.value, "write")
    assert failure is Failure.TLS_WRITE and failure.device_code == 657, detail
    assert E.error(657).text == "Ошибка записи TLS"


# ---------------------------------------------------------------------------------------------------------------
# 658: the server closed the connection


def test_658_closed_mid_answer(world: World) -> None:
    world.plan(CDN1, ["close"])
    world.sell()
    d = world.device
    code, note = last(world)
    assert world.codes == [658], world.notes
    assert "peer-closed" in note
    assert d.last_error == 658
    assert world.positions() == [("failed", 658)]
    assert len(d.beeps) == 1
    assert world.servers.requests(CDN1) == 2              # health check + one check: a new connection is not retried


def test_658_kept_alive_connection_closed_for_idleness_is_reopened(make_world: Callable[..., World]) -> None:
    w = make_world(idle_timeout_s=0.3)
    w.sell()
    assert w.positions() == [("allowed", None)]
    opened = w.servers.connections_opened(CDN1)
    w.wait_wall(0.8)                                      # past the server's idle timeout, in wall time
    w.sell()                                              # the same receipt, the same connection key
    assert w.codes == [658], w.notes
    assert "closed the kept-alive connection; reopened" in w.notes[0]
    assert w.positions() == [("allowed", None), ("allowed", None)]
    assert w.servers.connections_opened(CDN1) == opened + 1
    assert w.device.last_error is None and w.device.beeps == []


def reset_after_handshake(ctx: ssl.SSLContext) -> Handler:
    """Complete the handshake, then drop the connection with a TCP RST before the request is read."""
    def handler(conn: socket.socket, stop: threading.Event) -> None:
        tls = ctx.wrap_socket(conn, server_side=True)
        tls.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        tls.close()
    return handler


def test_658_reset_right_after_the_handshake(world: World) -> None:
    raw = world.raw_server(reset_after_handshake(host_context(world, CDN1)))
    world.point(CDN1, raw.address)
    world.sell()
    code, note = last(world)
    assert world.codes == [658], world.notes
    assert "peer-closed" in note and "(read)" in note     # the write went into the buffer; reading failed
    assert world.device.last_error == 658
    assert world.positions() == [("failed", 658)]


# ---------------------------------------------------------------------------------------------------------------
# 747: no ranked CDN list


def _cdn_info_fails(w: World, how: str) -> None:
    if how == "garbage":
        w.change(lambda b: b.host(BASE).faults.plan(["garbage"], repeat=True))
    else:
        w.point(BASE, w.raw_server(answering(host_context(w, BASE), 200, TOO_DEEP)).address)


@pytest.mark.parametrize("how, first", [("garbage", 750), ("too-deep", 750)])
def test_747_a_sale_after_cdn_info_failed(make_world: Callable[..., World], how: str, first: int) -> None:
    w = make_world(status=False)
    _cdn_info_fails(w, how)
    w.status_check()                             # «СТАТУС ГИС МТ»: cdn/info fails, no list
    assert w.codes == [first], w.notes
    assert w.notes[0].startswith("cdn/info")
    assert w.device.last_error == first and not w.device.book.has_list
    w.sell()                                     # the shift opens (its refresh fails the same way), then the sale
    assert w.codes == [first, first, 747], w.notes
    assert w.notes[2] == "codes/check not sent: no ranked CDN list"
    d = w.device
    assert d.last_error == 747
    assert d.display.text.startswith("747")
    assert w.positions() == [("failed", 747)]
    assert len(d.beeps) == 1 and d.status_symbol == "!"      # the status check and the shift do not beep
    assert all(w.servers.requests(h) == 0 for h in CDN_HOSTS)       # not a health check, not a check


# ---------------------------------------------------------------------------------------------------------------
# 748 and 768: no connection


def test_748_connection_refused_then_768(world: World) -> None:
    world.servers.set_down(CDN1, True)
    world.sell()
    d = world.device
    assert world.codes == [748, 748, 768], world.notes
    assert all("refused" in n for n in world.notes[:2])
    assert world.blocked() == [CDN1]
    assert world.positions() == [("allowed", None)]          # the device switched to cdn02
    assert world.servers.requests(CDN2) == 2                 # health check + the check
    assert d.beeps == []


def test_748_host_name_not_in_the_resolver(world: World) -> None:
    del world.resolve[CDN1]
    world.sell()
    assert world.codes == [748, 748, 768], world.notes
    assert f"unknown host {CDN1}" in world.notes[0]
    assert world.positions() == [("allowed", None)]


def test_748_base_host_not_in_the_resolver_then_the_fallback_list(make_world: Callable[..., World]) -> None:
    # cdn/info never answered: the device takes the operator's fallback list cdn01..cdn11.crpt.ru;
    # this world serves cdn01..03, the other eight names are not in the resolver table (748 each).
    w = make_world(status=False)
    del w.resolve[BASE]
    w.status_check()
    assert w.codes == [748] * 9, w.notes
    assert "cdn/info" in w.notes[0] and "resolve" in w.notes[0]
    assert all("resolve" in n for n in w.notes[1:])
    assert [h.name for h in w.device.book.hosts] == [CDN1, CDN2, CDN3]     # ranked by measured latency
    w.sell()
    assert w.positions() == [("allowed", None)]


# ---------------------------------------------------------------------------------------------------------------
# answers that are no use


@pytest.mark.parametrize("item", ["garbage", "truncated", "missing-reqid"])
def test_750_an_answer_that_does_not_parse(world: World, item: str) -> None:
    world.plan(CDN1, [item])
    world.sell()
    d = world.device
    assert world.codes == [750], world.notes
    assert d.last_error == 750
    assert world.positions() == [("failed", 750)]
    assert len(d.beeps) == 1 and d.status_symbol == "!"


def test_750_json_nested_too_deep_to_parse(world: World) -> None:
    raw = world.raw_server(answering(host_context(world, CDN1), 200, TOO_DEEP))
    world.point(CDN1, raw.address)
    world.sell()
    d = world.device
    code, note = last(world)
    assert world.codes == [750], world.notes
    assert note.startswith(f"codes/check {CDN1}: not JSON") and "recursion" in note
    assert d.last_error == 750
    assert world.positions() == [("failed", 750)]
    assert len(d.beeps) == 1 and d.status_symbol == "!"
    assert raw.connections == 1 and raw.errors == []


def test_a_500_with_json_nested_too_deep_is_a_plain_5xx(world: World) -> None:
    # Not code 5000: the host's fault. The repeat on the same connection gets the same, so the host
    # is blocked (768) and the device switches to cdn02, which sells.
    raw = world.raw_server(answering(host_context(world, CDN1), 500, TOO_DEEP, count=2))
    world.point(CDN1, raw.address)
    world.sell()
    assert world.codes == [760, 760, 768], world.notes
    assert world.notes[0] == f"codes/check {CDN1}: HTTP 500"
    assert world.blocked() == [CDN1] and world.active() == CDN2
    assert world.positions() == [("allowed", None)]
    assert raw.connections == 1 and raw.errors == []


def test_760_a_500_then_the_repeat_succeeds(world: World) -> None:
    world.plan(CDN1, [500])
    world.sell()
    assert world.codes == [760], world.notes
    assert "HTTP 500" in world.notes[0]
    assert world.positions() == [("allowed", None)]
    assert world.blocked() == [] and world.device.beeps == []
    assert world.device.status_symbol == "S"


def test_761_unknown_token(make_world: Callable[..., World]) -> None:
    w = make_world(register_token=False)
    assert w.codes == [761]
    assert "cdn/info: HTTP 401" in w.notes[0]
    assert w.device.last_error == 761
    assert w.device.display.text.startswith("761")


def test_762_emergency_203(world: World) -> None:
    world.change(lambda b: b.set_emergency("prod", True))
    world.sell()
    d = world.device
    assert world.codes == [762]
    assert d.emergency and d.status_symbol == "A"
    assert d.last_error == 762
    assert world.positions() == [("emergency", None)]


def test_764_every_cdn_host_down(world: World) -> None:
    for host in CDN_HOSTS:
        world.servers.set_down(host, True)
    world.sell()                                  # cdn01: 748 748 768, cdn02: 748 748 768
    assert world.codes == [748, 748, 768, 748, 748, 768], world.notes
    assert world.blocked() == [CDN1, CDN2]
    world.sell()                                  # cdn03: 748 748 768, then no host left: 764
    codes = world.codes[6:]
    assert codes[:4] == [748, 748, 768, 764], world.notes
    assert "every CDN host is blocked" in world.notes[9]
    # the refresh that follows finds no host answering its health check either
    assert codes[4:] == [748, 748, 748, 764], world.notes
    assert "no CDN host answered health/check" in world.notes[-1]
    d = world.device
    assert d.last_error == 764
    assert world.positions() == [("failed", 768), ("failed", 764)]
    assert len(d.beeps) == 2 and d.status_symbol == "!"


def test_765_bad_request(world: World) -> None:
    world.plan(CDN1, [400])
    world.sell()
    d = world.device
    assert world.codes == [765]
    assert d.last_error == 765
    assert world.positions() == [("failed", 765)]
    assert world.servers.requests(CDN1) == 2      # not repeated


@pytest.mark.parametrize("how", ["plan", "sandbox case 15"])
def test_766_cross_border_service_down(world: World, how: str) -> None:
    code = world.backend.catalogue.by_case(15).code
    if how == "plan":
        world.plan(CDN1, ["5000", "5000"])
        code = GOOD_CODE
    world.sell(code)
    d = world.device
    assert world.codes == [766, 766], world.notes
    assert d.last_error == 766
    assert world.positions() == [("failed", 766)]
    assert world.blocked() == []                  # 5000 is not the host's fault


def test_768_two_5xx_in_a_row_block_the_host(world: World) -> None:
    world.plan(CDN1, [500, 500])
    world.sell()
    assert world.codes == [760, 760, 768], world.notes
    assert world.blocked() == [CDN1] and world.active() == CDN2
    assert world.positions() == [("allowed", None)]


def test_768_three_slow_answers_block_the_host(world: World) -> None:
    # SLOWEST test of the file: three sales wait for the 1.5 s decision deadline each (about 6 s wall).
    world.change(lambda b: setattr(b.host(CDN1).faults, "latency_ms", 1700))
    for _ in range(3):
        world.sell()
    assert world.codes == [748, 748, 748, 768], world.notes
    assert all("no answer within 1.5 s" in n for n in world.notes[:3])
    assert world.blocked() == [CDN1] and world.active() == CDN2
    assert world.device.last_error == 748            # the position's outcome; 768 is the host's record
    assert world.positions() == [("failed", 748)] * 3
    assert len(world.device.beeps) == 3
    world.sell()
    assert world.positions()[-1] == ("allowed", None)



# ---------------------------------------------------------------------------------------------------------------
# an abandoned request never reads another connection's bytes


def hold_then_answer(ctx: ssl.SSLContext, release: threading.Event) -> Handler:
    """Read the request, answer only when ``release`` is set, then keep the socket open a little."""
    def handler(conn: socket.socket, stop: threading.Event) -> None:
        tls = ctx.wrap_socket(conn, server_side=True)
        read_request(lambda: tls.recv(65536))
        release.wait(5)
        tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        stop.wait(0.5)
        tls.close()
    return handler


@pytest.mark.parametrize("delay_s", [0.0, 0.005, 0.02, 0.05])
def test_a_late_answer_to_an_abandoned_request_stays_on_its_own_connection(world: World, delay_s: float) -> None:
    # The first check gets no answer within the deadline (748) and is abandoned; its worker is
    # still reading when the next receipt opens a new connection, which may get the same file
    # descriptor number. The late answer must not be taken as the new connection's answer.
    release = threading.Event()
    raw = world.raw_server(hold_then_answer(host_context(world, CDN1), release))
    real = world.resolve[CDN1]
    world.point(CDN1, raw.address)
    world.sell()
    assert world.codes == [748], world.notes
    world.close_receipt()
    world.point(CDN1, real)
    threading.Timer(delay_s, release.set).start()
    world.status_check()
    world.sell()
    assert world.codes == [748], world.notes
    assert world.positions()[-1] == ("allowed", None)
