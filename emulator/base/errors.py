"""The device error table (codes 650-658 and 747-768), read from ``data/errors.yaml``.

The texts are the vendor's, reproduced exactly; the causes are the emulator's
model of when each code arises (the vendor does not publish that mapping).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml


@dataclass(frozen=True)
class DeviceError:
    code: int
    group: str  # "tls" or "permit"
    text: str
    cause: str

    @property
    def line(self) -> str:
        """The code and text as the device shows them: ``758 Продажа товара ...``."""
        return f"{self.code} {self.text}"


@lru_cache(maxsize=1)
def error_table() -> dict[int, DeviceError]:
    raw = yaml.safe_load(resources.files("emulator").joinpath("data/errors.yaml").read_text("utf-8"))
    table = {int(r["code"]): DeviceError(int(r["code"]), r["group"], r["text"], r["cause"]) for r in raw}
    return dict(sorted(table.items()))


def error(code: int) -> DeviceError:
    try:
        return error_table()[code]
    except KeyError:
        raise KeyError(f"no device error {code}") from None


# Names for the codes the core raises, so that code reads as the domain does.
NO_ACTIVE_CDN = 747
NO_CONNECTION = 748
SETTINGS_ERROR = 749
PARSE_ERROR = 750
NOT_FOUND = 751
NOT_APPLIED = 752
CRYPTO_FAILED = 753
WITHDRAWN = 754
BLOCKED_BY_OGV = 755
NOT_IN_CIRCULATION = 756
EXPIRED = 757
PRICE_VS_MRP = 758
REMOTE_ERROR = 760
INVALID_TOKEN = 761
EMERGENCY = 762
NO_AVAILABLE_CDN = 764
BAD_REQUEST = 765
CROSS_BORDER_DOWN = 766
ATTEMPTS_EXHAUSTED = 768

# MODELLED, not a vendor code: the vendor's list has none for a marking code scanned a second time into
# the same receipt (the operator's extra checks forbid it). The device refuses the scan before any request
# and shows this number with the message ``duplicate_code`` of ``firmware_menu/menu.yaml``.
DUPLICATE_IN_RECEIPT = 790

TLS_NO_ROOM = 650
TLS_SETTINGS = 651
TLS_CERT_LOAD = 652
TLS_INPUT = 653
TLS_CONNECT = 654
TLS_CERT_CHECK = 655
TLS_READ = 656
TLS_WRITE = 657
TLS_PEER_CLOSED = 658
