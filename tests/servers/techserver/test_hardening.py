"""The technological server under hostile or broken input: identities, ranges, damaged data, slow peers.

Real parts throughout: the TCP front on loopback, SQLite files on disk, the
pages through starlette's TestClient.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import stat
import time

import pytest
from starlette.testclient import TestClient

from emulator.net.techclient import TechClient, exchange_once
from emulator.servers.techserver.model import TIME_MS_MAX, TechServer
from emulator.servers.techserver.tcp import TechServerTcp
from emulator.servers.techserver.web import make_app
from emulator.wire.techframes import (
    ERR_BAD_RECORD,
    ERR_IDENTITY,
    ERR_IDLE,
    ERR_INTERNAL,
    ERR_TOO_MANY,
    Frame,
    FrameReader,
)
from tests.servers.techserver.keys import key_for
from tests.servers.techserver.waits import wait_idle
from tls_store.lab_ca import LabCA

T0 = 1712141750370
SERIAL = "00106700000001"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.payload-secret.signature"


def hello(serial=SERIAL, key=None, seq=1):
    return Frame("HELLO", seq, {"serial": serial, "model": "Меркурий-185Ф", "inn": "7701234567",
                                "firmware": "1.0", "device_key": key_for(serial) if key is None else key,
                                "device_time_ms": T0, "pending_records": 0})


def record(seq, time_ms=T0, text=None, code=758):
    return {"seq": seq, "time_ms": time_ms, "code": code, "text": text or f"ГИС МТ\t{code}\t[{seq}]\n\t\tНайден:Да"}


def records(recs, seq=2):
    return Frame("LOG_RECORDS", seq, {"records": recs})


@pytest.fixture(scope="module")
def ca():
    return LabCA.create()


@pytest.fixture
def model(ca, tmp_path):
    m = TechServer(tmp_path / "tech.sqlite", ca.cert_pem, clock=lambda: T0)
    yield m
    m.close()


@pytest.fixture
def server(model):
    with TechServerTcp(model, now_ms=lambda: T0) as srv:
        yield srv




# ------------------------------------------------------------------ identity
def test_a_second_client_with_the_same_serial_gets_nothing(model, server):
    assert exchange_once(server.address, [hello(), records([record(1)]), Frame("BYE", 3)])[1].type == "LOG_ACK"
    model.set_setting(SERIAL, "token", TOKEN)
    task_id = model.send_all_settings(SERIAL)

    impostor = "x" * 40
    r = exchange_once(server.address, [hello(key=impostor), records([record(2, text="fake")]),
                                       Frame("GET_SETTINGS", 3)])
    assert [f.type for f in r] == ["ERROR"] and r[0].payload["code"] == ERR_IDENTITY
    assert TOKEN not in json.dumps([f.payload for f in r])
    assert [x.seq for x in model.records(SERIAL)] == [1]           # nothing pre-stored under its numbers
    assert model.task(task_id).state == "queued"                    # the token was not handed out
    d = model.device(SERIAL)
    assert d.identity_refusals == 1 and d.last_refusal_ms == T0
    # A missing key is refused as well, for a new serial too.
    r = exchange_once(server.address, [hello(serial="0099", key="")])
    assert r[0].type == "ERROR" and r[0].payload["code"] == ERR_IDENTITY
    assert [x.serial for x in model.devices()] == [SERIAL]

    # The real device still gets its settings.
    r = exchange_once(server.address, [hello(), Frame("GET_SETTINGS", 2)])
    assert r[1].payload["task_id"] == task_id and r[1].payload["items"][0]["value"] == TOKEN


def test_forgetting_the_key_lets_a_replaced_device_register(model, server):
    exchange_once(server.address, [hello()])
    new_key = "n" * 40
    assert exchange_once(server.address, [hello(key=new_key)])[0].payload["code"] == ERR_IDENTITY
    with TestClient(make_app(model), base_url="http://127.0.0.1") as web:
        assert web.post(f"/api/devices/{SERIAL}/forget-key", json={}).json()["key_fingerprint"] == ""
    assert exchange_once(server.address, [hello(key=new_key)])[0].type == "HELLO_ACK"
    assert exchange_once(server.address, [hello()])[0].payload["code"] == ERR_IDENTITY


def test_a_database_from_before_device_keys_adopts_the_first_key(ca, tmp_path):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE devices (serial TEXT PRIMARY KEY, model TEXT NOT NULL, inn TEXT NOT NULL,
            firmware TEXT NOT NULL, first_seen_ms INTEGER NOT NULL, last_exchange_ms INTEGER NOT NULL);
        CREATE TABLE tasks (id INTEGER PRIMARY KEY AUTOINCREMENT, serial TEXT NOT NULL, kind TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'applied', 'failed')),
            created_ms INTEGER NOT NULL, items TEXT NOT NULL, result_code INTEGER,
            sent_ms INTEGER, done_ms INTEGER, origin TEXT NOT NULL DEFAULT '');
    """)
    db.execute("INSERT INTO devices VALUES (?, 'M', '7701234567', '1', ?, ?)", (SERIAL, T0, T0))
    db.commit()
    db.close()
    m = TechServer(path, ca.cert_pem, clock=lambda: T0)
    try:
        assert m.device(SERIAL).key_hash == ""
        m.hello(SERIAL, "M", "7701234567", "1", T0, key_for(SERIAL))
        assert m.device(SERIAL).key_fingerprint
        with pytest.raises(Exception, match="does not match"):
            m.hello(SERIAL, "M", "7701234567", "1", T0, "z" * 40)
    finally:
        m.close()


