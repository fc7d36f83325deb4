"""The ПРРО's offline session: 102 … 103, its numbers, its hash chain and its limits.

The tax service's rules (its published description, reference §8):

* the session's id and secret number (``OfflineSessionId``, ``OfflineSeed``)
  come with the answer to a shift opening, a new pair with the answer to a
  package holding 103; without a pair the ПРРО cannot go offline;
* a document's offline fiscal number is ``<session id>.<n>.<control number>``,
  ``n`` from 1 within the session, the control number the byte-swapped CRC-32
  of the reference (``emulator.wire.prro``);
* ``PREVDOCHASH`` is the SHA-256 of the session's previous settlement
  document (receipt, Z-report) as signed; 102 carries none, the first
  settlement document none (the chain starts with it), 103 the last one's;
* at most 36 hours a session and 168 hours a calendar month, a session's length
  being the time of its last financially significant document (receipt or
  Z-report) minus the time of 102. Past a limit the ПРРО makes no document but
  103 (blocked); under an hour left it warns (MODELLED: the hour).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from emulator.devices.prro.store import PrroStore
from emulator.rules.prro import HOUR_MS, OFFLINE_MONTH_LIMIT_MS, OFFLINE_SESSION_LIMIT_MS
from emulator.wire.prro.document import Document
from emulator.wire.prro.offline import control_number, doc_hash, fiscal_number

WARN_LEFT_MS = HOUR_MS


def _month(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m")


class OfflineSession:
    def __init__(self, store: PrroStore) -> None:
        self.store = store

    @property
    def _s(self) -> dict[str, Any]:
        return dict(self.store.get("offline", {"active": False}))

    @property
    def active(self) -> bool:
        return bool(self._s.get("active"))

    def remember_seed(self, session_id: Any, seed: Any) -> None:
        self.store.put("offline_seed", {"session_id": str(session_id), "seed": str(seed)})

    def begin(self, now_ms: int) -> str | None:
        """Start a session; a message id when it cannot be (no seed, the month's hours used)."""
        pair = self.store.get("offline_seed")
        if not pair:
            return "offline_no_seed"
        if self.month_ms(now_ms) >= OFFLINE_MONTH_LIMIT_MS:
            return "offline_limit_reached"
        self.store.put("offline", {"active": True, "session_id": pair["session_id"], "seed": pair["seed"],
                                   "begin_ms": now_ms, "last_fin_ms": now_ms, "n": 1, "prev_hash": None})
        return None

    def end(self) -> None:
        s = self._s
        used = self.store.get("offline_month", {})
        month = _month(s["begin_ms"])
        used = {month: int(used.get(month, 0)) + (s["last_fin_ms"] - s["begin_ms"])}
        with self.store.tx():
            self.store.put("offline_month", used)
            self.store.put("offline", {"active": False})
            self.store.put("offline_seed", None)     # a new pair comes with the answer to the package with 103

    def number(self, doc: Document) -> tuple[Document, str]:
        """``doc`` made an offline document of the session: its number, control number, PREVDOCHASH."""
        s = self._s
        n = int(s["n"])
        # 102 carries none; the chain restarts with each session, so the first document after 102 has none either.
        prev = None if doc.doctype == 102 and not doc.financial else s.get("prev_hash")
        doc = doc.with_(offline=True, prevdochash=prev)
        control = control_number(s["seed"], doc.date, doc.time, doc.ordernum, doc.cashregisternum, doc.cashdesknum,
                                 doc.total if doc.is_receipt else None, prev)
        number = fiscal_number(s["session_id"], n, control)
        doc = doc.with_(ordertaxnum=number)
        s["n"] = n + 1
        if doc.financial:
            s["last_fin_ms"] = doc.instant_ms
        self.store.put("offline", s)
        return doc, number

    def chain(self, doc: Document, signed: bytes) -> None:
        """After ``doc`` is stored: the hash the next settlement document carries (only these chain)."""
        if not doc.financial:
            return
        s = self._s
        s["prev_hash"] = doc_hash(signed)
        self.store.put("offline", s)

    # ------------------------------------------------------------ limits
    def session_ms(self, now_ms: int) -> int:
        s = self._s
        return now_ms - int(s["begin_ms"]) if s.get("active") else 0

    def month_ms(self, now_ms: int) -> int:
        used = self.store.get("offline_month", {})
        return int(used.get(_month(now_ms), 0)) + self.session_ms(now_ms)

    def left_ms(self, now_ms: int) -> int:
        return min(OFFLINE_SESSION_LIMIT_MS - self.session_ms(now_ms), OFFLINE_MONTH_LIMIT_MS - self.month_ms(now_ms))

    def limit_problem(self, now_ms: int) -> str | None:
        left = self.left_ms(now_ms)
        if left <= 0:
            return "offline_limit_reached"
        if left <= WARN_LEFT_MS:
            return "offline_limit_warning"
        return None

