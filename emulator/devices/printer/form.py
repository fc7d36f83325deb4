"""The text print form of a fiscal document and the payload of the receipt QR code.

``print_form(doc, fiscal_sign)`` gives the lines of the paper, 32 characters
wide (a 57 mm roll; the layout and wording are MODELLED). A receipt («Кассовый
чек», type 3, and its correction, 31) shows its items, a marked one with the
sign of its tag 2106 in front (``mark_sign``), the totals and payments, the
registration requisites, ФД and ФП, and the QR code (its payload in
``PrintOut.qr``, its image from ``image.qr_png``). Reports show their counters.

The marked-item signs follow the convention of third-party FFD code (see the
README): ``[М+]`` when bits 1 (the ФН's check of the code was positive) and 3
(the ОИСМ said the planned status is correct) of tag 2106 are set, ``[М]``
when only bit 1 is, ``[М-]`` when bit 1 is clear.

The QR payload is the FNS receipt-check string: ``t`` the document's local
date and time (``YYYYMMDDTHHMM``), ``s`` the total in roubles with kopecks,
``fn`` the drive number, ``i`` the ФД number, ``fp`` the fiscal sign, ``n``
the calculation sign (1054).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

WIDTH = 32

TITLES = {1: "ОТЧЕТ О РЕГИСТРАЦИИ", 2: "ОТЧЕТ ОБ ОТКРЫТИИ СМЕНЫ", 3: "КАССОВЫЙ ЧЕК",
          5: "ОТЧЕТ О ЗАКРЫТИИ СМЕНЫ", 6: "ОТЧЕТ О ЗАКРЫТИИ ФН", 11: "ОТЧЕТ ОБ ИЗМ. ПАРАМЕТРОВ",
          21: "ОТЧЕТ О ТЕК. СОСТ. РАСЧЕТОВ", 31: "КАССОВЫЙ ЧЕК КОРРЕКЦИИ"}
CALC_SIGNS = {1: "ПРИХОД", 2: "ВОЗВРАТ ПРИХОДА", 3: "РАСХОД", 4: "ВОЗВРАТ РАСХОДА"}
RECEIPTS = (3, 31)
FN_POSITIVE, STATUS_CORRECT = 2, 8     # bits of tag 2106 (emulator.rules.tag2106)


class DocumentLike(Protocol):
    @property
    def doc_type(self) -> int: ...

    def get(self, tag: int, default: Any = None) -> Any: ...

    def all(self, tag: int) -> list[Any]: ...


@dataclass(frozen=True)
class PrintOut:
    """One printed document: its lines and, for a receipt, the QR payload (``None`` otherwise)."""
    doc_type: int
    fd_number: int
    lines: tuple[str, ...]
    qr: str | None

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def mark_sign(tag2106: int | None) -> str:
    """``[М+]``, ``[М]`` or ``[М-]`` for a marked item's tag 2106."""
    v = tag2106 or 0
    if not v & FN_POSITIVE:
        return "[М-]"
    return "[М+]" if v & STATUS_CORRECT else "[М]"


def money(kop: int | None) -> str:
    k = int(kop or 0)
    return f"{k // 100}.{k % 100:02d}"


def _pair(left: str, right: str) -> str:
    room = WIDTH - len(right) - 1
    left = left[:max(room, 0)]
    return f"{left}{' ' * (WIDTH - len(left) - len(right))}{right}"


def _center(text: str) -> str:
    return text[:WIDTH].center(WIDTH).rstrip()


def _sub(fields: Sequence[tuple[int, Any]], tag: int, default: Any = None) -> Any:
    return next((v for t, v in fields if t == tag), default)


def _strip(v: Any) -> str:
    return str(v).strip() if v is not None else ""


def qr_text(doc: DocumentLike, fiscal_sign: int) -> str:
    """The receipt QR payload ``t=…&s=…&fn=…&i=…&fp=…&n=…`` of a receipt."""
    when: datetime = doc.get(1012)
    return (f"t={when:%Y%m%dT%H%M}&s={money(doc.get(1020))}&fn={_strip(doc.get(1041))}"
            f"&i={int(doc.get(1040))}&fp={int(fiscal_sign)}&n={int(doc.get(1054, 1))}")


