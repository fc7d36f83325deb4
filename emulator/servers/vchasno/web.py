"""The Vchasno.Kasa cabinet's HTTP front (loopback), over ``VchasnoCabinet.request``.

    POST /api/v1/dm/prro     the DM's call (``Authorization: Bearer <token>``, ``{"dm_version": …}``)
    GET  /                   the page: the account's balance, its ПРРО with their billing, the tokens (digests)
    GET  /api/state          the same as JSON

The fault plan's transport faults happen on the wire: ``refuse`` / ``close`` / ``down`` break the connection
after the status line (no answer the client can read), ``stall`` holds it up to ``STALL_S`` first. Guarded
as the other local fronts (``emulator.net.webguard``).
"""

from __future__ import annotations

import asyncio
import html
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from emulator.net.asgihost import AsgiHost, DroppedConnection
from emulator.net.webguard import local_guards
from emulator.servers.vchasno.model import MAX_BODY, PRRO_PATH, TARIFF_KOP, VchasnoCabinet

STALL_S = 30.0


class _Broken(Response):
    def __init__(self, fault: str) -> None:
        super().__init__(b"", status_code=200)
        self.fault = fault

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")]})
        raise DroppedConnection(f"fault plan: {self.fault}")


def bearer(request: Request) -> str:
    value = request.headers.get("authorization", "")
    return value[7:].strip() if value[:7].lower() == "bearer " else ""


def make_app(model: VchasnoCabinet, hosts: tuple[str, ...] = ()) -> Starlette:
    async def api(request: Request) -> Response:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return JSONResponse({"code": "bad_request", "message": "body too large"}, status_code=413)
        answer = await run_in_threadpool(model.request, "POST", PRRO_PATH, bytes(body), token=bearer(request))
        if answer.delay_ms:
            await asyncio.sleep(answer.delay_ms / 1000)
        if answer.fault == "stall":
            await asyncio.sleep(STALL_S)
        if answer.fault is not None:
            return _Broken(answer.fault)
        return Response(answer.body, status_code=answer.status, media_type="application/json")

    async def state(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(model.summary))

    async def index(request: Request) -> Response:
        return HTMLResponse(page(await run_in_threadpool(model.summary)))

    return Starlette(routes=[Route(PRRO_PATH, api, methods=["POST"]), Route("/api/state", state), Route("/", index)],
                     middleware=local_guards(hosts, lang="en"))


def page(s: dict[str, Any]) -> str:
    def e(value: object) -> str:
        return html.escape(str(value))

    prros = "".join(f"<tr><td>{e(p['id'])}</td><td>{e(p['name'])}</td><td>{'фіскальний' if p['is_fiscal'] else 'тестовий'}"
                    f"</td><td>{len(p['tax_groups'])}</td><td>{len(p['pay_types'])}</td>"
                    f"<td>{'так' if p['offline_allowed'] else 'ні'}</td><td>{e(p['paid_to_ms'])}</td>"
                    f"<td>{'заблоковано' if p['blocked'] else 'активний'}</td></tr>" for p in s["prros"])
    tokens = "".join(f"<tr><td>{e(t['prro_id'])}</td><td>{e(t['digest'])}…</td>"
                     f"<td>{'відкликано' if t['revoked'] else 'діє'}</td></tr>" for t in s["tokens"])
    return ("<!doctype html><html lang=uk><meta charset=utf-8><title>Вчасно.Каса: кабінет (емулятор)</title>"
            f"<h1>Вчасно.Каса: кабінет (емулятор)</h1><p>Баланс: {s['balance_kop'] / 100:.2f} грн "
            f"(тариф {TARIFF_KOP / 100:.2f} грн); мінімальна версія Device Manager: {e(s['min_dm_version'])}</p>"
            "<h2>ПРРО</h2><table border=1><tr><th>ІД</th><th>Назва</th><th>Тип</th><th>Податкові групи</th>"
            "<th>Види оплат</th><th>Офлайн</th><th>Сплачено до (мс)</th><th>Стан</th></tr>"
            f"{prros}</table><h2>Токени (SHA-256)</h2><table border=1><tr><th>ПРРО</th><th>Токен</th><th>Стан</th>"
            f"</tr>{tokens}</table>")


def make_host(model: VchasnoCabinet, *, port: int = 0) -> AsgiHost:
    """The cabinet's front on loopback (not started)."""
    return AsgiHost(make_app(model), port=port, name="vchasno-http")
