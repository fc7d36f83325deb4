"""A lab certification authority for the mock servers, made with ``cryptography``.

``LabCA.create()`` makes a self-signed EC P-256 root (BasicConstraints ca=True,
critical; KeyUsage keyCertSign + cRLSign, critical; SubjectKeyIdentifier).
``issue_server()`` signs server certificates with SAN DNS names and IP
addresses, ExtendedKeyUsage serverAuth and AuthorityKeyIdentifier. It lets the
caller pick the validity window freely, so the mock servers can present faulty
certificates on purpose: an expired one (``not_after`` in the past) or one for
another host name. A certificate from an unknown CA is simply one issued by a
second ``LabCA``.

``server_context()`` builds the ``ssl.SSLContext`` a mock server hands to
uvicorn or wraps its socket with. ``ssl`` can load a certificate chain only
from files, so the chain and key are written to a private temporary directory
(or one the caller gives), loaded and, for the temporary case, removed again.

The CA key is written with mode 0600. A key password, if one is given, is only
ever passed to ``cryptography``; it is never logged or put in a message.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from emulator.base.storage import private_dir, write_atomic

CA_CERT_FILE = "ca.pem"
CA_KEY_FILE = "ca.key"


@dataclass(frozen=True)
class ServerCert:
    """A server certificate issued by a ``LabCA``, all PEM."""

    cert_pem: bytes    # the leaf certificate
    key_pem: bytes     # its private key (PKCS#8, unencrypted)
    chain_pem: bytes   # leaf followed by the issuing CA: what the server presents

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)

    @property
    def cert_der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey, password: bytes | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


class LabCA:
    """A root CA: its certificate and private key, kept in memory."""

    def __init__(self, certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        self.certificate = certificate
        self._key = key

    def __repr__(self) -> str:  # never show the key
        return f"LabCA({self.certificate.subject.rfc4514_string()!r})"

    # -- creation and persistence -------------------------------------
    @classmethod
    def create(cls, common_name: str = "kkt-emu lab root CA", valid_days: int = 3650,
               now: datetime | None = None) -> LabCA:
        now = _aware(now) if now is not None else _utcnow()
        key = _new_key()
        name = x509.Name([
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kkt-emu lab"),
        ])
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=valid_days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(ski, critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(cert, key)

    def save(self, directory: Path, password: bytes | None = None) -> None:
        """Write ``ca.pem`` and ``ca.key`` (mode 0600, encrypted when a password is given)."""
        directory = private_dir(Path(directory))
        write_atomic(directory / CA_CERT_FILE, self.cert_pem)
        key_path = directory / CA_KEY_FILE
        # write_atomic's temporary file is created 0600 (mkstemp), so the key is never world-readable.
        write_atomic(key_path, _key_pem(self._key, password))
        os.chmod(key_path, 0o600)

    @classmethod
    def load(cls, directory: Path, password: bytes | None = None) -> LabCA:
        directory = Path(directory)
        cert = x509.load_pem_x509_certificate((directory / CA_CERT_FILE).read_bytes())
        try:
            key = serialization.load_pem_private_key((directory / CA_KEY_FILE).read_bytes(), password=password)
        except (TypeError, ValueError):
            # The exception text of cryptography does not contain the password, but keep ours plain anyway.
            raise ValueError(f"cannot load the lab CA key from {directory / CA_KEY_FILE} "
                             "(wrong or missing password, or not a key)") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the lab CA key is not an EC key")
        return cls(cert, key)

    # -- views ----------------------------------------------------------
    @property
    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def cert_der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def key_pem(self) -> bytes:
        return _key_pem(self._key)

    # -- issuing ----------------------------------------------------------
    def issue_server(self, host_names: list[str], ip_addresses: list[str] | None = None, valid_days: int = 365,
                     not_before: datetime | None = None, not_after: datetime | None = None) -> ServerCert:
        """A server certificate for ``host_names`` and ``ip_addresses`` (default ``["127.0.0.1"]``).

        ``not_before``/``not_after`` override the window (``now - 5 min`` .. ``+ valid_days``);
        a ``not_after`` in the past gives an expired certificate, on purpose.
        """
        if ip_addresses is None:
            ip_addresses = ["127.0.0.1"]
        if not host_names and not ip_addresses:
            raise ValueError("a server certificate needs a host name or an IP address")
        now = _utcnow()
        start = _aware(not_before) if not_before is not None else now - timedelta(minutes=5)
        end = _aware(not_after) if not_after is not None else start + timedelta(days=valid_days)
        if end <= start:
            start = end - timedelta(days=max(1, valid_days))
        key = _new_key()
        cn = host_names[0] if host_names else ip_addresses[0]
        san: list[x509.GeneralName] = [x509.DNSName(h) for h in host_names]
        san += [x509.IPAddress(ipaddress.ip_address(a)) for a in ip_addresses]
        ca_ski = self.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=True, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        return ServerCert(cert_pem=cert_pem, key_pem=_key_pem(key), chain_pem=cert_pem + self.cert_pem)

    def server_context(self, cert: ServerCert, directory: Path | None = None) -> ssl.SSLContext:
        return server_context(cert, directory)


def server_context(cert: ServerCert, directory: Path | None = None) -> ssl.SSLContext:
    """A ``PROTOCOL_TLS_SERVER`` context presenting ``cert`` (TLS 1.2 minimum).

    ``ssl`` loads chains only from files: with ``directory`` the chain and key are
    written there (key 0600) and left for the caller; without it they go to a
    private temporary directory that is removed once loaded.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if directory is not None:
        _load_chain(ctx, cert, Path(directory))
    else:
        with tempfile.TemporaryDirectory(prefix="kkt-emu-tls-") as tmp:
            _load_chain(ctx, cert, Path(tmp))
    return ctx


def _load_chain(ctx: ssl.SSLContext, cert: ServerCert, directory: Path) -> None:
    private_dir(directory)
    chain_path = directory / "server-chain.pem"
    key_path = directory / "server.key"
    write_atomic(chain_path, cert.chain_pem)
    write_atomic(key_path, cert.key_pem)
    os.chmod(key_path, 0o600)
    ctx.load_cert_chain(chain_path, key_path)
