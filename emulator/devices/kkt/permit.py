"""From a ``codes/check`` answer to a permit decision: the sale-prohibition rules.

``parse_check_answer`` turns the body into a ``CheckAnswer`` or raises
``AnswerError`` (device error 750: not JSON, not an object, a required field
missing or of the wrong type, ``reqId`` not a UUID). ``decide`` applies the
operator's prohibition rules in a fixed order, first match wins:

====  ===========================================================  =====
rule  condition                                                     error
====  ===========================================================  =====
1     ``found`` is false                                            751
2     ``utilised`` is false                                         752
3     ``verified`` is false                                         753
4     ``sold`` is true                                              754
5     ``isBlocked`` is true (any ``ogvs``, RD and VETRF included)   755
6     ``realizable`` false and ``sold`` false, unless tobacco with  756
      ``grayZone`` true
7     local time at or past ``expireDate`` (no zone conversion)     757
8     tobacco: price != МРЦ (the code's, or ``mrp``), price <       758
      ``smp`` x ``packageQuantity``; groups 12 and 16: price <
      ``mrp`` (their minimum price)
9     ``errorCode`` != 0 left unexplained by the flags              760
====  ===========================================================  =====

The order follows the vendor's log example for 754: ``sold`` wins over
``realizable`` (756 needs "not sold"). Which device code each rule gives is the
emulator's model; the operator's rules only say "prohibit".

"Tobacco" is an answer whose ``groupIds`` holds 3 or, when the answer names no
group at all, a code that carries an МРЦ (a pack's characters 22-25, a block's
AI 8005: only tobacco codes do). The МРЦ in the code, ``smp`` and the grey
zone concern tobacco only: a nicotine product's pack code whose characters
22-25 happen to decode is not held to them, nor a group-12 code with AI 8005.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from emulator.base import errors as E
from emulator.devices.kkt.logbook import NO_EXPIRY
from emulator.rules.marking import MarkingCode

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
TOBACCO = 3
MIN_PRICE_GROUPS = (12, 16)


class AnswerError(ValueError):
    """The answer cannot be used (device error 750)."""


def parse_json_body(body: bytes) -> Any:
    """An answer's body as JSON, or ``AnswerError`` for any body that does not parse.

    Not parsing covers bytes that are not UTF-8, text that is not JSON, nesting too deep
    for the parser (``RecursionError``) and numbers too long to convert (``ValueError``):
    whatever a host sends, the caller gets a document or ``AnswerError``, never a crash.
    """
    try:
        return json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError) as exc:    # UnicodeDecodeError, JSONDecodeError are ValueErrors
        raise AnswerError(f"not JSON: {exc}") from None


@dataclass(frozen=True)
class CodeAnswer:
    cis: str
    found: bool
    utilised: bool
    verified: bool
    realizable: bool
    sold: bool
    is_blocked: bool
    gray_zone: bool
    ogvs: tuple[str, ...]
    expire_s: int | None        # Unix seconds, the instant written in expireDate
    expire_naive: datetime | None  # the same, read as local wall time (rule 7)
    mrp: int | None
    smp: int | None
    package_quantity: int
    group_ids: tuple[int, ...]
    error_code: int

    @property
    def flags(self) -> tuple[bool, ...]:
        """In the log's order: Найден, Нанесен, Крипто, Продан, Заблокирован, В обороте, Серая зона."""
        return (self.found, self.utilised, self.verified, self.sold, self.is_blocked, self.realizable,
                self.gray_zone)


@dataclass(frozen=True)
class CheckAnswer:
    code: int
    description: str
    codes: tuple[CodeAnswer, ...]
    req_id: str
    req_timestamp: int


@dataclass(frozen=True)
class PermitDecision:
    allowed: bool
    error: int | None = None     # 751-758 for a prohibition, 760 for an unusable answer
    usable: bool = True          # False: treat as a failed request (sell with a beep)

    @property
    def prohibited(self) -> bool:
        return not self.allowed and self.usable


def _bool(obj: dict[str, Any], key: str, required: bool) -> bool:
    if key not in obj:
        if required:
            raise AnswerError(f"codes[].{key} missing")
        return False
    v = obj[key]
    if not isinstance(v, bool):
        raise AnswerError(f"codes[].{key} is not a boolean")
    return v


INT64_LIMIT = 2 ** 63


def _int(obj: dict[str, Any], key: str) -> int | None:
    v = obj.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise AnswerError(f"{key} is not an integer")
    if not -INT64_LIMIT <= v < INT64_LIMIT:
        # A price, a code or a timestamp that no 64-bit field holds: an answer we cannot use.
        raise AnswerError(f"{key} is out of range: {str(v)[:24]}…")
    return v


