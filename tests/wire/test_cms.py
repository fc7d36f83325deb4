"""CMS SignedData sign/verify and the key containers' error kinds."""

from __future__ import annotations

import pytest

from emulator.base.clock import VirtualClock
from emulator.rules.prro import Role
from emulator.servers.ca.model import CertificationAuthority
from emulator.wire import cms


@pytest.fixture(scope="module")
def issued():
    ca = CertificationAuthority(VirtualClock(1_780_000_000_000), seed=b"cms")
    out = {}
    for name in ("key.pfx", "key.p12", "Key-6.dat", "key.jks"):
        out[name] = ca.issue("Касир Один", "1234567890", Role.CASHIER, days=10, password="пароль", container=name)
    return out


def test_sign_and_verify_round_trip(issued):
    key, data = issued["key.pfx"]
    signer = cms.load_container(data, "пароль", name="key.pfx")
    assert isinstance(signer, cms.Signer)
    content = "<CHECK>Привіт</CHECK>".encode("cp1251")
    signed = signer.sign(content)
    got, cert = cms.verify(signed)
    assert got == content and cms.key_id(cert) == key.key_id


def test_a_changed_byte_fails_verification(issued):
    signer = cms.load_container(issued["key.pfx"][1], "пароль", name="key.pfx")
    signed = bytearray(signer.sign(b"payload-payload"))
    i = bytes(signed).index(b"payload-payload")
    signed[i] ^= 1
    with pytest.raises(cms.SignatureError, match="does not match"):
        cms.verify(bytes(signed))


@pytest.mark.parametrize("junk", [b"", b"\x30", b"\x30\x80\x00\x00", b"hello", b"\x30\x05\x06\x03\x2a\x03\x04"])
def test_garbage_is_a_signature_error(junk):
    with pytest.raises(cms.SignatureError):
        cms.verify(junk)


def test_truncations_are_signature_errors(issued):
    signed = cms.load_container(issued["key.pfx"][1], "пароль", name="key.pfx").sign(b"x" * 50)
    for n in range(0, len(signed), 7):
        with pytest.raises(cms.SignatureError):
            cms.verify(signed[:n])


@pytest.mark.parametrize("name", ["key.pfx", "key.p12", "Key-6.dat", "key.jks"])
def test_container_error_kinds(issued, name):
    key, data = issued[name]
    assert cms.load_container(data, "пароль", name=name).info.key_id == key.key_id
    with pytest.raises(cms.KeyFileError) as e:
        cms.load_container(data, "не той", name=name)
    assert e.value.kind == "wrong-password"
    with pytest.raises(cms.KeyFileError) as e:
        cms.load_container(data[: len(data) // 2], "пароль", name=name)
    assert e.value.kind == "damaged"


def test_modelled_containers_detect_any_changed_byte(issued):
    data = bytearray(issued["Key-6.dat"][1])
    data[-10] ^= 0x40
    with pytest.raises(cms.KeyFileError) as e:
        cms.load_container(bytes(data), "пароль", name="Key-6.dat")
    assert e.value.kind == "damaged"


def test_unknown_kind_and_missing_library(issued):
    with pytest.raises(cms.KeyFileError) as e:
        cms.load_container(b"x", "p", name="key.zs2")
    assert e.value.kind == "unsupported"
    with pytest.raises(cms.KeyFileError) as e:
        cms.load_container(issued["key.jks"][1], "пароль", name="key.jks", libraries={"pkcs12", "iit"})
    assert e.value.kind == "library"


def test_missing_file(tmp_path, issued):
    with pytest.raises(cms.KeyFileError) as e:
        cms.read_container_file(tmp_path / "Key-6.dat", "пароль")
    assert e.value.kind == "missing"
    (tmp_path / "Key-6.dat").write_bytes(issued["Key-6.dat"][1])
    assert cms.read_container_file(tmp_path / "Key-6.dat", "пароль").info.owner == "Касир Один"


def test_signer_repr_hides_the_key(issued):
    signer = cms.load_container(issued["key.pfx"][1], "пароль", name="key.pfx")
    assert "PRIVATE" not in repr(signer) and signer.key_id[:8] in repr(signer)
