"""The ОИСМ marking-code check, modelled in-process.

Before the GIS MT permit check the device asks the ОИСМ (through the ФН and the
OFD) whether the code may change status; the outcome is tag 2106, a byte of
flags: 1 ФН checked the crypto tail, 2 it was positive, 4 the ОИСМ answered,
8 the planned status is correct, 16 checked offline (autonomous mode). Here the
answer comes from a table (code -> 2106 value, default 15 = fully positive);
the wire exchange with a real OFD/ОИСМ comes with the fiscal stack.
"""

from __future__ import annotations

from dataclasses import dataclass, field

FULLY_POSITIVE = 15
AUTONOMOUS = 16 | 2 | 1


@dataclass
class OismModel:
    values: dict[str, int] = field(default_factory=dict)
    default: int = FULLY_POSITIVE
    checks: int = 0

    def check(self, code: str, autonomous: bool) -> int:
        self.checks += 1
        if autonomous:
            return AUTONOMOUS
        return self.values.get(code, self.default)
