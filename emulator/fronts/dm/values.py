"""Reading JSON values as real DM clients send them: numbers as strings, ``,`` as the decimal separator,
booleans as ``0``/``1``/``"true"``. Each reader raises ``DmError`` 2000 (``res_action`` 3) with the field
named in the log detail, never a ``TypeError``.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from emulator.fronts.dm.errors import bad_json

MAX_KOP = 10**13          # 100 billion hryvnias: past it a sum is a client's mistake, not money
MAX_EXPONENT = 20         # a number of 10**21 or more is out of every range below
_MISSING = object()


def _number(value: Any, what: str) -> Decimal:
    d = _decimal(value, what)
    if d and d.adjusted() > MAX_EXPONENT:         # ``1e400``: past any range, and too big to quantize
        raise bad_json(f"{what}: out of range")
    return d


def _decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, bool):
        raise bad_json(f"{what}: a number, not a boolean")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise bad_json(f"{what}: not a finite number")
        return Decimal(repr(value))
    if isinstance(value, str):
        s = value.strip().replace(",", ".")
        if not s or len(s) > 32:
            raise bad_json(f"{what}: not a number")
        try:
            d = Decimal(s)
        except InvalidOperation:
            raise bad_json(f"{what}: not a number") from None
        if not d.is_finite():
            raise bad_json(f"{what}: not a finite number")
        return d
    raise bad_json(f"{what}: a number, not {type(value).__name__}")


def money(value: Any, what: str, default: Any = _MISSING) -> int:
    """Hryvnias (``12.5``, ``"12,50"``) → kopecks, rounded half up to the kopeck."""
    if value is None and default is not _MISSING:
        return int(default)
    d = _number(value, what)
    kop = int((d * 100).quantize(Decimal(1), rounding="ROUND_HALF_UP"))
    if abs(kop) > MAX_KOP:
        raise bad_json(f"{what}: out of range")
    return kop


def quantity_milli(value: Any, what: str, default: Any = _MISSING) -> int:
    """A count (``cnt``) rounded to 3 decimals → thousandths."""
    if value is None and default is not _MISSING:
        return int(default)
    d = _number(value, what)
    milli = int((d * 1000).quantize(Decimal(1), rounding="ROUND_HALF_UP"))
    if abs(milli) > MAX_KOP:
        raise bad_json(f"{what}: out of range")
    return milli


def integer(value: Any, what: str, default: Any = _MISSING) -> int:
    if value is None and default is not _MISSING:
        return int(default)
    d = _number(value, what)
    if d != d.to_integral_value() or abs(d) > 10**15:
        raise bad_json(f"{what}: an integer")
    return int(d)


def flag(value: Any, what: str, default: bool = False) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value != 0
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "0", "false", "no", ""):
        return value.strip().lower() in ("1", "true", "yes")
    raise bad_json(f"{what}: a boolean")


def string(value: Any, what: str, default: str = "", max_len: int = 10_000) -> str:
    if value is None:
        return default
    if isinstance(value, bool):
        raise bad_json(f"{what}: a string")
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str) or len(value) > max_len:
        raise bad_json(f"{what}: a string of at most {max_len} characters")
    return value


def obj(value: Any, what: str, required: bool = False) -> dict[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise bad_json(f"{what}: an object")
    return value


def array(value: Any, what: str, max_len: int = 10_000) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > max_len:
        raise bad_json(f"{what}: a list of at most {max_len} items")
    return value


def kop_text(kop: int) -> str:
    sign = "-" if kop < 0 else ""
    kop = abs(kop)
    return f"{sign}{kop // 100}.{kop % 100:02d}"


def kop_number(kop: int) -> float:
    """Kopecks as the JSON number the DM answers (``100.5``)."""
    return round(kop / 100, 2)
