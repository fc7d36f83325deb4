"""Reports and paper: ПРРО tasks 10, 5, 12, 13; the print forms of every answer (``FORMS``); printing an
answer (``PRINT``) and ``/dm/execute-prn``; the printer tasks (reference §3.1, §3.7, §4.1, §4.4).

* Task 10 — the X-report: the open shift's totals from the DM's copy of its documents
  (``totals.shift_totals``), in the Z-report's ``info`` shape; nothing closed, nothing sent. With the shift
  closed there is no data: 1081.
* Task 5 — the service report: ``fiscal.lines[]`` ``{t, qr_type}`` between the ПРРО's header and footer;
  printed by ``/dm/execute-prn``, a print form on request; a line that makes no receipt (an EAN-13 with a
  wrong check digit, an unknown ``qr_type``) is 2000, and so are more than 200 lines, 8,000 characters or
  4 barcodes and QR codes (MODELLED bounds, so that a request is answered in bounded time).
* Task 12 — consolidated by Z numbers ``n_from`` … ``n_to`` (inclusive), ordered by number; task 13 — by
  dates ``dt_from`` … ``dt_to``, ordered by date. ``is_short`` leaves the per-shift sums out of
  ``reports[]``. No Z-report in the range (or a range that is no range: ``n_from`` > ``n_to``): 1059; a
  stored Z-report whose totals are damaged: 1060.
* ``FORMS`` — every successful answer with a document gets ``Answer.printable`` (built by ``paper`` from
  the DM's copy of the document when the handler gave none) and the forms asked for: ``need_pf_txt`` →
  ``pf_text``, ``need_pf_img`` → ``pf_image``, ``need_pf_pdf`` → ``pf_pdf`` (``net.printforms``).
* ``PRINT`` / ``/dm/execute-prn`` — after the task succeeded its document goes to the printer named by
  ``?dev_id=`` (default ``prn``); ``info.isprint`` 1 when it printed. The cash drawer opens after a
  successful print when a pay of the receipt (or the cash-in / cash-out object) has type 0 «Готівка».

MODELLED where the seed is silent:

* task 13's days: ``dt_from`` / ``dt_to`` name days (``YYYYMMDD``, ``YYYYMMDDHHMMSS`` — the time part is
  ignored —, ``DD.MM.YYYY`` or ``YYYY-MM-DD``), Kyiv time; a Z-report is in the range when its day is from
  ``dt_from``'s day to ``dt_to``'s day, both whole days included. (The seed's example, as printed, says the
  range 01.01.2023–01.02.2023 selects Z-reports «from 01.01.2023 00:00:00 to 01.01.2023 23:59:59
  inclusive»: read here as the whole last day being included.)
* a print that fails does not fail the task: the fiscal answer stays ``res`` 0 with ``isprint`` 0 and a
  warning ``{code: 430, wtxt: "Device error: <what the printer did>"}`` (paper out, cover open, offline,
  no answer within 5 s); nothing is fiscalized again. An unknown printer in ``?dev_id=`` is the same with
  ``{code: 1091, wtxt: "Пристрій не знайдено"}``: the seed's «0 — not printed (no printer connected or a
  print error)».
* the printer tasks, on ``/dm/execute`` with a printer's name as ``device``: ``fiscal.task`` 1 print a
  document (``fiscal.lines[]`` as in task 5, optional ``fiscal.logo``: a Base64 ``.bmp``), 2 the test
  print, 3 open the cash drawer, 18 the printer's state. A printer that cannot do it: 430 with its text.
* ``pf_doccmd`` is not produced (its format is not public).
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from datetime import UTC, date, datetime
from typing import Any

from emulator.fronts.dm import paper
from emulator.fronts.dm import values as v
from emulator.fronts.dm.config import CASH
from emulator.fronts.dm.envelope import KYIV, Answer, dt_text
from emulator.fronts.dm.errors import DmError, bad_json, text
from emulator.fronts.dm.manager import (
    FORMS,
    PRINT,
    TASKS,
    Context,
    DmPrinter,
    DmPrro,
    endpoint,
    printer_task,
    prro_task,
)
from emulator.fronts.dm.store import DmDoc
from emulator.fronts.dm.totals import TotalsError, merge_totals, shift_totals
from emulator.net.escposlink import PrintResult, Receipt, ReceiptError, layout
from emulator.net.printforms import print_forms

log = logging.getLogger("kkt_emu.dm.reports")

DEFAULT_PRINTER = "prn"
MAX_LINES = 200          # lines of a service report / a printed document (MODELLED bounds: a page, not a book)
MAX_CHARS = 8_000       # their characters together
MAX_CODES = 4            # barcodes and QR codes among them (a QR code costs ~0.1 s to render)
# the documents an answer of each ПРРО task prints (the DM's copy, newest first)
DOC_KINDS = {0: ("open_shift",), 1: ("sale",), 2: ("return",), 3: ("cash_in",), 4: ("cash_out",),
             14: ("cash_issue",), 11: ("z_report",), 22: ("sale", "return", "cash_issue")}
W_DEVICE, W_NO_PRINTER = 430, 1091


# ------------------------------------------------------------------ helpers
def _cashier(ctx: Context) -> str:
    given = v.string(ctx.req.fiscal.get("cashier"), "fiscal.cashier", max_len=200)
    if given:
        return given
    with ctx.dm.world_lock:
        return str(ctx.prro.device.cashier or "")


def _shift(ctx: Context) -> dict[str, Any]:
    with ctx.dm.world_lock:
        return dict(ctx.prro.device.shift)


def _is_offline(ctx: Context) -> int:
    """``isoffline`` as every task answers it: 0 online, 1 offline."""
    with ctx.dm.world_lock:
        return int(bool(ctx.prro.device.offline.active))


def _safe_start(ctx: Context, before_shift: int) -> int:
    """The till's cash at the start of shift ``before_shift``: the last earlier Z-report's ``safe``."""
    for z in ctx.dm.store.docs(ctx.dev.name, ("z_report",), newest_first=True, limit=20):
        if z.shift_no < before_shift:
            safe = z.body.get("totals", {}).get("safe", 0)
            return round(safe * 100) if isinstance(safe, int | float) and not isinstance(safe, bool) else 0
    return 0


def _lines(raw: Any, what: str = "fiscal.lines") -> list[Any]:
    items = v.array(raw, what, MAX_LINES)
    try:
        lines = list(Receipt.from_data(items).lines)
    except ReceiptError as exc:
        raise bad_json(str(exc)) from None
    if sum(len(x.t) for x in lines) > MAX_CHARS:
        raise bad_json(f"{what}: more than {MAX_CHARS} characters")
    if sum(1 for x in lines if x.qr_type) > MAX_CODES:
        raise bad_json(f"{what}: more than {MAX_CODES} barcodes and QR codes")
    return lines


def _checked(receipt: Receipt) -> Receipt:
    """``receipt`` when it lays out; 2000 when its data make no receipt (a bad barcode, a bad logo)."""
    try:
        layout(receipt)
    except ReceiptError as exc:
        raise bad_json(str(exc)) from None
    return receipt


# ------------------------------------------------------------------ task 10: the X-report
def shift_info(ctx: Context, docs: list[DmDoc], shift: dict[str, Any]) -> dict[str, Any]:
    """The ``info`` of an X-report (and the totals part of a Z-report) over ``docs`` of the shift."""
    shift_no = int(shift.get("id", 0))
    start = _safe_start(ctx, shift_no)
    nums = [d.local_num for d in docs if d.local_num is not None]
    now = ctx.dm.now_ms()
    return {"task": ctx.task, "fisid": ctx.prro.device.identity.fiscal_num, "dt": dt_text(now),
            "cashier": _cashier(ctx), "dtype": 1 if ctx.prro.config.is_fiscal else 0, "isprint": 0,
            "isoffline": _is_offline(ctx), "docno": 0, "docno_from": min(nums, default=0),
            "docno_to": max(nums, default=0), "doccode": "", "shift_link": shift_no,
            "safe_start_shift": v.kop_number(start),
            **shift_totals(docs, ctx.prro.config, safe_start_kop=start)}


@prro_task(10, fiscal=False)
def x_report(ctx: Context) -> Answer:
    """Task 10: the X-report (1081 with the shift closed: there is no data for it)."""
    shift = _shift(ctx)
    if not shift.get("open"):
        raise DmError(1081)
    docs = ctx.dm.store.docs(ctx.dev.name, shift_no=int(shift.get("id", 0)))
    info = shift_info(ctx, docs, shift)
    printable = paper.shift_report_paper(ctx.prro, "X-ЗВІТ", {**info, "time_ms": ctx.dm.now_ms()})
    return Answer(info=info, printable=printable)


# ------------------------------------------------------------------ task 5: the service report
@prro_task(5, fiscal=False)
def service_report(ctx: Context) -> Answer:
    """Task 5: the user's lines between the ПРРО's header and footer."""
    lines = _lines(ctx.req.fiscal.get("lines"))
    now = ctx.dm.now_ms()
    receipt = _checked(paper.service_paper(ctx.prro, lines, now))
    return Answer(info={"task": 5, "fisid": ctx.prro.device.identity.fiscal_num, "dt": dt_text(now),
                        "isprint": 0, "lines": len(lines)}, printable=receipt)


# ------------------------------------------------------------------ tasks 12, 13: consolidated reports
_DAY_FORMS = (re.compile(r"^(\d{4})(\d{2})(\d{2})(\d{6}(\d{3})?)?$", re.ASCII),
              re.compile(r"^(\d{2})\.(\d{2})\.(\d{4})", re.ASCII), re.compile(r"^(\d{4})-(\d{2})-(\d{2})", re.ASCII))


def parse_day(raw: Any, what: str) -> date:
    """A day as the clients write it (see the module docstring); 2000 for anything else."""
    s = v.string(raw, what, max_len=40).strip()
    for i, form in enumerate(_DAY_FORMS):
        m = form.match(s)
        if m:
            y, mo, d = (int(m[1]), int(m[2]), int(m[3])) if i != 1 else (int(m[3]), int(m[2]), int(m[1]))
            try:
                return date(y, mo, d)
            except ValueError:
                break
    raise bad_json(f"{what}: a date (YYYYMMDD, DD.MM.YYYY or YYYY-MM-DD), not {s[:40]!r}")


def z_day(doc: DmDoc) -> date:
    return datetime.fromtimestamp(doc.time_ms / 1000, tz=UTC).astimezone(KYIV).date()


def consolidated(ctx: Context, zs: list[DmDoc], extra: dict[str, Any], title: str, span: str) -> Answer:
    if not zs:
        raise DmError(1059)
    short = v.flag(ctx.req.fiscal.get("is_short"), "fiscal.is_short")
    stored: list[Any] = [z.body.get("totals") for z in zs]
    for z, t in zip(zs, stored, strict=True):     # each on its own: the damaged report is named in the log
        try:
            merge_totals([t])
        except TotalsError as exc:
            log.warning("dm %s: task %s: Z-report %d is damaged (%s)", ctx.dev.name, ctx.task, z.shift_no, exc)
            raise DmError(1060) from None
    merged = merge_totals(stored)
    reports = []
    for z, t in zip(zs, stored, strict=True):
        row: dict[str, Any] = {"shift_no": z.shift_no, "docno": z.local_num or 0, "doccode": z.fiscal_num,
                               "dt": dt_text(z.time_ms), "date": paper.when(z.time_ms)}
        if not short:
            row.update({k: t[k] for k in ("receipt", "summary", "taxes", "pays", "money", "cash", "safe")})
        reports.append(row)
    now = ctx.dm.now_ms()
    info = {"task": ctx.task, "fisid": ctx.prro.device.identity.fiscal_num, "dt": dt_text(now), "isprint": 0,
            **extra, "is_short": short, "count": len(zs), **merged, "reports": reports}
    return Answer(info=info, printable=paper.consolidated_paper(ctx.prro, title, span, info, now))


@prro_task(12, fiscal=False)
def by_numbers(ctx: Context) -> Answer:
    """Task 12: the Z-reports numbered ``n_from`` … ``n_to``."""
    f = ctx.req.fiscal
    if f.get("n_from") is None or f.get("n_to") is None:
        raise bad_json("task 12 needs n_from and n_to")
    lo, hi = v.integer(f["n_from"], "fiscal.n_from"), v.integer(f["n_to"], "fiscal.n_to")
    zs = sorted((z for z in ctx.dm.store.docs(ctx.dev.name, ("z_report",)) if lo <= z.shift_no <= hi),
                key=lambda z: (z.shift_no, z.id))
    return consolidated(ctx, zs, {"n_from": lo, "n_to": hi}, "ЗВЕДЕНИЙ ЗВІТ ЗА НОМЕРАМИ", f"Z-звіти № {lo}-{hi}")


@prro_task(13, fiscal=False)
def by_dates(ctx: Context) -> Answer:
    """Task 13: the Z-reports dated from ``dt_from``'s day to ``dt_to``'s day, both included."""
    f = ctx.req.fiscal
    if f.get("dt_from") is None or f.get("dt_to") is None:
        raise bad_json("task 13 needs dt_from and dt_to")
    lo, hi = parse_day(f["dt_from"], "fiscal.dt_from"), parse_day(f["dt_to"], "fiscal.dt_to")
    zs = sorted((z for z in ctx.dm.store.docs(ctx.dev.name, ("z_report",)) if lo <= z_day(z) <= hi),
                key=lambda z: (z.time_ms, z.id))
    span = f"{lo:%d.%m.%Y} - {hi:%d.%m.%Y}"
    return consolidated(ctx, zs, {"dt_from": f"{lo:%Y%m%d}", "dt_to": f"{hi:%Y%m%d}"},
                        "ЗВЕДЕНИЙ ЗВІТ ЗА ДАТАМИ", span)


# ------------------------------------------------------------------ the print form of every answer
def document_of(ctx: Context, ans: Answer) -> DmDoc | None:
    """The DM's copy of the document ``ans`` answers: by the request's tag, the answer's ``doccode``,
    else the newest document of the task's kind (the one the task just stored)."""
    kinds = DOC_KINDS.get(ctx.task) if ctx.task is not None else None
    if not kinds or not isinstance(ctx.dev, DmPrro):
        return None
    docs = ctx.dm.store.docs(ctx.dev.name, kinds, newest_first=True, limit=50)
    code = str(ans.info.get("doccode", "") or "")
    for d in docs:
        if ctx.req.tag and d.tag == ctx.req.tag:
            return d
    for d in docs:
        if code and d.fiscal_num == code:
            return d
    return docs[0] if docs else None


