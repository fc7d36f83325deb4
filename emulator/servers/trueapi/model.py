"""The mock True API's state and rules: contours, hosts, tokens, codes, history.

Theory of operation. ``TrueApi`` is the True API as data and typed methods, no
HTTP: each method takes the virtual time ``now_ms`` it is called at (and,
where the answer carries it, ``sent_ms``: when the answer leaves the host,
``now_ms`` plus the host's latency) and returns the answer's JSON document,
or raises a ``Refusal`` naming the HTTP status (400, 401, 403, 404, 405, 429,
203, 5xx) and the description the error body carries. ``routes.py`` parses
requests, calls these methods and turns documents and refusals into replies;
nothing here reads a clock or does I/O. Identifiers (``reqId``, ``queryId``,
tokens) come from one ``random.Random(seed)`` in call order, so a run is a
pure function of the seed, the configuration and the request sequence.

Per-host state is a ``ServedHost`` (not the device's ``CdnHost``): its
contour, whether it is the base host, its switches and counters, and its
``emulator.net.faults.FaultPlan`` (latency, plan items, down, TLS fault).

Undocumented behaviour chosen here (MOCK-CHOICE): a permissive-access token is
a UUID that expires ``expires_in`` seconds after it is issued
(``Contour.token_valid_until_ms`` ends every token of the contour);
``codes/check`` rejects an empty ``codes`` list, a ``fiscalDriveNumber`` that
is not a string and a ``timeZone`` outside 1..11 with 400, ignores
``timeZone`` otherwise, and answers 401 for a blocked ``fiscalDriveNumber``;
any string is accepted as a ``fiscalDriveNumber`` (the guide describes the ФН
number as 16 digits but says nothing of refusing other values, so the mock is
no stricter than the record);
``cis`` echoes the request exactly; when a request holds several codes the
largest ``delay_ms`` is added and the status of the slowest code that has one
answers the whole request; history: 429 for a second call within 60 s per
token (only accepted calls count), 404 for an unknown ``queryId``,
``searchStatus`` FOUND needs both ``reqId`` and ``reqTimestamp`` to match a
stored answer. History is bounded (the guide gives no retention): per
contour the newest ``history_max_answers`` (10 000) ``codes/check`` answers
are kept, none older than ``history_max_age_ms`` (7 days) on the clock; an
older one is NOT_FOUND. History queries are forgotten alike (at most
``history_max_queries`` = 1000, 1 day), and so are the rate-limit stamps.
"""

from __future__ import annotations

import base64
import binascii
import random
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from emulator.net.faults import FaultPlan
from emulator.servers.trueapi.catalogue import STATUS_5000, Catalogue, CatalogueEntry, unknown_answer

PROD = "prod"
SANDBOX = "sandbox"

# The True API's own fault-plan words, besides statuses, "ok" and the transport faults.
PLAN_WORDS = frozenset({STATUS_5000, "garbage", "truncated", "missing-reqid", "empty-list"})

DEFAULT_CDN_LATENCY_MS = (50, 150, 250)

_BAD = "Некорректный запрос: "


class Refusal(Exception):
    """The True API refuses a request: ``status`` and the error body's ``description``.

    ``description=None`` means the status's standard text. ``delay_ms`` is added to
    the host's latency (a slow code that answers an error).
    """

    status = 500

    def __init__(self, description: str | None = None, *, status: int | None = None, delay_ms: int = 0) -> None:
        super().__init__(description or "")
        if status is not None:
            self.status = status
        self.description = description
        self.delay_ms = delay_ms


class BadRequest(Refusal):
    status = 400


class Unauthorized(Refusal):
    status = 401


class Forbidden(Refusal):
    status = 403


class NotFound(Refusal):
    status = 404


class MethodNotAllowed(Refusal):
    status = 405


class TooManyRequests(Refusal):
    status = 429


class Emergency(Refusal):
    """The contour's or host's emergency switch: code checking is off (203)."""

    status = 203


class ExternalSystemFailure(Refusal):
    """HTTP 500 with body code 5000: the information about a code could not be fetched."""

    status = 500


