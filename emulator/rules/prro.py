"""The Ukrainian ПРРО's rules shared by the device, the mock CA and the mock tax server.

Roles: the signature types of form 5-ПРРО («Касир», «Старший касир») and the
director (the taxpayer's manager, who signs the forms). Offline limits and
package/message limits are the tax service's published description (ЄВПЕЗ API,
08.08.2025): 36 hours per offline session, 168 hours per calendar month, at
most 100 documents in a package, at most 200 KB per message (uncompressed).
The warning days are the seeds': check a key's expiry at least 14 days ahead;
no going offline when the key expires in under 3 days (Vchasno's 1117).
"""

from __future__ import annotations

from enum import StrEnum

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

OFFLINE_SESSION_LIMIT_MS = 36 * HOUR_MS
OFFLINE_MONTH_LIMIT_MS = 168 * HOUR_MS
PACKAGE_MAX_DOCUMENTS = 100
MESSAGE_MAX_BYTES = 200 * 1024

KEY_EXPIRY_WARNING_MS = 14 * DAY_MS
OFFLINE_KEY_MIN_VALIDITY_MS = 3 * DAY_MS

# The tax service's propagation delay after «Квитанція №2» (seeds: "from 15 minutes to several hours").
DEFAULT_PROPAGATION_DELAY_MS = 15 * 60_000


class Role(StrEnum):
    """Who a key belongs to: the signature type chosen in form 5-ПРРО, or the manager."""

    DIRECTOR = "director"
    CASHIER = "cashier"
    SENIOR_CASHIER = "senior_cashier"

    @property
    def label(self) -> str:
        """The role as the tax service's forms name it."""
        return ROLE_LABELS[self]

    @property
    def chief(self) -> bool:
        """True for the roles the server treats as «ChiefCashier» (may close another key's shift)."""
        return self in (Role.SENIOR_CASHIER, Role.DIRECTOR)


ROLE_LABELS = {Role.DIRECTOR: "Керівник", Role.CASHIER: "Касир", Role.SENIOR_CASHIER: "Старший касир"}
