"""The tax service's (ДПС) fiscal server for ПРРО, modelled sans-IO on the virtual clock.

One ``TaxServer`` holds the taxpayer's ПРРО (form 1-ПРРО: ``register_prro``),
the registry of operators and their keys (form 5-ПРРО: ``register_operator``),
shifts, documents with their fiscal numbers, offline sessions and packages.
Every request goes through ``request(path, body, …)``, the one gate both the
HTTP front (``servers/taxfs/web.py``) and an in-process link use: it applies
the fault plan (``faults``), gzip/deflate (``content_encoding``), the 200 KB
limit, then dispatches to

* ``/fs/cmd``: a JSON command (``Command`` field). Unsigned (JSON body,
  ``content_type`` ``application/json``): ``ServerState``. Signed (the JSON is
  the content of CMS SignedData from ``emulator.wire.cms``): ``Objects``
  (HTTP 204 while the signer is not an active operator: the seed's «No
  available business units»), ``Operators``, ``TransactionsRegistrarState``
  (``NumFiscal``), ``Shifts`` (``NumFiscal``), ``Documents`` (``NumFiscal``,
  ``ShiftId``), ``LastShiftTotals`` (``NumFiscal``), ``Check`` / ``ZRep``
  (``RegistrarNumFiscal``, ``NumFiscal``: the document's XML as sent),
  ``CheckExt`` / ``ZRepExt`` (the same and ``Type`` 0-5: availability, XML,
  server-signed, text view, sender-signed, countersigned), ``Schemas``,
  ``DocumentInfoByLocalNum`` (``NumFiscal``, ``NumLocal``). A command with
  ``Timestamp`` (ms or ISO 8601) and ``Timeout`` (ms) past server time is
  cancelled (code 11).
* ``/fs/doc``: one signed XML document (windows-1251, ``emulator.wire.prro``):
  receipt, Z-report, shift open (100) / close (101); the answer is the
  server-signed XML ``TICKET`` (CMS SignedData, HTTP 200) carrying the fiscal
  number (``ORDERTAXNUM``) and, for a shift opening of a ПРРО allowed
  offline, ``OFFLINESESSIONID`` / ``OFFLINESEED``.
* ``/fs/pck``: an offline package: CMS SignedData over
  ``emulator.wire.prro.package.pack([signed doc, …])`` (≤ 100 documents, each
  signed itself), documents 102 … 103 with offline fiscal numbers
  ``<session>.<n>.<control>``; the answer is ``OK`` or, for a package with
  103, JSON ``{"OfflineSessionId", "OfflineSeed"}`` (the next pair). A
  package is taken whole or not at all.

Errors (reference §8.4): the body is ``Код помилки: <n> <SymbolicCode>\\r\\n<text>``
(UTF-8, HTTP 400), or with ``as_json`` (the query ``?resultAsJson=true``)
HTTP 200 and ``{"ErrorCode": n, "ErrorMessage": text}``; ``Answer.error_code``
has the code either way. Gross format errors are HTTP 4xx with a text reason:
400 not signed («Повідомлення повинно бути засвідчене кваліфікованим
електронним підписом») / not JSON / unknown command, 404 unknown path, 415
unknown content encoding, 416 over 200 KB (before or after decompression).

Signed requests are verified (``cms.verify``; a signature that does not match
is code 12), then the signer's certificate: issuer among ``trusted`` (when
given), validity on the virtual clock (expired → code 12 «Термін дії
сертифікату … не відповідає поточному часу»), and ``cert_status(cert)`` — the
CA's OCSP, consulted on every signed request and on every document of a
package (``revoked`` → code 12 «… (CertStatus: 1)», ``unknown`` → code 12
«Сертифікат не знайдено …», an exception → code 12 «OCSP недоступний»).

Operators: a key registered with form 5-ПРРО (``Role``: cashier, senior
cashier, director) gets «Квитанція №2» at once and is active ``delay_ms``
later (the propagation delay, default 15 minutes of virtual time); before that
the key is unknown: ``Objects`` → 204, ``Operators`` lists it not, documents
and the other signed commands → code 2.

Shift rules: 100 opens a shift (code 4 ``ShiftAlreadyOpened`` when one is
open, or when the key has an open shift on another ПРРО: a key used on two
ПРРО); receipts and the Z-report need an open shift (code 5) and only the key
that opened it may sign them (code 4, naming the shift's cashier) — except
that a senior cashier's or director's key may sign the Z-report and 101 of
another key's shift (the seeds' way out of a stuck shift). 101 needs the
Z-report first (code 6); a second Z-report or a receipt after it: code 8.
``ORDERNUM`` must be the ПРРО's next local number (code 7). Other content
errors (totals that do not add up, a return of an unknown receipt, test and
fiscal documents in one shift, offline documents sent online, a bad offline
number, control number or ``PREVDOCHASH``): code 9 with the reason.

Offline (reference §8.1-8.3): the session's duration is the time of its last
settlement document minus the 102's; over 36 hours, or the calendar month's
sessions over 168 hours, and the ПРРО is blocked (MODELLED: until the start of
the next calendar month, Kyiv time; documents then get code 9 «ПРРО
заблоковано …»); ``TransactionsRegistrarState`` reports ``OfflineSessionDuration``
and ``OfflineSessionsMonthlyDuration`` in minutes and the block. A 102 with
``REVOKELASTONLINEDOC`` revokes the ПРРО's last online receipt or Z-report
(its sums leave the shift's totals; the duplicate of a lost online answer).

No loss: a document is registered once. Sending the same document again (the
same ``UID`` and bytes, e.g. after a lost answer) returns the ticket first
given, with the same fiscal number; a package all of whose documents are
registered is answered as before; the same ``UID`` with other content is
code 9.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import logging
import random
import zlib
from collections.abc import Callable, Iterable
from dataclasses import astuple, dataclass, replace
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from emulator.base.clock import VirtualClock
from emulator.net.faults import OK, TRANSPORT_ITEMS, FaultPlan
from emulator.rules.prro import (
    DEFAULT_PROPAGATION_DELAY_MS,
    MESSAGE_MAX_BYTES,
    OFFLINE_MONTH_LIMIT_MS,
    OFFLINE_SESSION_LIMIT_MS,
    Role,
)
from emulator.servers.taxfs.state import OfflineState, Operator, Registrar, Shift, Stored
from emulator.wire import cms
from emulator.wire.prro import offline
from emulator.wire.prro.document import (
    CASH_WITHDRAWAL,
    CLOSE_SHIFT,
    DEPOSIT,
    ISSUE,
    KYIV,
    OFFLINE_BEGIN,
    OFFLINE_END,
    OPEN_SHIFT,
    RETURN,
    STORNO,
    ZREP,
    Document,
    DocumentError,
    Ticket,
    ZTotals,
    local_date_time,
)
from emulator.wire.prro.package import PackageError, unpack

log = logging.getLogger("kkt_emu.taxfs")

CertStatusFn = Callable[[x509.Certificate], str]     # "good" | "revoked" | "unknown"

FAULT_WORDS = frozenset({"lost-answer"})
PATHS = ("/fs/cmd", "/fs/doc", "/fs/pck")
UNSIGNED_COMMANDS = ("ServerState",)
SIGNED_COMMANDS = ("Objects", "Operators", "TransactionsRegistrarState", "Shifts", "Documents", "LastShiftTotals",
                   "Check", "ZRep", "CheckExt", "ZRepExt", "DocumentInfoByLocalNum", "Schemas")
# Document request types of CheckExt / ZRepExt, and their results (the description's enums)
AVAILABILITY, ORIGINAL_XML, SIGNED_BY_SERVER, VISUALIZATION, SIGNED_BY_SENDER, SIGNED_BY_BOTH = range(6)
(RESULT_OK, ONLINE_DOCUMENT_ABSENT, OFFLINE_NUMBER_RESERVED, OFFLINE_NUMBER_NOT_RESERVED,
 REGISTRAR_NOT_REGISTERED, DOCUMENT_ABSENT) = range(6)
SCHEMAS = ("check01.xsd", "zrep01.xsd", "ticket01.xsd")          # MODELLED names
FIRST_FISCAL = 1_000_000_001


@lru_cache(maxsize=1)
def error_data() -> dict[str, Any]:
    """The codes and texts of ``data/taxfs_errors.yaml``."""
    raw = yaml.safe_load(resources.files("emulator").joinpath("data/taxfs_errors.yaml").read_text("utf-8"))
    raw["by_code"] = {int(c["code"]): c for c in raw["codes"]}
    return raw  # type: ignore[no-any-return]


def error_name(code: int) -> str:
    return str(error_data()["by_code"][code]["name"])


class Refusal(Exception):
    """A request refused with a §8.4 error code (``code``, ``text``)."""

    def __init__(self, code: int, text: str | None = None) -> None:
        self.code = code
        self.text = text or str(error_data()["by_code"][code]["text"])
        super().__init__(f"{code} {error_name(code)}: {self.text}")


class Gross(Exception):
    """A gross format error: an HTTP status with a text reason."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


