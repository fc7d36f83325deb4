"""Tag 2106 (the result of checking a marking code), a byte of flags of FFD 1.2.

1 the ФН checked the crypto tail, 2 that check was positive, 4 the ОИСМ
answered, 8 the planned status is correct, 16 checked offline (autonomous
mode: the ФН alone, no ОИСМ).
"""

from __future__ import annotations

FN_CHECKED = 1
FN_POSITIVE = 2
OISM_ANSWERED = 4
STATUS_CORRECT = 8
OFFLINE = 16

FULLY_POSITIVE = FN_CHECKED | FN_POSITIVE | OISM_ANSWERED | STATUS_CORRECT   # 15
AUTONOMOUS = OFFLINE | FN_POSITIVE | FN_CHECKED                               # 19
