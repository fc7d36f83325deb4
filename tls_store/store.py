"""The device's root-certificate store: a fixed number of slots (MODELLED).

The vendor's instruction says only that the KKT checks a host's authenticity
against root certificates loaded into it, that error 650 «Нет места для
сохранения нового сертификата» exists (so the store is bounded), and that
option 92 = 1 turns the host check off. Everything else here is MODELLED: the
capacity (4 slots by default), slot numbers 1..capacity, what is accepted
(any CA certificate, PEM or DER; a PEM with several certificates fills
several slots), and that every loaded certificate is a trust anchor of its own
(``VERIFY_X509_PARTIAL_CHAIN``, as embedded TLS stacks treat their CA list), so
an intermediate CA loaded into a slot works too.

Persistence: one PEM file per slot, ``<dir>/tls/slot<N>.pem``, each written
atomically (``emulator.storage.write_atomic``) and read back on construction.
A slot file that is not a usable CA certificate, or whose number lies outside
the capacity, is moved aside to ``slot<N>.pem.bad`` and reported in
``load_problems``; nothing is dropped silently.

Libraries, and why:

* ``cryptography`` parses and checks certificates (PEM/DER, BasicConstraints,
  KeyUsage, subject, validity, fingerprint): it gives structured access that
  ``ssl`` does not have for certificates not yet in a context.
* the standard ``ssl`` module builds the client context
  (``client_context``) and the lab servers' contexts (``lab_ca.server_context``),
  because httpx (``verify=``) and uvicorn (``ssl=``) take an ``ssl.SSLContext``
  and nothing else. The faulty lab servers (stall, garbage, truncated or
  corrupted records) need nothing more than ``ssl`` either: a raw socket, or
  ``ssl.MemoryBIO`` + ``SSLObject`` to get at the encrypted bytes.
* pyOpenSSL is not used. Everything it would add is covered above, and its own
  maintainers (the PyCA) recommend ``cryptography`` for everything but the
  TLS connection itself, which ``ssl`` already provides to httpx and uvicorn.
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from emulator.base import errors as E
from emulator.base.storage import private_dir, set_aside, write_atomic
from tls_store.errors import TlsError

DEFAULT_CAPACITY = 4
_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.S)
_SLOT_FILE = re.compile(r"^slot(\d+)\.pem$")


@dataclass(frozen=True)
class SlotInfo:
    slot: int
    subject: str                # RFC 4514, e.g. "CN=kkt-emu lab root CA,O=kkt-emu lab"
    not_after: datetime         # timezone-aware, UTC
    fingerprint_sha256: str     # lower-case hex, no separators


def _fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _check_ca(cert: x509.Certificate, what: str) -> None:
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        raise TlsError(E.TLS_CERT_LOAD, f"{what}: not a CA certificate (no BasicConstraints)") from None
    except ValueError as exc:  # a malformed extension
        raise TlsError(E.TLS_CERT_LOAD, f"{what}: bad extensions ({exc})") from None
    if not bc.ca:
        raise TlsError(E.TLS_CERT_LOAD, f"{what}: not a CA certificate (BasicConstraints ca=False)")
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not ku.key_cert_sign:
        raise TlsError(E.TLS_CERT_LOAD, f"{what}: KeyUsage lacks keyCertSign")


def parse_certificates(data: bytes) -> list[x509.Certificate]:
    """PEM (one or more CERTIFICATE blocks) or DER -> CA certificates; TlsError 652/653 otherwise."""
    if not data or not data.strip():
        raise TlsError(E.TLS_INPUT, "no certificate data")
    certs: list[x509.Certificate] = []
    if b"-----BEGIN" in data:
        blocks = _PEM_BLOCK.findall(data)
        kinds = {kind for kind, _ in blocks}
        if b"CERTIFICATE" not in kinds:
            found = ", ".join(sorted(k.decode("ascii", "replace") for k in kinds)) or "no complete PEM block"
            raise TlsError(E.TLS_CERT_LOAD, f"PEM holds no certificate ({found})")
        if data.count(b"-----BEGIN") != len(blocks):
            raise TlsError(E.TLS_CERT_LOAD, "PEM is truncated or malformed (an unterminated block)")
        for i, m in enumerate(_PEM_BLOCK.finditer(data), 1):
            if m.group(1) != b"CERTIFICATE":
                continue
            try:
                certs.append(x509.load_pem_x509_certificate(m.group(0)))
            except ValueError as exc:
                raise TlsError(E.TLS_CERT_LOAD, f"PEM block {i} is not a valid certificate ({exc})") from None
    else:
        try:
            certs.append(x509.load_der_x509_certificate(data))
        except ValueError:
            raise TlsError(E.TLS_CERT_LOAD, "neither PEM nor a DER certificate") from None
    for i, cert in enumerate(certs, 1):
        _check_ca(cert, f"certificate {i} ({cert.subject.rfc4514_string()})")
    return certs


class TlsStore:
    """Root-certificate slots 1..capacity, persisted under ``<directory>/tls`` (None = memory only)."""

    def __init__(self, directory: Path | None, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.dir = Path(directory) / "tls" if directory is not None else None
        self._slots: dict[int, x509.Certificate] = {}
        self._context_cache: dict[bool, tuple[object, ssl.SSLContext]] = {}
        self.load_problems: list[str] = []
        self._reload()

    # -- persistence ---------------------------------------------------------
    def _path(self, slot: int) -> Path:
        assert self.dir is not None
        return self.dir / f"slot{slot}.pem"

    def _reload(self) -> None:
        if self.dir is None or not self.dir.is_dir():
            return
        private_dir(self.dir)      # a folder of an older version made private
        for path in sorted(self.dir.iterdir()):
            m = _SLOT_FILE.match(path.name)
            if not m:
                continue
            slot = int(m.group(1))
            try:
                if not 1 <= slot <= self.capacity:
                    raise TlsError(E.TLS_INPUT, f"slot {slot} is outside 1..{self.capacity}")
                certs = parse_certificates(path.read_bytes())
                if len(certs) != 1:
                    raise TlsError(E.TLS_CERT_LOAD, f"{len(certs)} certificates in one slot file")
            except (TlsError, OSError) as exc:
                bad = set_aside(path)
                self.load_problems.append(f"{path.name} unusable ({exc}); kept as {bad.name}")
                continue
            self._slots[slot] = certs[0]

    def _write(self, slot: int) -> None:
        if self.dir is not None:
            write_atomic(self._path(slot), _pem(self._slots[slot]))

    def _unlink(self, slot: int) -> None:
        if self.dir is not None:
            self._path(slot).unlink(missing_ok=True)

    # -- operations ------------------------------------------------------------
    def _check_slot(self, slot: int) -> None:
        if isinstance(slot, bool) or not isinstance(slot, int) or not 1 <= slot <= self.capacity:
            raise TlsError(E.TLS_INPUT, f"slot {slot!r} is outside 1..{self.capacity}")

    def _find(self, cert: x509.Certificate) -> int | None:
        fp = _fingerprint(cert)
        for slot, c in self._slots.items():
            if _fingerprint(c) == fp:
                return slot
        return None

    def load_all(self, data: bytes, slot: int | None = None) -> list[int]:
        """Store every certificate of ``data``; return their slots, in order.

        A certificate already stored keeps its slot and takes no other. With
        ``slot`` given, ``data`` must hold exactly one certificate, which replaces
        whatever that slot held. Without it, new certificates take the lowest free
        slots; if there are not enough, nothing is stored (650).
        """
        if slot is not None:
            self._check_slot(slot)
        certs = parse_certificates(data)
        if slot is not None:
            if len(certs) != 1:
                raise TlsError(E.TLS_INPUT, f"{len(certs)} certificates given for the single slot {slot}")
            existing = self._find(certs[0])
            if existing is not None:
                return [existing]
            self._slots[slot] = certs[0]
            self._write(slot)
            return [slot]

        stored = {_fingerprint(c): s for s, c in self._slots.items()}
        new: dict[str, x509.Certificate] = {}
        for cert in certs:
            fp = _fingerprint(cert)
            if fp not in stored:
                new.setdefault(fp, cert)
        free = [s for s in range(1, self.capacity + 1) if s not in self._slots]
        if len(new) > len(free):
            # Checked before anything is stored: a multi-certificate PEM goes in whole or not at all.
            raise TlsError(E.TLS_NO_ROOM, f"{len(new)} new certificate(s), {len(free)} free slot(s) "
                                          f"of {self.capacity}")
        for fp, cert in new.items():
            s = free.pop(0)
            self._slots[s] = cert
            stored[fp] = s
            self._write(s)
        return [stored[_fingerprint(c)] for c in certs]

    def load(self, data: bytes, slot: int | None = None) -> int:
        """Store the certificate(s) of ``data`` (PEM or DER); return the (first) slot used. See ``load_all``."""
        return self.load_all(data, slot)[0]

    def remove(self, slot: int) -> bool:
        """Empty ``slot``; False when it was empty already."""
        self._check_slot(slot)
        if self._slots.pop(slot, None) is None:
            return False
        self._unlink(slot)
        return True

    def clear(self) -> None:
        for slot in list(self._slots):
            self.remove(slot)

    # -- views -------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._slots)

    @property
    def free_slots(self) -> int:
        return self.capacity - len(self._slots)

    def certificate(self, slot: int) -> x509.Certificate | None:
        self._check_slot(slot)
        return self._slots.get(slot)

    def slots(self) -> list[SlotInfo]:
        return [SlotInfo(slot=s, subject=c.subject.rfc4514_string(), not_after=c.not_valid_after_utc,
                         fingerprint_sha256=_fingerprint(c))
                for s, c in sorted(self._slots.items())]

    def pem_bundle(self) -> bytes:
        return b"".join(_pem(c) for _, c in sorted(self._slots.items()))

    def describe(self, host_check_off: bool = False) -> str:
        """One display/log line (at most 20 characters) about the TLS state."""
        if host_check_off:
            return "ПРОВЕРКА ХОСТА ОТКЛ"
        if not self._slots:
            return "НЕТ СЕРТИФИКАТОВ"
        return f"СЕРТИФИКАТЫ: {len(self._slots)}/{self.capacity}"

    # -- the device's HTTP client ---------------------------------------------------
    def client_context(self, host_check_off: bool) -> ssl.SSLContext:
        """The ``ssl.SSLContext`` the device's HTTP client uses (TLS 1.2 minimum).

        Host checks on (option 92 = 0): only the store's roots are trusted (not the
        system store), the certificate and the host name are verified; no root
        loaded -> TlsError 651. Host checks off (option 92 = 1): nothing is verified.
        """
        # A context is built once per store content and option value: building one (and
        # loading the roots) costs far more than a request on a kept-alive connection.
        key = (host_check_off, tuple(sorted((slot, id(cert)) for slot, cert in self._slots.items())))
        cached = self._context_cache.get(host_check_off)
        if cached is not None and cached[0] == key:
            return cached[1]
        ctx = self._build_context(host_check_off)
        self._context_cache[host_check_off] = (key, ctx)
        return ctx

    def _build_context(self, host_check_off: bool) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if host_check_off:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            return ctx
        if not self._slots:
            raise TlsError(E.TLS_SETTINGS, "no root certificate loaded and host authentication is on (option 92 = 0)")
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
        ctx.load_verify_locations(cadata=self.pem_bundle().decode("ascii"))
        return ctx

    def expired(self, now: datetime | None = None) -> list[int]:
        """Slots whose certificate has expired at ``now`` (default: the wall clock)."""
        now = now if now is not None else datetime.now(UTC)
        return [s for s, c in sorted(self._slots.items()) if c.not_valid_after_utc <= now]
