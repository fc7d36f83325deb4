"""The Mercury driver service «INECRMAN» as POS software sees it: JSON over HTTP on loopback.

``POST /api.json`` takes ``{"sessionKey": …, "command": "<Name>", …fields…}``
and answers ``{"result": 0, …}`` or ``{"result": n, "description": "…"}``
(incotex-kkt.md §14.1; the codes of ``emulator.fronts.ecr.results``). The
HTTP status is 200 for every answer the driver gives, as the public clients
expect (they read ``result``); only a wrong method or path is an HTTP error.
``GET /openapi.json`` is the interface description, ``GET /`` says where it
is.

Sessions (§14.2): ``OpenSession`` (no key, or null, or empty) opens the port
it names through ``open_link(portName)`` and answers a new ``sessionKey``;
every other command carries it; ``CloseSession`` frees the port. One session
per port (a second one is refused while the first is in use; one idle for
``IDLE_S`` is closed to make room, so a POS that died without closing does
not lock the port). A port the link cannot open, or one that fails
mid-command, is ``result`` 5 with the link's one-line reason.

``Driver.handle(body)`` is the whole service without HTTP (the app runs it
in a worker thread: a link call blocks on the port or the device's thread).
A request is checked completely (envelope, session, every field, scaled)
before anything reaches the device; whatever is wrong is one ``result`` with
a ``description`` naming it, and the device is not touched.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulator.fronts.driverapi.spec import COMMANDS, FieldError, check
from emulator.fronts.ecr import results as R
from emulator.net.webguard import local_guards

MAX_BODY = 1_000_000
MAX_SESSIONS = 32
IDLE_S = 600.0
DRIVER_INFO = {"version": "3.12.0 (kkt-emu, modelled)", "name": "INECRMAN"}


class Link(Protocol):
    def call(self, command: str, args: dict[str, Any]) -> dict[str, Any]: ...
    def close(self) -> None: ...


class LinkRefused(Exception):
    """A port that cannot be opened or used: ``code`` (port-missing, port-busy, ...) and a line for a person."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


class DirectLink:
    """The KKT in the same process: each call goes straight to its command handler (tests, benchmarks)."""

    def __init__(self, handler: Callable[[str, dict[str, Any]], dict[str, Any]]) -> None:
        self.handler = handler
        self.closed = False

    def call(self, command: str, args: dict[str, Any]) -> dict[str, Any]:
        if self.closed:
            raise LinkRefused("unplugged", "the port is closed")
        return self.handler(command, args)

    def close(self) -> None:
        self.closed = True


Opener = Callable[[str], Link]


def link_error(exc: BaseException) -> tuple[str, str] | None:
    """``(code, text)`` of a link's failure (``LinkRefused`` or the serial link's error), else None."""
    code, text = getattr(exc, "code", None), getattr(exc, "text", None)
    if isinstance(code, str) and isinstance(text, str):
        return code, text
    return None


@dataclass
class Session:
    key: str
    port: str
    link: Link
    model: str
    used: float
    lock: threading.Lock = field(default_factory=threading.Lock)


def _json_safe(obj: Any) -> Any:
    """Converted arguments as JSON for the link (a datetime as the driver's own format)."""
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_json_safe(v) for v in obj]
    if hasattr(obj, "strftime"):
        return obj.strftime("%Y-%m-%dT%H:%M:%S")
    return obj


