"""The ПРРО's XML documents and the server's ticket, in windows-1251 (the tax service's API description).

``Document`` is one document a ПРРО signs and sends:

* a receipt (``CHECK``, DOCTYPE 0 with DOCSUBTYPE 0 sale, 1 return, 2 service
  deposit (cash in), 4 service issue (cash out), 5 storno) with items
  (``CHECKBODY``), payments (``CHECKPAY``) and the total (``CHECKTOTAL``);
* a technical document (``CHECK`` with DOCTYPE 100 shift open, 101 shift
  close, 102 offline begin, 103 offline end), head only;
* a Z-report (``ZREP``): sales and returns totals and counts, service deposits
  and issues.

The head carries ``DOCTYPE, DOCSUBTYPE, UID, TIN, IPN, ORGNM, POINTNM,
POINTADDR, ORDERDATE (DDMMYYYY), ORDERTIME (HHMMSS), ORDERNUM, CASHDESKNUM,
CASHREGISTERNUM, ORDERRETNUM, ORDERSTORNUM, REVOKELASTONLINEDOC, CASHIER,
VER, ORDERTAXNUM, OFFLINE, PREVDOCHASH, TESTING`` (absent ones are left out).
Amounts are integer kopecks in the model and ``0.00`` in the XML.

``Ticket`` is the server's answer to a document (``TICKET``: ``UID,
ORDERDATE, ORDERTIME, ORDERNUM, ORDERTAXNUM, OFFLINESESSIONID, OFFLINESEED,
ERRORCODE, ERRORTEXT, VER``), signed by the server.

MODELLED: the element set is the description's head list plus the body rows
the emulator needs; the schema's many optional elements are not produced.
Parsing refuses DTDs and entities, and anything over 200 KB.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from zoneinfo import ZoneInfo

from emulator.rules.prro import MESSAGE_MAX_BYTES
from emulator.wire.prro.offline import format_total

KYIV = ZoneInfo("Europe/Kyiv")

SALE, RETURN, DEPOSIT, ISSUE, STORNO = 0, 1, 2, 4, 5
OPEN_SHIFT, CLOSE_SHIFT, OFFLINE_BEGIN, OFFLINE_END = 100, 101, 102, 103
CASH_WITHDRAWAL = 3          # DOCTYPE 3: cash issued to payment-card holders
CHECK_DOCTYPES = (0, 1, 2, 3, OPEN_SHIFT, CLOSE_SHIFT, OFFLINE_BEGIN, OFFLINE_END)
ZREP = "ZREP"
CHECK = "CHECK"

_HEAD_ORDER = ("DOCTYPE", "DOCSUBTYPE", "UID", "TIN", "IPN", "ORGNM", "POINTNM", "POINTADDR", "ORDERDATE",
               "ORDERTIME", "ORDERNUM", "CASHDESKNUM", "CASHREGISTERNUM", "ORDERRETNUM", "ORDERSTORNUM",
               "REVOKELASTONLINEDOC", "CASHIER", "VER", "ORDERTAXNUM", "OFFLINE", "PREVDOCHASH", "TESTING")
_DECLARATION = re.compile(rb"""\s*<\?xml[^>]*?encoding\s*=\s*["']([^"']*)["']""")
_AMOUNT = re.compile(r"-?[0-9]{1,12}\.[0-9]{2}")


class DocumentError(ValueError):
    """An XML document or ticket that cannot be read (one-line reason)."""


def local_date_time(ms: int) -> tuple[str, str]:
    """``(DDMMYYYY, HHMMSS)`` of a virtual-clock instant in Kyiv time."""
    t = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).astimezone(KYIV)
    return t.strftime("%d%m%Y"), t.strftime("%H%M%S")


def ms_of_local(date: str, time: str) -> int:
    """The instant of a ``DDMMYYYY`` ``HHMMSS`` pair in Kyiv time (``DocumentError`` when malformed)."""
    try:
        t = dt.datetime.strptime(date + time, "%d%m%Y%H%M%S").replace(tzinfo=KYIV)
    except ValueError:
        raise DocumentError(f"bad ORDERDATE/ORDERTIME {date[:8]!r} {time[:6]!r}") from None
    return int(t.timestamp() * 1000)


def kop(text: str, what: str) -> int:
    if not _AMOUNT.fullmatch(text.strip()):
        raise DocumentError(f"{what}: an amount 0.00, not {text[:20]!r}")
    neg = text.strip().startswith("-")
    whole, frac = text.strip().lstrip("-").split(".")
    value = int(whole) * 100 + int(frac)
    return -value if neg else value


@dataclass(frozen=True)
class Item:
    """A receipt row: name, quantity in thousandths (``1000`` = 1), price and cost in kopecks.

    ``cost_kop`` is a cost the seller gave that differs from price × quantity (a POS rounds it its own way,
    within a kopeck); ``disc`` the row's discount (``DISCOUNTSUM``): the row adds ``cost − disc`` to the total."""

    name: str
    price: int
    quantity_milli: int = 1000
    code: str = ""
    unit: str = "шт"
    disc: int = 0
    cost_kop: int | None = None

    @property
    def cost(self) -> int:
        if self.cost_kop is not None:
            return self.cost_kop
        return (self.price * self.quantity_milli + 500) // 1000

    @property
    def due(self) -> int:
        """What the row adds to the receipt's total."""
        return self.cost - self.disc


