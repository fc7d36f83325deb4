"""The modelled technological server's state machine (SQLite)."""

import json
import sqlite3

import pytest

from emulator.rules.syntax import mask_token
from emulator.servers.techserver.model import (
    TechServer,
    TechServerError,
    UnknownDevice,
    UnknownTask,
    msk_text,
    pem_to_der_list,
    validate_setting,
)
from tests.seed_examples import SEED_758
from tests.servers.techserver.keys import key_for
from tls_store.lab_ca import LabCA

T0 = 1712141750370  # 03.04.2024 13:55:50 MSK
TOKEN = "eyJhbGciOiJIUzI1NiJ9.payload-secret.signature"


@pytest.fixture(scope="module")
def root_pem():
    return LabCA.create().cert_pem


@pytest.fixture
def model(root_pem):
    clock = {"now": T0}
    m = TechServer(":memory:", root_pem, clock=lambda: clock["now"])
    yield m
    m.close()


def rec(seq, code=758, time_ms=T0, text=None):
    return {"seq": seq, "time_ms": time_ms, "code": code, "text": text or f"ГИС МТ\t{code}\t[{seq}]"}


def test_hello_registers_and_updates_devices(model):
    sid, waiting = model.hello("0001", "Меркурий-185Ф", "7701234567", "1.0", T0, key_for("0001"))
    assert sid == 1 and waiting is False
    sid2, _ = model.hello("0001", "Меркурий-185Ф", "7701234568", "1.1", T0 + 5000, key_for("0001"))
    assert sid2 == 2
    [d] = model.devices()
    assert (d.serial, d.inn, d.firmware, d.first_seen_ms, d.last_exchange_ms) == (
        "0001", "7701234568", "1.1", T0, T0 + 5000)
    assert d.listing()["last_exchange_msk"] == "03.04.2024 13:55:55"
    with pytest.raises(TechServerError):
        model.hello("", "m", "1", "f", T0, key_for(""))


def test_records_are_stored_exactly_once(model):
    model.hello("0001", "M", "7701234567", "1", T0, key_for("0001"))
    assert model.store_records("0001", [rec(1), rec(2, text=SEED_758)], T0) == ([1, 2], 0, 0)
    res = model.store_records("0001", [rec(2, text=SEED_758), rec(3), rec(3)], T0 + 1)
    assert res.stored == [2, 3, 3] and res.duplicates == 2 and res.conflicts == 0
    rs = model.records("0001")
    assert [r.seq for r in rs] == [1, 2, 3]
    assert rs[1].text == SEED_758 and rs[1].received_ms == T0  # the first copy is kept
    assert model.conflicts("0001") == []
    with pytest.raises(UnknownDevice):
        model.store_records("nope", [rec(1)], T0)


def test_record_filters_by_code_and_moscow_date(model):
    model.hello("0001", "M", "7701234567", "1", T0, key_for("0001"))
    day = 86_400_000
    # 2024-04-02 22:02:29 UTC is already 03.04.2024 in Moscow
    model.store_records("0001", [rec(1, 754, 1712095349413), rec(2, 758, T0), rec(3, 748, T0 + day),
                                 rec(4, 758, T0 + 2 * day)], T0)
    assert [r.seq for r in model.records("0001", code=758)] == [2, 4]
    assert [r.seq for r in model.records("0001", date_from="2024-04-03", date_to="2024-04-03")] == [1, 2]
    assert [r.seq for r in model.records("0001", date_from="2024-04-04")] == [3, 4]
    assert [r.seq for r in model.records("0001", code=758, date_to="2024-04-04")] == [2]
    assert model.record_codes("0001") == [748, 754, 758]