def status_refusal(status: int | str, delay_ms: int = 0) -> Refusal:
    """The refusal for a configured status: an HTTP status, or ``"5000"``."""
    if status == STATUS_5000:
        return ExternalSystemFailure(delay_ms=delay_ms)
    assert isinstance(status, int)
    return Refusal(status=status, delay_ms=delay_ms)


@dataclass(eq=False, slots=True)
class ServedHost:
    """One host the mock serves (base hosts too): contour, switches, counters and fault plan."""

    name: str
    contour: str
    is_base: bool = False
    avg_time_ms: int = 300                                  # reported by health/check, not the real latency
    emergency: bool = False
    faults: FaultPlan = field(default_factory=lambda: FaultPlan(words=PLAN_WORDS))
    requests: int = 0
    checks: int = 0
    health_checks: int = 0


@dataclass(eq=False)
class Contour:
    """One True API installation: production or the sandbox."""

    name: str
    base_host: str
    cdn_hosts: list[str]
    tokens: set[str] = field(default_factory=set)
    blocked_tokens: set[str] = field(default_factory=set)
    token_valid_until_ms: int | None = None      # None = forever; ends every token of the contour
    emergency: bool = False
    empty_cdn_list: bool = False                 # cdn/info answers hosts: []
    reject_signature: bool = False               # permissive-access answers 401
    expires_in_s: int = 36_000                   # expires_in of permissive-access tokens
    blocked_fiscal_drives: set[str] = field(default_factory=set)
    token_expiry_ms: dict[str, int] = field(default_factory=dict)   # permissive-access tokens only


@dataclass(frozen=True)
class StoredAnswer:
    req_id: str
    req_timestamp: int
    codes: tuple[dict[str, Any], ...]


@dataclass
class _Query:
    query_id: str
    contour: str
    token: str
    ready_at_ms: int
    requests: tuple[tuple[str, int], ...]


