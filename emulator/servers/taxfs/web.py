"""The mock tax server's HTTP front (loopback), over ``TaxServer.request``.

    POST /fs/cmd | /fs/doc | /fs/pck   the fiscal server's API (``?resultAsJson=true`` for JSON errors);
                                       the body is read up to 200 KB (more: 416 without reading on)
    GET  /                             the page: operators (form 5-ПРРО), ПРРО with shifts and offline
                                       state, documents (newest first, up to 500)
    GET  /api/state                    the same as JSON (``TaxServer.summary``, the last 500 documents)

The model is called in a worker thread under one lock (it may wait for the
CA's OCSP responder). The fault plan's answer faults happen on the wire:
``delay_ms`` is slept; ``refuse`` and ``close`` break the connection before
any body, ``lost-answer`` breaks it after the server registered the document
(the client sees the connection end without an answer), ``stall`` holds the
request open (up to ``STALL_S``) and then breaks it.

Guarded as the other local fronts (``emulator.net.webguard``): a browser page
of another site can neither read the page nor post to the API.
"""

from __future__ import annotations

import asyncio
import html
import ssl
import threading

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from emulator.net.asgihost import AsgiHost, BrokenAnswer
from emulator.net.webguard import local_guards
from emulator.rules.prro import MESSAGE_MAX_BYTES, ROLE_LABELS, Role
from emulator.servers.taxfs.model import Answer, TaxServer

STALL_S = 30.0
PAGE_DOCUMENTS = 500


def make_app(model: TaxServer, hosts: tuple[str, ...] = ()) -> Starlette:
    lock = threading.Lock()

    def call(path: str, body: bytes, ctype: str, encoding: str | None, as_json: bool) -> Answer:
        with lock:
            return model.request(path, body, content_type=ctype, content_encoding=encoding, as_json=as_json)

    async def api(request: Request) -> Response:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MESSAGE_MAX_BYTES:
                return PlainTextResponse(f"Повідомлення більше за {MESSAGE_MAX_BYTES // 1024} КБ", status_code=416)
        as_json = request.query_params.get("resultAsJson", "").lower() == "true"
        answer = await run_in_threadpool(call, request.url.path, bytes(body),
                                         request.headers.get("content-type", "application/octet-stream"),
                                         request.headers.get("content-encoding"), as_json)
        if answer.delay_ms:
            await asyncio.sleep(answer.delay_ms / 1000)
        if answer.fault == "stall":
            await asyncio.sleep(STALL_S)
        if answer.fault is not None:
            return BrokenAnswer(answer.fault)
        if answer.status == 204:
            return Response(status_code=204)
        return Response(answer.body, status_code=answer.status, media_type=answer.content_type)

    def summary() -> dict:  # type: ignore[type-arg]
        with lock:
            return model.summary(PAGE_DOCUMENTS)

    async def state(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(summary))

    async def index(request: Request) -> Response:
        return HTMLResponse(page(await run_in_threadpool(summary)))

    return Starlette(routes=[Route("/fs/cmd", api, methods=["POST"]), Route("/fs/doc", api, methods=["POST"]),
                             Route("/fs/pck", api, methods=["POST"]), Route("/api/state", state), Route("/", index)],
                     middleware=local_guards(hosts))


def page(s: dict) -> str:  # type: ignore[type-arg]
    def e(value: object) -> str:
        return html.escape("—" if value is None else str(value))

    ops = "".join(f"<tr><td>{e(o['name'])}</td><td>{e(ROLE_LABELS[Role(o['role'])])}</td><td>{e(o['key_id'])}</td>"
                  f"<td>{e(o['receipt2'])}</td><td>{e(o['accepted'])}</td><td>{e(o['active_from'])}</td>"
                  f"<td>{'так' if o['active'] else 'ще ні'}</td></tr>" for o in s["operators"])
    regs = "".join(f"<tr><td>{e(r['fiscal_num'])}</td><td>{e(r['name'])}</td><td>{e(r['unit'])}</td>"
                   f"<td>{'відкрита' if r['shift_open'] else 'закрита'}</td><td>{e(r['shift_key'])}</td>"
                   f"<td>{e(r['next_local_num'])}</td><td>{e(r['offline_session_id'])}"
                   f"{' (офлайн)' if r['offline_active'] else ''}</td>"
                   f"<td>{e(r['block_reason']) if r['blocked'] else 'ні'}</td></tr>" for r in s["registrars"])
    docs = "".join(f"<tr><td>{e(d['Registered'])}</td><td>{e(d['Registrar'])}</td><td>{e(d['NumFiscal'])}</td>"
                   f"<td>{e(d['NumLocal'])}</td><td>{e(d['DocClass'])} {e(d['CheckDocType'])}/"
                   f"{e(d['CheckDocSubType'])}</td><td>{e(d['Sum'])}</td><td>{e(d['Cashier'])}</td>"
                   f"<td>{'офлайн' if d['Offline'] else 'онлайн'}{' (відкликано)' if d['Revoked'] else ''}</td></tr>"
                   for d in reversed(s["documents"]))
    return ("<!doctype html><html lang=uk><meta charset=utf-8><title>Фіскальний сервер ДПС (емулятор)</title>"
            f"<h1>Фіскальний сервер ДПС (емулятор)</h1><p>Віртуальний час: {e(s['now'])}</p>"
            "<h2>Оператори (форма 5-ПРРО)</h2><table border=1><tr><th>Ім'я</th><th>Тип підпису</th><th>Ключ</th>"
            f"<th>Квитанція №2</th><th>Прийнято</th><th>Діє з</th><th>Активний</th></tr>{ops}</table>"
            "<h2>ПРРО</h2><table border=1><tr><th>Фіскальний номер</th><th>Назва</th><th>ГО</th><th>Зміна</th>"
            "<th>Ключ зміни</th><th>Наступний локальний номер</th><th>Офлайн-сесія</th><th>Блокування</th></tr>"
            f"{regs}</table><h2>Документи</h2><table border=1><tr><th>Зареєстровано</th><th>ПРРО</th>"
            "<th>Фіскальний номер</th><th>Локальний</th><th>Тип</th><th>Сума, коп.</th><th>Касир</th><th>Режим</th>"
            f"</tr>{docs}</table><p><small>Емулятор: підписи ECDSA P-256 замість ДСТУ 4145.</small></p>")


def make_host(model: TaxServer, *, port: int = 0, ssl_context: ssl.SSLContext | None = None) -> AsgiHost:
    """The tax server's front on loopback (not started); the API is under ``host.url + '/fs'``.

    Plain HTTP is the tax service's ``http://…:8609/fs``; with ``ssl_context`` it is HTTPS as ``:8643``."""
    return AsgiHost(make_app(model), port=port, name="taxfs-http", ssl_context=ssl_context)


def serve_in_thread(model: TaxServer, *, port: int = 0, ssl_context: ssl.SSLContext | None = None) -> AsgiHost:
    """The tax server's front started on loopback (``.url``, ``.stop()``); the API is under ``url + '/fs'``."""
    return make_host(model, port=port, ssl_context=ssl_context).start()