def test_certificate_flow_of_the_vendor_instruction(model, root_pem):
    model.hello("0001", "M", "7701234567", "1", T0, key_for("0001"))
    with pytest.raises(TechServerError, match="Запросить и применить"):
        model.insert_cert("0001")
    job = model.request_and_apply_certs("0001")
    assert model.cert_job(job).state(T0) == "done"
    assert model.insert_cert("0001") == 1
    assert model.insert_cert("0001") == 0  # the same certificate is not added twice
    model.set_setting("0001", "option", "92=0")
    draft = model.draft_items("0001")
    assert [i.kind for i in draft] == ["cert", "option"]
    assert draft[0].value == pem_to_der_list(root_pem)[0]
    assert "DER" in model.draft("0001")[0]["value"]
    task_id = model.send_all_settings("0001")
    assert model.draft("0001") == []
    assert model.settings_waiting("0001")
    _, waiting = model.hello("0001", "M", "7701234567", "1", T0 + 1, key_for("0001"))
    assert waiting is True
    task = model.next_settings("0001", T0 + 2)
    assert task is not None and task.id == task_id and task.state == "sent" and task.sent_ms == T0 + 2
    assert [i.to_wire()["kind"] for i in task.items] == ["cert", "option"]
    # the session broke before the result: the task is handed out again
    assert model.next_settings("0001", T0 + 3).id == task_id
    done = model.settings_result("0001", task_id, True, 0, T0 + 4)
    assert (done.state, done.result_code, done.done_ms) == ("applied", 0, T0 + 4)
    assert model.settings_result("0001", task_id, False, 652, T0 + 5).state == "applied"  # idempotent
    assert model.next_settings("0001") is None
    assert not model.settings_waiting("0001")
    with pytest.raises(TechServerError, match="нет настроек"):
        model.send_all_settings("0001")


def test_cert_job_with_a_modelled_delay(root_pem):
    clock = {"now": T0}
    m = TechServer(":memory:", root_pem, clock=lambda: clock["now"], cert_job_delay_ms=30_000)
    m.hello("0001", "M", "7701234567", "1", T0, key_for("0001"))
    job = m.request_and_apply_certs("0001")
    assert m.cert_job(job).state(T0) == "running"
    with pytest.raises(TechServerError, match="не завершена"):
        m.insert_cert("0001")
    clock["now"] = T0 + 30_000
    assert m.insert_cert("0001") == 1


def test_failed_result_and_unknown_task(model):
    model.hello("0001", "M", "7701234567", "1", T0, key_for("0001"))
    model.hello("0002", "M", "7701234567", "1", T0, key_for("0002"))
    model.set_setting("0001", "gismt_host", "markirovka.sandbox.crptech.ru")
    tid = model.send_all_settings("0001")
    model.next_settings("0001")
    assert model.settings_result("0001", tid, False, 650, T0).state == "failed"
    assert model.task(tid).result_code == 650
    with pytest.raises(UnknownTask):
        model.settings_result("0002", tid, True, 0, T0)  # not its task
    with pytest.raises(UnknownTask):
        model.settings_result("0001", 999, True, 0, T0)


def test_draft_replaces_values_of_the_same_kind(model):
    model.hello("0001", "M", "7701234567", "1", T0, key_for("0001"))
    model.set_setting("0001", "sale_ban", "ВКЛЮЧЕН")
    model.set_setting("0001", "option", "92=1")
    model.set_setting("0001", "sale_ban", "ПРЕДУПРЕЖДЕНИЕ")
    model.set_setting("0001", "option", "92 = 0")
    model.set_setting("0001", "poll_period", "015")
    assert model.draft("0001") == [{"kind": "sale_ban", "value": "ПРЕДУПРЕЖДЕНИЕ"},
                                   {"kind": "option", "value": "92=0"}, {"kind": "poll_period", "value": "15"}]
    model.clear_draft("0001")
    assert model.draft("0001") == []
    with pytest.raises(UnknownDevice):
        model.set_setting("nope", "sale_ban", "ВКЛЮЧЕН")


@pytest.mark.parametrize("kind, value", [
    ("sale_ban", "ДА"), ("option", "92=2"), ("option", "92"), ("poll_period", "4"), ("poll_period", "1441"),
    ("gismt_host", "bad host"), ("token", "short"), ("token", "has space inside"), ("cert", b"not der"),
    ("color", "red"), ("cert", "0garbage"), ("cert", b"0\x82garbage"), ("cert", "сертификат"),
    ("cert", "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"), ("cert", b""),
    ("poll_period", "²"), ("poll_period", "99999999999999999999"),
])
def test_bad_settings_are_refused(kind, value):
    with pytest.raises(TechServerError):
        validate_setting(kind, value)


