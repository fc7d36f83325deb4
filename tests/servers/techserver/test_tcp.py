"""The modelled exchange over real loopback sockets (TCP and TLS)."""

import socket
import ssl
import time

import pytest

from emulator.net.techclient import TechClient, exchange_once
from emulator.servers.techserver.model import TechServer
from emulator.servers.techserver.tcp import TechServerTcp
from emulator.wire.techframes import (
    ERR_BAD_FRAME,
    ERR_IDLE,
    ERR_UNEXPECTED,
    ERR_UNKNOWN_TASK,
    Frame,
)
from tests.servers.techserver.keys import key_for
from tests.servers.techserver.waits import wait_idle
from tls_store.lab_ca import LabCA

T0 = 1712141750370
SERIAL = "00106700000001"


def hello(seq=1, serial=SERIAL, pending=0, key=None):
    return Frame("HELLO", seq, {"serial": serial, "model": "Меркурий-185Ф", "inn": "7701234567",
                                "firmware": "1.0", "device_key": key_for(serial) if key is None else key,
                                "device_time_ms": T0, "pending_records": pending})


def records(seqs, seq=2):
    return Frame("LOG_RECORDS", seq, {"records": [
        {"seq": s, "time_ms": T0 + s, "code": 758, "text": f"ГИС МТ\t758\t[{s}]\n\t\tНайден:Да"} for s in seqs]})


@pytest.fixture(scope="module")
def ca():
    return LabCA.create()


@pytest.fixture
def model(ca):
    m = TechServer(":memory:", ca.cert_pem, clock=lambda: T0)
    yield m
    m.close()


@pytest.fixture
def server(model):
    with TechServerTcp(model, now_ms=lambda: T0) as srv:
        yield srv




def test_a_whole_session(server, model):
    assert server.port > 0
    replies = exchange_once(server.address, [hello(pending=2), records([1, 2]), Frame("GET_SETTINGS", 3),
                                             Frame("BYE", 4)])
    assert [r.type for r in replies] == ["HELLO_ACK", "LOG_ACK", "SETTINGS", "BYE"]
    assert [r.seq for r in replies] == [1, 2, 3, 4]
    assert replies[0].payload == {"session_id": 1, "server_time_ms": T0, "settings_waiting": False,
                                 "log_next_seq": 1}
    assert replies[1].payload == {"stored": [1, 2], "duplicates": 0}
    assert replies[2].payload == {"task_id": 0, "items": []}
    assert [r.seq for r in model.records(SERIAL)] == [1, 2]
    assert model.devices()[0].last_exchange_ms == T0


def test_records_uploaded_twice_are_stored_once(server, model):
    first = exchange_once(server.address, [hello(), records([1, 2, 3]), Frame("BYE", 3)])
    again = exchange_once(server.address, [hello(), records([2, 3, 4]), Frame("BYE", 3)])
    assert first[1].payload == {"stored": [1, 2, 3], "duplicates": 0}
    assert again[1].payload == {"stored": [2, 3, 4], "duplicates": 2}
    assert [r.seq for r in model.records(SERIAL)] == [1, 2, 3, 4]