def ensure_printable(ctx: Context, ans: Answer) -> Receipt | None:
    """``ans.printable``, built from the stored document when the handler gave none."""
    if ans.printable is None and isinstance(ctx.dev, DmPrro):
        doc = document_of(ctx, ans)
        if doc is not None:
            ans.printable = paper.document_paper(ctx.dev, doc, str(ans.info.get("qr", "") or ""))
    return ans.printable if isinstance(ans.printable, Receipt) else None


def forms(ctx: Context, ans: Answer) -> None:
    """``FORMS`` hook: ``pf_text`` / ``pf_image`` / ``pf_pdf`` as asked."""
    want = {k: ctx.req.need_pf.get(k, False) for k in ("txt", "img", "pdf")}
    if not any(want.values()):
        return
    receipt = ensure_printable(ctx, ans)
    if receipt is None:
        return
    try:
        ans.extra.update(print_forms(receipt, txt=want["txt"], img=want["img"], pdf=want["pdf"]))
    except ReceiptError as exc:         # a stored document that lays out no more: the answer stands
        ans.warnings.append({"code": W_DEVICE, "wtxt": text(W_DEVICE, str(exc), group="dm")})


FORMS.append(forms)


# ------------------------------------------------------------------ printing
def drawer_wanted(ctx: Context) -> bool:
    """A pay of the receipt (or the cash object of tasks 3 / 4) has type 0 «Готівка»."""
    f = ctx.req.fiscal
    receipt: Any = f.get("receipt") if isinstance(f.get("receipt"), dict) else {}
    pays: Any = receipt.get("pays") if isinstance(receipt.get("pays"), list) else []
    if any(isinstance(p, dict) and _int(p.get("type"), 0) == CASH for p in pays):
        return True
    if ctx.task in (3, 4) and isinstance(f.get("cash"), dict):
        return _int(f["cash"].get("type"), CASH) == CASH
    return False