@dataclass(frozen=True)
class Payment:
    """A payment row: form code (0 cash, 1 card), its name, the sum in kopecks."""

    sum: int
    form_code: int = 0
    form_name: str = "ГОТІВКА"


@dataclass(frozen=True)
class ZTotals:
    """What a Z-report carries: sales and returns (sums and receipt counts), service deposits and issues."""

    sales_sum: int = 0
    sales_count: int = 0
    returns_sum: int = 0
    returns_count: int = 0
    deposits: int = 0
    issues: int = 0


@dataclass(frozen=True)
class Document:
    """One ПРРО document (see the module docstring). ``kind`` is ``CHECK`` or ``ZREP``."""

    kind: str
    doctype: int
    uid: str
    tin: str
    orgnm: str
    pointnm: str
    pointaddr: str
    date: str                   # DDMMYYYY, Kyiv
    time: str                   # HHMMSS, Kyiv
    ordernum: int
    cashdesknum: str
    cashregisternum: str
    cashier: str
    docsubtype: int | None = None
    ipn: str = ""
    ordertaxnum: str | None = None
    offline: bool = False
    prevdochash: str | None = None
    revokelastonlinedoc: bool = False
    testing: bool = False
    orderretnum: str | None = None
    orderstornum: str | None = None
    items: tuple[Item, ...] = ()
    payments: tuple[Payment, ...] = ()
    total: int | None = None    # CHECKTOTAL/SUM, kopecks (receipts only)
    z: ZTotals | None = None
    ver: int = 1
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def is_receipt(self) -> bool:
        return self.kind == CHECK and self.doctype < OPEN_SHIFT

    @property
    def financial(self) -> bool:
        """A settlement document (receipt or Z-report): what the offline hash chain and durations count."""
        return self.kind == ZREP or self.is_receipt

    @property
    def instant_ms(self) -> int:
        return ms_of_local(self.date, self.time)

    def with_(self, **changes: object) -> Document:
        return replace(self, **changes)  # type: ignore[arg-type]

    # --- XML ---

    def head(self) -> dict[str, str]:
        values: dict[str, str | None] = {
            "DOCTYPE": str(self.doctype), "DOCSUBTYPE": None if self.docsubtype is None else str(self.docsubtype),
            "UID": self.uid, "TIN": self.tin, "IPN": self.ipn or None, "ORGNM": self.orgnm, "POINTNM": self.pointnm,
            "POINTADDR": self.pointaddr, "ORDERDATE": self.date, "ORDERTIME": self.time,
            "ORDERNUM": str(self.ordernum), "CASHDESKNUM": self.cashdesknum, "CASHREGISTERNUM": self.cashregisternum,
            "ORDERRETNUM": self.orderretnum, "ORDERSTORNUM": self.orderstornum,
            "REVOKELASTONLINEDOC": "true" if self.revokelastonlinedoc else None, "CASHIER": self.cashier,
            "VER": str(self.ver), "ORDERTAXNUM": self.ordertaxnum, "OFFLINE": "true" if self.offline else None,
            "PREVDOCHASH": self.prevdochash, "TESTING": "true" if self.testing else None}
        if self.kind == ZREP:
            values.pop("DOCTYPE")
            values.pop("DOCSUBTYPE")
        return {k: v for k, v in values.items() if v is not None}

    def to_xml(self) -> bytes:
        """The document as sent: XML in windows-1251 (``DocumentError`` for characters it cannot hold)."""
        root = ET.Element(self.kind)
        head = ET.SubElement(root, "CHECKHEAD" if self.kind == CHECK else "ZREPHEAD")
        for k, v in self.head().items():
            ET.SubElement(head, k).text = v
        if self.kind == CHECK and self.total is not None:
            ET.SubElement(ET.SubElement(root, "CHECKTOTAL"), "SUM").text = format_total(self.total)
        if self.payments:
            pay = ET.SubElement(root, "CHECKPAY")
            for n, p in enumerate(self.payments, 1):
                row = ET.SubElement(pay, "ROW", ROWNUM=str(n))
                ET.SubElement(row, "PAYFORMCD").text = str(p.form_code)
                ET.SubElement(row, "PAYFORMNM").text = p.form_name
                ET.SubElement(row, "SUM").text = format_total(p.sum)
        if self.items:
            body = ET.SubElement(root, "CHECKBODY")
            for n, it in enumerate(self.items, 1):
                row = ET.SubElement(body, "ROW", ROWNUM=str(n))
                if it.code:
                    ET.SubElement(row, "CODE").text = it.code
                ET.SubElement(row, "NAME").text = it.name
                ET.SubElement(row, "UNITNM").text = it.unit
                ET.SubElement(row, "AMOUNT").text = f"{it.quantity_milli // 1000}.{it.quantity_milli % 1000:03d}"
                ET.SubElement(row, "PRICE").text = format_total(it.price)
                ET.SubElement(row, "COST").text = format_total(it.cost)
                if it.disc:
                    ET.SubElement(row, "DISCOUNTSUM").text = format_total(it.disc)
        if self.kind == ZREP:
            z = self.z or ZTotals()
            for tag, s, c in (("ZREPREALIZ", z.sales_sum, z.sales_count), ("ZREPRETURN", z.returns_sum,
                                                                          z.returns_count)):
                part = ET.SubElement(root, tag)
                ET.SubElement(part, "SUM").text = format_total(s)
                ET.SubElement(part, "ORDERSCNT").text = str(c)
            body = ET.SubElement(root, "ZREPBODY")
            ET.SubElement(body, "SERVICEINPUT").text = format_total(z.deposits)
            ET.SubElement(body, "SERVICEOUTPUT").text = format_total(z.issues)
        text = '<?xml version="1.0" encoding="windows-1251"?>' + ET.tostring(root, encoding="unicode")
        try:
            return text.encode("cp1251")
        except UnicodeEncodeError as exc:
            raise DocumentError(f"a character windows-1251 cannot hold: {exc.object[exc.start:exc.end]!r}") from None

    @classmethod
    def from_xml(cls, data: bytes) -> Document:
        """Read a document (``DocumentError`` with the reason when it is not one)."""
        root = parse_xml(data)
        if root.tag not in (CHECK, ZREP):
            raise DocumentError(f"not a document: <{root.tag[:30]}>")
        head_el = root.find("CHECKHEAD" if root.tag == CHECK else "ZREPHEAD")
        if head_el is None:
            raise DocumentError(f"<{root.tag}> without its head")
        h = {c.tag: (c.text or "").strip() for c in head_el}

        def need(name: str) -> str:
            if not h.get(name):
                raise DocumentError(f"{name} is missing")
            return h[name]

        def number(name: str, optional: bool = False) -> int | None:
            text = h.get(name, "")
            if not text and optional:
                return None
            if not re.fullmatch(r"[0-9]{1,10}", text):
                raise DocumentError(f"{name}: a number, not {text[:20]!r}")
            return int(text)

        doctype = number("DOCTYPE") if root.tag == CHECK else 0
        assert doctype is not None
        if root.tag == CHECK and doctype not in CHECK_DOCTYPES:
            raise DocumentError(f"DOCTYPE {doctype} is not known")
        ordernum = number("ORDERNUM")
        assert ordernum is not None
        date, time = need("ORDERDATE"), need("ORDERTIME")
        ms_of_local(date, time)
        items = tuple(_items(root))
        payments = tuple(_payments(root))
        total_el = root.find("CHECKTOTAL/SUM")
        z = _z(root) if root.tag == ZREP else None
        return cls(kind=root.tag, doctype=doctype, docsubtype=number("DOCSUBTYPE", optional=True), uid=need("UID"),
                   tin=need("TIN"), ipn=h.get("IPN", ""), orgnm=h.get("ORGNM", ""), pointnm=h.get("POINTNM", ""),
                   pointaddr=h.get("POINTADDR", ""), date=date, time=time, ordernum=ordernum,
                   cashdesknum=need("CASHDESKNUM"), cashregisternum=need("CASHREGISTERNUM"),
                   cashier=h.get("CASHIER", ""), ordertaxnum=h.get("ORDERTAXNUM") or None,
                   offline=h.get("OFFLINE", "").lower() == "true", prevdochash=h.get("PREVDOCHASH") or None,
                   revokelastonlinedoc=h.get("REVOKELASTONLINEDOC", "").lower() == "true",
                   testing=h.get("TESTING", "").lower() == "true", orderretnum=h.get("ORDERRETNUM") or None,
                   orderstornum=h.get("ORDERSTORNUM") or None, items=items, payments=payments,
                   total=kop(total_el.text or "", "CHECKTOTAL/SUM") if total_el is not None else None, z=z,
                   ver=number("VER", optional=True) or 1)


