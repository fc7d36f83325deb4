"""Syntax rules shared by the device and the servers: host names, tokens, and how a token is masked.

``HOST_RE`` is what «АДРЕС ГИС МТ» and «АДРЕС СЕРВЕРА» accept (a DNS name with
an optional port); ``TOKEN_RE`` is the plausibility rule for a permit-mode token
(typed, scanned, read from a QR code or pushed by the technological server).
``mask_token`` is the one way a token is ever shown.
"""

from __future__ import annotations

import re

PROD_HOST = "cdn.crpt.ru"
SANDBOX_HOST = "markirovka.sandbox.crptech.ru"

DEFAULT_TECH_HOST = "rd.incotexkkm.ru"   # the vendor's technological server (seed 002)
HOST_RE = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*(?::\d{1,5})?$")
TOKEN_RE = re.compile(r"^[A-Za-z0-9._~+/=-]{8,2048}$")


def mask_token(token: str) -> str:
    """Never show a token in full: at most a quarter of it, and never more than 4 + 4 characters.

    A 36-character token shows as ``1234…9012``; a short one shows less (a 12-character
    one only its first and last character), and one of 8 characters or fewer only asterisks.
    """
    if not token:
        return ""
    if len(token) <= 8:
        return "*" * len(token)
    keep = min(4, len(token) // 8)
    return f"{token[:keep]}…{token[-keep:]}"
