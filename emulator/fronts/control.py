"""``serve``'s control API: JSON on loopback to change the mock servers while the device runs.

The same changes as the console's ``host``, ``token``, ``code`` and ``world``
commands, for scripts and for a browser console served from the same origin.
It listens on 127.0.0.1 only and answers only to loopback ``Host`` names;
every request a browser sends from another site's page is refused (403), GET
included, and a write must be ``Content-Type: application/json``
(``emulator.net.webguard``). Tokens are never returned in full.

Endpoints (errors: 400 refused with ``{"error": …}`` and nothing changed, 404
an unknown host, 403 another site, 503 the device busy for too long):

    GET  /api/state            {"device": {screen, status, mode}, "cdn": [...], "hosts": [...], "world": {...}}
    GET  /api/hosts            every mock host's state (down, latency, plan, tls, emergency, requests, ...)
    GET  /api/hosts/{name}     one host
    POST /api/hosts/{name}     {"down": true} / {"latency_ms": 300} / {"plan": [500, 429], "repeat": false}
                               / {"tls": "expired" | "none"} / {"emergency": true} -> the host's state
    GET  /api/world            the contours: base and CDN hosts, emergency, tokens (masked)
    POST /api/world            {"tokens": {"prod": ["…"]}, "blocked_tokens": [...], "unblocked_tokens": [...],
                               "emergency": {"prod": true}, "codes": [{"code": "…", "groupIds": [8]}]}
    GET  /api/cdn              the device's CDN list, with each host's server state
    GET  /api/log?limit=N      the device's last N GIS MT log records (default 20, at most 1000)

Every call runs on ``serve``'s device thread between console commands
(``run``: hand a function over, wait for its result), so the device and the
models are never touched from two threads; each change is printed on the
console.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulator.devices.kkt.device import KktDevice
from emulator.fronts.console import Live, server_state
from emulator.net.webguard import local_guards

T = TypeVar("T")
Runner = Callable[[Callable[[], Any]], "Future[Any]"]
MAX_BODY = 1_000_000
WAIT_S = 30.0              # a console command lets the device settle for at most 15 s


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def device_state(device: KktDevice) -> dict[str, Any]:
    l1, l2, status = device.screen()
    return {"screen": [l1, l2], "status": status, "mode": str(device.mode),
            "host": device.settings.gismt_host}


def cdn_rows(device: KktDevice, live: Live) -> list[dict[str, Any]]:
    servers = {h["host"]: h for h in live.hosts()}
    rows = []
    for rank, h in enumerate(device.book.snapshot(device.clock.now_ms), 1):
        rows.append({**h, "rank": rank, "server": server_state(servers.get(str(h["host"])))})
    return rows


def log_rows(device: KktDevice, limit: int) -> list[dict[str, Any]]:
    return [{"seq": r.seq, "time_ms": r.time_ms, "code": r.code, "elapsed_ms": r.elapsed_ms, "note": r.note,
             "text": r.text} for r in device.logbook.records[-limit:]]


def make_control_app(live: Live, device: Callable[[], KktDevice], run: Runner,
                     world_state: Callable[[], dict[str, Any]]) -> Starlette:
    """The control API over ``live`` (changes), ``device()`` (the current device) and ``run`` (its thread)."""

    def endpoint(fn: Callable[[Request, Any], Any], write: bool = False) -> Callable[[Request], Any]:
        async def handle(request: Request) -> Response:
            body: Any = None
            try:
                if write:
                    raw = await request.body()
                    if len(raw) > MAX_BODY:
                        raise _Refused(400, f"the body is larger than {MAX_BODY} bytes")
                    try:
                        body = json.loads(raw) if raw.strip() else None
                    except (ValueError, RecursionError) as exc:
                        raise _Refused(400, f"the body is not JSON: {exc}") from None
                future = run(lambda: fn(request, body))
                try:
                    result = await asyncio.wait_for(asyncio.wrap_future(future), WAIT_S)
                except TimeoutError:
                    raise _Refused(503, f"the device did not get to it within {WAIT_S:.0f} s") from None
            except _Refused as exc:
                return JSONResponse({"error": str(exc)}, status_code=exc.status)
            except KeyError as exc:
                return JSONResponse({"error": str(exc.args[0] if exc.args else exc)}, status_code=404)
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            return JSONResponse(result)
        return handle

    def host_name(request: Request) -> str:
        name = str(request.path_params["name"]).strip().lower()
        live.host_state(name)          # KeyError -> 404
        return name

    def get_state(request: Request, _: Any) -> Any:
        d = device()
        return {"device": device_state(d), "cdn": cdn_rows(d, live), "hosts": live.hosts(), "world": world_state()}

    def get_hosts(request: Request, _: Any) -> Any:
        return live.hosts()

    def get_host(request: Request, _: Any) -> Any:
        return live.host_state(host_name(request))

    def post_host(request: Request, body: Any) -> Any:
        return live.change_host(host_name(request), body, source="control API")

    def get_world(request: Request, _: Any) -> Any:
        return world_state()

    def post_world(request: Request, body: Any) -> Any:
        return live.change_world(body, source="control API")

    def get_cdn(request: Request, _: Any) -> Any:
        return cdn_rows(device(), live)

    def get_log(request: Request, _: Any) -> Any:
        raw = request.query_params.get("limit", "20")
        if not raw.isdigit() or not 1 <= int(raw) <= 1000:
            raise ValueError(f"limit: {raw!r} is not a number 1..1000")
        return log_rows(device(), int(raw))

    routes = [
        Route("/api/state", endpoint(get_state)),
        Route("/api/hosts", endpoint(get_hosts)),
        Route("/api/hosts/{name}", endpoint(get_host)),
        Route("/api/hosts/{name}", endpoint(post_host, write=True), methods=["POST"]),
        Route("/api/world", endpoint(get_world)),
        Route("/api/world", endpoint(post_world, write=True), methods=["POST"]),
        Route("/api/cdn", endpoint(get_cdn)),
        Route("/api/log", endpoint(get_log)),
    ]
    return Starlette(routes=routes, middleware=local_guards((), lang="en", writes_only=False))
