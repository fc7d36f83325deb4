"""Signing keys of the ПРРО world: key containers, the signer interface, CMS SignedData sign/verify.

MODELLED algorithm: the tax service signs with DSTU 4145 (CAdES-E-T); no
DSTU 4145 library is at hand, so keys here are ECDSA on NIST P-256 with
SHA-256. Everything else sits behind ``Signer`` so that a real DSTU signer
could be plugged in: the rest of the emulator only calls ``signer.sign(data)``
and ``verify(signed)``.

``sign`` produces CMS SignedData (RFC 5652), DER, enveloping the content, with
the signer's certificate embedded and nothing else (no issuer certificates, no
CRLs, no OCSP answers, as the tax service's description asks). The signature
has no signed attributes (so no ``signingTime`` read from a wall clock; the
timestamp of CAdES-E-T is not modelled). ``verify`` reads such a message (or
one with signed attributes: the ``messageDigest`` is checked) with a small,
bounded DER reader, and checks the signature against the embedded certificate.
It does not judge the certificate (validity period, revocation, issuer): that
is the verifier's business (the mock tax server asks the CA's OCSP).

Key containers (``load_container``; ``make_container`` writes them):

======================  =======================================================  ===========
file name               content                                                  library
======================  =======================================================  ===========
``*.pfx``, ``*.p12``    PKCS#12, password-protected: key, certificate, CA cert   ``pkcs12``
``Key-6.dat``, ``*.dat`` MODELLED: the same PKCS#12 under a header with a digest  ``iit``
``*.jks``               MODELLED: the same PKCS#12 under another header           ``privatbank``
``*.zs2``               format not established: always ``unsupported``           —
======================  =======================================================  ===========

(The real ``Key-6.dat`` is IIT's GOST-encrypted container without certificates
and the real ``.jks`` a PrivatBank Java KeyStore; here both carry the same
content as the PKCS#12, which the README's faithful/modelled table says.)
The "library" is the cryptographic library a ПРРО needs for the container: a
ПРРО that has only some libraries installed refuses the others with kind
``library`` (the seeds' "a change of key type may need the CA libraries updated").

``KeyFileError.kind`` is one of ``KEY_ERROR_KINDS``:

* ``missing``: the file is not there (``read_container_file``; the seeds'
  «Library not initialized» when a key file was moved or deleted);
* ``damaged``: not a container of its kind, or its bytes are changed;
* ``wrong-password``: the container is whole but the password does not open it
  (the seeds show «Error loading key certificates» for both of these);
* ``unsupported``: a file name the emulator has no container for (``.zs2``…);
* ``library``: the container's library is not among those given.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import warnings
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12
from cryptography.x509.oid import NameOID

from emulator.rules.prro import Role

SIGNATURE_ALGORITHM = "ECDSA P-256 / SHA-256 (modelled; the tax service uses DSTU 4145)"
CURVE = ec.SECP256R1()

KEY_ERROR_KINDS = ("missing", "damaged", "wrong-password", "unsupported", "library")

MAX_SIGNED_BYTES = 4 * 1024 * 1024       # bigger than any message the tax server takes (200 KB, a package of 100)

_MODELLED_MAGIC = {"iit": b"KKTEMU-IIT-KEY6\x00", "privatbank": b"KKTEMU-PB-JKS\x00\x00\x00"}


class KeyFileError(Exception):
    """A key container that cannot be read. ``kind`` is one of ``KEY_ERROR_KINDS``; ``detail`` one line."""

    def __init__(self, kind: str, detail: str) -> None:
        assert kind in KEY_ERROR_KINDS, kind
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


class SignatureError(Exception):
    """A signed message that is not CMS SignedData, or whose signature does not verify (one-line reason)."""


class SignatureMismatch(SignatureError):
    """A well-formed SignedData whose signature does not match its content (a subclass of ``SignatureError``)."""


def ms_of(when: dt.datetime) -> int:
    return int(when.timestamp() * 1000)


def datetime_of(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


def key_id(cert: x509.Certificate) -> str:
    """The key's id as the tax service names it (``SubjectKeyId``): the subject key identifier, hex."""
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest.hex()
    except x509.ExtensionNotFound:
        return x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest.hex()  # type: ignore[arg-type]


def serial_hex(cert: x509.Certificate) -> str:
    return f"{cert.serial_number:X}"


