"""The mock True API: base hosts and CDN hosts of both contours, as a pure model.

Theory of operation. ``TrueApiBackend.handle(host, request, now_ms)`` takes one
HTTP request (a ``NetRequest``) addressed to a host name at virtual time
``now_ms`` and returns one ``BackendReply``: an HTTP status and JSON body, the
latency after which the answer reaches the client, or a transport ``fault``.
Nothing here does I/O or reads a clock; the simulated network (``emulator.net``)
turns latency and faults into clock events, and an HTTP front can translate
the same replies to the wire. Identifiers (``reqId``, ``queryId``, tokens) come
from one ``random.Random(seed)`` in call order, so a run is a pure function of
the seed, the configuration and the request sequence.

A request goes through these stages, first answer wins:

1. host name unknown                       -> ``fault="resolve"``
2. host ``down``                           -> ``fault="refuse"`` (nothing consumed)
3. one latency value and one fault-plan item are consumed; a plan item other
   than ``"ok"`` answers here (status, ``refuse``/``close``/``stall``,
   ``garbage``), or marks the normal answer for mangling (``truncated``,
   ``missing-reqid``, ``empty-list``)
4. header rules: a header repeated (any case), a ``charset`` other than
   utf-8, a body that is not UTF-8                     -> 400
5. emergency switch of the contour or of the host      -> 203
6. routing: unknown path, or a base-host path on a CDN host and the other way
   round (``codes/check`` on the base host, as the real one) -> 404;
   wrong method -> 405
7. token (all paths but ``permissive-access``): missing, unknown, blocked,
   expired, or valid only in the other contour         -> 401
8. the method itself.

Undocumented behaviour chosen here (MOCK-CHOICE): every error body is
``{"code": <status>, "description": <text>}``; header violations give 400; the
203 body; ``access_token`` is a UUID and a permissive-access token expires
``expires_in`` seconds after it is issued (``Contour.token_valid_until_ms``
ends every token of the contour); ``codes/check`` rejects an empty ``codes``
list, a ``fiscalDriveNumber`` that is not 16 digits and a ``timeZone`` outside
1..11 with 400, ignores ``timeZone`` otherwise, and answers 401 for a blocked
``fiscalDriveNumber``; ``cis`` echoes the request exactly; when a request
holds several codes the largest ``delay_ms`` is added and the status of the
slowest code that has one answers the whole request; history: 429 for a
second call within 60 s per token (only accepted calls count), 404 for an
unknown ``queryId``, ``searchStatus`` FOUND needs both ``reqId`` and
``reqTimestamp`` to match a stored answer; wrong method -> 405; ``requests``
counts every request addressed to a host, refused ones included.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from emulator.servers.trueapi.catalogue import STATUS_5000, Catalogue, CatalogueEntry, unknown_answer

if TYPE_CHECKING:
    from emulator.net.seam import NetRequest

JSON_CT = "application/json; charset=utf-8"
PROD = "prod"
SANDBOX = "sandbox"

P_PERMISSIVE = "/api/v3/true-api/auth/permissive-access"
P_CDN_INFO = "/api/v4/true-api/cdn/info"
P_HEALTH = "/api/v4/true-api/cdn/health/check"
P_CHECK = "/api/v4/true-api/codes/check"
P_HIST_CREATE = "/api/v4/true-api/codes/check/history/create"
P_HIST_RECEIVE = "/api/v4/true-api/codes/check/history/receive"

# path -> (host kind, method, needs a token)
_ROUTES: dict[str, tuple[str, str, bool]] = {
    P_PERMISSIVE: ("base", "POST", False),
    P_CDN_INFO: ("base", "GET", True),
    P_HEALTH: ("cdn", "GET", True),
    P_CHECK: ("cdn", "POST", True),
    P_HIST_CREATE: ("base", "POST", True),
    P_HIST_RECEIVE: ("base", "GET", True),
}

TLS_FAULTS = ("unknown-ca", "expired", "wrong-host", "stall")
PLAN_WORDS = frozenset({STATUS_5000, "refuse", "close", "stall", "garbage", "truncated", "missing-reqid",
                        "ok", "empty-list"})
GARBAGE_BODY = b"<html><body>\xff\xfe upstream error</body></html>"

_DESCRIPTIONS = {
    203: "Аварийная ситуация в ГИС МТ: проверка кодов маркировки отключена",
    400: "Некорректный запрос",
    401: "Недействительный токен",
    403: "Доступ запрещён",
    404: "not found",
    405: "method not allowed",
    410: "Устаревшее API",
    418: "Аварийная ситуация (устаревший код ответа)",
    429: "Превышено допустимое количество запросов",
    500: "Внутренняя ошибка сервера",
    502: "Bad Gateway",
    503: "Сервис временно недоступен",
    504: "Превышено время ожидания ответа",
}
DESCRIPTION_5000 = "Не удалось получить информацию о проверяемом КМ из внешней системы"

_FDN = re.compile(r"^[0-9]{16}$")


@dataclass(frozen=True)
class BackendReply:
    status: int = 200
    body: bytes = b""            # JSON, UTF-8 (or deliberate garbage for a fault)
    latency_ms: int = 0          # how long until the answer reaches the client
    fault: str | None = None     # None | "resolve" | "refuse" | "close" | "stall"
    headers: tuple[tuple[str, str], ...] = (("Content-Type", JSON_CT),)

    def json(self) -> Any:
        """The body parsed as JSON (a convenience for tests and tools)."""
        return json.loads(self.body.decode("utf-8"))


def _check_plan_item(item: Any) -> None:
    if isinstance(item, bool) or not (
            (isinstance(item, int) and 100 <= item <= 599) or (isinstance(item, str) and item in PLAN_WORDS)):
        raise ValueError(f"bad fault-plan item {item!r}: an HTTP status 100-599 or one of {sorted(PLAN_WORDS)}")


@dataclass(eq=False)
class CdnHost:
    """Per-host state: latency, fault plan, switches and counters (base hosts have one too)."""

    name: str
    contour: str
    is_base: bool = False
    latency_ms: int = 0
    latency_seq: list[int] = field(default_factory=list)   # one per request; the last value sticks
    avg_time_ms: int = 300                                  # reported by health/check, not the real latency
    status_plan: list[int | str] = field(default_factory=list)
    plan_repeat: bool = False
    down: bool = False
    emergency: bool = False
    # A TLS fault of the host's real server: "unknown-ca", "expired", "wrong-host" or "stall"
    # (servers.TrueApiServers applies it). TLS is not modelled on the simulated network.
    tls_fault: str | None = None
    requests: int = 0
    checks: int = 0
    health_checks: int = 0

    def plan(self, items: Iterable[int | str], repeat: bool = False) -> None:
        """Replace the fault plan. Items are consumed one per request; ``repeat`` cycles them."""
        items = list(items)
        for item in items:
            _check_plan_item(item)
        self.status_plan = items
        self.plan_repeat = repeat

    def next_latency(self) -> int:
        seq = self.latency_seq
        if seq:
            return int(seq.pop(0)) if len(seq) > 1 else int(seq[0])
        return int(self.latency_ms)

    def next_plan_item(self) -> int | str:
        if not self.status_plan:
            return "ok"
        item = self.status_plan.pop(0)
        if self.plan_repeat:
            self.status_plan.append(item)
        _check_plan_item(item)
        return 200 if item == 200 else item


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


@dataclass
class _Call:
    contour: Contour
    state: CdnHost
    request: NetRequest
    token: str
    query: str
    now_ms: int
    latency_ms: int
    empty_list: bool = False


def _dump(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def error_body(status: int, description: str | None = None) -> bytes:
    return _dump({"code": status, "description": description or _DESCRIPTIONS.get(status, "error")})


def _error(status: int, latency: int, description: str | None = None) -> BackendReply:
    return BackendReply(status, error_body(status, description), latency)


def _status_reply(item: int | str, latency: int) -> BackendReply:
    if item == STATUS_5000:
        return BackendReply(500, _dump({"code": 5000, "description": DESCRIPTION_5000, "codes": []}), latency)
    assert isinstance(item, int)
    return _error(item, latency)


def _strip_host(name: str) -> str:
    name = name.strip().lower()
    for scheme in ("https://", "http://"):
        name = name.removeprefix(scheme)
    return name.rstrip("/")


def _header_problem(headers: Iterable[tuple[str, str]], body: bytes) -> str | None:
    seen: set[str] = set()
    for name, value in headers:
        low = str(name).lower()
        if low in seen:
            return f"заголовок {name} передан более одного раза"
        seen.add(low)
        if low == "content-type":
            for param in str(value).split(";")[1:]:
                key, _, val = param.partition("=")
                if key.strip().lower() == "charset" and val.strip().strip('"').lower() != "utf-8":
                    return f"недопустимая кодировка {val.strip()!r}: только UTF-8"
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "тело запроса не в кодировке UTF-8"
    return None


def _header(headers: Iterable[tuple[str, str]], name: str) -> str:
    for k, v in headers:
        if str(k).lower() == name:
            return str(v).strip()
    return ""


_BAD = object()


def _json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):
        return _BAD


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


DEFAULT_CDN_LATENCY_MS = (50, 150, 250)


class TrueApiBackend:
    """Both contours of the True API with their hosts, tokens, code catalogue and history."""

    def __init__(self, seed: int = 0, catalogue: Catalogue | None = None) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.catalogue = catalogue if catalogue is not None else Catalogue.sandbox()
        self.contours: dict[str, Contour] = {
            PROD: Contour(PROD, "cdn.crpt.ru", ["cdn01.crpt.ru", "cdn02.crpt.ru", "cdn03.crpt.ru"]),
            SANDBOX: Contour(SANDBOX, "markirovka.sandbox.crptech.ru",
                             ["cdn01.am.crptech.ru", "cdn02.am.crptech.ru", "cdn03.am.crptech.ru"]),
        }
        self._hosts: dict[str, CdnHost] = {}
        for c in self.contours.values():
            self._hosts[c.base_host] = CdnHost(c.base_host, c.name, is_base=True)
            for i, h in enumerate(c.cdn_hosts):
                # MOCK-CHOICE: the default hosts answer in 50, 150, 250 ms: gaps wider than the
                # noise of TLS handshakes on loopback, so that ranking by measured latency has one
                # right answer on the simulated and on the real network.
                self._hosts[h] = CdnHost(h, c.name, latency_ms=DEFAULT_CDN_LATENCY_MS[i % 3] + 300 * (i // 3))
        self.max_codes_per_check = 1000          # MOCK-CHOICE: the operator gives no limit
        self.history_delay_ms = 30_000           # IN_PROGRESS this long after history/create
        self.history_interval_ms = 60_000        # 1 call per minute per token, each history method
        self.history_max_requests = 100
        self.answers: dict[str, dict[str, StoredAnswer]] = {name: {} for name in self.contours}
        self._queries: dict[str, _Query] = {}
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

    def host(self, name: str) -> CdnHost:
        state = self._hosts.get(_strip_host(name))
        if state is None:
            raise KeyError(f"unknown host {name!r}")
        return state

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
            name = _strip_host(n)
            owner = self._hosts.get(name)
            if owner is not None and (owner.contour != c.name or owner.is_base):
                raise ValueError(f"host {name!r} already belongs to {owner.contour} as a base or CDN host")
            if name not in new:
                new.append(name)
        for old in c.cdn_hosts:
            if old not in new:
                self._hosts.pop(old, None)
        for name in new:
            self._hosts.setdefault(name, CdnHost(name, c.name))
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

    # -- the request path ------------------------------------------------
    def handle(self, host: str, request: NetRequest, now_ms: int) -> BackendReply:
        state = self._hosts.get(_strip_host(host))
        if state is None:
            return BackendReply(fault="resolve")
        state.requests += 1
        if state.down:
            return BackendReply(fault="refuse")
        contour = self.contours[state.contour]
        path, _, query = request.path.partition("?")
        if path == P_CHECK:
            state.checks += 1
        elif path == P_HEALTH:
            state.health_checks += 1
        latency = state.next_latency()
        item = state.next_plan_item()

        if item in ("refuse", "close", "stall"):
            return BackendReply(latency_ms=latency, fault=str(item))
        if item == "garbage":
            return BackendReply(200, GARBAGE_BODY, latency, headers=(("Content-Type", "text/html"),))
        if isinstance(item, int) and item != 200:
            return _status_reply(item, latency)
        if item == STATUS_5000:
            return _status_reply(item, latency)

        reply = self._serve(contour, state, request, path, query, now_ms, latency, item == "empty-list")
        if item == "truncated":
            return BackendReply(reply.status, reply.body[: len(reply.body) // 2], reply.latency_ms,
                                reply.fault, reply.headers)
        if item == "missing-reqid":
            doc = _json(reply.body)
            if isinstance(doc, dict) and "reqId" in doc:
                del doc["reqId"]
                return BackendReply(reply.status, _dump(doc), reply.latency_ms, reply.fault, reply.headers)
        return reply

    def _serve(self, contour: Contour, state: CdnHost, request: NetRequest, path: str, query: str,
               now_ms: int, latency: int, empty_list: bool) -> BackendReply:
        problem = _header_problem(request.headers, request.body)
        if problem is not None:
            return _error(400, latency, f"Некорректный запрос: {problem}")
        if contour.emergency or state.emergency:
            return _error(203, latency)
        route = _ROUTES.get(path)
        if route is None or (route[0] == "base") != state.is_base:
            return _error(404, latency)
        _, method, needs_token = route
        if request.method != method:
            return _error(405, latency)
        token = _header(request.headers, "x-api-key")
        if needs_token:
            problem = self._token_problem(contour, token, now_ms)
            if problem is not None:
                return _error(401, latency, problem)
        call = _Call(contour, state, request, token, query, now_ms, latency, empty_list)
        if path == P_CHECK:
            return self._codes_check(call)
        if path == P_HEALTH:
            return BackendReply(200, _dump({"code": 0, "description": "ok", "avgTimeMs": state.avg_time_ms}),
                                latency)
        if path == P_CDN_INFO:
            hosts = [] if (contour.empty_cdn_list or empty_list) else [
                {"host": f"https://{h}"} for h in contour.cdn_hosts]
            return BackendReply(200, _dump({"code": 0, "description": "ok", "hosts": hosts}), latency)
        if path == P_PERMISSIVE:
            return self._permissive(call)
        if path == P_HIST_CREATE:
            return self._history_create(call)
        return self._history_receive(call)

    def _token_problem(self, contour: Contour, token: str, now_ms: int) -> str | None:
        if not token:
            return "Токен не передан (заголовок X-API-KEY)"
        if token in contour.blocked_tokens:
            return "Токен заблокирован"
        if token not in contour.tokens:
            if any(token in c.tokens for c in self.contours.values()):
                return "Токен выдан для другого контура"
            return "Недействительный токен"
        expiry = contour.token_expiry_ms.get(token)
        if (expiry is not None and now_ms >= expiry) or (
                contour.token_valid_until_ms is not None and now_ms >= contour.token_valid_until_ms):
            return "Срок действия токена истёк"
        return None

    # -- methods ---------------------------------------------------------
    def _permissive(self, call: _Call) -> BackendReply:
        doc = _json(call.request.body)
        data = doc.get("data") if isinstance(doc, dict) else None
        if not isinstance(data, str) or not data.strip():
            return _error(400, call.latency_ms, "Некорректный запрос: поле data обязательно")
        try:
            raw = base64.b64decode(data.strip(), validate=True)
        except (binascii.Error, ValueError):
            return _error(400, call.latency_ms, "Некорректный запрос: data не в кодировке Base64")
        if not raw:
            return _error(400, call.latency_ms, "Некорректный запрос: data пусто")
        if call.contour.reject_signature:
            return _error(401, call.latency_ms, "Подпись не прошла проверку")
        token = self.new_uuid()
        c = call.contour
        c.tokens.add(token)
        c.token_expiry_ms[token] = call.now_ms + call.latency_ms + c.expires_in_s * 1000
        body = {"access_token": token, "token_type": "Bearer", "expires_in": c.expires_in_s}
        return BackendReply(200, _dump(body), call.latency_ms)

    def _codes_check(self, call: _Call) -> BackendReply:
        doc = _json(call.request.body)
        bad = "Некорректный запрос: "
        if not isinstance(doc, dict):
            return _error(400, call.latency_ms, bad + "ожидается JSON-объект")
        codes = doc.get("codes")
        if not isinstance(codes, list) or not codes or not all(isinstance(c, str) for c in codes):
            return _error(400, call.latency_ms, bad + "codes должен быть непустым списком строк")
        if len(codes) > self.max_codes_per_check:
            return _error(400, call.latency_ms, bad + f"не более {self.max_codes_per_check} кодов")
        fdn = doc.get("fiscalDriveNumber")
        if fdn is not None and not (isinstance(fdn, str) and _FDN.match(fdn)):
            return _error(400, call.latency_ms, bad + "fiscalDriveNumber: 16 цифр")
        tz = doc.get("timeZone")
        if tz is not None and not (_is_int(tz) and 1 <= tz <= 11):
            return _error(400, call.latency_ms, bad + "timeZone: 1..11")
        if fdn is not None and fdn in call.contour.blocked_fiscal_drives:
            return _error(401, call.latency_ms, "ККТ с этим ФН заблокирована")

        entries = [self.catalogue.get(c) for c in codes]
        latency = call.latency_ms
        slowest: CatalogueEntry | None = None
        delay = 0
        for e in entries:
            if e is None:
                continue
            delay = max(delay, e.delay_ms)
            if e.status is not None and (slowest is None or e.delay_ms > slowest.delay_ms):
                slowest = e
        latency += delay
        if slowest is not None and slowest.status is not None:
            return _status_reply(slowest.status, latency)

        req_id = self.new_uuid()
        ts = call.now_ms + latency
        pinned_id = next((e.req_id for e in entries if e is not None and e.req_id is not None), None)
        pinned_ts = next((e.req_timestamp for e in entries if e is not None and e.req_timestamp is not None), None)
        req_id = pinned_id or req_id
        ts = ts if pinned_ts is None else pinned_ts
        answers = [e.answer(c) if e is not None else unknown_answer(c) for e, c in zip(entries, codes)]
        self.answers[call.contour.name][req_id] = StoredAnswer(req_id, ts, tuple(answers))
        body = {"code": 0, "description": "ok", "codes": answers, "reqId": req_id, "reqTimestamp": ts}
        return BackendReply(200, _dump(body), latency)

    def _rate_limited(self, last: dict[tuple[str, str], int], call: _Call) -> bool:
        prev = last.get((call.contour.name, call.token))
        return prev is not None and call.now_ms - prev < self.history_interval_ms

    def _history_create(self, call: _Call) -> BackendReply:
        if self._rate_limited(self._last_create, call):
            return _error(429, call.latency_ms, "Не более 1 запроса в минуту")
        doc = _json(call.request.body)
        reqs = doc.get("requests") if isinstance(doc, dict) else None
        bad = "Некорректный запрос: "
        if not isinstance(reqs, list) or not reqs:
            return _error(400, call.latency_ms, bad + "requests должен быть непустым списком")
        if len(reqs) > self.history_max_requests:
            return _error(400, call.latency_ms, bad + f"не более {self.history_max_requests} запросов")
        items = []
        for r in reqs:
            if not (isinstance(r, dict) and isinstance(r.get("reqId"), str) and _is_int(r.get("reqTimestamp"))):
                return _error(400, call.latency_ms, bad + "ожидаются reqId (строка) и reqTimestamp (число)")
            items.append((r["reqId"], r["reqTimestamp"]))
        self._last_create[(call.contour.name, call.token)] = call.now_ms
        qid = self.new_uuid()
        self._queries[qid] = _Query(qid, call.contour.name, call.token, call.now_ms + self.history_delay_ms,
                                    tuple(items))
        return BackendReply(202, _dump({"queryId": qid}), call.latency_ms)

    def _history_receive(self, call: _Call) -> BackendReply:
        if self._rate_limited(self._last_receive, call):
            return _error(429, call.latency_ms, "Не более 1 запроса в минуту")
        qid = (parse_qs(call.query).get("queryId") or [""])[0]
        if not qid:
            return _error(400, call.latency_ms, "Некорректный запрос: нет параметра queryId")
        q = self._queries.get(qid)
        if q is None or q.contour != call.contour.name or q.token != call.token:
            return _error(404, call.latency_ms, "Запрос не найден")
        self._last_receive[(call.contour.name, call.token)] = call.now_ms
        if call.now_ms < q.ready_at_ms:
            return BackendReply(202, _dump({"queryId": qid, "queryStatus": "IN_PROGRESS"}), call.latency_ms)
        store = self.answers[q.contour]
        result = []
        for req_id, ts in q.requests:
            stored = store.get(req_id)
            if stored is not None and stored.req_timestamp == ts:
                result.append({"codes": list(stored.codes), "reqId": req_id, "reqTimestamp": ts,
                               "searchStatus": "FOUND"})
            else:
                result.append({"codes": [], "reqId": req_id, "reqTimestamp": ts, "searchStatus": "NOT_FOUND"})
        return BackendReply(202, _dump({"queryId": qid, "queryStatus": "DONE", "result": result}),
                            call.latency_ms)
