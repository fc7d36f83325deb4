"""Moscow time: how dates are shown to people (the servers' pages, the log explainer, the benchmark's shop).

The device itself keeps its own zone setting (``tz_offset_min``, Moscow by default).
"""

from __future__ import annotations

from datetime import timedelta, timezone

MSK_OFFSET_MIN = 180
MSK = timezone(timedelta(minutes=MSK_OFFSET_MIN), "МСК")