@dataclass(frozen=True)
class Answer:
    """What the server answers one request.

    ``status`` HTTP status, ``body`` bytes, ``content_type``; ``error_code`` the
    §8.4 code when this is an error answer. ``fault`` is set when the fault plan
    says the answer does not arrive as given: ``"refuse"`` (nothing processed,
    the connection refused), ``"close"`` / ``"stall"`` (nothing processed; the
    connection breaks / nothing ever comes), ``"lost-answer"`` (processed and
    registered, then the connection breaks before the answer). ``delay_ms`` is
    the plan's latency for this request.
    """

    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    error_code: int | None = None
    fault: str | None = None
    delay_ms: int = 0

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass(frozen=True)
class Receipt2:
    """«Квитанція №2» for a form 5-ПРРО: its number, the key, the role, when accepted and when active."""

    number: str
    key_id: str
    role: Role
    accepted_ms: int
    active_from_ms: int


@dataclass(frozen=True)
class _Caller:
    cert: x509.Certificate
    key_id: str
    operator: Operator


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _month(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).astimezone(KYIV).strftime("%Y-%m")


def _next_month_ms(ms: int) -> int:
    t = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).astimezone(KYIV)
    first = dt.datetime(t.year + (t.month == 12), t.month % 12 + 1, 1, tzinfo=KYIV)
    return int(first.timestamp() * 1000)