QR_KEYS = ("t", "s", "fn", "i", "fp", "n")


def parse_qr_text(text: str) -> dict[str, str]:
    """The fields of a receipt QR payload; ``ValueError`` naming what is missing or extra."""
    parts = dict(p.split("=", 1) for p in text.split("&") if "=" in p)
    if sorted(parts) != sorted(QR_KEYS):
        raise ValueError(f"receipt QR payload has fields {sorted(parts)}, expected {sorted(QR_KEYS)}")
    return parts


def _item_lines(n: int, item: Sequence[tuple[int, Any]]) -> list[str]:
    name = _strip(_sub(item, 1030, "ТОВАР"))
    code = _sub(item, 2000)
    sign = f"{mark_sign(_sub(item, 2106))} " if code is not None else ""
    qty = _sub(item, 1023, Decimal(1))
    lines = [f"{sign}{n}. {name}"[:WIDTH],
             _pair(f"   {qty} x {money(_sub(item, 1079))}", f"={money(_sub(item, 1043))}")]
    return lines


def _receipt_lines(doc: DocumentLike) -> list[str]:
    out = [_center(CALC_SIGNS.get(int(doc.get(1054, 1)), "ПРИХОД")),
           _pair(f"ЧЕК {doc.get(1042, 0)}", f"СМЕНА {doc.get(1038, 0)}")]
    for n, item in enumerate(doc.all(1059), 1):
        out += _item_lines(n, item)
    out += [_pair("ИТОГ", f"={money(doc.get(1020))}"),
            _pair("НАЛИЧНЫМИ", f"={money(doc.get(1031))}"),
            _pair("БЕЗНАЛИЧНЫМИ", f"={money(doc.get(1081))}")]
    if doc.get(2107) is not None:
        out.append(_pair("ПРОВЕРКА КМ", "ЕСТЬ ОТРИЦ." if doc.get(2107) else "ВСЕ ПОЛОЖ."))
    return out


def _report_lines(doc: DocumentLike) -> list[str]:
    out = []
    if doc.get(1038) is not None:
        out.append(_pair("СМЕНА", str(doc.get(1038))))
    if doc.get(1118) is not None:
        out.append(_pair("ЧЕКОВ ЗА СМЕНУ", str(doc.get(1118))))
    if doc.get(1097) is not None:
        out.append(_pair("НЕПЕРЕДАННЫХ ФД", str(doc.get(1097))))
    if doc.get(1098) is not None:
        out.append(_pair("ФД НЕ ПЕРЕДАНЫ С", f"{doc.get(1098):%d.%m.%y %H:%M}"))
    return out


def print_form(doc: DocumentLike, fiscal_sign: int) -> PrintOut:
    """What the paper shows for ``doc`` signed with ``fiscal_sign`` (the drive's ФП)."""
    when = doc.get(1012)
    lines = [_center(_strip(doc.get(1048))), _center(_strip(doc.get(1009))),
             _center(TITLES.get(doc.doc_type, f"ДОКУМЕНТ {doc.doc_type}"))]
    receipt = doc.doc_type in RECEIPTS
    lines += _receipt_lines(doc) if receipt else _report_lines(doc)
    lines += [_pair("ИНН", _strip(doc.get(1018))),
              _pair("РН ККТ", _strip(doc.get(1037))),
              _pair("ФН", _strip(doc.get(1041))),
              _pair("ФД", str(doc.get(1040))),
              _pair("ФП", str(int(fiscal_sign))),
              _pair("", f"{when:%d.%m.%y %H:%M}" if when is not None else "")]
    site = _strip(doc.get(1060))
    if site:
        lines.append(_pair("САЙТ ФНС", site))
    qr = qr_text(doc, fiscal_sign) if receipt else None
    if qr is not None:
        lines.append(_center("[QR-КОД]"))     # the image (``image.qr_png(qr)``) is printed here
    return PrintOut(doc.doc_type, int(doc.get(1040) or 0), tuple(line.rstrip() for line in lines), qr)
