"""The mock CA: containers that open with their password, revocation, OCSP status on the virtual clock."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp

from emulator.base.clock import VirtualClock
from emulator.rules.prro import DAY_MS, Role
from emulator.servers.ca.model import CertificationAuthority
from emulator.wire import cms

T0 = 1_780_000_000_000


@pytest.fixture
def ca() -> CertificationAuthority:
    return CertificationAuthority(VirtualClock(T0), seed=b"test")


def test_issue_gives_a_container_with_the_person_role_and_validity(ca):
    key, data = ca.issue("Іваненко Іван", "1234567890", Role.CASHIER, days=30, password="секрет")
    signer = cms.load_container(data, "секрет", name="key.pfx")
    assert signer.info.owner == "Іваненко Іван" and signer.info.tax_id == "1234567890"
    assert signer.info.role is Role.CASHIER and signer.info.key_id == key.key_id
    assert key.not_before_ms == T0 and key.not_after_ms == T0 + 30 * DAY_MS
    assert signer.info.expired(T0 + 30 * DAY_MS + 1) and not signer.info.expired(T0 + DAY_MS)


def test_seeded_ca_is_reproducible():
    a = CertificationAuthority(VirtualClock(T0), seed=b"s")
    b = CertificationAuthority(VirtualClock(T0), seed=b"s")
    ka, _ = a.issue("A", "12345678", Role.DIRECTOR, days=1, password="p")
    kb, _ = b.issue("A", "12345678", Role.DIRECTOR, days=1, password="p")
    assert (ka.serial, ka.key_id) == (kb.serial, kb.key_id)


def test_revoke_and_status(ca):
    key, _ = ca.issue("Петренко", "12345678", Role.SENIOR_CASHIER, days=5, password="p")
    assert ca.status(key.serial) == "good"
    ca.revoke(key.serial)
    assert ca.status(key.serial) == "revoked" and ca.status(key.serial.lower()) == "revoked"
    assert ca.status("DEADBEEF") == "unknown"
    with pytest.raises(KeyError):
        ca.revoke("DEADBEEF")


@pytest.mark.parametrize("bad", [dict(owner=" "), dict(tax_id="12"), dict(days=0), dict(password="")])
def test_issue_refuses_bad_input(ca, bad):
    args = dict(owner="A", tax_id="12345678", role=Role.CASHIER, days=1, password="p") | bad
    with pytest.raises(ValueError):
        ca.issue(args.pop("owner"), args.pop("tax_id"), args.pop("role"), **args)


def _ocsp(ca: CertificationAuthority, cert, issuer=None) -> ocsp.OCSPResponse:
    req = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer or ca.certificate, hashes.SHA1()).build()
    resp = ocsp.load_der_ocsp_response(ca.ocsp_response(req.public_bytes(Encoding.DER)))
    return resp


def test_ocsp_answers_good_revoked_unknown_signed_by_the_ca(ca):
    key, _ = ca.issue("Петренко", "12345678", Role.CASHIER, days=5, password="p")
    resp = _ocsp(ca, key.certificate)
    assert resp.certificate_status is ocsp.OCSPCertStatus.GOOD
    ca.certificate.public_key().verify(resp.signature, resp.tbs_response_bytes, ec.ECDSA(hashes.SHA256()))
    ca.clock.advance(1000)
    ca.revoke(key.serial)
    resp = _ocsp(ca, key.certificate)
    assert resp.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert cms.ms_of(resp.revocation_time_utc) == T0 + 1000
    other = CertificationAuthority(VirtualClock(T0), seed=b"other")
    stranger, _ = other.issue("X", "12345678", Role.CASHIER, days=5, password="p")
    assert _ocsp(ca, stranger.certificate, other.certificate).certificate_status is ocsp.OCSPCertStatus.UNKNOWN


def test_ocsp_malformed_request(ca):
    resp = ocsp.load_der_ocsp_response(ca.ocsp_response(b"\x30\x03junk"))
    assert resp.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
