"""Pages for people and a JSON API for the modelled technological server.

The real rd.incotexkkm.ru is a web site whose pages are not public apart from
the labels the vendor's instruction names: the tabs «Общие», «Серверы»,
«ОТЧЕТЫ» and the buttons «Запросить и применить на сервере», «Вставить
сертификат», «Сохранить и отправить все настройки». Everything else here is
MODELLED (and says so in every page footer).

Pages (Russian, plain HTML, no external assets; buttons are forms: POST, then
303 redirect with ``?ok=`` / ``?error=`` for the message):

    GET  /                                device list, «Токен для всех ККТ ИНН»
    POST /token-for-inn                   inn, token
    GET  /device/{serial}                 -> /device/{serial}/general
    GET  /device/{serial}/general         «Общие» (with the device key's fingerprint)
    POST /device/{serial}/forget-key      «Забыть ключ ККТ»: the next HELLO registers a new device key
    POST /device/{serial}/request-certs   «Запросить и применить на сервере»
    GET  /device/{serial}/servers         «Серверы»: draft, tasks, settings form
    POST /device/{serial}/insert-cert     «Вставить сертификат»
    POST /device/{serial}/settings        gismt_host, sale_ban, option92, poll_period, token (empty = keep)
    POST /device/{serial}/send-all        «Сохранить и отправить все настройки»
    GET  /device/{serial}/reports         «ОТЧЕТЫ»: ?code=&from=YYYY-MM-DD&to=YYYY-MM-DD; conflicts below
    GET  /device/{serial}/reports.txt     the same records as a UTF-8 text file, a blank line between records

JSON API (errors: 404 unknown device/task, 400 refused, 403 a write from another site or not
``application/json``; body ``{"error": …}``):

    GET  /api/devices
    GET  /api/devices/{serial}
    GET  /api/devices/{serial}/records?code=&from=&to=
    GET  /api/devices/{serial}/conflicts              records that came under a seq holding another text
    POST /api/devices/{serial}/forget-key             -> the device, its key forgotten
    POST /api/devices/{serial}/request-certs          -> {"job_id", "state"}
    GET  /api/devices/{serial}/cert-jobs
    POST /api/devices/{serial}/insert-cert            -> {"added", "draft"}
    GET  /api/devices/{serial}/settings               the draft, token masked
    POST /api/devices/{serial}/settings               {"kind", "value"} or {"items": [{"kind", "value"}, …]}
    DELETE /api/devices/{serial}/settings             empty the draft
    POST /api/devices/{serial}/send-all               -> {"task_id"}
    GET  /api/devices/{serial}/tasks                  tokens masked
    POST /api/token-for-inn                           {"inn", "token"} -> {"task_ids"}
    GET  /api/inn-tokens                              tokens masked

Writes (POST, DELETE) from a browser must come from these pages' own origin
(``emulator.net.webguard``: the Host check and ``SameOrigin``); scripts send JSON with ``Content-Type: application/json``.
Tokens are never shown unmasked: listings use ``mask_token``, the token inputs
are ``type=password`` and are never filled back in. Every response says it may
not be framed (``X-Frame-Options: DENY``, CSP ``frame-ancestors 'none'``) and
carries a content security policy that allows nothing but the page's own
style block and same-origin forms (``SecurityHeaders``). The explanations on
«ОТЧЕТЫ» are made in a worker thread, at most ``MAX_RECORD_CHARS`` of a
record each, never on the event loop.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from emulator.base.errors import error_table
from emulator.net.webguard import local_guards
from emulator.rules.explain import MAX_RECORD_CHARS, explain
from emulator.servers.techserver.model import (
    TechServer,
    TechServerError,
    UnknownDevice,
    UnknownTask,
    msk_text,
    validate_setting,
)

TEMPLATES = Path(__file__).parent / "templates"
log = logging.getLogger("kkt_emu.techserver.web")

KIND_LABELS = {"cert": "Сертификат TLS", "token": "Токен", "gismt_host": "Имя хоста ГИС МТ", "option": "Опция",
               "poll_period": "ПЕРИОД ОПРОСА, мин", "sale_ban": "ЗАПРЕТ ПРОДАЖ"}
DATE_YEARS = (2000, 2999)   # the report filters' dates (the device's records carry no earlier or later ones)
BAD_INPUT = (TechServerError, ValueError, TypeError, OverflowError, UnicodeError, RecursionError)
STATE_LABELS = {"queued": "в очереди", "sent": "передана в ККТ", "applied": "применена", "failed": "ошибка"}


def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]))
    env.filters["msk"] = lambda ms: msk_text(ms) + " МСК" if ms is not None else "—"
    return env


class _Filters:
    def __init__(self, params: Any) -> None:
        code = (params.get("code") or "").strip()
        self.date_from = (params.get("from") or "").strip()
        self.date_to = (params.get("to") or "").strip()
        if code and not re.fullmatch(r"[0-9]{1,6}", code):
            raise TechServerError(f"код ошибки — число до 6 цифр: {code!r}")
        self.code = int(code) if code else None
        for d in (self.date_from, self.date_to):
            if d:
                try:
                    year = date.fromisoformat(d).year
                except ValueError:
                    year = 0
                if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", d) or not DATE_YEARS[0] <= year <= DATE_YEARS[1]:
                    raise TechServerError(f"дата в формате ГГГГ-ММ-ДД, годы {DATE_YEARS[0]}–{DATE_YEARS[1]}: "
                                          f"{d!r}") from None

    def query(self) -> str:
        q = {k: v for k, v in (("code", "" if self.code is None else str(self.code)),
                               ("from", self.date_from), ("to", self.date_to)) if v}
        return ("?" + urlencode(q)) if q else ""


def refusal(exc: BaseException) -> str:
    """The message a refused request gets: the model's own words, or a plain one for malformed data."""
    if isinstance(exc, TechServerError):
        return str(exc)
    if isinstance(exc, json.JSONDecodeError):
        return f"недопустимый JSON (строка {exc.lineno}, позиция {exc.colno})"
    # Malformed input as a rule, but it might be a bug behind it: the traceback goes to the log,
    # never to the peer (no internal exception text leaves the server).
    log.warning("refused on %s", type(exc).__name__, exc_info=exc)
    return "недопустимые данные"


