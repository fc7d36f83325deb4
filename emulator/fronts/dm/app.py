"""The DM's HTTP front: starlette, served on loopback by ``net.asgihost.AsgiHost`` (port 3939 by default).

``POST /dm/execute``, ``/dm/execute-prn`` (``?dev_id=``), ``/dm/execute-pkg``: the body (at most
``MAX_BODY`` bytes; reading stops past it) goes to ``DeviceManager.execute`` in a worker thread and the
answer comes back with **HTTP 200 whatever happened** — the error is in the body, as the seed says. Every
other ``/dm/...`` path is a registered route (``manager.ROUTES``: the terminal's service methods, the
extended API); a path no route has is 404 with a JSON body. Answers are UTF-8 JSON.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request as HttpRequest
from starlette.responses import Response
from starlette.routing import Route

from emulator.fronts.dm.envelope import MAX_BODY
from emulator.fronts.dm.manager import DeviceManager

DEFAULT_PORT = 3939
EXECUTE = ("execute", "execute-prn", "execute-pkg")


def json_response(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, ensure_ascii=False).encode("utf-8"), status_code=status,
                    media_type="application/json; charset=utf-8")


async def read_body(request: HttpRequest) -> bytes:
    """The body, cut at ``MAX_BODY + 1`` bytes (the parser refuses it then with 2000)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY:
            break
    return b"".join(chunks)[: MAX_BODY + 1]


def make_app(dm: DeviceManager) -> Starlette:
    async def execute(request: HttpRequest) -> Response:
        name = request.url.path.rsplit("/", 1)[-1]
        body = await read_body(request)
        query = {k: v for k, v in request.query_params.items()}
        answer = await run_in_threadpool(dm.execute, name, body, query)
        return json_response(answer)

    async def other(request: HttpRequest) -> Response:
        body = await read_body(request) if request.method in ("POST", "PUT", "PATCH") else b""
        query = {k: v for k, v in request.query_params.items()}
        answer = await run_in_threadpool(dm.route, request.method, request.url.path, query, body)
        if answer is None:
            return json_response({"error": f"no such path {request.url.path[:100]}"}, 404)
        return json_response(answer)

    routes = [Route(f"/dm/{name}", execute, methods=["POST"]) for name in EXECUTE]
    routes.append(Route("/dm/{rest:path}", other, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]))
    return Starlette(routes=routes)