def parse_xml(data: bytes) -> ET.Element:
    if len(data) > MESSAGE_MAX_BYTES:
        raise DocumentError(f"XML of {len(data)} bytes is over {MESSAGE_MAX_BYTES}")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise DocumentError("XML with a DTD or entities is refused")
    declared = _DECLARATION.match(data)
    if declared and declared[1] and declared[1].lower() not in (b"windows-1251", b"cp1251"):
        raise DocumentError(f"XML in {declared[1][:20].decode('ascii', 'replace')!r}: windows-1251 is required")
    try:
        return ET.fromstring(data)
    except (ET.ParseError, LookupError, ValueError) as exc:
        raise DocumentError(f"not well-formed XML ({str(exc)[:80]})") from None


def _items(root: ET.Element) -> list[Item]:
    out = []
    for row in root.findall("CHECKBODY/ROW"):
        amount = (row.findtext("AMOUNT") or "1.000").strip()
        if not re.fullmatch(r"[0-9]{1,9}(\.[0-9]{1,3})?", amount):
            raise DocumentError(f"AMOUNT: a quantity, not {amount[:20]!r}")
        whole, _, frac = amount.partition(".")
        item = Item(name=(row.findtext("NAME") or "").strip(), price=kop(row.findtext("PRICE") or "", "PRICE"),
                    quantity_milli=int(whole) * 1000 + int((frac + "000")[:3]),
                    code=(row.findtext("CODE") or "").strip(), unit=(row.findtext("UNITNM") or "шт").strip(),
                    disc=kop(row.findtext("DISCOUNTSUM") or "0.00", "DISCOUNTSUM"))
        cost = row.findtext("COST")
        if cost is not None and kop(cost, "COST") != item.cost:
            item = replace(item, cost_kop=kop(cost, "COST"))
        out.append(item)
    return out


