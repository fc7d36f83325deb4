"""Instants and durations as people write them (scenarios, ``serve``'s configuration): to milliseconds."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any


def parse_instant(value: Any) -> int:
    """Milliseconds since the epoch from an integer or ISO 8601 text with a UTC offset."""
    if isinstance(value, bool):
        raise ValueError(f"not an instant: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"not an ISO 8601 date-time: {value!r}") from None
    else:
        raise ValueError(f"not an instant: {value!r}")
    if dt.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset (write e.g. 2026-01-15T09:00:00+03:00)")
    return int(round(dt.timestamp() * 1000))


_DURATION_PART = re.compile(r"(\d+)\s*(ms|s|m|h|d)")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def parse_duration(value: Any) -> int:
    """Milliseconds from an integer or text such as ``6h``, ``15m``, ``1500ms``, ``1h30m``."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"negative duration: {value}")
        return value
    if isinstance(value, str):
        text = value.strip()
        parts = _DURATION_PART.findall(text)
        if parts and re.fullmatch(r"(\s*\d+\s*(ms|s|m|h|d)\s*)+", text):
            return sum(int(n) * _UNIT_MS[u] for n, u in parts)
    raise ValueError(f"not a duration: {value!r} (write e.g. 6h, 15m, 2s, 1500ms or an integer of ms)")