@dataclass(frozen=True)
class CertInfo:
    """What «Read» shows of a certificate: owner, tax id, role, key id, serial, validity, issuer."""

    owner: str
    tax_id: str
    role: Role | None
    key_id: str
    serial: str
    not_before_ms: int
    not_after_ms: int
    issuer: str

    def expired(self, now_ms: int) -> bool:
        return not self.not_before_ms <= now_ms <= self.not_after_ms


def _attr(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


def cert_info(cert: x509.Certificate) -> CertInfo:
    role_text = _attr(cert.subject, NameOID.TITLE)
    return CertInfo(owner=_attr(cert.subject, NameOID.COMMON_NAME), tax_id=_attr(cert.subject, NameOID.SERIAL_NUMBER),
                    role=Role(role_text) if role_text in Role._value2member_map_ else None,
                    key_id=key_id(cert), serial=serial_hex(cert),
                    not_before_ms=ms_of(cert.not_valid_before_utc), not_after_ms=ms_of(cert.not_valid_after_utc),
                    issuer=_attr(cert.issuer, NameOID.COMMON_NAME))


@runtime_checkable
class Signer(Protocol):
    """What signs for a person: their certificate, and ``sign(data)`` → CMS SignedData (DER, cert embedded)."""

    @property
    def certificate(self) -> x509.Certificate: ...

    def sign(self, data: bytes) -> bytes: ...


class KeySigner:
    """The modelled signer: an ECDSA P-256 private key and its certificate (see the module docstring)."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate,
                 chain: tuple[x509.Certificate, ...] = ()) -> None:
        self._key = private_key
        self._cert = certificate
        self.chain = chain
        self.info = cert_info(certificate)

    @property
    def certificate(self) -> x509.Certificate:
        return self._cert

    @property
    def key_id(self) -> str:
        return self.info.key_id

    def sign(self, data: bytes) -> bytes:
        return sign(self._key, self._cert, data)

    def __repr__(self) -> str:      # never the key itself
        return f"KeySigner(owner={self.info.owner!r}, key_id={self.info.key_id[:8]}…)"


def sign(private_key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate, data: bytes) -> bytes:
    """CMS SignedData (DER) enveloping ``data``, the certificate embedded, no signed attributes."""
    return (pkcs7.PKCS7SignatureBuilder().set_data(data).add_signer(certificate, private_key, hashes.SHA256())
            .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.NoAttributes, pkcs7.PKCS7Options.Binary]))


# --- a bounded DER reader, enough for SignedData -------------------------------------------------------------

_OID_SIGNED_DATA = bytes.fromhex("2a864886f70d010702")
_OID_MESSAGE_DIGEST = bytes.fromhex("2a864886f70d010904")
_DIGESTS = {bytes.fromhex("608648016503040201"): hashes.SHA256(), bytes.fromhex("608648016503040202"): hashes.SHA384(),
            bytes.fromhex("608648016503040203"): hashes.SHA512()}


@dataclass(frozen=True)
class _Tlv:
    tag: int
    start: int      # of the whole element
    body: int       # of its content
    end: int

    def raw(self, data: bytes) -> bytes:
        return data[self.start:self.end]

    def content(self, data: bytes) -> bytes:
        return data[self.body:self.end]


def _read(data: bytes, pos: int, end: int) -> _Tlv:
    if pos + 2 > end:
        raise SignatureError("CMS: truncated element")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise SignatureError("CMS: multi-byte tags are not used in SignedData")
    first = data[pos + 1]
    p = pos + 2
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise SignatureError("CMS: indefinite length (not DER)")
    else:
        n = first & 0x7F
        if n > 4 or p + n > end:
            raise SignatureError("CMS: bad length")
        length = int.from_bytes(data[p:p + n], "big")
        p += n
    if p + length > end:
        raise SignatureError("CMS: element longer than its container")
    return _Tlv(tag, pos, p, p + length)


def _children(data: bytes, parent: _Tlv) -> list[_Tlv]:
    out = []
    pos = parent.body
    while pos < parent.end:
        t = _read(data, pos, parent.end)
        out.append(t)
        pos = t.end
        if len(out) > 10_000:
            raise SignatureError("CMS: too many elements")
    return out


def _expect(t: _Tlv, tag: int, what: str) -> _Tlv:
    if t.tag != tag:
        raise SignatureError(f"CMS: {what}: tag 0x{t.tag:02x}, expected 0x{tag:02x}")
    return t


def verify(signed: bytes) -> tuple[bytes, x509.Certificate]:
    """The content of a CMS SignedData message and the certificate that signed it.

    Raises ``SignatureError`` (one line) when the bytes are not such a message,
    the signer's certificate is not embedded, or the signature does not verify.
    The certificate itself is not judged here (see the module docstring).
    """
    if not isinstance(signed, bytes | bytearray) or not signed:
        raise SignatureError("CMS: empty message")
    if len(signed) > MAX_SIGNED_BYTES:
        raise SignatureError(f"CMS: message of {len(signed)} bytes is over {MAX_SIGNED_BYTES}")
    data = bytes(signed)
    top = _expect(_read(data, 0, len(data)), 0x30, "ContentInfo")
    if top.end != len(data):
        raise SignatureError("CMS: trailing bytes after ContentInfo")
    ci = _children(data, top)
    if len(ci) != 2 or ci[0].tag != 0x06 or ci[0].content(data) != _OID_SIGNED_DATA:
        raise SignatureError("CMS: not SignedData")
    wrapped = _children(data, _expect(ci[1], 0xA0, "[0] content"))
    if len(wrapped) != 1:
        raise SignatureError("CMS: [0] content")
    sd = _expect(wrapped[0], 0x30, "SignedData")
    parts = _children(data, sd)
    if len(parts) < 4:
        raise SignatureError("CMS: SignedData too short")
    encap = _children(data, _expect(parts[2], 0x30, "encapContentInfo"))
    if len(encap) != 2:
        raise SignatureError("CMS: detached content (the tax service wants it enveloped)")
    octets = _children(data, _expect(encap[1], 0xA0, "[0] eContent"))
    if len(octets) != 1:
        raise SignatureError("CMS: eContent")
    content = _expect(octets[0], 0x04, "eContent OCTET STRING").content(data)
    certs: list[x509.Certificate] = []
    rest = parts[3:]
    if rest and rest[0].tag == 0xA0:
        for t in _children(data, rest[0]):
            certs.append(_certificate(t.raw(data)))
        rest = rest[1:]
    if rest and rest[0].tag == 0xA1:
        rest = rest[1:]
    if len(rest) != 1:
        raise SignatureError("CMS: signerInfos")
    infos = _children(data, _expect(rest[0], 0x31, "signerInfos"))
    if len(infos) != 1:
        raise SignatureError(f"CMS: {len(infos)} signers, expected 1")
    si = _children(data, _expect(infos[0], 0x30, "SignerInfo"))
    if len(si) < 5:
        raise SignatureError("CMS: SignerInfo too short")
    sid = si[1]
    cert = _signer_cert(data, sid, certs)
    digest_alg = _children(data, _expect(si[2], 0x30, "digestAlgorithm"))
    algorithm = _DIGESTS.get(digest_alg[0].content(data)) if digest_alg else None
    if algorithm is None:
        raise SignatureError("CMS: unsupported digest algorithm")
    idx = 3
    signed_bytes = content
    if si[idx].tag == 0xA0:
        attrs = si[idx]
        _check_message_digest(data, attrs, content, algorithm)
        signed_bytes = b"\x31" + data[attrs.start + 1:attrs.end]     # the SET OF as signed (IMPLICIT [0] → SET)
        idx += 1
    if idx + 1 >= len(si):
        raise SignatureError("CMS: SignerInfo without signature")
    signature = _expect(si[idx + 1], 0x04, "signature").content(data)
    public = cert.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise SignatureError("CMS: the signer's key is not one this emulator signs with")
    try:
        public.verify(signature, signed_bytes, ec.ECDSA(algorithm))
    except InvalidSignature:
        raise SignatureMismatch("CMS: the signature does not match the content") from None
    return content, cert


def _certificate(der: bytes) -> x509.Certificate:
    """An embedded certificate, every part the emulator reads decoded now (cryptography decodes lazily)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")          # e.g. a non-positive serial: refused just below
            cert = x509.load_der_x509_certificate(der)
        if cert.serial_number <= 0:
            raise ValueError("a serial number that is not positive")
        cert.public_key()
        cert_info(cert)
    except (ValueError, UnsupportedAlgorithm, x509.InvalidVersion) as exc:   # InvalidVersion: not a ValueError
        raise SignatureError(f"CMS: bad embedded certificate ({str(exc)[:80]})") from None
    return cert


def _signer_cert(data: bytes, sid: _Tlv, certs: list[x509.Certificate]) -> x509.Certificate:
    if not certs:
        raise SignatureError("CMS: the signer's certificate is not embedded")
    if sid.tag == 0x30:
        fields = _children(data, sid)
        if len(fields) == 2 and fields[1].tag == 0x02:
            serial = int.from_bytes(fields[1].content(data), "big", signed=True)
            for c in certs:
                if c.serial_number == serial:
                    return c
    elif sid.tag == 0x80:
        ski = sid.content(data)
        for c in certs:
            if key_id(c) == ski.hex():
                return c
    raise SignatureError("CMS: the signer's certificate is not embedded")


def _check_message_digest(data: bytes, attrs: _Tlv, content: bytes, algorithm: hashes.HashAlgorithm) -> None:
    h = hashes.Hash(algorithm)
    h.update(content)
    want = h.finalize()
    for attr in _children(data, attrs):
        fields = _children(data, attr)
        if len(fields) == 2 and fields[0].content(data) == _OID_MESSAGE_DIGEST:
            values = _children(data, fields[1])
            if len(values) == 1 and values[0].content(data) == want:
                return
            raise SignatureMismatch("CMS: messageDigest does not match the content")
    raise SignatureError("CMS: signed attributes without messageDigest")


# --- containers ------------------------------------------------------------------------------------------------

def container_library(name: str) -> str:
    """The library a container file needs, by its name; ``KeyFileError('unsupported')`` for other names."""
    suffix = Path(name).suffix.lower()
    if suffix in (".pfx", ".p12"):
        return "pkcs12"
    if suffix == ".dat":
        return "iit"
    if suffix == ".jks":
        return "privatbank"
    raise KeyFileError("unsupported", f"{Path(name).name or name!r}: no key container of this kind is known")


LIBRARIES = ("pkcs12", "iit", "privatbank")


def make_container(private_key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate, password: str, *,
                   name: str = "key.pfx", chain: tuple[x509.Certificate, ...] = ()) -> bytes:
    """The container bytes for a file called ``name`` (its suffix picks the kind), protected by ``password``."""
    library = container_library(name)
    p12 = pkcs12.serialize_key_and_certificates(
        cert_info(certificate).owner.encode("utf-8"), private_key, certificate, list(chain) or None,
        serialization.BestAvailableEncryption(password.encode("utf-8")))
    if library == "pkcs12":
        return p12
    return _MODELLED_MAGIC[library] + hashlib.sha256(p12).digest() + p12


def load_container(data: bytes, password: str, *, name: str,
                   libraries: Collection[str] | None = None) -> KeySigner:
    """Open a key container: the signer with the owner's certificate, or ``KeyFileError``.

    ``name`` is the file's name (its suffix says the kind, as for the ПРРО's file
    picker); ``libraries`` the cryptographic libraries installed (``None``: all
    of ``LIBRARIES``).
    """
    library = container_library(name)
    if libraries is not None and library not in libraries:
        raise KeyFileError("library", f"the {library!r} library is needed for {Path(name).name!r}")
    p12 = data
    if library != "pkcs12":
        magic = _MODELLED_MAGIC[library]
        if not data.startswith(magic) or len(data) < len(magic) + 32:
            raise KeyFileError("damaged", f"{Path(name).name!r} is not a {library} key container")
        digest, p12 = data[len(magic):len(magic) + 32], data[len(magic) + 32:]
        if hashlib.sha256(p12).digest() != digest:
            raise KeyFileError("damaged", f"{Path(name).name!r}: the container's bytes are changed")
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(p12, password.encode("utf-8"))
    except ValueError as exc:
        if "password" in str(exc).lower():
            raise KeyFileError("wrong-password", f"the password does not open {Path(name).name!r}") from None
        raise KeyFileError("damaged", f"{Path(name).name!r} is not a readable key container") from None
    if cert is None or not isinstance(key, ec.EllipticCurvePrivateKey):
        raise KeyFileError("damaged", f"{Path(name).name!r} holds no key and certificate of this emulator")
    return KeySigner(key, cert, tuple(extra))


def read_container_file(path: str | Path, password: str, *, libraries: Collection[str] | None = None) -> KeySigner:
    """``load_container`` of a file; ``KeyFileError('missing')`` when it is not there (moved or deleted)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise KeyFileError("missing", f"no key file {p.name!r} at the path set") from None
    except OSError as exc:
        raise KeyFileError("missing", f"key file {p.name!r} cannot be read ({exc.strerror})") from None
    return load_container(data, password, name=p.name, libraries=libraries)