def _int(x: Any, default: int) -> int:
    try:
        return v.integer(x, "type", default)
    except DmError:
        return -1


def _warn(ans: Answer, code: int, message: str) -> None:
    ans.warnings.append({"code": code, "wtxt": text(code, message, group="dm") if code == W_DEVICE
                         else text(code, group="dm")})


def print_answer(ctx: Context, ans: Answer, printer: DmPrinter, drawer: bool) -> None:
    """``PRINT`` hook: ``ans``'s document on ``printer``; ``info.isprint``; the drawer when ``drawer`` and
    it printed. A printer fault is a warning, never a failed task."""
    receipt = ensure_printable(ctx, ans)
    if receipt is None:
        ans.info["isprint"] = 0
        _warn(ans, W_DEVICE, f"task {ctx.task} has nothing to print")
        return
    result: PrintResult = printer.link.print_receipt(receipt, open_drawer=drawer)
    ans.info["isprint"] = result.isprint
    log.info("dm %s: task %s printed on %s: %s (%d ms)", ctx.dev.name, ctx.task, printer.name, result.outcome,
             result.elapsed_ms)
    if result.outcome != "printed":
        _warn(ans, W_DEVICE, result.message)


PRINT.append(print_answer)


def find_printer(ctx: Context) -> DmPrinter | None:
    name = ctx.query.get("dev_id") or DEFAULT_PRINTER
    dev = ctx.dm.devices.get(name)
    return dev if isinstance(dev, DmPrinter) else None