def _payments(root: ET.Element) -> list[Payment]:
    out = []
    for row in root.findall("CHECKPAY/ROW"):
        code = (row.findtext("PAYFORMCD") or "0").strip()
        if not code.isdigit():
            raise DocumentError(f"PAYFORMCD: a number, not {code[:10]!r}")
        out.append(Payment(sum=kop(row.findtext("SUM") or "", "PAYFORM SUM"), form_code=int(code),
                           form_name=(row.findtext("PAYFORMNM") or "").strip()))
    return out


def _z(root: ET.Element) -> ZTotals:
    def part(tag: str) -> tuple[int, int]:
        el = root.find(tag)
        if el is None:
            return 0, 0
        count = (el.findtext("ORDERSCNT") or "0").strip()
        if not count.isdigit():
            raise DocumentError(f"{tag}/ORDERSCNT: a number, not {count[:10]!r}")
        return kop(el.findtext("SUM") or "0.00", f"{tag}/SUM"), int(count)

    sales, returns = part("ZREPREALIZ"), part("ZREPRETURN")
    return ZTotals(sales_sum=sales[0], sales_count=sales[1], returns_sum=returns[0], returns_count=returns[1],
                   deposits=kop(root.findtext("ZREPBODY/SERVICEINPUT") or "0.00", "SERVICEINPUT"),
                   issues=kop(root.findtext("ZREPBODY/SERVICEOUTPUT") or "0.00", "SERVICEOUTPUT"))


