"""The tax service's (ДПС) fiscal server for ПРРО, modelled sans-IO on the virtual clock.

One ``TaxServer`` holds the taxpayer's ПРРО (form 1-ПРРО: ``register_prro``),
the registry of operators and their keys (form 5-ПРРО: ``register_operator``),
shifts, documents with their fiscal numbers, offline sessions and packages.
Every request goes through ``request(path, body, …)``, the one gate both the
HTTP front (``servers/taxfs/web.py``) and an in-process link use: it applies
the fault plan, the 200 KB limit, gzip/deflate, then dispatches to

* ``/fs/cmd``: a JSON command (``Command`` field). Unsigned (JSON body):
  ``ServerState``. Signed (the JSON is the content of CMS SignedData from
  ``emulator.wire.cms``): ``Objects`` (HTTP 204 while the signer is not an
  active operator: the seed's «No available business units»), ``Operators``,
  ``TransactionsRegistrarState``, ``Shifts``, ``Documents``,
  ``LastShiftTotals``, ``Check``, ``ZRep``, ``DocumentInfoByLocalNum``;
* ``/fs/doc``: one signed XML document (windows-1251, ``emulator.wire.prro``):
  receipt, Z-report, shift open (100) / close (101); the answer is the
  server-signed XML ``TICKET`` (CMS SignedData), HTTP 200;
* ``/fs/pck``: an offline package (``emulator.wire.prro.package``): signed
  documents 102 … 103, ≤ 100 per package; answer ``OK`` or JSON
  ``{"OfflineSessionId", "OfflineSeed"}`` for a package with 103.

Errors (reference §8.4): the body is ``Код помилки: <n> <SymbolicCode>\\r\\n<text>``
(windows-1251? no: UTF-8 text, ``text/plain; charset=utf-8``) with HTTP 400,
or with ``as_json`` (the query ``?resultAsJson=true``) HTTP 200 and
``{"ErrorCode": n, "ErrorMessage": text}``. Gross format errors (not signed,
not JSON, too big, bad encoding) are HTTP 4xx with a text reason.

Signed requests are verified (``cms.verify``), then the signer's certificate:
issuer among ``trusted`` (when given), validity on the virtual clock (expired
→ code 12 with the text «Термін дії сертифікату … не відповідає поточному
часу»), and ``cert_status(cert)`` — the CA's OCSP, consulted on every signed
request (``revoked`` → code 12 with «CertStatus: 1», ``unknown`` → code 12
«Сертифікат не знайдено»).

Operators: a key registered with form 5-ПРРО (role cashier / senior cashier /
director) gets «Квитанція №2» at once and becomes active ``delay_ms`` later
(the propagation delay, default 15 minutes of virtual time); before that the
key is unknown to every command (``Objects`` → 204, documents → code 2).

Shift rules: a shift is opened (100) by one key; receipts in it only by that
key; it is closed (Z-report then 101) by the same key or by a senior cashier /
director key; opening a shift while one is open, or with a key whose shift is
open on another ПРРО → code 4 ``ShiftAlreadyOpened``.

No loss: a document is registered once. Sending the same document again (the
same ``UID``, e.g. after a lost answer) returns the ticket first given, with
the same fiscal number; a package whose documents were all registered is
answered as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from emulator.base.clock import VirtualClock
from emulator.net.faults import FaultPlan
from emulator.rules.prro import DEFAULT_PROPAGATION_DELAY_MS, Role
from emulator.wire.cms import Signer, key_id

CertStatusFn = Callable[[x509.Certificate], str]     # "good" | "revoked" | "unknown"

FAULT_WORDS = frozenset({"lost-answer"})


@dataclass(frozen=True)
class Answer:
    """What the server answers one request.

    ``status`` HTTP status, ``body`` bytes, ``content_type``; ``error_code`` the
    §8.4 code when this is an error answer. ``fault`` is set when the fault plan
    says the answer does not arrive as given: ``"refuse"`` (nothing processed,
    the connection refused), ``"close"`` / ``"stall"`` (nothing processed),
    ``"lost-answer"`` (processed and registered, then the connection breaks
    before the answer). ``delay_ms`` is the plan's latency for this request.
    """

    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    error_code: int | None = None
    fault: str | None = None
    delay_ms: int = 0


@dataclass(frozen=True)
class Receipt2:
    """«Квитанція №2» for a form 5-ПРРО: its number, the key, the role, when accepted and when active."""

    number: str
    key_id: str
    role: Role
    accepted_ms: int
    active_from_ms: int


@dataclass
class Operator:
    key_id: str
    name: str
    role: Role
    reg_num: str
    active_from_ms: int
    certificate_der: bytes

    def active(self, now_ms: int) -> bool:
        return now_ms >= self.active_from_ms


@dataclass
class Registrar:
    """One ПРРО of the taxpayer (form 1-ПРРО)."""

    fiscal_num: str          # CASHREGISTERNUM, 10 digits
    local_num: str           # CASHDESKNUM
    name: str
    unit_name: str           # the business unit (ГО) it belongs to
    address: str
    offline_supported: bool = True
    next_local_num: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


class TaxServer:
    """The mock fiscal server (see the module docstring)."""

    def __init__(self, clock: VirtualClock, *, tin: str = "1234567890", taxpayer: str = "ФОП Тестовий",
                 cert_status: CertStatusFn | None = None, trusted: Iterable[x509.Certificate] = (),
                 propagation_delay_ms: int = DEFAULT_PROPAGATION_DELAY_MS, signer: Signer | None = None,
                 seed: bytes | None = None) -> None:
        self.clock = clock
        self.tin = tin
        self.taxpayer = taxpayer
        self.cert_status = cert_status
        self.trusted = tuple(trusted)
        self.propagation_delay_ms = propagation_delay_ms
        self.signer = signer
        self.faults = FaultPlan(words=FAULT_WORDS)
        self.registrars: dict[str, Registrar] = {}
        self.operators: dict[str, Operator] = {}
        self._receipt_no = 0

    def register_prro(self, fiscal_num: str, *, local_num: str = "1", name: str = "ПРРО 1",
                      unit_name: str = "Магазин", address: str = "м. Київ", offline_supported: bool = True) -> Registrar:
        """Register a ПРРО of the taxpayer (what form 1-ПРРО does): ``fiscal_num`` is 10 digits."""
        if not (fiscal_num.isdigit() and len(fiscal_num) == 10):
            raise ValueError(f"fiscal number of a ПРРО: 10 digits, not {fiscal_num[:20]!r}")
        if fiscal_num in self.registrars:
            raise ValueError(f"ПРРО {fiscal_num} is already registered")
        reg = Registrar(fiscal_num, local_num, name, unit_name, address, offline_supported)
        self.registrars[fiscal_num] = reg
        return reg

    def register_operator(self, certificate: x509.Certificate | bytes, role: Role, *, name: str | None = None,
                          delay_ms: int | None = None) -> Receipt2:
        """Form 5-ПРРО: register a key (its certificate, DER or parsed) with a signature type (role).

        Returns «Квитанція №2» at once; the key is active ``delay_ms`` later
        (default ``propagation_delay_ms``). Registering a key again changes its
        role and restarts the delay. ``name`` defaults to the certificate's owner.
        """
        cert = certificate if isinstance(certificate, x509.Certificate) else x509.load_der_x509_certificate(certificate)
        from emulator.wire.cms import cert_info
        info = cert_info(cert)
        now = self.clock.now_ms
        delay = self.propagation_delay_ms if delay_ms is None else int(delay_ms)
        if delay < 0:
            raise ValueError(f"negative propagation delay {delay}")
        self._receipt_no += 1
        kid = key_id(cert)
        from cryptography.hazmat.primitives.serialization import Encoding
        self.operators[kid] = Operator(kid, name or info.owner, Role(role), f"{self._receipt_no}", now + delay,
                                       cert.public_bytes(Encoding.DER))
        return Receipt2(f"{self._receipt_no}", kid, Role(role), now, now + delay)

    def request(self, path: str, body: bytes, *, content_type: str = "application/octet-stream",
                content_encoding: str | None = None, as_json: bool = False) -> Answer:
        """One POST to ``path`` (``/fs/cmd``, ``/fs/doc``, ``/fs/pck``): the answer (see the module docstring)."""
        raise NotImplementedError

    def cmd(self, body: bytes, *, as_json: bool = False) -> Answer:
        """``/fs/cmd`` without the fault plan and transport checks (``request`` calls it)."""
        raise NotImplementedError

    def doc(self, body: bytes, *, as_json: bool = False) -> Answer:
        """``/fs/doc``: one signed document → the signed ``TICKET`` (or an error answer)."""
        raise NotImplementedError

    def pck(self, body: bytes, *, as_json: bool = False) -> Answer:
        """``/fs/pck``: one signed offline package → ``OK`` / session JSON (or an error answer)."""
        raise NotImplementedError
