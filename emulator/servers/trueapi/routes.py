"""The mock True API's routes: one HTTP request in, one reply out, over the model.

Theory of operation. ``TrueApiBackend.handle(host, request, now_ms)`` takes one
HTTP request (a ``NetRequest``) addressed to a host name at virtual time
``now_ms`` and returns one ``BackendReply``: an HTTP status and JSON body, the
latency after which the answer reaches the client, or a transport ``fault``.
It parses the method, path, headers and JSON, calls the model (``model.TrueApi``)
and builds the reply; a ``model.Refusal`` the model raises becomes the error
body of its status. Nothing here does I/O or reads a clock: the simulated
network (``emulator.net.simulated``) turns latency and faults into clock
events, and the HTTP front (``asgi.py``, ``servers.py``) puts the same
replies on the wire.

A request goes through these stages, first answer wins:

1. host name unknown                       -> ``fault="resolve"``
2. host ``down``                           -> ``fault="refuse"`` (nothing consumed)
3. one latency value and one fault-plan item (``emulator.net.faults``) are
   consumed; a plan item other than ``"ok"`` answers here (status,
   ``refuse``/``close``/``stall``, ``garbage``), or marks the normal answer
   for mangling (``truncated``, ``missing-reqid``, ``empty-list``)
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
203 body; wrong method -> 405; ``requests`` counts every request addressed to
a host, refused ones included.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from emulator.servers.trueapi.catalogue import STATUS_5000
from emulator.servers.trueapi.model import (
    BadRequest,
    Contour,
    ExternalSystemFailure,
    MethodNotAllowed,
    NotFound,
    Refusal,
    ServedHost,
    TrueApi,
    status_refusal,
)

if TYPE_CHECKING:
    from emulator.net.seam import NetRequest

JSON_CT = "application/json; charset=utf-8"

P_PERMISSIVE = "/api/v3/true-api/auth/permissive-access"
P_CDN_INFO = "/api/v4/true-api/cdn/info"
P_HEALTH = "/api/v4/true-api/cdn/health/check"
P_CHECK = "/api/v4/true-api/codes/check"
P_HIST_CREATE = "/api/v4/true-api/codes/check/history/create"
P_HIST_RECEIVE = "/api/v4/true-api/codes/check/history/receive"


@dataclass(frozen=True)
class Route:
    host_kind: str          # "base" or "cdn"
    method: str
    needs_token: bool


ROUTES: dict[str, Route] = {
    P_PERMISSIVE: Route("base", "POST", False),
    P_CDN_INFO: Route("base", "GET", True),
    P_HEALTH: Route("cdn", "GET", True),
    P_CHECK: Route("cdn", "POST", True),
    P_HIST_CREATE: Route("base", "POST", True),
    P_HIST_RECEIVE: Route("base", "GET", True),
}

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


def _dump(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def error_body(status: int, description: str | None = None) -> bytes:
    return _dump({"code": status, "description": description or _DESCRIPTIONS.get(status, "error")})


def refusal_reply(refusal: Refusal, latency: int) -> BackendReply:
    """The HTTP answer for a refusal of the model, ``latency`` plus its own delay."""
    latency += refusal.delay_ms
    if isinstance(refusal, ExternalSystemFailure):
        return BackendReply(500, _dump({"code": 5000, "description": DESCRIPTION_5000, "codes": []}), latency)
    return BackendReply(refusal.status, error_body(refusal.status, refusal.description), latency)


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


def _json(body: bytes) -> Any:
    """The body as JSON, or None when it is none (no method takes a JSON ``null``)."""
    try:
        return json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):
        return None


class TrueApiBackend(TrueApi):
    """The True API model with its HTTP routes: what the simulated network and the HTTP front call."""

    def handle(self, host: str, request: NetRequest, now_ms: int) -> BackendReply:
        state = self.find_host(host)
        if state is None:
            return BackendReply(fault="resolve")
        state.requests += 1
        faults = state.faults
        if faults.down:
            return BackendReply(fault="refuse")
        path, _, query = request.path.partition("?")
        if path == P_CHECK:
            state.checks += 1
        elif path == P_HEALTH:
            state.health_checks += 1
        latency = faults.next_latency()
        item = faults.next_item()

        if item in ("refuse", "close", "stall"):
            return BackendReply(latency_ms=latency, fault=str(item))
        if item == "garbage":
            return BackendReply(200, GARBAGE_BODY, latency, headers=(("Content-Type", "text/html"),))
        if (isinstance(item, int) and item != 200) or item == STATUS_5000:
            return refusal_reply(status_refusal(item), latency)

        try:
            reply = self._serve(state, request, path, query, now_ms, latency, item == "empty-list")
        except Refusal as refusal:
            reply = refusal_reply(refusal, latency)
        if item == "truncated":
            return BackendReply(reply.status, reply.body[: len(reply.body) // 2], reply.latency_ms,
                                reply.fault, reply.headers)
        if item == "missing-reqid":
            doc = _json(reply.body)
            if isinstance(doc, dict) and "reqId" in doc:
                del doc["reqId"]
                return BackendReply(reply.status, _dump(doc), reply.latency_ms, reply.fault, reply.headers)
        return reply

    def _serve(self, state: ServedHost, request: NetRequest, path: str, query: str, now_ms: int,
               latency: int, empty_list: bool) -> BackendReply:
        problem = _header_problem(request.headers, request.body)
        if problem is not None:
            raise BadRequest(f"Некорректный запрос: {problem}")
        self.check_open(state)
        route = ROUTES.get(path)
        if route is None or (route.host_kind == "base") != state.is_base:
            raise NotFound()
        if request.method != route.method:
            raise MethodNotAllowed()
        contour: Contour = self.contours[state.contour]
        token = _header(request.headers, "x-api-key")
        if route.needs_token:
            self.authorize(contour, token, now_ms)
        sent_ms = now_ms + latency
        if path == P_CHECK:
            doc, delay = self.codes_check(contour, _json(request.body), sent_ms)
            return BackendReply(200, _dump(doc), latency + delay)
        if path == P_HEALTH:
            return BackendReply(200, _dump(self.health(state)), latency)
        if path == P_CDN_INFO:
            return BackendReply(200, _dump(self.cdn_info(contour, empty=empty_list)), latency)
        if path == P_PERMISSIVE:
            return BackendReply(200, _dump(self.permissive_access(contour, _json(request.body), sent_ms)), latency)
        if path == P_HIST_CREATE:
            return BackendReply(202, _dump(self.history_create(contour, token, _json(request.body), now_ms)), latency)
        query_id = (parse_qs(query).get("queryId") or [""])[0]
        return BackendReply(202, _dump(self.history_receive(contour, token, query_id, now_ms)), latency)
