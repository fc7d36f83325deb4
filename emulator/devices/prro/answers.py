"""What the ПРРО makes of the tax server's answers: a fiscal number, or the message the seeds name.

Error answers are ``Код помилки: <n> <SymbolicCode>\\r\\n<text>`` (HTTP 4xx) or
``{"ErrorCode", "ErrorMessage"}`` (reference §8.4). The mapping to the seeds'
messages (MODELLED, from the reference's reading of the seeds):

=====  ==============================================  =============================================
code   the server's situation                          the ПРРО shows
=====  ==============================================  =============================================
2      the key is no (active) operator                 «No available business units»
4      ``ShiftAlreadyOpened``                          «ShiftAlreadyOpened»
5      ``ShiftNotOpened``                              «ShiftNotOpened»
9      ``DocumentValidationError``                     «DocumentValidationError»
12     OCSP: revoked (``CertStatus: 1``)               «The signer's certificate has been revoked»,
                                                       «Certificate revoked», «CertStatus: 1»
12     OCSP: unknown («Сертифікат не знайдено»)        «Certificate not found»
12     «Термін дії сертифікату …»                       «The certificate has expired»
=====  ==============================================  =============================================

Any other code is shown as the server wrote its first line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from emulator.wire.cms import SignatureError, verify
from emulator.wire.prro.document import DocumentError, Ticket

_ERROR_RE = re.compile(r"Код помилки:\s*(-?\d{1,9})\s*(\w*)")

CODE_MESSAGES = {2: ["no_business_units"], 4: ["shift_already_opened"], 5: ["shift_not_opened"],
                 9: ["document_validation"]}


@dataclass(frozen=True)
class Got:
    ok: bool
    fiscal_num: str = ""
    messages: list[str] = field(default_factory=list)
    error_code: int | None = None
    error_line: str = ""
    offline_session_id: str = ""
    offline_seed: str = ""


def read_error(status: int, body: bytes) -> Got:
    """An error answer (or anything that is not a good one) as the messages to show."""
    raw = body[:4096].decode("utf-8", "replace")
    code: int | None = None
    message = raw
    if raw.startswith("{"):
        try:
            obj = json.loads(raw)
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            value = obj.get("ErrorCode")
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**6:
                code = value
            message = str(obj.get("ErrorMessage", ""))[:300]
    m = _ERROR_RE.search(raw)
    if m:
        code = int(m.group(1))
    lines = [" ".join(x.split()) for x in raw.splitlines() if x.strip()]
    first = lines[0][:200] if lines else f"HTTP {status}"
    if raw.startswith("{") and code is not None:
        line = f"Код помилки: {code}: {' '.join(message.split())}"
    else:
        line = ": ".join(lines[:2]) if lines else first
    line = line[:300]
    if code == 12:
        if "CertStatus: 1" in raw or "відкликан" in raw.lower():
            ids = ["cert_revoked", "cert_revoked_short", "cert_status_1"]
        elif "не знайдено" in raw:
            ids = ["cert_not_found"]
        elif "Термін дії" in raw:
            ids = ["cert_expired"]
        else:
            ids = []
    else:
        ids = list(CODE_MESSAGES.get(code, [])) if code is not None else []
    return Got(False, messages=ids or ["@" + first], error_code=code, error_line=line)


def read_doc_answer(status: int, body: bytes) -> Got:
    """``/fs/doc``: a signed TICKET (its fiscal number, maybe the offline pair) or an error."""
    if status != 200 or body[:1] != b"\x30":
        return read_error(status, body)
    try:
        content, _cert = verify(body)
        ticket = Ticket.from_xml(content)
    except (SignatureError, DocumentError) as exc:
        return Got(False, messages=["@" + f"Bad ticket: {exc}"], error_line=str(exc))
    if ticket.error_code:
        return read_error(400, f"Код помилки: {ticket.error_code}\r\n{ticket.error_text}".encode())
    return Got(True, fiscal_num=ticket.ordertaxnum, offline_session_id=ticket.offline_session_id or "",
               offline_seed=ticket.offline_seed or "")


def read_package_answer(status: int, body: bytes) -> Got:
    """``/fs/pck``: ``OK``, or the new offline pair after a package with 103, or an error."""
    if status != 200:
        return read_error(status, body)
    text = body.decode("utf-8", "replace").strip()
    if text.upper() == "OK":
        return Got(True)
    try:
        obj: Any = json.loads(text)
    except ValueError:
        return read_error(status, body)
    if isinstance(obj, dict) and "OfflineSessionId" in obj:
        return Got(True, offline_session_id=str(obj.get("OfflineSessionId") or ""),
                   offline_seed=str(obj.get("OfflineSeed") or ""))
    return read_error(status, body)
