"""The mock certification authority (АЦСК) of the ПРРО world, on the virtual clock (sans-IO).

``CertificationAuthority`` issues key containers to a person (owner name, tax
id, role) valid for a number of days from the clock's now, revokes them, and
answers what its OCSP responder says of a certificate: ``good``, ``revoked`` or
``unknown`` (``status``, and ``ocsp_response`` for a DER OCSP request; the HTTP
front is ``servers/ca/web.py``).

MODELLED: the algorithm (ECDSA P-256 with SHA-256, see ``emulator.wire.cms``),
the certificate profile (the owner's name in CN, the tax id in serialNumber,
the role in title) and the CA's name. A ``seed`` makes the keys and serials
reproducible (the ECDSA signatures themselves are randomised as usual).
Validity is checked by whoever verifies (the tax server): OCSP answers
``good`` for an expired but not revoked certificate, as real responders do.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from emulator.base.clock import VirtualClock
from emulator.rules.prro import DAY_MS, Role
from emulator.wire.cms import CURVE, KeySigner, datetime_of, make_container, ms_of, serial_hex

CertStatus = Literal["good", "revoked", "unknown"]

_DER = Encoding.DER

CA_NAME = "Емулятор АЦСК (модель, не КНЕДП)"
MAX_DAYS = 3650


@dataclass(frozen=True)
class IssuedKey:
    """One certificate the CA issued: serial (hex, upper case), the person, role, validity, key id, DER."""

    serial: str
    owner: str
    tax_id: str
    role: Role
    not_before_ms: int
    not_after_ms: int
    key_id: str
    certificate_der: bytes

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.certificate_der)


@dataclass
class _Record:
    key: IssuedKey
    revoked_ms: int | None = None


class CertificationAuthority:
    """Issue, revoke and answer the status of keys (see the module docstring)."""

    def __init__(self, clock: VirtualClock, *, seed: bytes | None = None, name: str = CA_NAME) -> None:
        self.clock = clock
        self._seed = seed if seed is not None else os.urandom(32)
        self._counter = 0
        self._records: dict[str, _Record] = {}
        self._key = self._derive_key(b"ca")
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                             x509.NameAttribute(NameOID.COUNTRY_NAME, "UA")])
        start = datetime_of(clock.now_ms - DAY_MS)
        self.certificate = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(self._key.public_key())
            .serial_number(self._serial(b"ca-serial")).not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=MAX_DAYS * 3))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256()))

    # --- keys and serials from the seed ---

    def _bytes(self, label: bytes) -> bytes:
        return hmac.new(self._seed, label, hashlib.sha256).digest()

    def _derive_key(self, label: bytes) -> ec.EllipticCurvePrivateKey:
        n = int.from_bytes(self._bytes(b"key:" + label), "big")
        order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551    # of P-256
        return ec.derive_private_key(n % (order - 1) + 1, CURVE)

    def _serial(self, label: bytes) -> int:
        return int.from_bytes(self._bytes(b"serial:" + label)[:15], "big") | 1 << 119

    # --- the CA's work ---

    def issue(self, owner: str, tax_id: str, role: Role, *, days: int, password: str,
              container: str = "key.pfx") -> tuple[IssuedKey, bytes]:
        """A new key for ``owner`` valid ``days`` days from now: the record and the container bytes.

        ``container`` is the file name the container is for (``.pfx``/``.p12``,
        ``Key-6.dat``, ``.jks``: see ``emulator.wire.cms``); ``password``
        protects it. Raises ``ValueError`` (one line) for an empty owner, a tax
        id that is not 8 or 10 digits, days outside 1..3650 or an empty password.
        """
        owner = owner.strip()
        if not owner or len(owner) > 200:
            raise ValueError("owner: a name of 1-200 characters")
        if not (tax_id.isdigit() and len(tax_id) in (8, 10)):
            raise ValueError(f"tax id: 8 (ЄДРПОУ) or 10 (РНОКПП) digits, not {tax_id[:20]!r}")
        if not 1 <= days <= MAX_DAYS:
            raise ValueError(f"days: 1-{MAX_DAYS}, not {days}")
        if not password:
            raise ValueError("password: not empty")
        role = Role(role)
        self._counter += 1
        label = b"person:%d" % self._counter
        key = self._derive_key(label)
        now_ms = self.clock.now_ms // 1000 * 1000
        not_after_ms = now_ms + days * DAY_MS
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, owner),
                             x509.NameAttribute(NameOID.SERIAL_NUMBER, tax_id),
                             x509.NameAttribute(NameOID.TITLE, role.value),
                             x509.NameAttribute(NameOID.COUNTRY_NAME, "UA")])
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(self.certificate.subject)
                .public_key(key.public_key()).serial_number(self._serial(label))
                .not_valid_before(datetime_of(now_ms)).not_valid_after(datetime_of(not_after_ms))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                             crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                               critical=False)
                .sign(self._key, hashes.SHA256()))
        issued = IssuedKey(serial=serial_hex(cert), owner=owner, tax_id=tax_id, role=role,
                           not_before_ms=ms_of(cert.not_valid_before_utc), not_after_ms=ms_of(cert.not_valid_after_utc),
                           key_id=x509.SubjectKeyIdentifier.from_public_key(key.public_key()).digest.hex(),
                           certificate_der=cert.public_bytes(_DER))
        self._records[issued.serial] = _Record(issued)
        return issued, make_container(key, cert, password, name=container, chain=(self.certificate,))

    def signer(self, serial: str) -> KeySigner:
        """The signer of an issued key (its key derives from the seed): for tests and the world's own parties."""
        rec = self._record(serial)
        label = b"person:%d" % (list(self._records).index(rec.key.serial) + 1)
        return KeySigner(self._derive_key(label), rec.key.certificate, (self.certificate,))

    def revoke(self, serial: str) -> None:
        """Revoke an issued key from now on. ``KeyError`` for a serial this CA never issued; twice is harmless."""
        rec = self._record(serial)
        if rec.revoked_ms is None:
            rec.revoked_ms = self.clock.now_ms // 1000 * 1000

    def status(self, serial: str) -> CertStatus:
        """What the OCSP responder answers for ``serial`` (hex, any case): good, revoked or unknown."""
        rec = self._records.get(serial.upper().lstrip("0") or "0")
        if rec is None:
            return "unknown"
        return "revoked" if rec.revoked_ms is not None and rec.revoked_ms <= self.clock.now_ms else "good"

    def issued(self) -> list[tuple[IssuedKey, CertStatus]]:
        """Every issued key with its status, in the order issued."""
        return [(r.key, self.status(r.key.serial)) for r in self._records.values()]

    def _record(self, serial: str) -> _Record:
        try:
            return self._records[serial.upper().lstrip("0") or "0"]
        except KeyError:
            raise KeyError(f"no key with serial {serial[:40]!r} was issued by this CA") from None

    # --- OCSP (RFC 6960) ---

    def ocsp_response(self, request_der: bytes) -> bytes:
        """The DER OCSP response to a DER OCSP request, signed by the CA (``malformedRequest`` when unreadable)."""
        try:
            req = ocsp.load_der_ocsp_request(request_der)
        except ValueError:
            return ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.MALFORMED_REQUEST).public_bytes(_DER)
        now = datetime_of(self.clock.now_ms // 1000 * 1000)
        algorithm = req.hash_algorithm
        ours = (_name_hash(self.certificate, algorithm), _key_hash(self.certificate, algorithm))
        mine = (req.issuer_name_hash, req.issuer_key_hash) == ours
        status = self.status(f"{req.serial_number:X}") if mine else "unknown"
        revoked_at = None
        if status == "revoked":
            rec = self._records[f"{req.serial_number:X}"]
            assert rec.revoked_ms is not None
            revoked_at = datetime_of(rec.revoked_ms)
        cert_status = {"good": ocsp.OCSPCertStatus.GOOD, "revoked": ocsp.OCSPCertStatus.REVOKED,
                       "unknown": ocsp.OCSPCertStatus.UNKNOWN}[status]
        builder = (ocsp.OCSPResponseBuilder()
                   .add_response_by_hash(issuer_name_hash=req.issuer_name_hash, issuer_key_hash=req.issuer_key_hash,
                                         serial_number=req.serial_number, algorithm=algorithm, cert_status=cert_status,
                                         this_update=now, next_update=now + dt.timedelta(minutes=10),
                                         revocation_time=revoked_at, revocation_reason=None)
                   .responder_id(ocsp.OCSPResponderEncoding.HASH, self.certificate))
        return builder.sign(self._key, hashes.SHA256()).public_bytes(_DER)


def _name_hash(cert: x509.Certificate, algorithm: hashes.HashAlgorithm) -> bytes:
    h = hashes.Hash(algorithm)
    h.update(cert.subject.public_bytes())
    return h.finalize()


def _key_hash(cert: x509.Certificate, algorithm: hashes.HashAlgorithm) -> bytes:
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    # the BIT STRING's bytes of the SubjectPublicKeyInfo (RFC 6960: the hash of the key itself)
    raw = cert.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)  # type: ignore[attr-defined]
    assert spki.endswith(raw)
    h = hashes.Hash(algorithm)
    h.update(raw)
    return h.finalize()
