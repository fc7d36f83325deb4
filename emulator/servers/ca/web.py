"""The mock CA's HTTP front: its OCSP responder and a page of the keys it issued (loopback only).

    POST /ocsp          an OCSP request (``application/ocsp-request``, ≤ 16 KB) → the DER answer
                        (``application/ocsp-response``), signed by the CA, on the virtual clock
    GET  /ca.pem        the CA's certificate (PEM)
    GET  /              the page: issued keys (owner, tax id, role, serial, validity, status)
    GET  /api/keys      the same as JSON

A request of another content type is 415, too big 413. The page shows no
secrets (no private keys, no passwords). Served by ``emulator.net.asgihost``
(``make_host``); guarded as the other local fronts (``emulator.net.webguard``).
"""

from __future__ import annotations

import html

from cryptography.hazmat.primitives.serialization import Encoding
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from emulator.net.asgihost import AsgiHost
from emulator.net.webguard import local_guards
from emulator.servers.ca.model import CertificationAuthority
from emulator.wire.cms import datetime_of

MAX_REQUEST = 16 * 1024


def _when(ms: int) -> str:
    return datetime_of(ms).strftime("%Y-%m-%d %H:%M:%SZ")


def keys_json(ca: CertificationAuthority) -> list[dict[str, object]]:
    return [{"serial": k.serial, "owner": k.owner, "tax_id": k.tax_id, "role": k.role.value, "key_id": k.key_id,
             "not_before": _when(k.not_before_ms), "not_after": _when(k.not_after_ms), "status": status,
             "expired": not k.not_before_ms <= ca.clock.now_ms <= k.not_after_ms} for k, status in ca.issued()]


def make_app(ca: CertificationAuthority, hosts: tuple[str, ...] = ()) -> Starlette:
    async def ocsp_post(request: Request) -> Response:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/ocsp-request":
            return PlainTextResponse("OCSP: Content-Type application/ocsp-request", status_code=415)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_REQUEST:
                return PlainTextResponse(f"OCSP: a request over {MAX_REQUEST} bytes", status_code=413)
        answer = await run_in_threadpool(ca.ocsp_response, bytes(body))
        return Response(answer, media_type="application/ocsp-response")

    async def ca_pem(request: Request) -> Response:
        return Response(ca.certificate.public_bytes(Encoding.PEM), media_type="application/x-pem-file")

    async def api_keys(request: Request) -> Response:
        return JSONResponse({"keys": keys_json(ca)})

    async def index(request: Request) -> Response:
        def e(value: object) -> str:
            return html.escape(str(value))
        rows = "".join(
            f"<tr><td>{e(k['owner'])}</td><td>{e(k['tax_id'])}</td><td>{e(k['role'])}</td><td>{e(k['serial'])}</td>"
            f"<td>{e(k['not_before'])}</td><td>{e(k['not_after'])}</td><td>{e(k['status'])}"
            f"{' (строк минув)' if k['expired'] else ''}</td></tr>" for k in keys_json(ca))
        return HTMLResponse(
            "<!doctype html><html lang=uk><meta charset=utf-8><title>АЦСК (емулятор)</title>"
            f"<h1>{e(ca.certificate.subject.rfc4514_string())}</h1><p>Віртуальний час: {e(_when(ca.clock.now_ms))}</p>"
            "<table border=1><tr><th>Власник</th><th>Податковий номер</th><th>Роль</th><th>Серійний номер</th>"
            f"<th>Діє з</th><th>Діє до</th><th>Статус OCSP</th></tr>{rows}</table>"
            "<p><small>Модель: ECDSA P-256 замість ДСТУ 4145.</small></p>")

    return Starlette(routes=[Route("/", index), Route("/api/keys", api_keys), Route("/ca.pem", ca_pem),
                             Route("/ocsp", ocsp_post, methods=["POST"])],
                     middleware=local_guards(hosts))


def make_host(ca: CertificationAuthority, *, port: int = 0) -> AsgiHost:
    """The CA's front on loopback (not started); the OCSP URL is ``host.url + '/ocsp'``."""
    return AsgiHost(make_app(ca), port=port, name="ca-ocsp")


def serve_in_thread(ca: CertificationAuthority, *, port: int = 0) -> AsgiHost:
    """The CA's front started on loopback (``.url``, ``.stop()``); OCSP at ``url + '/ocsp'``."""
    return make_host(ca, port=port).start()