# ------------------------------------------------------------------ ranges and errors
@pytest.mark.parametrize("time_ms", [2 ** 62, 2 ** 63, TIME_MS_MAX + 1])
def test_a_record_out_of_range_is_refused_and_the_records_api_keeps_working(model, server, time_ms):
    r = exchange_once(server.address, [hello(), records([record(1), record(2, time_ms=time_ms)])])
    assert [f.type for f in r] == ["HELLO_ACK", "ERROR"]
    assert r[1].payload["code"] == ERR_BAD_RECORD and "time_ms" in r[1].payload["text"]
    assert "Error" not in r[1].payload["text"]                    # no Python exception names
    assert model.records(SERIAL) == []                            # the whole batch refused
    with TestClient(make_app(model), base_url="http://127.0.0.1") as web:
        assert web.get(f"/api/devices/{SERIAL}/records").status_code == 200


def test_a_stored_time_that_is_no_date_does_not_break_the_listing(model):
    model.hello(SERIAL, "M", "7701234567", "1", T0, key_for(SERIAL))
    model.db.execute("INSERT INTO log_records VALUES (?, 1, ?, 758, 'ГИС МТ\t758\t[1]', ?)", (SERIAL, 2 ** 62, T0))
    with TestClient(make_app(model), base_url="http://127.0.0.1") as web:
        r = web.get(f"/api/devices/{SERIAL}/records")
        assert r.status_code == 200 and r.json()[0]["time_msk"] == "—"
        assert web.get(f"/device/{SERIAL}/reports").status_code == 200


def test_an_internal_failure_tells_the_peer_nothing_of_it(model, server, monkeypatch):
    def broken(*a, **k):
        raise RuntimeError("secret detail of /var/lib/db")

    monkeypatch.setattr(model, "store_records", broken)
    r = exchange_once(server.address, [hello(), records([record(1)])])
    assert r[1].payload == {"code": ERR_INTERNAL, "text": "internal error"}


# ------------------------------------------------------------------ damaged data
@pytest.mark.parametrize("items", ["not json {", "[]", '[{"kind": "token"}]', '[{"kind": "cert", "value_b64": "!!"}]',
                                   '{"kind": "token", "value": "x"}', '[{"kind": "rm -rf", "value": "x"}]'])
