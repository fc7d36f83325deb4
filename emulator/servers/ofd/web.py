"""A page and a JSON API listing the documents the mock OFD received, decoded (MODELLED).

    GET /                          the page: a table of documents, newest first, with a filter form
    GET /api/documents             JSON: the same list
    GET /api/documents/{seq}       JSON: one document, whole (FNS names), with its acknowledgement

Filters (page and API): ``fn`` (16 digits), ``from`` / ``to`` (``YYYY-MM-DD``,
on the document's own date, tag 1012, else the day it arrived), ``limit``
(1-5000, default 500). A bad filter is 400 with ``{"error": …}``.

Each listed document carries its sequence number, arrival time, ФН, ФД
number, type and name, date, total (1020), the OFD's response code, and per
item (1059) the name (1030), the marking code (2000), the 1260 values with
FNS names (``idFoiv``, ``foundationDocDateTime``, ``foundationDocNumber``,
``industryPropValue``) and 2106.

The app is read-only and guarded as the other local fronts are
(``emulator.net.webguard``): ``Host`` must be a loopback name or one of
``hosts``, requests from other sites are refused, every response forbids
framing and carries a content security policy that loads nothing.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from emulator.net.webguard import DEFAULT_CSP, local_guards
from emulator.servers.ofd.model import RESPONSE_TEXTS, OfdModel, Received
from emulator.wire.ffd.document import Document, fields_to_json
from emulator.wire.ffd.envelope import num, open_message
from emulator.wire.ffd.values import FfdError

MAX_LIMIT = 5000
CSP = DEFAULT_CSP + "; form-action 'self'"       # the filter form submits to the page itself


class BadFilter(ValueError):
    pass


class Filters:
    def __init__(self, params: Any) -> None:
        self.fn = (params.get("fn") or "").strip()
        if self.fn and not re.fullmatch(r"[0-9]{16}", self.fn):
            raise BadFilter(f"fn: 16 digits, not {self.fn[:40]!r}")
        self.date_from = self._date(params, "from")
        self.date_to = self._date(params, "to")
        limit = (params.get("limit") or "500").strip()
        if not re.fullmatch(r"[0-9]{1,4}", limit) or not 1 <= int(limit) <= MAX_LIMIT:
            raise BadFilter(f"limit: 1-{MAX_LIMIT}, not {limit[:40]!r}")
        self.limit = int(limit)

    @staticmethod
    def _date(params: Any, name: str) -> dt.date | None:
        text = (params.get(name) or "").strip()
        if not text:
            return None
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            raise BadFilter(f"{name}: YYYY-MM-DD, not {text[:40]!r}")
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise BadFilter(f"{name}: no such day {text!r}") from None

    def select(self, model: OfdModel, cache: dict[int, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        out = []
        for rec in reversed(model.received(self.fn or None)):
            row = cache.get(rec.seq) if cache is not None else None
            if row is None:
                row = summary(rec)
                if cache is not None:
                    cache[rec.seq] = row
            day = dt.date.fromisoformat(row["date"][:10])
            if (self.date_from and day < self.date_from) or (self.date_to and day > self.date_to):
                continue
            out.append(row)
            if len(out) >= self.limit:
                break
        return out


def _arrived(rec: Received) -> dt.datetime:
    return dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=rec.received_ms)


def _ack_code(rec: Received) -> int | None:
    try:
        return num(Document.decode(open_message(rec.ack).document).get(1022))
    except FfdError:
        return None


def summary(rec: Received) -> dict[str, Any]:
    """One received document as the listing shows it."""
    doc = rec.decoded()
    when = doc.get(1012)
    items = []
    for item in doc.all(1059):
        fields = Document(3, item)                  # a view for get/all on the item's own fields
        items.append({"name": fields.get(1030), "labelCode": fields.get(2000),
                      "itemsIndustryDetails": [fields_to_json(v) for v in fields.all(1260)],
                      "checkingProdInformationResult": fields.get(2106)})
    code = _ack_code(rec)
    return {"seq": rec.seq, "received": _arrived(rec).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "fiscalDriveNumber": rec.fn_number, "fiscalDocumentNumber": rec.fd_number, "code": rec.doc_type,
            "name": doc.name,
            "date": when.strftime("%Y-%m-%dT%H:%M:%S") if isinstance(when, dt.datetime)
            else _arrived(rec).strftime("%Y-%m-%dT%H:%M:%S"),
            "totalSum": doc.get(1020), "ofdResponseCode": code, "items": items}


def _page(rows: list[dict[str, Any]], f: Filters | None, error: str | None) -> str:
    e = html.escape
    head = ("<!doctype html><html lang=ru><meta charset=utf-8><title>ОФД (эмулятор): документы</title>"
            "<h1>Принятые документы</h1>")
    form = ("<form method=get action='/'>ФН <input name=fn value='{fn}'> с <input name=from type=date "
            "value='{df}'> по <input name=to type=date value='{dt}'> <button>Показать</button></form>").format(
        fn=e(f.fn) if f else "", df=f.date_from or "" if f else "", dt=f.date_to or "" if f else "")
    parts = [head, form]
    if error:
        parts.append(f"<p role=alert>{e(error)}</p>")
    parts.append("<table border=1><tr><th>№</th><th>Получен (UTC)</th><th>ФН</th><th>ФД</th><th>Документ</th>"
                 "<th>Дата</th><th>Сумма, коп.</th><th>Ответ ОФД</th><th>Предметы: 2000 / 1260 / 2106</th></tr>")
    for r in rows:
        items = "<br>".join(
            e(f"{i['name'] or ''}: {i['labelCode'] or '—'} / "
              f"{'; '.join(str(d.get('industryPropValue', d)) for d in i['itemsIndustryDetails']) or '—'} / "
              f"{'—' if i['checkingProdInformationResult'] is None else i['checkingProdInformationResult']}")
            for i in r["items"])
        answer = "—" if r["ofdResponseCode"] is None else RESPONSE_TEXTS.get(r["ofdResponseCode"], "?")
        parts.append(f"<tr><td>{r['seq']}</td><td>{e(r['received'])}</td><td>{e(r['fiscalDriveNumber'])}</td>"
                     f"<td>{r['fiscalDocumentNumber']}</td><td>{r['code']} {e(r['name'])}</td>"
                     f"<td>{e(r['date'])}</td><td>{e(str(r['totalSum'] if r['totalSum'] is not None else '—'))}"
                     f"</td><td>{e(answer)}</td><td>{items}</td></tr>")
    parts.append("</table><p><small>Эмулятор ОФД: подтверждения подписаны ключом модели, не ОФД.</small></p>")
    return "".join(parts)


def make_app(model: OfdModel, hosts: tuple[str, ...] = ()) -> Starlette:
    # A received document never changes: each is decoded for the listing once.
    cache: dict[int, dict[str, Any]] = {}

    async def index(request: Request) -> Response:
        try:
            f = Filters(request.query_params)
        except BadFilter as exc:
            return HTMLResponse(_page([], None, str(exc)), status_code=400)
        return HTMLResponse(_page(f.select(model, cache), f, None))

    async def api_list(request: Request) -> Response:
        try:
            f = Filters(request.query_params)
        except BadFilter as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"documents": f.select(model, cache)})

    async def api_one(request: Request) -> Response:
        seq = request.path_params["seq"]
        docs = model.received()
        if not re.fullmatch(r"[0-9]{1,9}", seq) or not 1 <= int(seq) <= len(docs):
            return JSONResponse({"error": f"no document {seq[:20]!r}"}, status_code=404)
        rec = docs[int(seq) - 1]
        ack = Document.decode(open_message(rec.ack).document)
        return JSONResponse({**summary(rec), "document": rec.decoded().to_json(),
                             "acknowledgement": ack.to_json(), "trailer": rec.trailer.hex()})

    return Starlette(routes=[Route("/", index), Route("/api/documents", api_list),
                             Route("/api/documents/{seq}", api_one)],
                     middleware=local_guards(hosts, csp=CSP))
