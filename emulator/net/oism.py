"""The device's link to the ОИСМ check (tag 2106), as a request with a callback.

The device asks ``link.request(code, deliver)`` and continues in ``deliver(tag2106)``:
the shape of a network exchange, so that the fiscal stack can put a real
OFD/ОИСМ session behind it. ``SimOismLink`` asks an in-process model and
delivers at once, within the call (the check costs no virtual time, as
before the link existed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

OismDeliver = Callable[[int], None]


class OismLink(Protocol):
    def request(self, code: str, deliver: OismDeliver) -> None: ...


class OismAnswerer(Protocol):
    def check(self, code: str) -> int: ...


class SimOismLink:
    def __init__(self, model: OismAnswerer) -> None:
        self.model = model

    def request(self, code: str, deliver: OismDeliver) -> None:
        deliver(self.model.check(code))
