"""Marking codes (КМ) as they arrive from the scanner.

Two shapes matter to permit mode:

* GS1 DataMatrix codes: ``01`` + 14-digit GTIN, ``21`` + serial up to a GS
  (0x1D), then optional AIs such as ``8005`` (МРЦ of a tobacco block, 6 digits,
  kopecks) and the crypto AIs ``91``/``92``/``93`` (93 = the 4-character tail).
* the 29-character tobacco pack code: 14-digit GTIN, 7-character serial,
  4-character МРЦ in the base-80 alphabet below, 4-character crypto tail.

Scanners may deliver the group separator as the raw byte 0x1D or, when a
keyboard wedge cannot type it, as the printable ``<GS>`` or ``\\u001d``; the
scanner input normalises those to 0x1D before parsing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GS = "\x1d"

MRP_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!\"%&'*+-./_,:;=<>?"
_MRP_INDEX = {c: i for i, c in enumerate(MRP_ALPHABET)}
MRP_MAX = 80**4 - 1

_GS_SPELLINGS = ("<GS>", "\\u001d", "\\x1d", "\\x1D", "\\u001D")


class MarkingCodeError(ValueError):
    """A scanned string that is not a usable marking code."""


def encode_mrp(kopecks: int) -> str:
    if not 0 <= kopecks <= MRP_MAX:
        raise ValueError(f"МРЦ out of range: {kopecks}")
    out = ""
    n = kopecks
    while n:
        n, r = divmod(n, 80)
        out = MRP_ALPHABET[r] + out
    return out.rjust(4, "A")


def decode_mrp(text: str) -> int:
    if len(text) != 4 or any(c not in _MRP_INDEX for c in text):
        raise ValueError(f"not a base-80 МРЦ: {text!r}")
    n = 0
    for c in text:
        n = n * 80 + _MRP_INDEX[c]
    return n


@dataclass(frozen=True)
class MarkingCode:
    raw: str                 # the full code with GS separators, as sent to codes/check
    gtin: str
    serial: str
    kind: str                # "gs1" or "pack"
    mrp_kopecks: int | None  # МРЦ carried by the code itself (pack chars 22-25 or AI 8005); None if absent
    crypto_tail: str

    @property
    def ki(self) -> str:
        """The identification code (КИ): cut at the first GS, or the first 21 chars of a pack."""
        if self.kind == "pack":
            return self.raw[:21]
        return self.raw.split(GS, 1)[0]

    @property
    def print_view(self) -> str:
        return self.ki

    @property
    def unit(self) -> tuple[str, str]:
        """The unit of goods the code identifies: GTIN and serial, whatever the code's shape or tail."""
        return self.gtin, self.serial


def normalise_scan(text: str) -> str:
    for spelling in _GS_SPELLINGS:
        text = text.replace(spelling, GS)
    return text.strip("\r\n")


_PACK = re.compile(r"^(\d{14})(.{7})(.{4})(.{4})$", re.DOTALL)


def parse(text: str) -> MarkingCode:
    raw = normalise_scan(text)
    if not raw:
        raise MarkingCodeError("empty scan")
    if any(ord(c) < 0x20 and c != GS for c in raw) or any(ord(c) > 0x7E for c in raw):
        raise MarkingCodeError("illegal characters in the code")
    if GS not in raw and len(raw) == 29:
        m = _PACK.match(raw)
        if m and all(c in _MRP_INDEX for c in m.group(3)):
            # «AAAA» (zero) means the pack carries no МРЦ (e.g. nicotine products).
            return MarkingCode(raw, m.group(1), m.group(2), "pack", decode_mrp(m.group(3)) or None, m.group(4))
    if not raw.startswith("01") or len(raw) < 18 or not raw[2:16].isdigit():
        raise MarkingCodeError("no GTIN (AI 01)")
    gtin = raw[2:16]
    rest = raw[16:]
    if not rest.startswith("21"):
        raise MarkingCodeError("no serial number (AI 21)")
    parts = rest[2:].split(GS)
    serial = parts[0]
    if not serial:
        raise MarkingCodeError("empty serial number")
    mrp: int | None = None
    tail = ""
    for part in parts[1:]:
        if part.startswith("8005"):
            digits = part[4:]
            if not (len(digits) == 6 and digits.isdigit()):
                raise MarkingCodeError("bad AI 8005 (six digits: the МРЦ in kopecks)")
            mrp = int(digits)
        elif part[:2] in ("91", "92", "93"):
            if part[:2] == "93":
                tail = part[2:]
        elif part:
            # Other AIs (for example 3103 weight, 17 expiry) are carried along untouched.
            continue
    return MarkingCode(raw, gtin, serial, "gs1", mrp, tail)


def is_marking(text: str) -> bool:
    """Whether ``text`` parses as a marking code (for telling a scanned code from a scanned token)."""
    try:
        parse(text)
    except MarkingCodeError:
        return False
    return True
