"""The fault plan of one host of a mock server: what goes wrong, request by request.

Every mock server (the True API hosts now, the technological server and the
OFD later) keeps one ``FaultPlan`` per host it serves. The plan is data the
server consults; it does no I/O and reads no clock:

* latency: ``latency_ms`` for every request, or ``latency_seq``, one value per
  request whose last value sticks (``next_latency()`` consumes it);
* the plan items, consumed one per request (``next_item()``); ``repeat``
  cycles them. An item is ``"ok"`` (answer normally), an HTTP status 100-599
  (answer that status instead; 200 is ``"ok"``), a transport fault of
  ``TRANSPORT_ITEMS`` (``refuse``: the connection is refused or reset before
  any byte, ``close``: the connection ends in the middle of the answer,
  ``stall``: nothing ever comes), or one of the words the server itself
  understands (``FaultPlan(words=...)``: the True API's ``garbage``,
  ``truncated``...);
* switches: ``down`` (the host refuses every connection; nothing of the plan
  is consumed) and ``tls_fault``, a fault of the host's real TLS server
  (one of ``TLS_FAULTS``; the simulated network does not model TLS).

An item is checked when the plan is set (``plan()`` raises ``ValueError``) and
again when it is consumed, since a caller may have changed ``items`` directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

PlanItem = int | str

OK = "ok"
TRANSPORT_ITEMS = frozenset({"refuse", "close", "stall"})
CERT_FAULTS = ("unknown-ca", "expired", "wrong-host")
TLS_FAULTS = (*CERT_FAULTS, "stall")    # "stall": the TLS handshake never gets an answer


@dataclass(eq=False, slots=True)
class FaultPlan:
    """Latency, plan items and switches of one served host (see the module docstring)."""

    words: frozenset[str] = frozenset()    # the serving mock's own plan words, besides ok and TRANSPORT_ITEMS
    latency_ms: int = 0
    latency_seq: list[int] = field(default_factory=list)   # one per request; the last value sticks
    items: list[PlanItem] = field(default_factory=list)
    repeat: bool = False
    down: bool = False
    tls_fault: str | None = None           # one of TLS_FAULTS, applied by the host's real server

    def allowed(self) -> frozenset[str]:
        return self.words | TRANSPORT_ITEMS | {OK}

    def check(self, item: object) -> None:
        """Raise ``ValueError`` unless ``item`` is an HTTP status 100-599 or an allowed word."""
        if isinstance(item, bool) or not (
                (isinstance(item, int) and 100 <= item <= 599) or (isinstance(item, str) and item in self.allowed())):
            raise ValueError(f"bad fault-plan item {item!r}: an HTTP status 100-599 or one of {sorted(self.allowed())}")

    def plan(self, items: Iterable[PlanItem], repeat: bool = False) -> None:
        """Replace the plan items. Items are consumed one per request; ``repeat`` cycles them."""
        items = list(items)
        for item in items:
            self.check(item)
        self.items = items
        self.repeat = repeat

    def next_latency(self) -> int:
        seq = self.latency_seq
        if seq:
            return int(seq.pop(0)) if len(seq) > 1 else int(seq[0])
        return int(self.latency_ms)

    def next_item(self) -> PlanItem:
        """The plan item for this request (``"ok"`` when the plan is empty; 200 stays 200)."""
        if not self.items:
            return OK
        item = self.items.pop(0)
        if self.repeat:
            self.items.append(item)
        self.check(item)
        return 200 if item == 200 else item

    def head(self) -> PlanItem | None:
        """The item the next request will get, without consuming it (None: the plan is empty)."""
        return self.items[0] if self.items else None