def test_a_client_killed_mid_upload_leaves_no_half_record(server, model):
    with TechClient(server.address) as c:
        assert c.request(hello()).type == "HELLO_ACK"
        data = records([1, 2]).to_bytes()
        c.send_raw(data[: len(data) // 2])
    wait_idle(server)
    assert model.records(SERIAL) == []
    replies = exchange_once(server.address, [hello(), records([1, 2]), Frame("BYE", 3)])
    assert replies[1].payload["duplicates"] == 0
    assert len(model.records(SERIAL)) == 2


def test_settings_task_over_the_wire(server, model):
    exchange_once(server.address, [hello(), Frame("BYE", 2)])
    model.request_and_apply_certs(SERIAL)
    model.insert_cert(SERIAL)
    model.set_setting(SERIAL, "option", "92=1")
    task_id = model.send_all_settings(SERIAL)
    with TechClient(server.address) as c:
        ack = c.request(hello())
        assert ack.payload["settings_waiting"] is True
        s = c.request(Frame("GET_SETTINGS", 2))
        assert s.type == "SETTINGS" and s.payload["task_id"] == task_id
        kinds = [i["kind"] for i in s.payload["items"]]
        assert kinds == ["cert", "option"]
        assert s.payload["items"][0]["value"].startswith(b"\x30")  # DER
        assert s.payload["items"][1]["value"] == "92=1"
        assert c.request(Frame("SETTINGS_RESULT", 3, {"task_id": task_id, "applied": True, "code": 0})) == \
            Frame("BYE", 3)
        # the session stays open after the acknowledgement
        assert c.request(Frame("GET_SETTINGS", 4)).payload == {"task_id": 0, "items": []}
        assert c.request(Frame("BYE", 5)) == Frame("BYE", 5)
        assert c.recv() is None and c.closed_by_server
    assert model.task(task_id).state == "applied"


def test_settings_result_in_a_later_session_and_unknown_task(server, model):
    exchange_once(server.address, [hello(), Frame("BYE", 2)])
    model.set_setting(SERIAL, "sale_ban", "ПРЕДУПРЕЖДЕНИЕ")
    task_id = model.send_all_settings(SERIAL)
    r = exchange_once(server.address, [hello(), Frame("GET_SETTINGS", 2), Frame("BYE", 3)])
    assert r[1].payload["task_id"] == task_id and model.task(task_id).state == "sent"
    r = exchange_once(server.address, [hello(), Frame("SETTINGS_RESULT", 2, {"task_id": 999, "applied": True,
                                                                             "code": 0}),
                                       Frame("SETTINGS_RESULT", 3, {"task_id": task_id, "applied": False,
                                                                    "code": 652}),
                                       Frame("BYE", 4)])
    assert [x.type for x in r] == ["HELLO_ACK", "ERROR", "BYE", "BYE"]
    assert r[0].payload["settings_waiting"] is True
    assert r[1].payload["code"] == ERR_UNKNOWN_TASK
    assert model.task(task_id).state == "failed" and model.task(task_id).result_code == 652


def test_bad_frames_get_error_and_close(server, model):
    bad = bytearray(records([1]).to_bytes())
    bad[-1] ^= 0xFF
    r = exchange_once(server.address, [hello(), bytes(bad), Frame("BYE", 3)])
    assert [x.type for x in r] == ["HELLO_ACK", "ERROR"]
    assert r[1].payload["code"] == ERR_BAD_FRAME and "crc" in r[1].payload["text"]
    assert model.records(SERIAL) == []
    r = exchange_once(server.address, [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"])
    assert r[0].type == "ERROR" and r[0].payload["code"] == ERR_BAD_FRAME
    assert server.stats["frame_errors"] == 2


@pytest.mark.parametrize("first", [Frame("GET_SETTINGS", 1), records([1], seq=1), Frame("LOG_ACK", 1, {
    "stored": [], "duplicates": 0})])
def test_hello_must_come_first(server, model, first):
    r = exchange_once(server.address, [first, hello(2)])
    assert [x.type for x in r] == ["ERROR"]
    assert r[0].payload["code"] == ERR_UNEXPECTED and r[0].seq == 1
    assert model.devices() == []


def test_second_hello_is_refused(server):
    r = exchange_once(server.address, [hello(1), hello(2), Frame("BYE", 3)])
    assert [x.type for x in r] == ["HELLO_ACK", "ERROR"]


def test_idle_session_is_closed(model):
    with TechServerTcp(model, idle_timeout_s=0.2) as srv, TechClient(srv.address) as c:
        reply = c.recv()
        assert reply.type == "ERROR" and reply.payload["code"] == ERR_IDLE
        assert c.recv() is None


def test_server_restarted_on_the_same_file_keeps_everything(tmp_path, ca):
    path = tmp_path / "tech.sqlite"
    m = TechServer(path, ca.cert_pem, clock=lambda: T0)
    with TechServerTcp(m) as srv:
        exchange_once(srv.address, [hello(), records([1, 2]), Frame("BYE", 3)])
        m.set_setting(SERIAL, "poll_period", "15")
        task_id = m.send_all_settings(SERIAL)
        port = srv.port
    m.close()
    m2 = TechServer(path, ca.cert_pem, clock=lambda: T0)
    with TechServerTcp(m2, port=port) as srv2:
        r = exchange_once(srv2.address, [hello(), records([2, 3]), Frame("GET_SETTINGS", 3), Frame("BYE", 4)])
    assert r[0].payload["settings_waiting"] is True and r[0].payload["session_id"] == 2
    assert r[1].payload == {"stored": [2, 3], "duplicates": 1}
    assert r[2].payload == {"task_id": task_id, "items": [{"kind": "poll_period", "value": "15"}]}
    assert [x.seq for x in m2.records(SERIAL)] == [1, 2, 3]
    m2.close()


def test_exchange_over_tls(model, ca, tmp_path):
    cert = ca.issue_server(["localhost"], ["127.0.0.1"])
    client_ctx = ssl.create_default_context(cadata=ca.cert_pem.decode("ascii"))
    with TechServerTcp(model, ssl_context=ca.server_context(cert)) as srv:
        r = exchange_once(srv.address, [hello(), records([7]), Frame("BYE", 3)], ssl_context=client_ctx,
                          server_hostname="localhost")
        assert [x.type for x in r] == ["HELLO_ACK", "LOG_ACK", "BYE"]
        # a client that does not trust the lab CA cannot talk to it
        with pytest.raises(ssl.SSLError):
            exchange_once(srv.address, [hello()], ssl_context=ssl.create_default_context(),
                          server_hostname="localhost")
    assert [x.seq for x in model.records(SERIAL)] == [7]


def test_stop_with_a_client_still_connected_and_port_in_use(model):
    srv = TechServerTcp(model).start()
    c = TechClient(srv.address)
    assert c.request(hello()).type == "HELLO_ACK"
    t = time.monotonic()
    srv.stop()
    assert time.monotonic() - t < 3
    assert c.recv() is None
    c.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        with pytest.raises(OSError):
            TechServerTcp(model, port=s.getsockname()[1]).start()