class TaxServer:
    """The mock fiscal server (see the module docstring)."""

    def __init__(self, clock: VirtualClock, *, tin: str = "1234567890", taxpayer: str = "ФОП Тестовий",
                 cert_status: CertStatusFn | None = None, trusted: Iterable[x509.Certificate] = (),
                 propagation_delay_ms: int = DEFAULT_PROPAGATION_DELAY_MS, signer: cms.Signer | None = None,
                 seed: bytes | None = None) -> None:
        self.clock = clock
        self.tin = tin
        self.taxpayer = taxpayer
        self.cert_status = cert_status
        self.trusted = tuple(trusted)
        self.propagation_delay_ms = propagation_delay_ms
        self.rng = random.Random(seed if seed is not None else b"taxfs")
        self.signer = signer if signer is not None else self._own_signer()
        self.faults = FaultPlan(words=FAULT_WORDS)
        self.registrars: dict[str, Registrar] = {}
        self.operators: dict[str, Operator] = {}
        self.documents: list[Stored] = []
        self.by_uid: dict[str, Stored] = {}
        self.by_fiscal: dict[tuple[str, str], Stored] = {}     # (ПРРО, fiscal number) → the document
        self.packages: dict[str, Answer] = {}        # sha-256 of a package's content → the answer given
        self.ocsp_checks = 0
        self._receipt_no = 0
        self._next_fiscal = FIRST_FISCAL
        self._next_session = 5000 + self.rng.randrange(1000)
        self._shift_ids = 0

    def _own_signer(self) -> cms.KeySigner:
        key = ec.derive_private_key(self.rng.randrange(1, 2**255), cms.CURVE)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ДПС: фіскальний сервер (емулятор)")])
        start = cms.datetime_of(self.clock.now_ms - 86_400_000)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(self.rng.randrange(1, 2**64)).not_valid_before(start)
                .not_valid_after(start + dt.timedelta(days=3650))
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))
        return cms.KeySigner(key, cert)

    # --- forms ---

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
        info = cms.cert_info(cert)
        now = self.clock.now_ms
        delay = self.propagation_delay_ms if delay_ms is None else int(delay_ms)
        if delay < 0:
            raise ValueError(f"negative propagation delay {delay}")
        self._receipt_no += 1
        number = f"{self._receipt_no}"
        self.operators[info.key_id] = Operator(info.key_id, name or info.owner, Role(role), number, now, now + delay,
                                               cert.public_bytes(Encoding.DER))
        return Receipt2(number, info.key_id, Role(role), now, now + delay)

    # --- the gate ---

    def request(self, path: str, body: bytes, *, content_type: str = "application/octet-stream",
                content_encoding: str | None = None, as_json: bool = False) -> Answer:
        """One POST to ``path`` (``/fs/cmd``, ``/fs/doc``, ``/fs/pck``): the answer (see the module docstring)."""
        plan = self.faults
        if plan.down:
            return Answer(503, b"", fault="refuse")
        delay = plan.next_latency()
        item = plan.next_item()
        if isinstance(item, int) and item != 200:
            return Answer(item, f"HTTP {item}: збій сервера (план збоїв)".encode(), delay_ms=delay)
        if item in TRANSPORT_ITEMS:
            return Answer(503, b"", fault=str(item), delay_ms=delay)
        answer = self._handle(path, body, content_type, content_encoding, as_json)
        if answer.status >= 400 or answer.error_code is not None:
            log.info("%s refused: %s", path[:20], answer.text.replace("\r\n", " | ")[:200])
        if item not in (OK, 200):
            answer = Answer(answer.status, answer.body, answer.content_type, answer.error_code, fault=str(item))
        if delay:
            answer = Answer(answer.status, answer.body, answer.content_type, answer.error_code, answer.fault, delay)
        return answer

    def _handle(self, path: str, body: bytes, content_type: str, content_encoding: str | None,
                as_json: bool) -> Answer:
        try:
            if path not in PATHS:
                raise Gross(404, f"Невідомий ресурс {path[:60]}")
            data = decode_body(body, content_encoding)
            if path == "/fs/cmd":
                return self.cmd(data, content_type=content_type, as_json=as_json)
            if path == "/fs/doc":
                return self.doc(data, as_json=as_json)
            return self.pck(data, as_json=as_json)
        except Gross as g:
            return Answer(g.status, g.text.encode("utf-8"))

    @staticmethod
    def error_answer(refusal: Refusal, as_json: bool) -> Answer:
        if as_json:
            body = json.dumps({"ErrorCode": refusal.code, "ErrorMessage": refusal.text}, ensure_ascii=False)
            return Answer(200, body.encode("utf-8"), "application/json; charset=utf-8", refusal.code)
        text = f"Код помилки: {refusal.code} {error_name(refusal.code)}\r\n{refusal.text}"
        return Answer(400, text.encode("utf-8"), error_code=refusal.code)

    # --- signatures and certificates ---

    def _open(self, signed: bytes) -> tuple[bytes, x509.Certificate]:
        try:
            return cms.verify(signed)
        except cms.SignatureMismatch as exc:
            raise Refusal(12, f"Підпис не відповідає даним ({exc})") from None
        except cms.SignatureError:
            raise Gross(400, str(error_data()["unsigned"])) from None

    def check_certificate(self, cert: x509.Certificate) -> None:
        """Refuse (code 12) a certificate that is untrusted, out of its validity, revoked or unknown to OCSP."""
        texts = error_data()["certificate"]
        serial = cms.serial_hex(cert)
        if self.trusted and not any(_issued_by(cert, ca) for ca in self.trusted):
            raise Refusal(12, texts["untrusted"])
        info = cms.cert_info(cert)
        if info.expired(self.clock.now_ms):
            raise Refusal(12, texts["expired"].format(serial=serial))
        if self.cert_status is not None:
            self.ocsp_checks += 1
            try:
                status = self.cert_status(cert)
            except Exception:
                raise Refusal(12, texts["ocsp-unavailable"]) from None
            if status == "revoked":
                raise Refusal(12, texts["revoked"].format(serial=serial))
            if status != "good":
                raise Refusal(12, texts["unknown"])

    def _caller(self, cert: x509.Certificate) -> _Caller | None:
        kid = cms.key_id(cert)
        op = self.operators.get(kid)
        if op is None or not op.active(self.clock.now_ms):
            return None
        return _Caller(cert, kid, op)

    def _authorised(self, cert: x509.Certificate) -> _Caller:
        caller = self._caller(cert)
        if caller is None:
            raise Refusal(2, f"Ключ {cms.key_id(cert)[:16]}… не зареєстровано як ключ оператора ПРРО "
                             "(форма 5-ПРРО) або він ще не діє")
        return caller

    # --- /fs/cmd ---

    def cmd(self, body: bytes, *, content_type: str = "application/octet-stream", as_json: bool = False) -> Answer:
        """``/fs/cmd`` without the fault plan and transport checks (``request`` calls it)."""
        try:
            if body.lstrip()[:1] == b"{":
                command = _json(body)
                name = command.get("Command")
                if name in SIGNED_COMMANDS:
                    raise Gross(400, str(error_data()["unsigned"]))
                if name not in UNSIGNED_COMMANDS:
                    raise Gross(400, f"Невідома команда {str(name)[:40]!r}")
                self._check_timeout(command)
                return _json_answer({"UID": command.get("UID"), "Timestamp": _iso(self.clock.now_ms)})
            content, cert = self._open(body)
            command = _json(content)
            name = command.get("Command")
            if name not in SIGNED_COMMANDS and name not in UNSIGNED_COMMANDS:
                raise Gross(400, f"Невідома команда {str(name)[:40]!r}")
            self._check_timeout(command)
            if name == "ServerState":
                return _json_answer({"UID": command.get("UID"), "Timestamp": _iso(self.clock.now_ms)})
            self.check_certificate(cert)
            caller = self._caller(cert)
            if name == "Objects":
                return self._objects(caller)
            if caller is None:
                self._authorised(cert)
            assert caller is not None
            return getattr(self, "_cmd_" + name)(command, caller)  # type: ignore[no-any-return]
        except Refusal as r:
            return self.error_answer(r, as_json)

    def _check_timeout(self, command: dict[str, Any]) -> None:
        stamp, timeout = command.get("Timestamp"), command.get("Timeout")
        if stamp is None or timeout is None:
            return
        try:
            start = int(stamp) if isinstance(stamp, int) else int(
                dt.datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp() * 1000)
            limit = int(timeout)
        except (TypeError, ValueError):
            raise Refusal(11, "Timestamp / Timeout: мілісекунди або ISO 8601") from None
        if self.clock.now_ms > start + limit:
            raise Refusal(11, "Запит скасовано: час очікування (Timestamp + Timeout) минув")

    def _objects(self, caller: _Caller | None) -> Answer:
        if caller is None or not self.registrars:
            return Answer(204, b"", error_code=None)
        units: dict[str, list[Registrar]] = {}
        for reg in self.registrars.values():
            units.setdefault(reg.unit_name, []).append(reg)
        return _json_answer({"TaxObjects": [
            {"Name": unit, "Address": regs[0].address, "Tin": self.tin, "Entity": self.taxpayer,
             "TransactionsRegistrars": [{"NumFiscal": r.fiscal_num, "NumLocal": r.local_num, "Name": r.name}
                                        for r in regs]} for unit, regs in units.items()]})

    def _cmd_Operators(self, command: dict[str, Any], caller: _Caller) -> Answer:
        now = self.clock.now_ms
        return _json_answer({"Operators": [
            {"SubjectKeyId": o.key_id, "RegNum": o.reg_num, "Name": o.name, "ChiefCashier": o.role.chief,
             "Role": o.role.label} for o in self.operators.values() if o.active(now)]})

    def _registrar(self, command: dict[str, Any], field: str = "NumFiscal") -> Registrar:
        num = str(command.get(field, ""))
        reg = self.registrars.get(num)
        if reg is None:
            raise Refusal(1, f"ПРРО з фіскальним номером {num[:20]!r} не зареєстровано")
        return reg

    def _cmd_TransactionsRegistrarState(self, command: dict[str, Any], caller: _Caller) -> Answer:
        reg = self._registrar(command)
        shift = reg.shift
        now = self.clock.now_ms
        own = shift is None or shift.opened_by == caller.key_id or caller.operator.role.chief
        off = reg.offline
        answer: dict[str, Any] = {
            "ShiftState": 1 if shift else 0, "ShiftId": shift.shift_id if shift else None,
            "OpenShiftFiscalNum": shift.open_fiscal if shift else None,
            "ZRepPresent": bool(shift and shift.z_fiscal), "Testing": bool(shift and shift.testing),
            "Name": shift.opener_name if shift else None, "SubjectKeyId": shift.opened_by if shift else None,
            "FirstLocalNum": shift.first_local if shift else None, "NextLocalNum": reg.next_local_num,
            "LastFiscalNum": reg.last_fiscal, "OfflineSupported": reg.offline_supported,
            "ChiefCashier": caller.operator.role.chief,
            "OfflineSessionId": None, "OfflineSeed": None, "OfflineNextLocalNum": None,
            "OfflineSessionDuration": off.last_session_ms // 60_000,
            "OfflineSessionsMonthlyDuration": off.monthly_ms.get(_month(now), 0) // 60_000,
            "OfflineSessionRolledBack": False, "OfflineSessionRollbackCmdUID": None,
            "Closed": False, "TaxObject": {"Name": reg.unit_name, "Address": reg.address},
            "Blocked": reg.blocked(now), "BlockedUntil": _iso(reg.blocked_until_ms) if reg.blocked(now)
            and reg.blocked_until_ms else None, "BlockReason": reg.block_reason if reg.blocked(now) else None}
        if own and reg.offline_supported and off.session_id is not None:
            answer.update(OfflineSessionId=str(off.session_id), OfflineSeed=str(off.seed),
                          OfflineNextLocalNum=off.next_number)
        return _json_answer(answer)

    def _cmd_Shifts(self, command: dict[str, Any], caller: _Caller) -> Answer:
        reg = self._registrar(command)
        return _json_answer({"Shifts": [
            {"ShiftId": s.shift_id, "OpenShiftFiscalNum": s.open_fiscal, "ZRepFiscalNum": s.z_fiscal,
             "CloseShiftFiscalNum": s.close_fiscal, "Opened": _iso(s.opened_ms),
             "Closed": _iso(s.closed_ms) if s.closed_ms is not None else None, "OpenName": s.opener_name,
             "OpenSubjectKeyId": s.opened_by, "CloseSubjectKeyId": s.closed_by, "Testing": s.testing}
            for s in reg.shifts]})

    def _cmd_Documents(self, command: dict[str, Any], caller: _Caller) -> Answer:
        reg = self._registrar(command)
        shift_id = command.get("ShiftId")
        return _json_answer({"Documents": [
            _doc_json(d) for d in self.documents if d.registrar == reg.fiscal_num
            and (shift_id is None or d.shift_id == shift_id)]})

    def _cmd_LastShiftTotals(self, command: dict[str, Any], caller: _Caller) -> Answer:
        reg = self._registrar(command)
        if not reg.shifts:
            return Answer(204, b"")
        s = reg.shifts[-1]
        return _json_answer({"ShiftState": 1 if s.open else 0, "ShiftId": s.shift_id, "ZRepPresent": bool(s.z_fiscal),
                             "Totals": totals_json(s.totals)})

    def _find(self, command: dict[str, Any]) -> Stored:
        reg = self._registrar(command, "RegistrarNumFiscal")
        num = str(command.get("NumFiscal", ""))
        found = self.by_fiscal.get((reg.fiscal_num, num))
        if found is not None:
            return found
        raise Refusal(13, f"Документ {num[:30]!r} не знайдено")

    def _cmd_Check(self, command: dict[str, Any], caller: _Caller) -> Answer:
        stored = self._find(command)
        if stored.doc.kind == ZREP:
            raise Refusal(13, f"Документ {stored.fiscal} не є чеком")
        return Answer(200, stored.doc.to_xml(), "application/xml; charset=windows-1251")

    def _cmd_ZRep(self, command: dict[str, Any], caller: _Caller) -> Answer:
        stored = self._find(command)
        if stored.doc.kind != ZREP:
            raise Refusal(13, f"Документ {stored.fiscal} не є Z-звітом")
        return Answer(200, stored.doc.to_xml(), "application/xml; charset=windows-1251")

    def _cmd_CheckExt(self, command: dict[str, Any], caller: _Caller) -> Answer:
        return self._ext(command, zrep=False)

    def _cmd_ZRepExt(self, command: dict[str, Any], caller: _Caller) -> Answer:
        return self._ext(command, zrep=True)

    def _ext(self, command: dict[str, Any], *, zrep: bool) -> Answer:
        """``CheckExt`` / ``ZRepExt``: ``Type`` 0 availability (JSON ``{"Result": n}``), 1 the XML as sent, 2 that
        XML signed by the server, 3 a text view (UTF-8), 4 the sender's signed message, 5 that countersigned by
        the server. A document that is not there is JSON ``{"Result": n}`` with the description's result code
        (1 online document absent, 2 / 3 an offline number of the current session / not reserved, 4 no such
        ПРРО, 5 absent)."""
        kind = command.get("Type", ORIGINAL_XML)
        if not isinstance(kind, int) or isinstance(kind, bool) or not AVAILABILITY <= kind <= SIGNED_BY_BOTH:
            raise Refusal(11, f"Type: 0-5, not {str(kind)[:10]!r}")
        reg = self.registrars.get(str(command.get("RegistrarNumFiscal", "")))
        if reg is None:
            return _json_answer({"Result": REGISTRAR_NOT_REGISTERED})
        num = str(command.get("NumFiscal", ""))
        stored = self.by_fiscal.get((reg.fiscal_num, num))
        if stored is None or (stored.doc.kind == ZREP) != zrep:
            parsed = offline.parse_fiscal_number(num)
            if parsed is None:
                return _json_answer({"Result": ONLINE_DOCUMENT_ABSENT if num.isdigit() else DOCUMENT_ABSENT})
            current = parsed[0] == reg.offline.session_id and parsed[1] >= reg.offline.next_number
            return _json_answer({"Result": OFFLINE_NUMBER_RESERVED if current else OFFLINE_NUMBER_NOT_RESERVED})
        if kind == AVAILABILITY:
            return _json_answer({"Result": RESULT_OK, "Revoked": stored.revoked})
        if kind == ORIGINAL_XML:
            return Answer(200, stored.doc.to_xml(), "application/xml; charset=windows-1251")
        if kind == SIGNED_BY_SERVER:
            return Answer(200, self.signer.sign(stored.doc.to_xml()), "application/octet-stream")
        if kind == VISUALIZATION:
            return Answer(200, visualize(stored).encode("utf-8"), "text/plain; charset=utf-8")
        if kind == SIGNED_BY_SENDER:
            return Answer(200, stored.signed, "application/octet-stream")
        return Answer(200, self.signer.sign(stored.signed), "application/octet-stream")

    def _cmd_Schemas(self, command: dict[str, Any], caller: _Caller) -> Answer:
        return _json_answer({"Schemas": list(SCHEMAS)})

    def _cmd_DocumentInfoByLocalNum(self, command: dict[str, Any], caller: _Caller) -> Answer:
        reg = self._registrar(command)
        local = command.get("NumLocal")
        for d in reversed(self.documents):
            if d.registrar == reg.fiscal_num and d.doc.ordernum == local:
                return _json_answer(_doc_json(d))
        return Answer(204, b"")

    # --- /fs/doc ---

    def doc(self, body: bytes, *, as_json: bool = False) -> Answer:
        """``/fs/doc``: one signed document → the signed ``TICKET`` (or an error answer)."""
        try:
            content, cert = self._open(body)
            self.check_certificate(cert)
            caller = self._authorised(cert)
            try:
                document = Document.from_xml(content)
            except DocumentError as exc:
                raise Refusal(9, str(exc)) from None
            before = self.by_uid.get(document.uid)
            if before is not None:
                if before.signed == body or before.doc == document:
                    return Answer(200, before.ticket, "application/octet-stream")
                raise Refusal(9, f"Документ з UID {document.uid[:40]} уже зареєстровано з іншим вмістом")
            if document.offline or document.doctype in (OFFLINE_BEGIN, OFFLINE_END):
                raise Refusal(9, "Офлайн-документи надсилаються пакетом (/pck)")
            reg = self._registrar_of(document)
            stored = self._register(reg, document, body, caller, offline_doc=False)
            return Answer(200, stored.ticket, "application/octet-stream")
        except Refusal as r:
            return self.error_answer(r, as_json)

    def _registrar_of(self, document: Document) -> Registrar:
        reg = self.registrars.get(document.cashregisternum)
        if reg is None:
            raise Refusal(1, f"ПРРО з фіскальним номером {document.cashregisternum[:20]!r} не зареєстровано")
        if document.tin != self.tin:
            raise Refusal(3, f"Податковий номер {document.tin[:12]!r} не відповідає ПРРО")
        if reg.blocked(self.clock.now_ms):
            assert reg.blocked_until_ms is not None
            raise Refusal(9, f"ПРРО заблоковано до {_iso(reg.blocked_until_ms)}: {reg.block_reason}")
        return reg

    def _register(self, reg: Registrar, document: Document, signed: bytes, caller: _Caller, *,
                  offline_doc: bool, fiscal: str | None = None) -> Stored:
        """Apply the shift rules to one document and register it (``Refusal`` leaves nothing changed)."""
        self._check_local_num(reg, document, offline_doc)
        shift = reg.shift
        t = document.doctype if document.kind != ZREP else -1
        kid, chief = caller.key_id, caller.operator.role.chief
        if t == OPEN_SHIFT:
            if shift is not None:
                who = "цим ключем" if shift.opened_by == kid else f"касиром {shift.opener_name}"
                raise Refusal(4, f"Зміну вже відкрито {who} (документ {shift.open_fiscal})")
            for other in self.registrars.values():
                if other is not reg and other.shift is not None and other.shift.opened_by == kid:
                    raise Refusal(4, f"Ключ уже використовується у відкритій зміні ПРРО {other.fiscal_num}")
        else:
            if shift is None:
                raise Refusal(5)
            closing = t in (-1, CLOSE_SHIFT)
            if shift.opened_by != kid and not (closing and chief):
                raise Refusal(4, f"Зміну відкрито іншим ключем (касир {shift.opener_name}); закрити її може "
                                 "той самий ключ або ключ старшого касира")
            if document.testing != shift.testing:
                raise Refusal(9, "В одній зміні лише фіскальні або лише тестові документи")
            if t == CLOSE_SHIFT and shift.z_fiscal is None:
                raise Refusal(6)
            if t != CLOSE_SHIFT and shift.z_fiscal is not None:
                raise Refusal(8, "Z-звіт уже зареєстровано: зміну треба закрити")
        if document.is_receipt:
            self._check_receipt(reg, document)
        if document.kind == ZREP:
            self._check_z(shift, document)
        # --- all checks passed: register ---
        now = document.instant_ms if offline_doc else self.clock.now_ms
        if fiscal is None:
            fiscal = str(self._next_fiscal)
            self._next_fiscal += 1
        if t == OPEN_SHIFT:
            self._shift_ids += 1
            shift = Shift(self._shift_ids, kid, caller.operator.name, fiscal, now, document.ordernum,
                          document.testing)
            reg.shifts.append(shift)
            if reg.offline_supported and reg.offline.session_id is None:
                self._new_session(reg)
        assert shift is not None
        if document.is_receipt:
            shift.totals = _add_totals(shift.totals, document, +1)
        elif document.kind == ZREP:
            shift.z_fiscal = fiscal
        elif t == CLOSE_SHIFT:
            shift.close_fiscal, shift.closed_ms, shift.closed_by = fiscal, now, kid
        reg.next_local_num = document.ordernum + 1
        reg.last_fiscal = fiscal
        ticket = b""
        if not offline_doc:
            if document.financial:
                reg.last_online_financial = document.uid
            off = reg.offline if t == OPEN_SHIFT and reg.offline_supported else OfflineState()
            date, time = local_date_time(now)
            ticket = self.signer.sign(Ticket(document.uid, date, time, document.ordernum, fiscal,
                                             str(off.session_id or ""), str(off.seed or "")).to_xml())
        return self._store(Stored(len(self.documents) + 1, document.uid, reg.fiscal_num, fiscal, document, signed,
                                  kid, caller.operator.name, now, shift.shift_id, ticket, offline=offline_doc))

    def _store(self, stored: Stored) -> Stored:
        self.documents.append(stored)
        self.by_uid[stored.uid] = stored
        self.by_fiscal[(stored.registrar, stored.fiscal)] = stored
        return stored

    @staticmethod
    def _check_local_num(reg: Registrar, document: Document, offline_doc: bool) -> None:
        """Online: ``ORDERNUM`` is the next local number. Offline (MODELLED): it only grows, gaps allowed (a
        ПРРО that lost an online answer may have spent a number the server never saw)."""
        ok = document.ordernum >= reg.next_local_num if offline_doc else document.ordernum == reg.next_local_num
        if not ok:
            raise Refusal(7, f"Локальний номер {document.ordernum}, очікувався {reg.next_local_num}")

    def _check_receipt(self, reg: Registrar, document: Document) -> None:
        if document.total is None:
            raise Refusal(9, "Чек без суми (CHECKTOTAL)")
        if document.items and sum(i.due for i in document.items) != document.total:
            raise Refusal(9, "Сума рядків чека не дорівнює CHECKTOTAL")
        if document.payments and sum(p.sum for p in document.payments) < document.total:
            raise Refusal(9, "Сума оплат менша за суму чека")
        sub = document.docsubtype or 0
        if sub == RETURN:
            if (reg.fiscal_num, document.orderretnum or "") not in self.by_fiscal:
                raise Refusal(9, f"Повернення: чек {str(document.orderretnum)[:30]!r} не знайдено")
        if sub == STORNO:
            last = next((d for d in reversed(self.documents) if d.registrar == reg.fiscal_num), None)
            if last is None or not last.doc.is_receipt or last.fiscal != document.orderstornum:
                raise Refusal(9, "Сторно можливе лише для останнього чека (ORDERSTORNUM)")

    @staticmethod
    def _check_z(shift: Shift | None, document: Document) -> None:
        assert shift is not None
        if document.z is None:
            raise Refusal(9, "Z-звіт без підсумків")
        if document.z != shift.totals:
            raise Refusal(9, f"Підсумки Z-звіту {astuple(document.z)} не збігаються з документами зміни "
                             f"{astuple(shift.totals)}")

    def _new_session(self, reg: Registrar) -> None:
        self._next_session += 1
        reg.offline.session_id = self._next_session
        reg.offline.seed = self.rng.randrange(10**14, 10**15)
        reg.offline.next_number = 1

    # --- /fs/pck ---

    def pck(self, body: bytes, *, as_json: bool = False) -> Answer:
        """``/fs/pck``: one signed offline package → ``OK`` / session JSON (or an error answer)."""
        try:
            content, cert = self._open(body)
            self.check_certificate(cert)
            caller = self._authorised(cert)
            digest = hashlib.sha256(content).hexdigest()
            if digest in self.packages:
                return self.packages[digest]
            try:
                docs = unpack(content)
            except PackageError as exc:
                raise Refusal(10, str(exc)) from None
            answer = self._package(docs, caller)
            self.packages[digest] = answer
            return answer
        except Refusal as r:
            return self.error_answer(r, as_json)

    def _package(self, docs: list[bytes], package_caller: _Caller) -> Answer:
        opened = []
        for n, signed in enumerate(docs, 1):
            try:
                content, cert = cms.verify(signed)
                document = Document.from_xml(content)
            except cms.SignatureError as exc:
                raise Refusal(10, f"Документ {n} пакета: {exc}") from None
            except DocumentError as exc:
                raise Refusal(10, f"Документ {n} пакета: {exc}") from None
            opened.append((signed, cert, document))
        regs = {d.cashregisternum for _, _, d in opened}
        if len(regs) != 1:
            raise Refusal(10, "Пакет містить документи різних ПРРО")
        reg = self.registrars.get(regs.pop())
        if reg is None:
            raise Refusal(1)
        snapshot = copy.deepcopy(reg), len(self.documents), self._next_fiscal, self._next_session, self._shift_ids
        last_online = self.by_uid.get(reg.last_online_financial or "")
        last_revoked = last_online.revoked if last_online is not None else False
        try:
            result: Answer = Answer(200, b"OK")
            for n, (signed, cert, document) in enumerate(opened, 1):
                before = self.by_uid.get(document.uid)
                if before is not None:
                    if before.signed == signed:
                        continue
                    raise Refusal(9, f"Документ {n}: UID {document.uid[:40]} уже зареєстровано з іншим вмістом")
                try:
                    self.check_certificate(cert)
                except Refusal as r:
                    raise Refusal(r.code, f"Документ {n} пакета: {r.text}") from None
                caller = self._authorised(cert)
                got = self._offline_doc(reg, document, signed, caller, n)
                if got is not None:
                    result = got
            return result
        except Refusal:
            reg_copy, count, self._next_fiscal, self._next_session, self._shift_ids = snapshot
            reg.__dict__.update(reg_copy.__dict__)         # in place: whoever holds the Registrar sees it
            for stored in self.documents[count:]:
                self.by_uid.pop(stored.uid, None)
                self.by_fiscal.pop((stored.registrar, stored.fiscal), None)
            del self.documents[count:]
            if last_online is not None:
                last_online.revoked = last_revoked          # a REVOKELASTONLINEDOC of the refused package
            raise

    def _offline_doc(self, reg: Registrar, document: Document, signed: bytes, caller: _Caller,
                     n: int) -> Answer | None:
        off = reg.offline
        where = f"Документ {n} пакета"
        if not document.offline:
            raise Refusal(9, f"{where}: у пакеті лише офлайн-документи (OFFLINE)")
        if document.testing and document.doctype in (OFFLINE_BEGIN, OFFLINE_END):
            raise Refusal(9, f"{where}: TESTING не дозволено для 102/103")
        if not reg.offline_supported or off.session_id is None:
            raise Refusal(9, f"{where}: офлайн-режим для ПРРО не дозволено або сесію не видано")
        parsed = offline.parse_fiscal_number(document.ordertaxnum or "")
        if parsed is None:
            raise Refusal(9, f"{where}: офлайн-номер {str(document.ordertaxnum)[:30]!r} не має вигляду "
                             "<сесія>.<номер>.<контроль>")
        session, number, control = parsed
        if session != off.session_id or number != off.next_number:
            raise Refusal(9, f"{where}: офлайн-номер {document.ordertaxnum}, очікувався "
                             f"{off.session_id}.{off.next_number}.*")
        t = document.doctype if document.kind != ZREP else -1
        if t == OFFLINE_BEGIN:
            if off.active:
                raise Refusal(9, f"{where}: офлайн-сесію вже розпочато (102 без 103)")
            if document.prevdochash:
                raise Refusal(9, f"{where}: 102 не містить PREVDOCHASH")
        elif not off.active:
            raise Refusal(9, f"{where}: документ поза офлайн-сесією (немає 102)")
        chained = document.financial
        if chained:
            want = None if off.after_begin else off.prev_hash
            if document.prevdochash != want:
                raise Refusal(9, f"{where}: PREVDOCHASH {str(document.prevdochash)[:16]!r} не відповідає "
                                 "попередньому документу сесії")
        elif t != OFFLINE_BEGIN and document.prevdochash and document.prevdochash != off.prev_hash:
            raise Refusal(9, f"{where}: PREVDOCHASH не відповідає попередньому документу сесії")
        expected = offline.control_number(off.seed or 0, document.date, document.time, document.ordernum,
                                          document.cashregisternum, document.cashdesknum,
                                          document.total if document.is_receipt else None,
                                          document.prevdochash if t != OFFLINE_BEGIN else None)
        if control != expected:
            raise Refusal(9, f"{where}: контрольне число {control} неправильне")
        instant = document.instant_ms
        if instant > self.clock.now_ms + 60_000:
            raise Refusal(9, f"{where}: час документа в майбутньому")
        answer: Answer | None = None
        if t == OFFLINE_BEGIN:
            if document.revokelastonlinedoc:
                self._revoke_last_online(reg)
            off.active, off.begin_ms, off.last_financial_ms, off.after_begin = True, instant, None, True
            off.prev_hash = None
            self._store_offline(reg, document, signed, caller)
        elif t == OFFLINE_END:
            self._store_offline(reg, document, signed, caller)
            self._end_session(reg)
            answer = _json_answer({"OfflineSessionId": str(reg.offline.session_id),
                                   "OfflineSeed": str(reg.offline.seed)})
        else:
            self._register(reg, document, signed, caller, offline_doc=True, fiscal=document.ordertaxnum)
            if chained:
                off.prev_hash = offline.doc_hash(signed)
                off.after_begin = False
                off.last_financial_ms = instant
        if t != OFFLINE_END:
            off.next_number += 1
        return answer

    def _store_offline(self, reg: Registrar, document: Document, signed: bytes, caller: _Caller) -> None:
        self._check_local_num(reg, document, True)
        reg.next_local_num = document.ordernum + 1
        shift = reg.shift
        self._store(Stored(len(self.documents) + 1, document.uid, reg.fiscal_num, document.ordertaxnum or "",
                           document, signed, caller.key_id, caller.operator.name, document.instant_ms,
                           shift.shift_id if shift else None, b"", offline=True))

    def _end_session(self, reg: Registrar) -> None:
        off = reg.offline
        assert off.begin_ms is not None
        duration = max(0, (off.last_financial_ms or off.begin_ms) - off.begin_ms)
        month = _month(off.begin_ms)
        off.monthly_ms[month] = off.monthly_ms.get(month, 0) + duration
        off.last_session_ms = duration
        off.active = False
        reasons = []
        if duration > OFFLINE_SESSION_LIMIT_MS:
            reasons.append(f"офлайн-сесія {duration // 60_000} хв перевищує 36 годин")
        if off.monthly_ms[month] > OFFLINE_MONTH_LIMIT_MS:
            reasons.append(f"офлайн-сесії за місяць {off.monthly_ms[month] // 60_000} хв перевищують 168 годин")
        if reasons:
            reg.blocked_until_ms = _next_month_ms(max(self.clock.now_ms, off.begin_ms))
            reg.block_reason = "; ".join(reasons)
        self._new_session(reg)

    def _revoke_last_online(self, reg: Registrar) -> None:
        uid = reg.last_online_financial
        stored = self.by_uid.get(uid) if uid else None
        if stored is None or stored.revoked:
            raise Refusal(9, "REVOKELASTONLINEDOC: немає онлайн-документа, який можна відкликати")
        stored.revoked = True
        reg.last_online_financial = None
        shift = next((s for s in reg.shifts if s.shift_id == stored.shift_id), None)
        if shift is not None and stored.doc.is_receipt:
            shift.totals = _add_totals(shift.totals, stored.doc, -1)
        elif shift is not None and stored.doc.kind == ZREP:
            shift.z_fiscal = None

    # --- views for the page and the world ---

    def summary(self, documents: int | None = None) -> dict[str, Any]:
        """Operators, ПРРО with their shifts and offline state, and the documents (the last ``documents`` of
        them when given), for the page and the CLI."""
        now = self.clock.now_ms
        return {
            "now": _iso(now),
            "operators": [{"key_id": o.key_id, "name": o.name, "role": o.role.value, "receipt2": o.reg_num,
                           "accepted": _iso(o.accepted_ms), "active_from": _iso(o.active_from_ms),
                           "active": o.active(now)} for o in self.operators.values()],
            "registrars": [{"fiscal_num": r.fiscal_num, "name": r.name, "unit": r.unit_name,
                            "next_local_num": r.next_local_num, "shift_open": r.shift is not None,
                            "shift_key": r.shift.opened_by if r.shift else None,
                            "offline_session_id": r.offline.session_id, "offline_active": r.offline.active,
                            "blocked": r.blocked(now), "block_reason": r.block_reason if r.blocked(now) else "",
                            "shifts": len(r.shifts)} for r in self.registrars.values()],
            "documents": [_doc_json(d) for d in (self.documents if documents is None
                                                 else self.documents[len(self.documents) - documents:])],
        }


