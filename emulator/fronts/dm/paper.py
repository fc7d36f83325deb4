"""The print form of every DM document: a ``net.escposlink.Receipt`` built from the DM's copy of the
document (``store.docs``), the ПРРО's requisites and the answer — what ``/dm/execute-prn`` prints and what
``pf_text`` / ``pf_image`` / ``pf_pdf`` render (``net.printforms``), so paper and forms cannot differ.

MODELLED (the seed shows no print form): the layout follows the Ukrainian fiscal receipt of a ПРРО — the
taxpayer's name, the point and its address, ІД / ПН, ФН ПРРО; the rows (name, quantity × price = cost and
the tax group's letter, discounts); СУМА; the tax lines per group; the pays, change and card details;
rounding; the comments (``\\n`` breaks lines); the local number and time; the document's fiscal number
(ФН чеку) or, offline, its offline number under «ОФЛАЙН»; the QR code of ``info.qr``; «ФІСКАЛЬНИЙ ЧЕК».
A test ПРРО (``PrroConfig.is_fiscal`` false) prints «ТЕСТОВИЙ ПРРО: НЕ ФІСКАЛЬНИЙ ДОКУМЕНТ». Lines are
42 characters (Font A on an 80 mm head).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from emulator.fronts.dm.envelope import KYIV
from emulator.fronts.dm.manager import DmPrro
from emulator.fronts.dm.store import DmDoc
from emulator.fronts.dm.totals import group_taxes, receipt_bases
from emulator.fronts.dm.values import kop_text
from emulator.net.escposlink import PrintLine, Receipt

WIDTH = 42
TITLES = {"sale": "ФІСКАЛЬНИЙ ЧЕК", "return": "ВИДАТКОВИЙ ЧЕК (ПОВЕРНЕННЯ)",
          "cash_issue": "ЧЕК ВИДАЧІ ГОТІВКИ", "cash_in": "СЛУЖБОВЕ ВНЕСЕННЯ",
          "cash_out": "СЛУЖБОВА ВИДАЧА", "open_shift": "ВІДКРИТТЯ ЗМІНИ", "z_report": "Z-ЗВІТ"}


def when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(KYIV).strftime("%d.%m.%Y %H:%M:%S")


def lr(left: str, right: str, width: int = WIDTH) -> str:
    """``left`` and ``right`` on one line (the left part cut when both do not fit)."""
    room = width - len(right) - 1
    if room < 1:
        return f"{left} {right}"
    return f"{left[:room]:<{room}} {right}"


def wrap(text: str, width: int = WIDTH) -> list[str]:
    out: list[str] = []
    for part in text.replace("\\n", "\n").split("\n"):
        part = part.rstrip()
        while len(part) > width:
            cut = part.rfind(" ", 0, width + 1)
            cut = cut if cut > 0 else width
            out.append(part[:cut].rstrip())
            part = part[cut:].lstrip()
        out.append(part)
    return out


def uah(x: Any) -> str:
    """A hryvnia amount (a JSON number) as printed."""
    return f"{float(x):.2f}"


class Sheet:
    """Lines being laid out."""

    def __init__(self) -> None:
        self.lines: list[PrintLine] = []

    def text(self, t: str, **style: Any) -> None:
        for part in wrap(t, WIDTH // 2 if style.get("double") else WIDTH):
            self.lines.append(PrintLine(part, **style))

    def pair(self, left: str, right: str, **style: Any) -> None:
        width = WIDTH // 2 if style.get("double") else WIDTH    # double width: half the characters
        self.lines.append(PrintLine(lr(left, right, width), **style))

    def rule(self) -> None:
        self.lines.append(PrintLine("-" * WIDTH))

    def add(self, line: PrintLine) -> None:
        self.lines.append(line)

    def receipt(self) -> Receipt:
        return Receipt(tuple(self.lines))


def header(sheet: Sheet, prro: DmPrro) -> None:
    ident = prro.device.identity
    for t in (ident.org, ident.point, ident.address):
        if t:
            sheet.text(t, align="center", bold=t == ident.org)
    sheet.text(f"ІД {ident.tin}" + (f"  ПН {ident.ipn}" if ident.ipn else ""), align="center")
    if not prro.config.is_fiscal:
        sheet.text("ТЕСТОВИЙ ПРРО: НЕ ФІСКАЛЬНИЙ ДОКУМЕНТ", align="center", bold=True)


def footer(sheet: Sheet, prro: DmPrro, doc: DmDoc | None, *, title: str, qr: str = "", time_ms: int = 0,
           cashier: str = "") -> None:
    sheet.rule()
    if cashier:
        sheet.text(f"Касир: {cashier}")
    if doc is not None and doc.local_num is not None:
        sheet.pair(f"№ {doc.local_num}", when(doc.time_ms))
    elif time_ms:
        sheet.pair("", when(time_ms))
    if doc is not None and doc.fiscal_num:
        if doc.offline:
            sheet.text("ОФЛАЙН", align="center", bold=True)
        sheet.pair("ФН чеку", doc.fiscal_num)
    sheet.pair("ФН ПРРО", prro.device.identity.fiscal_num)
    if qr:
        sheet.add(PrintLine(qr, qr_type=100, align="center"))
    sheet.text(title, align="center", bold=True)


def qty(cnt_milli: int) -> str:
    return str(cnt_milli // 1000) if cnt_milli % 1000 == 0 else f"{cnt_milli / 1000:.3f}"


def receipt_paper(prro: DmPrro, doc: DmDoc, qr: str = "") -> Receipt:
    """A sale, a return or a cash issue (tasks 1, 2, 14) as printed."""
    rec = doc.body.get("receipt", {})
    cfg = prro.config
    sheet = Sheet()
    header(sheet, prro)
    if doc.kind != "sale":
        sheet.text(TITLES.get(doc.kind, ""), align="center", bold=True)
    if rec.get("comment_up"):
        sheet.text(rec["comment_up"], align="center")
    sheet.rule()
    for r in rec.get("rows", ()):
        grp = cfg.tax_groups.get(str(r.get("taxgrp", "")))
        letter = grp.letter if grp else str(r.get("taxgrp", ""))
        sheet.text(str(r.get("name", "")))
        sheet.pair(f"  {qty(int(r.get('cnt_milli', 1000)))} x {kop_text(int(r.get('price', 0)))}",
                   f"{kop_text(int(r.get('cost', 0)))} {letter}")
        if int(r.get("disc", 0)):
            sheet.pair("  Знижка", f"-{kop_text(int(r['disc']))}")
        if r.get("comment"):
            sheet.text(f"  {r['comment']}")
    if int(rec.get("disc", 0)):
        sheet.pair("Знижка на чек", f"-{kop_text(int(rec['disc']))}")
    sheet.rule()
    sheet.pair("СУМА", kop_text(doc.sum), bold=True, double=True)
    for code, base in sorted(receipt_bases(rec).items()):
        grp = cfg.tax_groups.get(code)
        if grp is None:
            continue
        vat, ex = group_taxes(base, grp)
        if grp.vat:
            sheet.pair(f"ПДВ {grp.letter} {grp.vat_bp / 100:.2f}%", kop_text(vat))
        else:
            sheet.pair(f"{grp.name} {grp.letter}", "0.00")
        if grp.excise_bp:
            sheet.pair(f"Акциз {grp.letter} {grp.excise_bp / 100:.2f}%", kop_text(ex))
    if int(rec.get("round", 0)):
        sheet.pair("Заокруглення", kop_text(int(rec["round"])))
    for p in rec.get("pays", ()):
        sheet.pair(cfg.pay_types.get(int(p.get("type", 0)), str(p.get("type"))), kop_text(int(p.get("sum", 0))))
        if int(p.get("change", 0)):
            sheet.pair("Решта", kop_text(int(p["change"])))
        for key, label in (("paysys", "Платіжна система"), ("cardmask", "Картка"), ("term_id", "Термінал"),
                           ("rrn", "RRN"), ("auth_code", "Код авторизації")):
            if p.get(key):
                sheet.pair(f"  {label}", str(p[key]))
        if int(p.get("commission", 0)):
            sheet.pair("  Комісія", kop_text(int(p["commission"])))
        if p.get("comment"):
            sheet.text(f"  {p['comment']}")
    if rec.get("comment_down"):
        sheet.text(rec["comment_down"], align="center")
    footer(sheet, prro, doc, title="ФІСКАЛЬНИЙ ЧЕК", qr=qr or str(doc.body.get("qr", "")),
           cashier=str(doc.body.get("cashier", "")))
    return sheet.receipt()


def cash_paper(prro: DmPrro, doc: DmDoc) -> Receipt:
    """A service cash-in or cash-out (tasks 3, 4)."""
    cash = doc.body.get("cash", {})
    sheet = Sheet()
    header(sheet, prro)
    sheet.text(TITLES[doc.kind], align="center", bold=True)
    if cash.get("comment_up"):
        sheet.text(cash["comment_up"], align="center")
    sheet.rule()
    sheet.pair("СУМА", kop_text(doc.sum), bold=True, double=True)
    if cash.get("comment_down"):
        sheet.text(cash["comment_down"], align="center")
    footer(sheet, prro, doc, title="СЛУЖБОВИЙ ЧЕК", cashier=str(doc.body.get("cashier", "")))
    return sheet.receipt()


def open_shift_paper(prro: DmPrro, doc: DmDoc) -> Receipt:
    sheet = Sheet()
    header(sheet, prro)
    sheet.text(TITLES["open_shift"], align="center", bold=True)
    sheet.pair("Зміна №", str(doc.shift_no))
    footer(sheet, prro, doc, title="СЛУЖБОВИЙ ЧЕК", cashier=str(doc.body.get("cashier", "")))
    return sheet.receipt()


def totals_lines(sheet: Sheet, totals: Mapping[str, Any], prro: DmPrro) -> None:
    """The sums of a shift or of a range of shifts (``totals.shift_totals`` / ``merge_totals``)."""
    rc, sm = totals.get("receipt", {}), totals.get("summary", {})
    for side, label in (("p", "ПРОДАЖ"), ("m", "ПОВЕРНЕННЯ")):
        sheet.text(label, bold=True)
        sheet.pair("  Чеків", str(rc.get(f"count_{side}", 0)))
        sheet.pair("  Оборот", uah(sm.get(f"base_{side}", 0)))
        sheet.pair("  Податки і збори", uah(sm.get(f"taxex_{side}", 0)))
        sheet.pair("  Знижки", uah(sm.get(f"disc_{side}", 0)))
        for t in totals.get("taxes", ()):
            if t.get(f"base_sum_{side}"):
                sheet.pair(f"  {t.get('tax_fname', '')} {t.get('tax_lit', '')}", uah(t[f"base_sum_{side}"]))
                sheet.pair(f"    ПДВ {t.get('tax_percent', 0)}%", uah(t.get(f"tax_sum_{side}", 0)))
                if t.get(f"ex_sum_{side}"):
                    sheet.pair(f"    Акциз {t.get('ex_percent', 0)}%", uah(t[f"ex_sum_{side}"]))
        for p in totals.get("pays", ()):
            if p.get(f"sum_{side}"):
                sheet.pair(f"  {p.get('name', p.get('type'))}", uah(p[f"sum_{side}"]))
    sheet.rule()
    for m in totals.get("money", ()):
        sheet.pair(f"Службове внесення ({m.get('name', '')})", uah(m.get("sum_p", 0)))
        sheet.pair(f"Службова видача ({m.get('name', '')})", uah(m.get("sum_m", 0)))
    if rc.get("count_14"):
        sheet.pair("Чеків видачі готівки", str(rc["count_14"]))
    for c in totals.get("cash", ()):
        sheet.pair(f"Видано готівки ({c.get('name', '')})", uah(c.get("sum_m", 0)))
    sheet.pair("Готівка в касі", uah(totals.get("safe", 0)), bold=True)


def shift_report_paper(prro: DmPrro, title: str, info: Mapping[str, Any], doc: DmDoc | None = None) -> Receipt:
    """An X-report (``doc`` None) or a Z-report: the ``info`` of task 10 / 11 (or the Z's stored totals)."""
    sheet = Sheet()
    header(sheet, prro)
    sheet.text(title, align="center", bold=True, double=True)
    if info.get("shift_link"):
        sheet.pair("Зміна №", str(info["shift_link"]))
    if info.get("docno_from") or info.get("docno_to"):
        sheet.pair("Чеки №", f"{info.get('docno_from', 0)}-{info.get('docno_to', 0)}")
    sheet.rule()
    totals_lines(sheet, info, prro)
    footer(sheet, prro, doc, title="ФІСКАЛЬНИЙ ЗВІТ" if doc is not None else "СЛУЖБОВИЙ ЗВІТ",
           time_ms=int(info.get("time_ms", 0)), cashier=str(info.get("cashier", "")))
    return sheet.receipt()


def z_paper(prro: DmPrro, doc: DmDoc) -> Receipt:
    totals = doc.body.get("totals", {})
    info = {**totals, "shift_link": doc.shift_no, "cashier": doc.body.get("cashier", "")}
    return shift_report_paper(prro, f"Z-ЗВІТ № {doc.shift_no}", info, doc)


def consolidated_paper(prro: DmPrro, title: str, span: str, info: Mapping[str, Any], now_ms: int) -> Receipt:
    """Tasks 12 / 13: the range, each Z-report of it, the sums."""
    sheet = Sheet()
    header(sheet, prro)
    sheet.text(title, align="center", bold=True)
    sheet.text(span, align="center")
    sheet.rule()
    for r in info.get("reports", ()):
        sheet.pair(f"Z-звіт № {r['shift_no']}", r["date"])
        if "summary" in r:
            sheet.pair("  Продаж / повернення",
                       f"{uah(r['summary'].get('base_p', 0))} / {uah(r['summary'].get('base_m', 0))}")
    sheet.rule()
    totals_lines(sheet, info, prro)
    footer(sheet, prro, None, title="СЛУЖБОВИЙ ЗВІТ", time_ms=now_ms)
    return sheet.receipt()


def service_paper(prro: DmPrro, lines: Iterable[PrintLine], now_ms: int) -> Receipt:
    """Task 5: the header, the user's lines, the footer (a check of the requisites printed above and below)."""
    sheet = Sheet()
    header(sheet, prro)
    sheet.text("СЛУЖБОВИЙ ЗВІТ", align="center", bold=True)
    sheet.rule()
    for line in lines:
        sheet.add(line)
    footer(sheet, prro, None, title="НЕФІСКАЛЬНИЙ ДОКУМЕНТ", time_ms=now_ms)
    return sheet.receipt()


def document_paper(prro: DmPrro, doc: DmDoc, qr: str = "") -> Receipt | None:
    """The print form of a stored document (``None`` for a kind that has none)."""
    if doc.kind in ("sale", "return", "cash_issue"):
        return receipt_paper(prro, doc, qr)
    if doc.kind in ("cash_in", "cash_out"):
        return cash_paper(prro, doc)
    if doc.kind == "open_shift":
        return open_shift_paper(prro, doc)
    if doc.kind == "z_report":
        return z_paper(prro, doc)
    return None