@endpoint("execute-prn")
def execute_prn(ctx: Context) -> Answer:
    """``/dm/execute-prn[?dev_id=NAME]``: the task as on ``/dm/execute``, then its document printed."""
    found = TASKS.get((ctx.dev.kind, ctx.task)) if ctx.task is not None else None
    if found is None:
        raise bad_json(f"no task {ctx.task} for a {ctx.dev.kind}")
    ans = found[0](ctx)
    if ans.res != 0 or ctx.dev.kind != "prro":
        return ans
    printer = find_printer(ctx)
    if printer is None:
        ans.info["isprint"] = 0
        _warn(ans, W_NO_PRINTER, "")
        return ans
    for hook in PRINT:
        hook(ctx, ans, printer, drawer_wanted(ctx))
    return ans


# ------------------------------------------------------------------ printer tasks (MODELLED numbers)
def _printer(ctx: Context) -> DmPrinter:
    assert isinstance(ctx.dev, DmPrinter)
    return ctx.dev


def _done(result: PrintResult, **info: Any) -> Answer:
    if result.outcome != "printed":
        raise DmError(W_DEVICE, result.message, group="dm", info={"isprint": 0, "outcome": result.outcome})
    return Answer(info={"outcome": result.outcome, "elapsed_ms": result.elapsed_ms, **info})