def visualize(stored: Stored) -> str:
    """A plain-text view of a registered document (what ``Type`` 3 of CheckExt / ZRepExt gives; MODELLED layout)."""
    d = stored.doc
    title = "Z-звіт" if d.kind == ZREP else {OPEN_SHIFT: "Відкриття зміни", CLOSE_SHIFT: "Закриття зміни",
                                              OFFLINE_BEGIN: "Початок офлайн сесії",
                                              OFFLINE_END: "Завершення офлайн сесії"}.get(d.doctype, "Чек")
    lines = [d.orgnm, d.pointnm, d.pointaddr, f"ПН {d.tin}", f"{title} № {stored.fiscal}",
             f"{d.date[:2]}.{d.date[2:4]}.{d.date[4:]} {d.time[:2]}:{d.time[2:4]}:{d.time[4:]}",
             f"ФН ПРРО {d.cashregisternum}, ЛН {d.ordernum}", f"Касир: {d.cashier}"]
    lines += [f"{i.name} {i.quantity_milli / 1000:g} x {offline.format_total(i.price)} = {offline.format_total(i.cost)}"
              for i in d.items]
    if d.total is not None:
        lines.append(f"СУМА {offline.format_total(d.total)}")
    if d.z is not None:
        lines += [f"Продажі {offline.format_total(d.z.sales_sum)} ({d.z.sales_count})",
                  f"Повернення {offline.format_total(d.z.returns_sum)} ({d.z.returns_count})"]
    lines.append("ОФЛАЙН" if stored.offline else "ОНЛАЙН")
    if stored.revoked:
        lines.append("ВІДКЛИКАНО")
    return "\n".join(line for line in lines if line)