def test_a_server_certificate_is_not_a_root(root_pem):
    leaf = LabCA.create().issue_server(["cdn01.crpt.ru"]).cert_der
    with pytest.raises(TechServerError, match="652"):
        validate_setting("cert", leaf)


def test_hello_refuses_a_serial_the_pages_could_not_name(model):
    for serial in ("", "a/b", "x" * 33, "00 1", "../1"):
        with pytest.raises(TechServerError):
            model.hello(serial, "m", "7701234567", "1.0", T0, key_for(serial))
    assert "a/b" not in [d.serial for d in model.devices()]


def test_cert_setting_accepts_pem_or_der(root_pem):
    der = pem_to_der_list(root_pem)[0]
    assert validate_setting("cert", root_pem).value == der
    assert validate_setting("cert", der).value == der


def test_token_for_inn_reaches_every_device_and_later_ones_masked(model):
    model.hello("0001", "M", "7701234567", "1", T0, key_for("0001"))
    model.hello("0002", "M", "7701234567", "1", T0, key_for("0002"))
    model.hello("0003", "M", "500100732259", "1", T0, key_for("0003"))
    ids = model.queue_token_for_inn("7701234567", TOKEN)
    assert len(ids) == 2
    assert [t.serial for t in map(model.task, ids)] == ["0001", "0002"]
    assert model.tasks("0003") == []
    # the device gets the real token ...
    task = model.next_settings("0001")
    assert task.items[0].to_wire() == {"kind": "token", "value": TOKEN}
    # ... but no listing shows it
    listing = json.dumps([t.listing() for t in model.tasks("0001")] + model.inn_tokens(), ensure_ascii=False)
    assert TOKEN not in listing and mask_token(TOKEN) in listing
    # a device of that INN seen later gets the token at its first HELLO
    _, waiting = model.hello("0004", "M", "7701234567", "1", T0 + 10, key_for("0004"))
    assert waiting and model.tasks("0004")[0].items[0].kind == "token"
    with pytest.raises(TechServerError):
        model.queue_token_for_inn("123", TOKEN)
    with pytest.raises(TechServerError):
        model.queue_token_for_inn("7701234567", "bad token")


def test_token_in_draft_is_masked(model):
    model.hello("0001", "M", "7701234567", "1", T0, key_for("0001"))
    model.set_setting("0001", "token", TOKEN)
    assert model.draft("0001") == [{"kind": "token", "value": mask_token(TOKEN)}]
    assert model.draft_items("0001")[0].value == TOKEN


def test_no_root_certificates_configured():
    m = TechServer(":memory:")
    m.hello("0001", "M", "7701234567", "1", T0, key_for("0001"))
    with pytest.raises(TechServerError):
        m.request_and_apply_certs("0001")
    with pytest.raises(ValueError):
        TechServer(":memory:", b"not a pem")


def test_state_survives_reopening_the_file(tmp_path, root_pem):
    path = tmp_path / "tech.sqlite"
    m = TechServer(path, root_pem)
    m.hello("0001", "M", "7701234567", "1", T0, key_for("0001"))
    m.store_records("0001", [rec(1), rec(2)], T0)
    m.request_and_apply_certs("0001", now_ms=T0)
    m.insert_cert("0001", now_ms=T0)
    tid = m.send_all_settings("0001", now_ms=T0)
    m.close()
    m2 = TechServer(path, root_pem)
    assert [r.seq for r in m2.records("0001")] == [1, 2]
    assert m2.tasks("0001")[0].id == tid and m2.settings_waiting("0001")
    assert m2.hello("0001", "M", "7701234567", "1", T0, key_for("0001"))[0] == 2  # session ids go on
    m2.close()


def test_a_failed_transaction_changes_nothing(model):
    model.hello("0001", "M", "7701234567", "1", T0, key_for("0001"))
    with pytest.raises((TypeError, ValueError, KeyError, sqlite3.Error)):
        model.store_records("0001", [rec(1), {"seq": 2, "time_ms": T0, "code": 758}], T0)  # no text
    assert model.records("0001") == []


def test_msk_text():
    assert msk_text(1712141750370) == "03.04.2024 13:55:50"
    assert msk_text(1712095349413, with_ms=True) == "03.04.2024 01:02:29.413"
    assert msk_text(None) == "—"