class Driver:
    def __init__(self, open_link: Opener, *, log: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.open_link = open_link
        self.log = log or (lambda _: None)
        self.clock = clock
        self.sessions: dict[str, Session] = {}
        self.lock = threading.Lock()
        self.requests = 0

    # ---------------------------------------------------------------- entry
    def handle_bytes(self, raw: bytes) -> dict[str, Any]:
        self.requests += 1
        if len(raw) > MAX_BODY:
            return R.refused(R.BAD_REQUEST, f"the request is larger than {MAX_BODY} bytes")
        try:
            body = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            return R.refused(R.BAD_REQUEST, "the request is not UTF-8")
        except (ValueError, RecursionError):
            return R.refused(R.BAD_REQUEST, "the request is not JSON")
        return self.handle(body)

    def handle(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            return R.refused(R.BAD_REQUEST, "the request is not a JSON object")
        name = body.get("command")
        if not isinstance(name, str) or not name:
            return R.refused(R.BAD_REQUEST, "command: required (a string such as \"GetStatus\")")
        command = COMMANDS.get(name)
        if command is None:
            return R.refused(R.UNKNOWN_COMMAND, f"unknown command {name[:64]!r}")
        key = body.get("sessionKey")
        if key is not None and not isinstance(key, str):
            return R.refused(R.BAD_FIELD, "sessionKey: expected a string or null")
        try:
            args = check(command, body)
        except FieldError as exc:
            return R.refused(R.BAD_FIELD, str(exc))
        if name == "OpenSession":
            return self.open_session(args)
        if name == "GetDriverInfo":
            return R.ok(**DRIVER_INFO)
        if name == "ClosePorts":
            self.close_all()
            return R.ok()
        session = self.sessions.get(key or "")
        if session is None:
            return R.refused(R.NO_SESSION, "sessionKey: no such session (OpenSession first)" if key
                             else "sessionKey: required (OpenSession first)")
        if name == "CloseSession":
            self._close(session)
            return R.ok()
        if not command.modelled:
            return R.refused(R.NOT_SUPPORTED, f"{name}: {command.summary}")
        return self.forward(session, name, args)

    # ------------------------------------------------------------- sessions
    def open_session(self, args: dict[str, Any]) -> dict[str, Any]:
        port = args["portName"].strip()
        with self.lock:
            now = self.clock()
            holder = next((s for s in self.sessions.values() if s.port == port), None)
            if holder is not None:
                if now - holder.used < IDLE_S or holder.lock.locked():
                    return R.refused(R.PORT_ERROR, f"port {port}: in use by another session (CloseSession it, "
                                                   f"or it is closed after {IDLE_S:.0f} s idle)")
                self._close(holder)
            if len(self.sessions) >= MAX_SESSIONS:
                return R.refused(R.PORT_ERROR, f"too many sessions open ({MAX_SESSIONS})")
            try:
                link = self.open_link(port)
            except Exception as exc:
                reason = link_error(exc)
                if reason is None:
                    raise
                return R.refused(R.PORT_ERROR, f"port {port}: {reason[1]}", port=reason[0])
            key = str(uuid.uuid4())
            self.sessions[key] = Session(key, port, link, args.get("model", "185F"), now)
        self.log(f"session {key[:8]}… opened on {port}")
        return R.ok(sessionKey=key)

    def _close(self, session: Session) -> None:
        self.sessions.pop(session.key, None)
        try:
            session.link.close()
        except Exception as exc:
            if link_error(exc) is None:
                raise

    def close_all(self) -> None:
        with self.lock:
            for s in list(self.sessions.values()):
                self._close(s)

    def forward(self, session: Session, name: str, args: dict[str, Any]) -> dict[str, Any]:
        with session.lock:
            session.used = self.clock()
            try:
                answer = session.link.call(name, _json_safe(args))
            except Exception as exc:
                reason = link_error(exc)
                if reason is None:
                    raise
                return R.refused(R.PORT_ERROR, f"port {session.port}: {reason[1]}", port=reason[0])
            session.used = self.clock()
        if not isinstance(answer, dict) or not isinstance(answer.get("result"), int):
            return R.refused(R.PORT_ERROR, f"port {session.port}: the KKT's answer is not a result")
        return answer


def make_driver_app(driver: Driver, openapi: Callable[[], dict[str, Any]]) -> Starlette:
    """The ASGI app: ``POST /api.json``, ``GET /openapi.json``, ``GET /``."""

    async def api(request: Request) -> Response:
        raw = await request.body()
        answer = await run_in_threadpool(driver.handle_bytes, raw)
        return JSONResponse(answer)

    async def spec(request: Request) -> Response:
        return JSONResponse(openapi())

    async def index(request: Request) -> Response:
        return JSONResponse({"api": "/api.json", "openapi": "/openapi.json",
                             "about": "Mercury driver service (INECRMAN) emulated by kkt-emu"})

    routes = [Route("/api.json", api, methods=["POST"]), Route("/openapi.json", spec), Route("/", index)]
    return Starlette(routes=routes, middleware=local_guards((), lang="en", writes_only=False))