def host_name(name: str) -> str:
    """A host name as the model keys it: lower case, no scheme, no trailing slash."""
    name = name.strip().lower()
    for scheme in ("https://", "http://"):
        name = name.removeprefix(scheme)
    return name.rstrip("/")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class TrueApi:
    """Both contours of the True API with their hosts, tokens, code catalogue and history."""

    def __init__(self, seed: int = 0, catalogue: Catalogue | None = None) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.catalogue = catalogue if catalogue is not None else Catalogue.default()
        self.contours: dict[str, Contour] = {
            PROD: Contour(PROD, "cdn.crpt.ru", ["cdn01.crpt.ru", "cdn02.crpt.ru", "cdn03.crpt.ru"]),
            SANDBOX: Contour(SANDBOX, "markirovka.sandbox.crptech.ru",
                             ["cdn01.am.crptech.ru", "cdn02.am.crptech.ru", "cdn03.am.crptech.ru"]),
        }
        self._hosts: dict[str, ServedHost] = {}
        for c in self.contours.values():
            self._hosts[c.base_host] = ServedHost(c.base_host, c.name, is_base=True)
            for i, h in enumerate(c.cdn_hosts):
                # MOCK-CHOICE: the default hosts answer in 50, 150, 250 ms: gaps wider than the
                # noise of TLS handshakes on loopback, so that ranking by measured latency has one
                # right answer on the simulated and on the real network.
                host = ServedHost(h, c.name)
                host.faults.latency_ms = DEFAULT_CDN_LATENCY_MS[i % 3] + 300 * (i // 3)
                self._hosts[h] = host
        self.max_codes_per_check = 1000          # MOCK-CHOICE: the operator gives no limit
        self.history_delay_ms = 30_000           # IN_PROGRESS this long after history/create
        self.history_interval_ms = 60_000        # 1 call per minute per token, each history method
        self.history_max_requests = 100
        self.history_max_answers = 10_000        # MOCK-CHOICE: answers kept per contour, the newest
        self.history_max_age_ms = 7 * 86_400_000  # MOCK-CHOICE: and none older than this on the clock
        self.history_max_queries = 1000
        self.history_query_age_ms = 86_400_000
        # reqId -> (stored at, the answer), oldest first
        self.answers: dict[str, OrderedDict[str, tuple[int, StoredAnswer]]] = {
            name: OrderedDict() for name in self.contours}
        self._queries: OrderedDict[str, tuple[int, _Query]] = OrderedDict()
        self._last_create: dict[tuple[str, str], int] = {}
        self._last_receive: dict[tuple[str, str], int] = {}

    # -- configuration ---------------------------------------------------
    def contour(self, name: str) -> Contour:
        try:
            return self.contours[name]
        except KeyError:
            raise KeyError(f"unknown contour {name!r} (prod or sandbox)") from None

    def base_host(self, contour: str) -> str:
        return self.contour(contour).base_host

    def cdn_hosts(self, contour: str) -> list[str]:
        return list(self.contour(contour).cdn_hosts)

    def hosts(self) -> list[str]:
        return sorted(self._hosts)

    def host(self, name: str) -> ServedHost:
        state = self._hosts.get(host_name(name))
        if state is None:
            raise KeyError(f"unknown host {name!r}")
        return state

    def find_host(self, name: str) -> ServedHost | None:
        """The host named ``name``, or None when it does not resolve."""
        return self._hosts.get(host_name(name))

    def add_token(self, contour: str, token: str) -> None:
        c = self.contour(contour)
        c.tokens.add(token)
        c.token_expiry_ms.pop(token, None)

    def block_token(self, token: str) -> None:
        for c in self.contours.values():
            c.blocked_tokens.add(token)

    def unblock_token(self, token: str) -> None:
        for c in self.contours.values():
            c.blocked_tokens.discard(token)

    def block_fiscal_drive(self, contour: str, number: str) -> None:
        self.contour(contour).blocked_fiscal_drives.add(number)

    def set_cdn_hosts(self, contour: str, names: Iterable[str]) -> None:
        """Replace the CDN list; hosts kept keep their state, dropped hosts stop resolving."""
        c = self.contour(contour)
        new = []
        for n in names:
            name = host_name(n)
            owner = self._hosts.get(name)
            if owner is not None and (owner.contour != c.name or owner.is_base):
                raise ValueError(f"host {name!r} already belongs to {owner.contour} as a base or CDN host")
            if name not in new:
                new.append(name)
        for old in c.cdn_hosts:
            if old not in new:
                self._hosts.pop(old, None)
        for name in new:
            self._hosts.setdefault(name, ServedHost(name, c.name))
        c.cdn_hosts = new

    def set_emergency(self, contour: str, on: bool) -> None:
        self.contour(contour).emergency = bool(on)

    def set_token_valid_until(self, contour: str, ms: int | None) -> None:
        self.contour(contour).token_valid_until_ms = ms

    def set_empty_cdn_list(self, contour: str, on: bool) -> None:
        self.contour(contour).empty_cdn_list = bool(on)

    def set_reject_signature(self, contour: str, on: bool) -> None:
        self.contour(contour).reject_signature = bool(on)

    def set_expires_in(self, contour: str, seconds: int) -> None:
        self.contour(contour).expires_in_s = int(seconds)

    def add_code(self, entry: CatalogueEntry | Mapping[str, Any]) -> CatalogueEntry:
        """Add or replace (by code) one catalogue entry; a mapping uses the YAML keys."""
        return self.catalogue.add(entry)

    # -- identifiers -----------------------------------------------------
    def new_uuid(self) -> str:
        """A version-4-shaped UUID from the seeded generator (never ``uuid4()``)."""
        n = self.rng.getrandbits(128)
        n = (n & ~(0xF << 76)) | (0x4 << 76)
        n = (n & ~(0x3 << 62)) | (0x2 << 62)
        h = f"{n:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    # -- rules every method shares ---------------------------------------------
    def check_open(self, host: ServedHost) -> None:
        """Raise ``Emergency`` while the contour's or the host's emergency switch is on."""
        if self.contours[host.contour].emergency or host.emergency:
            raise Emergency()

    def authorize(self, contour: Contour, token: str, now_ms: int) -> None:
        """Raise ``Unauthorized`` unless ``token`` is valid in ``contour`` at ``now_ms``."""
        if not token:
            raise Unauthorized("Токен не передан (заголовок X-API-KEY)")
        if token in contour.blocked_tokens:
            raise Unauthorized("Токен заблокирован")
        if token not in contour.tokens:
            if any(token in c.tokens for c in self.contours.values()):
                raise Unauthorized("Токен выдан для другого контура")
            raise Unauthorized("Недействительный токен")
        expiry = contour.token_expiry_ms.get(token)
        if (expiry is not None and now_ms >= expiry) or (
                contour.token_valid_until_ms is not None and now_ms >= contour.token_valid_until_ms):
            raise Unauthorized("Срок действия токена истёк")

    # -- methods ---------------------------------------------------------
    def health(self, host: ServedHost) -> dict[str, Any]:
        return {"code": 0, "description": "ok", "avgTimeMs": host.avg_time_ms}

    def cdn_info(self, contour: Contour, *, empty: bool = False) -> dict[str, Any]:
        """The CDN list; ``empty`` (or the contour's ``empty_cdn_list``) answers ``hosts: []``."""
        hosts = [] if (contour.empty_cdn_list or empty) else [{"host": f"https://{h}"} for h in contour.cdn_hosts]
        return {"code": 0, "description": "ok", "hosts": hosts}

    def permissive_access(self, contour: Contour, doc: Any, sent_ms: int) -> dict[str, Any]:
        """A new token for a signed ``data`` (``doc`` is the parsed body; None if it was no JSON)."""
        data = doc.get("data") if isinstance(doc, dict) else None
        if not isinstance(data, str) or not data.strip():
            raise BadRequest(_BAD + "поле data обязательно")
        try:
            raw = base64.b64decode(data.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest(_BAD + "data не в кодировке Base64") from None
        if not raw:
            raise BadRequest(_BAD + "data пусто")
        if contour.reject_signature:
            raise Unauthorized("Подпись не прошла проверку")
        token = self.new_uuid()
        contour.tokens.add(token)
        contour.token_expiry_ms[token] = sent_ms + contour.expires_in_s * 1000
        return {"access_token": token, "token_type": "Bearer", "expires_in": contour.expires_in_s}

    def codes_check(self, contour: Contour, doc: Any, sent_ms: int) -> tuple[dict[str, Any], int]:
        """The answer for the codes of ``doc`` and the delay the slowest code adds to the latency."""
        if not isinstance(doc, dict):
            raise BadRequest(_BAD + "ожидается JSON-объект")
        codes = doc.get("codes")
        if not isinstance(codes, list) or not codes or not all(isinstance(c, str) for c in codes):
            raise BadRequest(_BAD + "codes должен быть непустым списком строк")
        if len(codes) > self.max_codes_per_check:
            raise BadRequest(_BAD + f"не более {self.max_codes_per_check} кодов")
        fdn = doc.get("fiscalDriveNumber")
        if fdn is not None and not isinstance(fdn, str):
            raise BadRequest(_BAD + "fiscalDriveNumber должен быть строкой")
        tz = doc.get("timeZone")
        if tz is not None and not (_is_int(tz) and 1 <= tz <= 11):
            raise BadRequest(_BAD + "timeZone: 1..11")
        if fdn is not None and fdn in contour.blocked_fiscal_drives:
            raise Unauthorized("ККТ с этим ФН заблокирована")

        entries = [self.catalogue.get(c) for c in codes]
        slowest: CatalogueEntry | None = None
        delay = 0
        for e in entries:
            if e is None:
                continue
            delay = max(delay, e.delay_ms)
            if e.status is not None and (slowest is None or e.delay_ms > slowest.delay_ms):
                slowest = e
        if slowest is not None and slowest.status is not None:
            raise status_refusal(slowest.status, delay)

        req_id = self.new_uuid()
        ts = sent_ms + delay
        pinned_id = next((e.req_id for e in entries if e is not None and e.req_id is not None), None)
        pinned_ts = next((e.req_timestamp for e in entries if e is not None and e.req_timestamp is not None), None)
        req_id = pinned_id or req_id
        ts = ts if pinned_ts is None else pinned_ts
        answers = [e.answer(c) if e is not None else unknown_answer(c) for e, c in zip(entries, codes)]
        self._remember(self.answers[contour.name], req_id, StoredAnswer(req_id, ts, tuple(answers)), sent_ms,
                       self.history_max_answers, self.history_max_age_ms)
        return {"code": 0, "description": "ok", "codes": answers, "reqId": req_id, "reqTimestamp": ts}, delay

    @staticmethod
    def _remember(store: OrderedDict[str, tuple[int, Any]], key: str, value: Any, now_ms: int,
                  max_items: int, max_age_ms: int) -> None:
        """Keep ``value`` under ``key`` as the newest; drop what is over ``max_items`` or older than ``max_age_ms``."""
        store.pop(key, None)
        store[key] = (now_ms, value)
        while store and (len(store) > max_items or next(iter(store.values()))[0] < now_ms - max_age_ms):
            store.popitem(last=False)

    def stored_answer(self, contour: str, req_id: str, now_ms: int) -> StoredAnswer | None:
        """The answer kept for ``req_id``, if it is still within the history's bounds."""
        item = self.answers[contour].get(req_id)
        if item is None or item[0] < now_ms - self.history_max_age_ms:
            return None
        return item[1]  # type: ignore[no-any-return]

    def _rate_limit(self, last: dict[tuple[str, str], int], contour: Contour, token: str, now_ms: int) -> None:
        prev = last.get((contour.name, token))
        if prev is not None and now_ms - prev < self.history_interval_ms:
            raise TooManyRequests("Не более 1 запроса в минуту")

    def _forget_stamps(self, now_ms: int) -> None:
        """Rate-limit stamps older than the interval are of no use: drop them (one per token ever, else)."""
        for last in (self._last_create, self._last_receive):
            if len(last) > 1000:
                for key in [k for k, t in last.items() if now_ms - t >= self.history_interval_ms]:
                    del last[key]

    def history_create(self, contour: Contour, token: str, doc: Any, now_ms: int) -> dict[str, Any]:
        """Start a history query for the ``requests`` of ``doc`` (answered with 202)."""
        self._rate_limit(self._last_create, contour, token, now_ms)
        reqs = doc.get("requests") if isinstance(doc, dict) else None
        if not isinstance(reqs, list) or not reqs:
            raise BadRequest(_BAD + "requests должен быть непустым списком")
        if len(reqs) > self.history_max_requests:
            raise BadRequest(_BAD + f"не более {self.history_max_requests} запросов")
        items = []
        for r in reqs:
            if not (isinstance(r, dict) and isinstance(r.get("reqId"), str) and _is_int(r.get("reqTimestamp"))):
                raise BadRequest(_BAD + "ожидаются reqId (строка) и reqTimestamp (число)")
            items.append((r["reqId"], r["reqTimestamp"]))
        self._last_create[(contour.name, token)] = now_ms
        self._forget_stamps(now_ms)
        qid = self.new_uuid()
        self._remember(self._queries, qid, _Query(qid, contour.name, token, now_ms + self.history_delay_ms,
                                                  tuple(items)), now_ms,
                       self.history_max_queries, self.history_query_age_ms)
        return {"queryId": qid}

    def history_receive(self, contour: Contour, token: str, query_id: str, now_ms: int) -> dict[str, Any]:
        """The state or the result of a history query (answered with 202)."""
        self._rate_limit(self._last_receive, contour, token, now_ms)
        if not query_id:
            raise BadRequest(_BAD + "нет параметра queryId")
        item = self._queries.get(query_id)
        q = item[1] if item is not None and item[0] >= now_ms - self.history_query_age_ms else None
        if q is None or q.contour != contour.name or q.token != token:
            raise NotFound("Запрос не найден")
        self._last_receive[(contour.name, token)] = now_ms
        self._forget_stamps(now_ms)
        if now_ms < q.ready_at_ms:
            return {"queryId": query_id, "queryStatus": "IN_PROGRESS"}
        result = []
        for req_id, ts in q.requests:
            stored = self.stored_answer(q.contour, req_id, now_ms)
            if stored is not None and stored.req_timestamp == ts:
                result.append({"codes": list(stored.codes), "reqId": req_id, "reqTimestamp": ts,
                               "searchStatus": "FOUND"})
            else:
                result.append({"codes": [], "reqId": req_id, "reqTimestamp": ts, "searchStatus": "NOT_FOUND"})
        return {"queryId": query_id, "queryStatus": "DONE", "result": result}