def _issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    if cert.issuer != ca.subject:
        return False
    try:
        cert.verify_directly_issued_by(ca)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def _add_totals(t: ZTotals, document: Document, sign: int) -> ZTotals:
    """The totals with one receipt added (``sign`` 1) or taken back (-1); a storno takes its sale back."""
    total = sign * (document.total or 0)
    sub = document.docsubtype or 0
    if document.doctype == CASH_WITHDRAWAL:
        return t        # a cash issue to card holders (DOCTYPE 3) is neither a sale nor a service issue
    if sub == DEPOSIT:
        return replace(t, deposits=t.deposits + total)
    if sub == ISSUE:
        return replace(t, issues=t.issues + total)
    if sub == RETURN:
        return replace(t, returns_sum=t.returns_sum + total, returns_count=t.returns_count + sign)
    if sub == STORNO:
        return replace(t, sales_sum=t.sales_sum - total, sales_count=t.sales_count - sign)
    return replace(t, sales_sum=t.sales_sum + total, sales_count=t.sales_count + sign)


def totals_json(t: ZTotals) -> dict[str, int]:
    return {"SalesSum": t.sales_sum, "SalesCount": t.sales_count, "ReturnsSum": t.returns_sum,
            "ReturnsCount": t.returns_count, "ServiceInput": t.deposits, "ServiceOutput": t.issues}