@printer_task(1)
def print_document(ctx: Context) -> Answer:
    """Printer task 1: print ``fiscal.lines[]`` (and a Base64 ``fiscal.logo``)."""
    lines = _lines(ctx.req.fiscal.get("lines"))
    logo_raw = v.string(ctx.req.fiscal.get("logo"), "fiscal.logo", max_len=1_500_000)
    try:
        logo = base64.b64decode(logo_raw, validate=True) if logo_raw else None
    except (binascii.Error, ValueError):
        raise bad_json("fiscal.logo: not Base64") from None
    receipt = _checked(Receipt(tuple(lines), logo))
    result = _printer(ctx).link.print_receipt(receipt)
    return _done(result, isprint=result.isprint)


@printer_task(2)
def test_print(ctx: Context) -> Answer:
    """Printer task 2: the test print."""
    result = _printer(ctx).link.test_print()
    return _done(result, isprint=result.isprint)


@printer_task(3)
def open_drawer(ctx: Context) -> Answer:
    """Printer task 3: pulse the cash drawer."""
    return _done(_printer(ctx).link.open_drawer(), drawer=1)


@printer_task(18)
def printer_state(ctx: Context) -> Answer:
    """Printer task 18: the printer's state (a printer that cannot print now answers 430 with the cause)."""
    result = _printer(ctx).link.status()
    st = result.status
    return _done(result, online=1, paper=st.paper if st else "", cover_open=int(bool(st and st.cover_open)),
                 drawer_open=int(bool(st and st.drawer_open)))