def _expiry(text: Any) -> tuple[int | None, datetime | None]:
    if text is None:
        return None, None
    if not isinstance(text, str):
        raise AnswerError("expireDate is not a string")
    try:
        naive = datetime.strptime(text.rstrip("Z")[:19], "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        raise AnswerError(f"expireDate not understood: {text!r}") from None
    unix_s = int(naive.replace(tzinfo=UTC).timestamp())
    return max(0, min(unix_s, NO_EXPIRY)), naive


def parse_code(obj: Any) -> CodeAnswer:
    if not isinstance(obj, dict):
        raise AnswerError("codes[] item is not an object")
    cis = obj.get("cis", "")
    if not isinstance(cis, str):
        raise AnswerError("codes[].cis is not a string")
    ogvs = obj.get("ogvs") or []
    if not isinstance(ogvs, list) or not all(isinstance(x, str) for x in ogvs):
        raise AnswerError("codes[].ogvs is not a list of strings")
    groups = obj.get("groupIds") or []
    if not isinstance(groups, list) or not all(isinstance(x, int) for x in groups):
        raise AnswerError("codes[].groupIds is not a list of integers")
    expire_s, expire_naive = _expiry(obj.get("expireDate"))
    return CodeAnswer(
        cis=cis,
        found=_bool(obj, "found", True),
        utilised=_bool(obj, "utilised", True),
        verified=_bool(obj, "verified", True),
        realizable=_bool(obj, "realizable", True),
        sold=_bool(obj, "sold", False),
        is_blocked=_bool(obj, "isBlocked", False),
        gray_zone=_bool(obj, "grayZone", False),
        ogvs=tuple(ogvs),
        expire_s=expire_s,
        expire_naive=expire_naive,
        mrp=_int(obj, "mrp"),
        smp=_int(obj, "smp"),
        package_quantity=_int(obj, "packageQuantity") or 1,
        group_ids=tuple(groups),
        error_code=_int(obj, "errorCode") or 0,
    )


def parse_check_answer(body: bytes) -> CheckAnswer:
    doc = parse_json_body(body)
    if not isinstance(doc, dict):
        raise AnswerError("answer is not a JSON object")
    code = _int(doc, "code") or 0
    description = doc.get("description", "")
    if not isinstance(description, str):
        raise AnswerError("description is not a string")
    if code != 0:
        return CheckAnswer(code, description, (), str(doc.get("reqId", "")), _int(doc, "reqTimestamp") or 0)
    req_id = doc.get("reqId")
    if not isinstance(req_id, str) or not UUID_RE.match(req_id):
        raise AnswerError("reqId missing or not a UUID")
    ts = _int(doc, "reqTimestamp")
    if ts is None or ts < 0:
        raise AnswerError("reqTimestamp missing")
    codes = doc.get("codes")
    if not isinstance(codes, list) or not codes:
        raise AnswerError("codes missing or empty")
    return CheckAnswer(code, description, tuple(parse_code(c) for c in codes), req_id, ts)


def code_mrp(code: MarkingCode) -> int | None:
    return code.mrp_kopecks


def max_price(answer: CodeAnswer, code: MarkingCode) -> int:
    """«Макс» of the log record: the answer's ``mrp``, else the МРЦ in the code, else 0."""
    if answer.mrp is not None:
        return answer.mrp
    return code.mrp_kopecks or 0


def decide(answer: CodeAnswer, code: MarkingCode, price: int, local_now: datetime) -> PermitDecision:
    if not answer.found:
        return PermitDecision(False, E.NOT_FOUND)
    if not answer.utilised:
        return PermitDecision(False, E.NOT_APPLIED)
    if not answer.verified:
        return PermitDecision(False, E.CRYPTO_FAILED)
    if answer.sold:
        return PermitDecision(False, E.WITHDRAWN)
    if answer.is_blocked:
        return PermitDecision(False, E.BLOCKED_BY_OGV)
    if not answer.realizable and not (answer.gray_zone and is_tobacco(answer, code)):
        return PermitDecision(False, E.NOT_IN_CIRCULATION)
    if answer.expire_naive is not None and local_now >= answer.expire_naive:
        return PermitDecision(False, E.EXPIRED)
    if _price_violated(answer, code, price):
        return PermitDecision(False, E.PRICE_VS_MRP)
    if answer.error_code != 0:
        return PermitDecision(False, E.REMOTE_ERROR, usable=False)
    return PermitDecision(True)


def is_tobacco(answer: CodeAnswer, code: MarkingCode) -> bool:
    """Group 3 in the answer; with no group named, a code that carries an МРЦ (only tobacco codes do)."""
    if answer.group_ids:
        return TOBACCO in answer.group_ids
    return code.mrp_kopecks is not None


def _price_violated(answer: CodeAnswer, code: MarkingCode, price: int) -> bool:
    if is_tobacco(answer, code):
        if code.mrp_kopecks is not None and price != code.mrp_kopecks:
            return True     # rule 7: the МРЦ of the pack (characters 22-25) or of the block (AI 8005)
        if answer.mrp is not None and price != answer.mrp:
            return True     # the answer's МРЦ (``mrp`` is the МРЦ for group 3)
        return answer.smp is not None and price < answer.smp * answer.package_quantity   # rule 8: ЕМЦ
    if any(g in MIN_PRICE_GROUPS for g in answer.group_ids):
        return answer.mrp is not None and price < answer.mrp    # rules 9, 10: the МЦ of groups 16 and 12
    return False