def _doc_json(d: Stored) -> dict[str, Any]:
    doc = d.doc
    return {"NumFiscal": d.fiscal, "NumLocal": doc.ordernum, "DocClass": "ZRep" if doc.kind == ZREP else "Check",
            "CheckDocType": doc.doctype if doc.kind != ZREP else None, "CheckDocSubType": doc.docsubtype,
            "Registered": _iso(d.registered_ms), "DocDateTime": f"{doc.date} {doc.time}", "Uid": d.uid,
            "Registrar": d.registrar, "ShiftId": d.shift_id, "Sum": doc.total, "Offline": d.offline,
            "Revoked": d.revoked, "SubjectKeyId": d.signer_key, "Cashier": d.signer_name}


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Gross(400, "Тіло команди не є JSON у UTF-8") from None
    if not isinstance(value, dict):
        raise Gross(400, "Команда має бути об'єктом JSON")
    return value


def _json_answer(value: Any) -> Answer:
    return Answer(200, json.dumps(value, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")


def decode_body(body: bytes, content_encoding: str | None) -> bytes:
    """Undo gzip/deflate (``Content-Encoding``); ``Gross`` 415 for another encoding, 416 over 200 KB."""
    if len(body) > MESSAGE_MAX_BYTES:
        raise Gross(416, f"Повідомлення більше за {MESSAGE_MAX_BYTES // 1024} КБ")
    enc = (content_encoding or "identity").strip().lower()
    if enc == "identity":
        return body
    if enc not in ("gzip", "deflate"):
        raise Gross(415, f"Непідтримуване кодування {enc[:20]!r}: лише gzip або deflate")
    wbits = 16 + zlib.MAX_WBITS if enc == "gzip" else zlib.MAX_WBITS
    d = zlib.decompressobj(wbits)
    try:
        out = d.decompress(body, MESSAGE_MAX_BYTES + 1)
        if len(out) <= MESSAGE_MAX_BYTES and not d.eof:
            out += d.flush()
    except zlib.error:
        if enc == "deflate":      # raw deflate, as some clients send it
            try:
                d = zlib.decompressobj(-zlib.MAX_WBITS)
                out = d.decompress(body, MESSAGE_MAX_BYTES + 1)
            except zlib.error:
                raise Gross(400, "Пошкоджені стиснені дані (deflate)") from None
        else:
            raise Gross(400, "Пошкоджені стиснені дані (gzip)") from None
    if len(out) > MESSAGE_MAX_BYTES or d.unconsumed_tail:
        raise Gross(416, f"Повідомлення після розпакування більше за {MESSAGE_MAX_BYTES // 1024} КБ")
    return out

