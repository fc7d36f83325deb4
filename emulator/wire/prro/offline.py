"""Offline fiscal numbers and the document hash chain (the tax service's API description, §8.2-8.3).

An offline document's fiscal number (``ORDERTAXNUM``) is
``<OfflineSessionId>.<number within the session>.<control number>``. The
control number is CRC-32 of the text ``seed,DDMMYYYY,HHMMSS,ORDERNUM,
CASHREGISTERNUM,CASHDESKNUM[,total 0.00][,PREVDOCHASH]``, with the CRC's four
bytes swapped (the description points to a C# class that outputs them
big-endian; only the swapped value reproduces its worked example, ``4758``),
as an unsigned decimal number: its 4 low decimal digits, leading zeros
dropped, 0 becomes 1.

``PREVDOCHASH`` is SHA-256 (hex) of the previous settlement document of the
session as sent (the signed bytes). 102 and 103 are not in the chain; the
first settlement document of a session has no ``PREVDOCHASH``, and neither
does the document right after 102 (the description: 102 may still change by
``REVOKELASTONLINEDOC``), which is the same document.
"""

from __future__ import annotations

import hashlib
import re
import struct
import zlib

_FISCAL = re.compile(r"([0-9]{1,19})\.([0-9]{1,9})\.([0-9]{1,4})")


def crc32_swapped(text: str | bytes) -> int:
    """``zlib.crc32`` with its four bytes swapped (big-endian packed, read little-endian)."""
    data = text.encode("ascii") if isinstance(text, str) else text
    return int(struct.unpack("<I", struct.pack(">I", zlib.crc32(data)))[0])


def control_string(seed: int | str, date: str, time: str, ordernum: int | str, cashregisternum: str,
                   cashdesknum: int | str, total_kop: int | None = None, prevdochash: str | None = None) -> str:
    """The text the control number is computed over (date ``DDMMYYYY``, time ``HHMMSS``)."""
    parts = [str(seed), date, time, str(ordernum), str(cashregisternum), str(cashdesknum)]
    if total_kop is not None:
        parts.append(format_total(total_kop))
    if prevdochash:
        parts.append(prevdochash)
    return ",".join(parts)


def format_total(kop: int) -> str:
    """Kopecks as ``0.00`` (``-`` for a negative amount)."""
    sign = "-" if kop < 0 else ""
    return f"{sign}{abs(kop) // 100}.{abs(kop) % 100:02d}"


def control_number(seed: int | str, date: str, time: str, ordernum: int | str, cashregisternum: str,
                   cashdesknum: int | str, total_kop: int | None = None, prevdochash: str | None = None) -> int:
    """The control number of an offline document (1..9999), see the module docstring."""
    crc = crc32_swapped(control_string(seed, date, time, ordernum, cashregisternum, cashdesknum, total_kop,
                                       prevdochash))
    return crc % 10_000 or 1


def fiscal_number(session_id: int | str, number: int, control: int) -> str:
    return f"{session_id}.{number}.{control}"


def parse_fiscal_number(text: str) -> tuple[int, int, int] | None:
    """``(session id, number within the session, control)`` of an offline fiscal number, else None."""
    m = _FISCAL.fullmatch(text.strip())
    return (int(m[1]), int(m[2]), int(m[3])) if m else None


def doc_hash(signed: bytes) -> str:
    """``PREVDOCHASH`` of a document as sent: SHA-256, hex (lower case)."""
    return hashlib.sha256(signed).hexdigest()
