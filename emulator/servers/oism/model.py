"""The ОИСМ marking-code check, modelled in-process.

Before the GIS MT permit check the device asks the ОИСМ (through the ФН and the
OFD) whether the code may change status; the outcome is tag 2106
(``emulator.rules.tag2106``). Here the answer comes from a table (code -> 2106
value, default 15 = fully positive); the device reaches it through an
``OismLink`` (``emulator.net.oism``). The wire exchange with a real OFD/ОИСМ
comes with the fiscal stack.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from emulator.rules.tag2106 import FULLY_POSITIVE


@dataclass
class OismModel:
    values: dict[str, int] = field(default_factory=dict)
    default: int = FULLY_POSITIVE
    checks: int = 0

    def check(self, code: str) -> int:
        self.checks += 1
        return self.values.get(code, self.default)