def _style_hash() -> str:
    """The CSP source of the one inline style block of ``base.html`` (no other inline code exists)."""
    text = (TEMPLATES / "base.html").read_text("utf-8")
    block = text[text.index("<style>") + len("<style>"):text.index("</style>")]
    return "'sha256-" + base64.b64encode(hashlib.sha256(block.encode("utf-8")).digest()).decode("ascii") + "'"


def page_csp() -> str:
    """The pages' policy: nothing loads but the page's own style block, images and forms of this origin."""
    return (f"default-src 'none'; style-src {_style_hash()}; img-src 'self'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'")


def explained_rows(records: list[Any]) -> list[dict[str, Any]]:
    """Each record with the one-sentence summary of its explanation (at most ``MAX_RECORD_CHARS`` read)."""
    rows = []
    for r in records:
        ex = explain(r.text[:MAX_RECORD_CHARS + 200])
        rows.append({"rec": r, "summary": ex[0].summary if ex else ""})
    return rows


def records_text(records: list[Any]) -> str:
    """Records as a text file: each exactly as the device wrote it, a blank line between them."""
    if not records:
        return ""
    return "\n\n".join(r.text for r in records) + "\n"


def make_app(model: TechServer, hosts: tuple[str, ...] = ()) -> Starlette:
    """The pages and the API over ``model``.

    Requests must name this server in ``Host``: a loopback name or one of ``hosts``
    (the address it is bound to, the names people reach it by). Any other name is
    refused (400) — a page of another site whose domain was re-pointed at this
    machine (DNS rebinding) would otherwise be same-origin with these pages.
    """
    env = _env()

    def page(name: str, request: Request, status: int = 200, **ctx: Any) -> HTMLResponse:
        ctx.setdefault("ok", request.query_params.get("ok"))
        ctx.setdefault("error", request.query_params.get("error"))
        return HTMLResponse(env.get_template(name).render(**ctx), status_code=status)

    def back(url: str, ok: str | None = None, error: str | None = None) -> RedirectResponse:
        q = {k: v for k, v in (("ok", ok), ("error", error)) if v}
        return RedirectResponse(url + (("?" + urlencode(q)) if q else ""), status_code=303)

    async def form(request: Request) -> dict[str, str]:
        body = (await request.body()).decode("utf-8", errors="replace")
        return {k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()}

    def dev_url(serial: str, tab: str) -> str:
        return f"/device/{quote(serial, safe='')}/{tab}"

    def not_found(request: Request, text: str) -> HTMLResponse:
        return page("base.html", request, status=404, error=text)

    # ----------------------------------------------------------- pages
    async def index(request: Request) -> Response:
        return page("index.html", request, devices=model.devices(), inn_tokens=model.inn_tokens())

    async def token_for_inn(request: Request) -> Response:
        f = await form(request)
        try:
            ids = model.queue_token_for_inn(f.get("inn", "").strip(), f.get("token", "").strip())
        except BAD_INPUT as exc:
            return back("/", error=refusal(exc))
        return back("/", ok=f"Токен поставлен в очередь для ККТ: {len(ids)}")

    async def device_root(request: Request) -> Response:
        return RedirectResponse(dev_url(request.path_params["serial"], "general"), status_code=303)

    def device_or_404(request: Request) -> Any:
        try:
            return model.device(request.path_params["serial"])
        except UnknownDevice:
            return None

    async def general(request: Request) -> Response:
        d = device_or_404(request)
        if d is None:
            return not_found(request, "ККТ не найдена")
        now = model.clock()
        jobs = [j.listing(now) for j in model.cert_jobs(d.serial)]
        return page("general.html", request, device=d, tab="general", jobs=jobs)

    async def servers(request: Request) -> Response:
        d = device_or_404(request)
        if d is None:
            return not_found(request, "ККТ не найдена")
        return page("servers.html", request, device=d, tab="servers", draft=model.draft(d.serial),
                    tasks=[t.listing() for t in model.tasks(d.serial)], kinds=KIND_LABELS, states=STATE_LABELS)

    def action(tab: str, fn: Any, ok: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            serial = request.path_params["serial"]
            try:
                result = fn(serial, await form(request))
            except UnknownDevice:
                return not_found(request, "ККТ не найдена")
            except BAD_INPUT as exc:
                log.info("refused %s: %s", request.url.path, exc)
                return back(dev_url(serial, tab), error=refusal(exc))
            return back(dev_url(serial, tab), ok=ok(result))
        return endpoint

    def do_settings(serial: str, f: dict[str, str]) -> int:
        items = []
        for key, kind in (("gismt_host", "gismt_host"), ("sale_ban", "sale_ban"), ("poll_period", "poll_period"),
                          ("token", "token")):
            if f.get(key, "").strip():
                items.append((kind, f[key].strip()))
        if f.get("option92", "").strip():
            items.append(("option", f"92={f['option92'].strip()}"))
        if not items:
            raise TechServerError("ни одно поле не заполнено")
        model.device(serial)
        for kind, value in items:  # check all first, so a bad field changes nothing
            validate_setting(kind, value)
        for kind, value in items:
            model.set_setting(serial, kind, value)
        return len(items)

    async def reports(request: Request) -> Response:
        d = device_or_404(request)
        if d is None:
            return not_found(request, "ККТ не найдена")
        table = error_table()
        codes = [(c, table[c].text if c in table else "") for c in model.record_codes(d.serial)]
        try:
            flt = _Filters(request.query_params)
            recs = model.records(d.serial, flt.code, flt.date_from or None, flt.date_to or None)
        except TechServerError as exc:
            return page("reports.html", request, status=400, device=d, tab="reports", codes=codes, code=None,
                        date_from="", date_to="", records=[], download_url=dev_url(d.serial, "reports.txt"),
                        error=str(exc))
        rows = await run_in_threadpool(explained_rows, recs)    # off the event loop
        return page("reports.html", request, device=d, tab="reports", codes=codes, code=flt.code,
                    date_from=flt.date_from, date_to=flt.date_to, records=rows,
                    conflicts=model.conflicts(d.serial),
                    download_url=dev_url(d.serial, "reports.txt") + flt.query())

    async def reports_txt(request: Request) -> Response:
        d = device_or_404(request)
        if d is None:
            return Response("ККТ не найдена\n", status_code=404, media_type="text/plain; charset=utf-8")
        try:
            flt = _Filters(request.query_params)
        except TechServerError as exc:
            return Response(f"{exc}\n", status_code=400, media_type="text/plain; charset=utf-8")
        recs = model.records(d.serial, flt.code, flt.date_from or None, flt.date_to or None)
        name = f"reports_{d.serial}.txt"
        return Response(records_text(recs).encode("utf-8"), media_type="text/plain; charset=utf-8",
                        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})

    # ----------------------------------------------------------- JSON API
    def api(fn: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                body: Any = None
                if request.method in ("POST", "PUT"):
                    raw = await request.body()
                    body = json.loads(raw) if raw.strip() else {}
                    if not isinstance(body, dict):
                        raise TechServerError("ожидался объект JSON")
                result = fn(request, body)
            except (UnknownDevice, UnknownTask) as exc:
                return JSONResponse({"error": str(exc.args[0] if exc.args else exc)}, status_code=404)
            except BAD_INPUT as exc:   # json.JSONDecodeError is a ValueError
                log.info("refused %s %s: %s", request.method, request.url.path, exc)
                return JSONResponse({"error": refusal(exc)}, status_code=400)
            return JSONResponse(result)
        return endpoint

    def serial_of(request: Request) -> str:
        serial = request.path_params["serial"]
        model.device(serial)  # UnknownDevice -> 404
        return serial

    def api_devices(request: Request, _: Any) -> Any:
        return [d.listing() for d in model.devices()]

    def api_device(request: Request, _: Any) -> Any:
        s = serial_of(request)
        return {**model.device(s).listing(), "settings_waiting": model.settings_waiting(s),
                "draft": model.draft(s)}

    def api_records(request: Request, _: Any) -> Any:
        s = serial_of(request)
        flt = _Filters(request.query_params)
        return [r.listing() for r in model.records(s, flt.code, flt.date_from or None, flt.date_to or None)]

    def api_conflicts(request: Request, _: Any) -> Any:
        return [r.listing() for r in model.conflicts(serial_of(request))]

    def api_forget_key(request: Request, _: Any) -> Any:
        s = serial_of(request)
        model.forget_identity(s)
        return model.device(s).listing()

    def api_request_certs(request: Request, _: Any) -> Any:
        s = serial_of(request)
        job = model.cert_job(model.request_and_apply_certs(s))
        return {"job_id": job.id, "state": job.state(model.clock())}

    def api_cert_jobs(request: Request, _: Any) -> Any:
        now = model.clock()
        return [j.listing(now) for j in model.cert_jobs(serial_of(request))]

    def api_insert_cert(request: Request, _: Any) -> Any:
        s = serial_of(request)
        return {"added": model.insert_cert(s), "draft": model.draft(s)}

    def api_draft(request: Request, _: Any) -> Any:
        return model.draft(serial_of(request))

    def api_set_draft(request: Request, body: dict[str, Any]) -> Any:
        s = serial_of(request)
        items = body.get("items", [body] if "kind" in body else None)
        if not isinstance(items, list) or not items or not all(isinstance(i, dict) and "kind" in i and "value" in i for i in items):
            raise TechServerError('ожидалось {"kind", "value"} или {"items": [...]}')
        for i in items:
            validate_setting(i["kind"], i["value"])
        for i in items:
            model.set_setting(s, i["kind"], i["value"])
        return model.draft(s)

    def api_clear_draft(request: Request, _: Any) -> Any:
        s = serial_of(request)
        model.clear_draft(s)
        return model.draft(s)

    def api_send_all(request: Request, _: Any) -> Any:
        return {"task_id": model.send_all_settings(serial_of(request))}

    def api_tasks(request: Request, _: Any) -> Any:
        return [t.listing() for t in model.tasks(serial_of(request))]

    def api_token_for_inn(request: Request, body: dict[str, Any]) -> Any:
        return {"task_ids": model.queue_token_for_inn(str(body.get("inn", "")), str(body.get("token", "")))}

    def api_inn_tokens(request: Request, _: Any) -> Any:
        return model.inn_tokens()

    def api_draft_dispatch(request: Request, body: Any) -> Any:
        if request.method == "POST":
            return api_set_draft(request, body)
        if request.method == "DELETE":
            return api_clear_draft(request, body)
        return api_draft(request, body)

    routes = [
        Route("/", index),
        Route("/token-for-inn", token_for_inn, methods=["POST"]),
        Route("/device/{serial}", device_root),
        Route("/device/{serial}/general", general),
        Route("/device/{serial}/forget-key", action(
            "general", lambda s, f: model.forget_identity(s),
            lambda _: "Ключ ККТ забыт: следующий обмен зарегистрирует новый"), methods=["POST"]),
        Route("/device/{serial}/request-certs", action(
            "general", lambda s, f: model.request_and_apply_certs(s),
            lambda job_id: f"Задача {job_id}: сертификаты подготовлены на сервере"), methods=["POST"]),
        Route("/device/{serial}/servers", servers),
        Route("/device/{serial}/insert-cert", action(
            "servers", lambda s, f: model.insert_cert(s),
            lambda n: f"Сертификаты вставлены в настройки: {n}"), methods=["POST"]),
        Route("/device/{serial}/settings", action(
            "servers", do_settings, lambda n: f"Записано настроек: {n}"), methods=["POST"]),
        Route("/device/{serial}/send-all", action(
            "servers", lambda s, f: model.send_all_settings(s),
            lambda task_id: f"Задача {task_id} поставлена в очередь: ККТ получит настройки при следующем обмене"),
            methods=["POST"]),
        Route("/device/{serial}/reports", reports),
        Route("/device/{serial}/reports.txt", reports_txt),
        Route("/api/devices", api(api_devices)),
        Route("/api/devices/{serial}", api(api_device)),
        Route("/api/devices/{serial}/records", api(api_records)),
        Route("/api/devices/{serial}/conflicts", api(api_conflicts)),
        Route("/api/devices/{serial}/forget-key", api(api_forget_key), methods=["POST"]),
        Route("/api/devices/{serial}/request-certs", api(api_request_certs), methods=["POST"]),
        Route("/api/devices/{serial}/cert-jobs", api(api_cert_jobs)),
        Route("/api/devices/{serial}/insert-cert", api(api_insert_cert), methods=["POST"]),
        Route("/api/devices/{serial}/settings", api(api_draft_dispatch), methods=["GET", "POST", "DELETE"]),
        Route("/api/devices/{serial}/send-all", api(api_send_all), methods=["POST"]),
        Route("/api/devices/{serial}/tasks", api(api_tasks)),
        Route("/api/token-for-inn", api(api_token_for_inn), methods=["POST"]),
        Route("/api/inn-tokens", api(api_inn_tokens)),
    ]
    app = Starlette(routes=routes, middleware=local_guards(hosts, lang="ru", writes_only=True, csp=page_csp()))
    app.state.model = model
    return app