@dataclass(frozen=True)
class Ticket:
    """The server's answer to a document (``TICKET``, see the module docstring)."""

    uid: str
    date: str
    time: str
    ordernum: int
    ordertaxnum: str = ""
    offline_session_id: str = ""
    offline_seed: str = ""
    error_code: int = 0
    error_text: str = ""
    ver: int = 1

    def to_xml(self) -> bytes:
        root = ET.Element("TICKET")
        for tag, value in (("UID", self.uid), ("ORDERDATE", self.date), ("ORDERTIME", self.time),
                           ("ORDERNUM", str(self.ordernum)), ("ORDERTAXNUM", self.ordertaxnum),
                           ("OFFLINESESSIONID", self.offline_session_id), ("OFFLINESEED", self.offline_seed),
                           ("ERRORCODE", str(self.error_code)), ("ERRORTEXT", self.error_text),
                           ("VER", str(self.ver))):
            if value:
                ET.SubElement(root, tag).text = value
        return ('<?xml version="1.0" encoding="windows-1251"?>'
                + ET.tostring(root, encoding="unicode")).encode("cp1251", "replace")

    @classmethod
    def from_xml(cls, data: bytes) -> Ticket:
        root = parse_xml(data)
        if root.tag != "TICKET":
            raise DocumentError(f"not a TICKET: <{root.tag[:30]}>")

        def text(tag: str) -> str:
            return (root.findtext(tag) or "").strip()

        for tag in ("ORDERNUM", "ERRORCODE"):
            if text(tag) and not re.fullmatch(r"-?[0-9]{1,10}", text(tag)):
                raise DocumentError(f"TICKET {tag}: a number, not {text(tag)[:20]!r}")
        return cls(uid=text("UID"), date=text("ORDERDATE"), time=text("ORDERTIME"),
                   ordernum=int(text("ORDERNUM") or 0), ordertaxnum=text("ORDERTAXNUM"),
                   offline_session_id=text("OFFLINESESSIONID"), offline_seed=text("OFFLINESEED"),
                   error_code=int(text("ERRORCODE") or 0), error_text=text("ERRORTEXT"),
                   ver=int(text("VER") or 1) if text("VER").isdigit() else 1)