def test_a_damaged_task_fails_and_the_next_one_is_sent(model, server, items):
    exchange_once(server.address, [hello()])
    model.db.execute("INSERT INTO tasks (serial, kind, state, created_ms, items) VALUES (?, 'settings', 'queued', ?, ?)",
                     (SERIAL, T0, items))
    model.set_setting(SERIAL, "sale_ban", "ВКЛЮЧЕН")
    good = model.send_all_settings(SERIAL)
    r = exchange_once(server.address, [hello(), Frame("GET_SETTINGS", 2), Frame("BYE", 3)])
    assert [f.type for f in r] == ["HELLO_ACK", "SETTINGS", "BYE"]
    assert r[1].payload["task_id"] == good
    damaged = model.tasks(SERIAL)[0]
    assert damaged.state == "failed" and damaged.problem.startswith("данные задачи повреждены")
    with TestClient(make_app(model), base_url="http://127.0.0.1") as web:
        assert web.get(f"/api/devices/{SERIAL}/tasks").status_code == 200
        page = web.get(f"/device/{SERIAL}/servers")
        assert page.status_code == 200 and "данные задачи повреждены" in page.text


def test_tokens_of_finished_tasks_are_masked_in_the_database(model, server):
    exchange_once(server.address, [hello()])
    model.set_setting(SERIAL, "token", TOKEN)
    task = model.send_all_settings(SERIAL)
    exchange_once(server.address, [hello(), Frame("GET_SETTINGS", 2),
                                   Frame("SETTINGS_RESULT", 3, {"task_id": task, "applied": True, "code": 0})])
    assert model.task(task).state == "applied"
    (raw,) = model.db.execute("SELECT items FROM tasks WHERE id=?", (task,)).fetchone()
    assert TOKEN not in raw and "…" in raw
    assert model.task(task).listing()["items"][0]["value"] == json.loads(raw)[0]["value"]


def test_the_database_files_are_private(ca, tmp_path):
    fresh = tmp_path / "new-dir" / "tech.sqlite"
    m = TechServer(fresh, ca.cert_pem)
    m.hello(SERIAL, "M", "7701234567", "1", T0, key_for(SERIAL))
    try:
        assert stat.S_IMODE(fresh.parent.stat().st_mode) == 0o700
        files = [p for p in fresh.parent.iterdir() if p.name.startswith("tech.sqlite")]
        assert {p.name for p in files} >= {"tech.sqlite", "tech.sqlite-wal", "tech.sqlite-shm"}
        assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in files} == {p.name: 0o600 for p in files}
    finally:
        m.close()
    old = tmp_path / "old.sqlite"
    old.touch()
    os.chmod(old, 0o644)
    TechServer(old, ca.cert_pem).close()
    assert stat.S_IMODE(old.stat().st_mode) == 0o600


# ------------------------------------------------------------------ the pages
def test_every_response_forbids_framing_and_carries_a_policy(model):
    model.hello(SERIAL, "M", "7701234567", "1", T0, key_for(SERIAL))
    with TestClient(make_app(model), base_url="http://127.0.0.1") as web:
        for r in (web.get("/"), web.get(f"/device/{SERIAL}/general"), web.get("/api/devices"),
                  web.get("/device/nope/general"), web.get("/", headers={"Host": "evil.example"}),
                  web.post("/token-for-inn", data={"inn": "1"}, headers={"Origin": "http://evil.example"})):
            assert r.headers["x-frame-options"] == "DENY", r.url
            csp = r.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp and "unsafe" not in csp


def test_a_huge_uploaded_record_does_not_stall_the_reports_page(model, server):
    text = "ГИС МТ" + " " * 4000 + "758 [1]" + " " * 60
    r = exchange_once(server.address, [hello(), records([record(1, text=text), record(2, text="UUID=" + " " * 4000)])])
    assert r[1].type == "LOG_ACK"
    with TestClient(make_app(model), base_url="http://127.0.0.1") as web:
        t = time.perf_counter()
        assert web.get(f"/device/{SERIAL}/reports").status_code == 200
        assert time.perf_counter() - t < 2.0


