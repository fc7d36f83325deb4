"""The marking codes the mock True API knows, and the answer each one gets.

A ``CatalogueEntry`` is one code with its ``codes/check`` answer fields, spelled
as in the True API (``isBlocked``, ``groupIds``, ``expireDate``...), plus the
mock's own knobs:

* ``status``: the whole ``codes/check`` request holding this code answers that
  HTTP status instead of 200 (``"5000"`` = HTTP 500 with body code 5000);
* ``delay_ms``: added to the host latency of a request holding this code;
* ``req_id`` / ``req_timestamp``: pinned ``reqId`` / ``reqTimestamp`` of the
  answer, to reproduce documented log examples byte for byte.

``Catalogue.sandbox()`` holds the 21 official sandbox codes from the bundled
``data/sandbox_codes.yaml``; ``Catalogue.shop()`` one sellable code for every
product group (``data/shop_codes.yaml``, MOCK-CHOICE); ``Catalogue.default()``
both, the default world's catalogue. User entries override by code. A code is matched
exactly (GS included): sandbox cases 6 and 10 differ only in the case of one
letter of the tail.

Derived fields (MOCK-CHOICE where the operator is silent):

* ``printView``: a GS1 code cut at its first GS; a 29-character pack code
  without its 4-character crypto tail (the field is "КМ without the crypto
  tail");
* ``gtin``: the 14 digits after AI 01, or the first 14 digits of a pack code;
* ``isTracking``: true for the groups the operator lists as always traced
  (1, 2, 3, 4, 5, 6, 12, 16), unless given;
* ``ogvs`` is answered only when ``isBlocked`` is true (an empty list if the
  entry names no authority).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from importlib import resources
from typing import Any

import yaml

GS = "\x1d"
STATUS_5000 = "5000"
TRACKED_GROUPS = frozenset({1, 2, 3, 4, 5, 6, 12, 16})
PACKAGE_TYPES = ("UNIT", "GROUP", "BUNDLE", "PRODUCT_SET")
OGVS = ("RAR", "FTS", "FNS", "RSHN", "RPN", "MVD", "RZN", "VETRF", "RD", "FSSP")

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_PACK = re.compile(r"^\d{14}.{15}$", re.DOTALL)

_BOOLS = ("valid", "verified", "found", "realizable", "utilised", "isBlocked", "sold", "grayZone")
_OPT_INTS = ("mrp", "smp", "packageQuantity", "innerUnitCount", "soldUnitCount", "req_timestamp")
_OPT_STRS = ("name", "printView", "gtin", "producerInn", "parent", "message", "req_id")


class CatalogueError(ValueError):
    """A code entry or catalogue that cannot be used; the message names the key."""


@dataclass(frozen=True)
class CatalogueEntry:
    code: str
    case: int | tuple[int, ...] | None = None
    name: str = ""
    valid: bool = True
    printView: str | None = None
    gtin: str | None = None
    groupIds: tuple[int, ...] = ()
    verified: bool = True
    found: bool = True
    realizable: bool = True
    utilised: bool = True
    isBlocked: bool = False
    ogvs: tuple[str, ...] = ()
    expireDate: str | None = None          # normalised to yyyy-MM-ddTHH:mm:ss.SSSZ
    productionDate: str | None = None      # same format
    errorCode: int = 0
    isTracking: bool | None = None         # None: derived from groupIds
    sold: bool = False
    packageType: str = "UNIT"
    grayZone: bool = False
    mrp: int | None = None
    smp: int | None = None
    packageQuantity: int | None = None
    innerUnitCount: int | None = None
    soldUnitCount: int | None = None
    producerInn: str | None = None
    parent: str | None = None
    message: str | None = None
    req_id: str | None = None
    req_timestamp: int | None = None
    delay_ms: int = 0
    status: int | str | None = None

    def __post_init__(self) -> None:
        where = f"code entry {self.code!r}"
        if not isinstance(self.code, str) or not self.code:
            raise CatalogueError(f"{where}: 'code' must be a non-empty string")
        for key in _BOOLS:
            if not isinstance(getattr(self, key), bool):
                raise CatalogueError(f"{where}: {key!r} must be true or false")
        if self.isTracking is not None and not isinstance(self.isTracking, bool):
            raise CatalogueError(f"{where}: 'isTracking' must be true or false")
        for key in _OPT_INTS:
            v = getattr(self, key)
            if v is not None and (not _is_int(v) or v < 0):
                raise CatalogueError(f"{where}: {key!r} must be a non-negative integer")
        for key in _OPT_STRS:
            v = getattr(self, key)
            if v is not None and not isinstance(v, str):
                raise CatalogueError(f"{where}: {key!r} must be a string")
        if not _is_int(self.errorCode):
            raise CatalogueError(f"{where}: 'errorCode' must be an integer")
        if not _is_int(self.delay_ms) or self.delay_ms < 0:
            raise CatalogueError(f"{where}: 'delay_ms' must be a non-negative integer")
        if self.req_id is not None and not _UUID.match(self.req_id):
            raise CatalogueError(f"{where}: 'req_id' must be a lowercase UUID string")
        if self.packageType not in PACKAGE_TYPES:
            raise CatalogueError(f"{where}: 'packageType' must be one of {', '.join(PACKAGE_TYPES)}")
        status = self.status
        if status is not None and status != STATUS_5000 and not (
                isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599):
            raise CatalogueError(f"{where}: 'status' must be an HTTP status (100-599) or \"5000\"")
        case = self.case
        if isinstance(case, list):
            case = tuple(case)
        if case is not None and not _is_int(case) and not (
                isinstance(case, tuple) and case and all(_is_int(c) for c in case)):
            raise CatalogueError(f"{where}: 'case' must be an integer or a list of integers")
        object.__setattr__(self, "case", case)
        groups = self.groupIds
        if not isinstance(groups, (list, tuple)) or not all(_is_int(g) for g in groups):
            raise CatalogueError(f"{where}: 'groupIds' must be a list of integers")
        object.__setattr__(self, "groupIds", tuple(groups))
        ogvs = self.ogvs
        if isinstance(ogvs, str) or not isinstance(ogvs, (list, tuple)) or not all(
                isinstance(o, str) for o in ogvs):
            raise CatalogueError(f"{where}: 'ogvs' must be a list of strings")
        object.__setattr__(self, "ogvs", tuple(ogvs))
        for key in ("expireDate", "productionDate"):
            v = getattr(self, key)
            if v is not None:
                object.__setattr__(self, key, format_instant(v, f"{where}: {key!r}"))

    # -- reading ---------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CatalogueEntry:
        """An entry from YAML/JSON data; unknown keys raise ``ValueError`` naming the key."""
        if not isinstance(data, Mapping):
            raise CatalogueError(f"a code entry must be a mapping, got {type(data).__name__}")
        known = _FIELD_NAMES
        for key in data:
            if key not in known:
                raise CatalogueError(f"unknown key {key!r} in code entry {data.get('code')!r}")
        if "code" not in data:
            raise CatalogueError(f"code entry without 'code': {dict(data)!r}")
        return cls(**dict(data))

    @property
    def cases(self) -> tuple[int, ...]:
        if self.case is None:
            return ()
        return self.case if isinstance(self.case, tuple) else (self.case,)

    # -- answering -------------------------------------------------------
    @functools.cached_property
    def _template(self) -> dict[str, Any]:
        out: dict[str, Any] = {"valid": self.valid}
        pv = self.printView if self.printView is not None else derive_print_view(self.code)
        gtin = self.gtin if self.gtin is not None else derive_gtin(self.code)
        if pv is not None:
            out["printView"] = pv
        if gtin is not None:
            out["gtin"] = gtin
        out["groupIds"] = list(self.groupIds)
        out.update(verified=self.verified, found=self.found, realizable=self.realizable,
                   utilised=self.utilised, isBlocked=self.isBlocked)
        if self.isBlocked:
            out["ogvs"] = list(self.ogvs)
        if self.expireDate is not None:
            out["expireDate"] = self.expireDate
        if self.productionDate is not None:
            out["productionDate"] = self.productionDate
        out["errorCode"] = self.errorCode
        if self.message is not None:
            out["message"] = self.message
        tracking = self.isTracking
        if tracking is None:
            tracking = any(g in TRACKED_GROUPS for g in self.groupIds)
        out.update(isTracking=tracking, sold=self.sold, packageType=self.packageType, grayZone=self.grayZone)
        for key in ("mrp", "smp", "packageQuantity", "innerUnitCount", "soldUnitCount", "producerInn", "parent"):
            v = getattr(self, key)
            if v is not None:
                out[key] = v
        return out

    def answer(self, cis: str) -> dict[str, Any]:
        """The per-code object of a ``codes/check`` answer; ``cis`` echoes the request."""
        return {"cis": cis, **self._template}


_FIELD_NAMES = frozenset(f.name for f in fields(CatalogueEntry))


def unknown_answer(cis: str) -> dict[str, Any]:
    """The answer for a code the catalogue does not hold: not found, errorCode 10."""
    out: dict[str, Any] = {"cis": cis, "valid": False}
    pv = derive_print_view(cis)
    gtin = derive_gtin(cis)
    if pv is not None:
        out["printView"] = pv
    if gtin is not None:
        out["gtin"] = gtin
    out.update(groupIds=[], verified=False, found=False, realizable=False, utilised=False, isBlocked=False,
               errorCode=10, isTracking=False, sold=False, grayZone=False)
    return out


def derive_print_view(code: str) -> str | None:
    if GS in code:
        return code.split(GS, 1)[0]
    if len(code) == 29 and _PACK.match(code):
        return code[:25]
    return code if code.startswith("01") else None


def derive_gtin(code: str) -> str | None:
    if code.startswith("01") and len(code) >= 16 and code[2:16].isascii() and code[2:16].isdigit():
        return code[2:16]
    if len(code) == 29 and GS not in code and _PACK.match(code):
        return code[:14]
    return None


def format_instant(value: Any, where: str = "date") -> str:
    """``yyyy-MM-ddTHH:mm:ss.SSSZ`` (UTC) from an ISO string or a datetime (naive = UTC)."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.strip())
        except ValueError:
            raise CatalogueError(f"{where}: not an ISO date-time: {value!r}") from None
    else:
        raise CatalogueError(f"{where}: not a date-time: {value!r}")
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class Catalogue:
    """Codes by their exact text. ``add`` replaces an entry with the same code."""

    def __init__(self, entries: Iterable[CatalogueEntry] = ()) -> None:
        self._by_code: dict[str, CatalogueEntry] = {}
        for e in entries:
            self.add(e)

    def add(self, entry: CatalogueEntry | Mapping[str, Any]) -> CatalogueEntry:
        if not isinstance(entry, CatalogueEntry):
            entry = CatalogueEntry.from_dict(entry)
        self._by_code[entry.code] = entry
        return entry

    def remove(self, code: str) -> None:
        self._by_code.pop(code, None)

    def get(self, code: str) -> CatalogueEntry | None:
        return self._by_code.get(code)

    def by_case(self, case: int) -> CatalogueEntry:
        for e in self._by_code.values():
            if case in e.cases:
                return e
        raise KeyError(f"no catalogue entry for sandbox case {case}")

    def copy(self) -> Catalogue:
        return Catalogue(self._by_code.values())

    def __len__(self) -> int:
        return len(self._by_code)

    def __iter__(self) -> Iterator[CatalogueEntry]:
        return iter(list(self._by_code.values()))

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    @classmethod
    def from_yaml_data(cls, data: Any) -> Catalogue:
        """A catalogue from parsed YAML: a list of mappings (``None`` = empty)."""
        if data is None:
            return cls()
        if not isinstance(data, list):
            raise CatalogueError(f"a code catalogue must be a list of entries, got {type(data).__name__}")
        return cls(CatalogueEntry.from_dict(item) for item in data)

    @classmethod
    def sandbox(cls) -> Catalogue:
        """The operator's 21 sandbox test codes (bundled ``data/sandbox_codes.yaml``)."""
        return cls(_bundled_entries("sandbox_codes.yaml"))

    @classmethod
    def shop(cls) -> Catalogue:
        """One sellable code for every product group (bundled ``data/shop_codes.yaml``, MOCK-CHOICE)."""
        return cls(_bundled_entries("shop_codes.yaml"))

    @classmethod
    def default(cls) -> Catalogue:
        """The default world's codes: the sandbox codes and the sellable code of every product group."""
        return cls((*_bundled_entries("sandbox_codes.yaml"), *_bundled_entries("shop_codes.yaml")))


@functools.lru_cache(maxsize=2)
def _bundled_entries(name: str) -> tuple[CatalogueEntry, ...]:
    text = resources.files("emulator").joinpath(f"data/{name}").read_text("utf-8")
    return tuple(Catalogue.from_yaml_data(yaml.safe_load(text)))
