"""The drive's fiscal signs and its local time.

Fiscal signs — MODELLED, not a real ФН's: a real drive signs with keys in its
certified crypto-coprocessor, which no emulator has. This drive's ФПД is the
first 6 bytes of HMAC-SHA256 under the drive's own secret (32 random bytes
made when the archive is created, kept in the 0600 archive, never shown)
over the document STLV as encoded without tag 1077; the drive then puts 1077
after 1012. The printed ФП is bytes 2..5 of the ФПД read as a **big-endian**
32-bit integer (the reference leaves the byte order open; this is the
emulator's choice). Only this emulator's drive and mock OFD can check it.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
from datetime import datetime, timedelta

from emulator.wire.ffd.document import Document


def local_datetime(now_ms: int, tz_offset_min: int) -> datetime:
    """The naive local date-time of UNIXTIME requisites (whole seconds)."""
    return datetime(1970, 1, 1) + timedelta(seconds=now_ms // 1000, minutes=tz_offset_min)


def add_months(now_ms: int, months: int, tz_offset_min: int) -> int:
    """``now_ms`` moved ``months`` calendar months on in local time (the day clamped to the month's end)."""
    t = local_datetime(now_ms, tz_offset_min)
    y, m = divmod(t.month - 1 + months, 12)
    year, month = t.year + y, m + 1
    day = min(t.day, calendar.monthrange(year, month)[1])
    moved = t.replace(year=year, month=month, day=day)
    return now_ms + int((moved - t).total_seconds()) * 1000


def fpd_of(secret: bytes, unsigned: bytes) -> bytes:
    return hmac.new(secret, unsigned, hashlib.sha256).digest()[:6]


def fiscal_sign_of(fpd: bytes) -> int:
    """The printed ФП of a 6-byte ФПД: bytes 2..5 as a big-endian integer (the emulator's choice)."""
    return int.from_bytes(fpd[2:6], "big")


def unsigned_bytes(doc: Document) -> bytes:
    """What the sign covers: the document STLV encoded without its 1077."""
    return Document(doc.doc_type, tuple(f for f in doc.fields if f[0] != 1077)).encode()