# ------------------------------------------------------------------ slow clients and sizes
def test_a_trickling_client_is_closed_at_the_whole_frame_deadline(model):
    with TechServerTcp(model, now_ms=lambda: T0, idle_timeout_s=1.0) as srv:
        data = hello().to_bytes()
        sock = socket.create_connection(srv.address, timeout=5)
        t = time.monotonic()
        got = b""
        try:
            for b in data:                       # one byte every 0.2 s: each read is well inside the timeout
                sock.sendall(bytes([b]))
                time.sleep(0.2)
                if time.monotonic() - t > 4:
                    break
        except OSError:
            pass
        sock.settimeout(2)
        try:
            while chunk := sock.recv(4096):
                got += chunk
        except OSError:
            pass
        sock.close()
        assert time.monotonic() - t < 4.5
        [err] = FrameReader().feed(got)
        assert err.payload == {"code": ERR_IDLE, "text": "frame not complete in time"}
        wait_idle(srv)


def test_a_client_that_never_reads_is_disconnected_at_the_write_deadline(ca):
    model = TechServer(":memory:", ca.cert_pem, clock=lambda: T0)
    model.hello(SERIAL, "M", "7701234567", "1", T0, key_for(SERIAL))
    model.request_and_apply_certs(SERIAL)
    model.insert_cert(SERIAL)
    model.send_all_settings(SERIAL)             # every SETTINGS reply carries the root certificate
    sent = 20_000
    with TechServerTcp(model, now_ms=lambda: T0, write_timeout_s=0.5, max_frames=10 * sent) as srv:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(srv.address)
        sock.settimeout(10)
        t = time.monotonic()
        try:
            sock.sendall(hello().to_bytes() + Frame("GET_SETTINGS", 2).to_bytes() * sent)   # never reads
        except OSError:
            pass
        while not srv.stats["connections"] and time.monotonic() - t < 5:
            time.sleep(0.01)
        wait_idle(srv, timeout=15)
        assert srv.stats["write_timeouts"] == 1, srv.stats
        assert srv.stats["frames"] < sent
        sock.close()
    model.close()


def test_a_session_takes_a_bounded_number_of_frames(model):
    with TechServerTcp(model, now_ms=lambda: T0, max_frames=50) as srv:
        r = exchange_once(srv.address, [hello(), *[Frame("GET_SETTINGS", i) for i in range(2, 200)]])
        assert [f.type for f in r[:50]] == ["HELLO_ACK"] + ["SETTINGS"] * 49
        assert r[50].payload["code"] == ERR_TOO_MANY and len(r) == 51
        assert srv.stats["frames"] <= 200
        wait_idle(srv)


def test_frames_at_the_size_limit_and_a_declared_length_never_sent(model):
    with TechServerTcp(model, now_ms=lambda: T0, idle_timeout_s=1.0) as srv:
        big = [record(i, text=f"ГИС МТ\t758\t[{i}]" + "я" * 2000) for i in range(1, 16)]   # ~60 KB of payload
        frame = records(big).to_bytes()
        assert len(frame) > 60_000
        r = exchange_once(srv.address, [hello(), frame])
        assert r[1].type == "LOG_ACK" and r[1].payload["stored"] == list(range(1, 16))
        # A header that declares 65535 bytes, then half of them: closed at the frame deadline.
        head = bytearray(Frame("GET_SETTINGS", 9).to_bytes()[:10])
        head[8:10] = (0xFFFF).to_bytes(2, "big")
        with TechClient(srv.address, timeout=5) as c:
            c.send(hello())
            assert c.recv().type == "HELLO_ACK"
            c.send(bytes(head) + b"\0" * 30_000)
            t = time.monotonic()
            err = c.recv()
            assert err.payload["code"] == ERR_IDLE and time.monotonic() - t < 3
        wait_idle(srv)
