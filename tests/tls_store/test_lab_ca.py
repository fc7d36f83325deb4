"""The lab CA: extensions of the root and of server certificates, persistence, server contexts."""

from __future__ import annotations

import ipaddress
import ssl
import stat
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from tls_store.lab_ca import LabCA, server_context


@pytest.fixture(scope="module")
def ca() -> LabCA:
    return LabCA.create()


def test_root_extensions(ca) -> None:
    cert = ca.certificate
    assert cert.subject == cert.issuer
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "kkt-emu lab root CA"
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca is True
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(cert.public_key())
    assert cert.not_valid_after_utc - cert.not_valid_before_utc >= timedelta(days=3650)
    cert.verify_directly_issued_by(cert)


def test_create_at_a_given_time() -> None:
    t = datetime(2025, 3, 1, tzinfo=UTC)
    old = LabCA.create("old", valid_days=10, now=t)
    assert old.certificate.not_valid_after_utc == t + timedelta(days=10)


def test_server_certificate(ca) -> None:
    sc = ca.issue_server(["cdn01.crpt.ru", "cdn02.crpt.ru"], ip_addresses=["127.0.0.1", "::1"])
    cert = sc.certificate
    cert.verify_directly_issued_by(ca.certificate)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["cdn01.crpt.ru", "cdn02.crpt.ru"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ca.certificate.extensions.get_extension_for_class(
        x509.SubjectKeyIdentifier).value.digest
    assert sc.chain_pem == sc.cert_pem + ca.cert_pem
    assert sc.key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert ca.issue_server(["x.example"]).certificate.extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]


def test_expired_server_certificate(ca) -> None:
    now = datetime.now(UTC)
    sc = ca.issue_server(["cdn01.crpt.ru"], not_after=now - timedelta(days=1))
    assert sc.certificate.not_valid_after_utc < now
    assert sc.certificate.not_valid_before_utc < sc.certificate.not_valid_after_utc


def test_save_and_load(ca, tmp_path) -> None:
    ca.save(tmp_path)
    assert stat.S_IMODE((tmp_path / "ca.key").stat().st_mode) == 0o600
    again = LabCA.load(tmp_path)
    assert again.cert_pem == ca.cert_pem
    assert again.key_pem == ca.key_pem
    again.issue_server(["a.example"]).certificate.verify_directly_issued_by(ca.certificate)


def test_save_with_a_password_never_shows_it(ca, tmp_path) -> None:
    secret = b"s3cret-lab-password"
    ca.save(tmp_path, password=secret)
    key_text = (tmp_path / "ca.key").read_bytes()
    assert b"ENCRYPTED" in key_text and secret not in key_text
    assert LabCA.load(tmp_path, password=secret).cert_pem == ca.cert_pem
    with pytest.raises(ValueError) as info:
        LabCA.load(tmp_path, password=b"wrong")
    assert secret.decode() not in str(info.value)
    with pytest.raises(ValueError):
        LabCA.load(tmp_path)
    assert "s3cret" not in repr(ca)


def test_server_context(ca, tmp_path) -> None:
    sc = ca.issue_server(["cdn01.crpt.ru"])
    ctx = server_context(sc)
    assert ctx.protocol == ssl.PROTOCOL_TLS_SERVER
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    kept = ca.server_context(sc, tmp_path / "srv")
    assert isinstance(kept, ssl.SSLContext)
    assert stat.S_IMODE((tmp_path / "srv" / "server.key").stat().st_mode) == 0o600
    assert (tmp_path / "srv" / "server-chain.pem").read_bytes() == sc.chain_pem
