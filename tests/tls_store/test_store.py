"""The root-certificate store: formats, slots, capacity (650), bad data (652/653), persistence."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from emulator.base.failures import Failure
from tls_store import SlotInfo, TlsError, TlsStore
from tls_store.lab_ca import LabCA


@pytest.fixture(scope="module")
def cas() -> list[LabCA]:
    return [LabCA.create(f"lab root {i}") for i in range(6)]


def codes(fn, *args, **kw) -> int:
    with pytest.raises(TlsError) as info:
        fn(*args, **kw)
    assert info.value.code in range(650, 659)
    assert str(info.value).startswith(f"{info.value.code} ")
    return info.value.code


def test_pem_and_der_take_slots_from_1(cas) -> None:
    store = TlsStore(None)
    assert store.load(cas[0].cert_pem) == 1
    assert store.load(cas[1].cert_der) == 2
    infos = store.slots()
    assert [i.slot for i in infos] == [1, 2]
    assert infos[0] == SlotInfo(1, cas[0].certificate.subject.rfc4514_string(),
                                cas[0].certificate.not_valid_after_utc,
                                cas[0].certificate.fingerprint(hashes.SHA256()).hex())
    assert "CN=lab root 1" in infos[1].subject
    assert store.free_slots == 2 and len(store) == 2


def test_multi_certificate_pem_fills_several_slots(cas) -> None:
    store = TlsStore(None)
    bundle = b"\n".join(ca.cert_pem for ca in cas[:3])
    assert store.load_all(bundle) == [1, 2, 3]
    assert store.load(bundle) == 1
    assert len(store) == 3
    assert x509.load_pem_x509_certificates(store.pem_bundle()) == [ca.certificate for ca in cas[:3]]


def test_the_same_certificate_twice_takes_one_slot(cas) -> None:
    store = TlsStore(None)
    assert store.load(cas[0].cert_pem) == 1
    assert store.load(cas[0].cert_der) == 1
    assert store.load_all(cas[0].cert_pem * 2 + cas[1].cert_pem) == [1, 1, 2]
    assert len(store) == 2


def test_no_room_is_650_and_nothing_is_half_stored(cas, tmp_path) -> None:
    store = TlsStore(tmp_path, capacity=4)
    store.load_all(cas[0].cert_pem + cas[1].cert_pem)
    before = store.slots()
    # three new ones and one already stored: 3 new > 2 free
    bundle = cas[2].cert_pem + cas[0].cert_pem + cas[3].cert_pem + cas[4].cert_pem
    assert codes(store.load, bundle) == 650
    assert store.slots() == before
    assert sorted(p.name for p in (tmp_path / "tls").iterdir()) == ["slot1.pem", "slot2.pem"]
    # exactly enough room is fine; then one more is 650 again
    assert store.load_all(cas[2].cert_pem + cas[3].cert_pem) == [3, 4]
    assert codes(store.load, cas[5].cert_der) == 650
    assert store.load(cas[5].cert_der, slot=2) == 2  # an explicit slot replaces its occupant
    assert TlsError(650).line == "650 Нет места для сохранения нового сертификата"


@pytest.mark.parametrize("data", [
    b"garbage, not a certificate",
    b"\x30\x82\x01\x00garbage-der",
    b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
    b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
], ids=["text", "bad-der", "bad-pem-body", "key-not-cert"])
def test_bad_data_is_652(data) -> None:
    store = TlsStore(None)
    assert codes(store.load, data) == 652
    assert len(store) == 0


def test_truncated_pem_and_der_are_652(cas) -> None:
    store = TlsStore(None)
    pem = cas[0].cert_pem
    assert codes(store.load, pem[: len(pem) // 2]) == 652
    assert codes(store.load, pem + pem[: len(pem) // 2]) == 652  # the second block is cut: nothing stored
    der = cas[0].cert_der
    assert codes(store.load, der[:-10]) == 652
    assert len(store) == 0


def test_a_leaf_certificate_is_652(cas) -> None:
    store = TlsStore(None)
    leaf = cas[0].issue_server(["cdn01.crpt.ru"])
    assert codes(store.load, leaf.cert_pem) == 652
    assert codes(store.load, leaf.cert_der) == 652
    assert codes(store.load, leaf.chain_pem) == 652  # leaf + root: the leaf spoils it, nothing stored
    assert len(store) == 0


def test_input_errors_are_653(cas) -> None:
    store = TlsStore(None, capacity=2)
    assert codes(store.load, b"") == 653
    assert codes(store.load, b"  \n") == 653
    assert codes(store.load, cas[0].cert_pem, slot=0) == 653
    assert codes(store.load, cas[0].cert_pem, slot=3) == 653
    assert codes(store.load, cas[0].cert_pem + cas[1].cert_pem, slot=1) == 653
    assert codes(store.remove, 5) == 653


def test_remove_and_clear(cas, tmp_path) -> None:
    store = TlsStore(tmp_path)
    store.load_all(b"".join(ca.cert_pem for ca in cas[:3]))
    assert store.remove(2) is True
    assert store.remove(2) is False
    assert [i.slot for i in store.slots()] == [1, 3]
    assert store.load(cas[4].cert_pem) == 2  # the lowest free slot
    store.clear()
    assert store.slots() == [] and store.pem_bundle() == b""
    assert list((tmp_path / "tls").iterdir()) == []


def test_persistence_across_instances(cas, tmp_path) -> None:
    a = TlsStore(tmp_path)
    a.load(cas[0].cert_pem)
    a.load(cas[1].cert_der, slot=3)
    b = TlsStore(tmp_path)
    assert b.slots() == a.slots()
    assert [i.slot for i in b.slots()] == [1, 3]
    assert b.load_problems == []
    b.remove(1)
    assert [i.slot for i in TlsStore(tmp_path).slots()] == [3]
    assert (tmp_path / "tls" / "slot3.pem").read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")


def test_a_damaged_slot_file_is_reported_and_kept_aside(cas, tmp_path) -> None:
    a = TlsStore(tmp_path, capacity=4)
    a.load_all(cas[0].cert_pem + cas[1].cert_pem)
    tls_dir = tmp_path / "tls"
    (tls_dir / "slot2.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nMIIB")
    (tls_dir / "slot9.pem").write_bytes(cas[2].cert_pem)  # beyond the capacity
    b = TlsStore(tmp_path, capacity=4)
    assert [i.slot for i in b.slots()] == [1]
    assert len(b.load_problems) == 2
    assert any("slot2.pem" in p and "slot2.pem.bad" in p for p in b.load_problems)
    assert (tls_dir / "slot2.pem.bad").exists() and (tls_dir / "slot9.pem.bad").exists()
    assert not (tls_dir / "slot2.pem").exists()
    assert TlsStore(tmp_path, capacity=4).load_problems == []  # reported once, not dropped silently


def test_client_context_uses_only_the_store(cas) -> None:
    store = TlsStore(None)
    with pytest.raises(TlsError) as info:
        store.client_context(host_check_off=False)
    assert info.value.code == 651
    assert store.describe() == "НЕТ СЕРТИФИКАТОВ"

    store.load(cas[0].cert_pem)
    ctx = store.client_context(host_check_off=False)
    assert ctx.protocol == ssl.PROTOCOL_TLS_CLIENT
    assert ctx.check_hostname is True and ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    loaded = ctx.get_ca_certs(binary_form=True)
    assert loaded == [cas[0].cert_der]  # no system roots
    assert store.describe() == "СЕРТИФИКАТЫ: 1/4"


def test_client_context_with_host_check_off(cas) -> None:
    for store in (TlsStore(None), _with(cas[0])):
        ctx = store.client_context(host_check_off=True)  # no 651 even without roots
        assert ctx.check_hostname is False and ctx.verify_mode == ssl.CERT_NONE
        assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
        assert store.describe(host_check_off=True) == "ПРОВЕРКА ХОСТА ОТКЛ"
    assert len("ПРОВЕРКА ХОСТА ОТКЛ") <= 20


def _with(ca: LabCA) -> TlsStore:
    s = TlsStore(None)
    s.load(ca.cert_pem)
    return s


def test_expired_roots_are_stored_but_listed(cas) -> None:
    old = LabCA.create("old root", valid_days=1, now=datetime.now(UTC) - timedelta(days=30))
    store = TlsStore(None)
    store.load(old.cert_pem)
    store.load(cas[0].cert_pem)
    assert store.expired() == [1]


def test_tls_error_codes_map_like_the_failures() -> None:
    assert TlsError(651).device_error.text == "Ошибка настроек TLS"
    assert Failure.TLS_SETTINGS.device_code == TlsError(651).code
    assert Failure.TLS_INPUT.device_code == TlsError(653).code


def test_memory_only_store_writes_nothing(cas, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = TlsStore(None)
    store.load(cas[0].cert_pem)
    assert list(tmp_path.iterdir()) == []
