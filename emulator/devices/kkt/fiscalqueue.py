"""What the fiscal unit's two queues (OFD, ОИСМ notifications) share: reading a reply, the retry schedule.

    reply_document(bytes)  the envelope and document of a reply; ``FfdError`` otherwise
    answer_of(result)      the same from a ``LinkResult``, or the problem as text
    Backoff                ``RETRY_FIRST_MS``, doubling up to ``RETRY_MAX_MS`` (MODELLED)
"""

from __future__ import annotations

from collections.abc import Callable

from emulator.base.clock import Timer, VirtualClock
from emulator.net.ofdlink import LinkResult
from emulator.wire.ffd.document import Document
from emulator.wire.ffd.envelope import Opened, open_message
from emulator.wire.ffd.tlv import FfdError

RETRY_FIRST_MS = 60_000
RETRY_MAX_MS = 3600_000


def reply_document(reply: bytes) -> tuple[Opened, Document]:
    """The envelope and the document of a reply message; ``FfdError`` for anything else."""
    opened = open_message(reply)
    return opened, Document.decode(opened.document)


def answer_of(result: LinkResult) -> tuple[Opened, Document] | str:
    """The envelope and document of a link's reply, or what was wrong (no answer, garbage)."""
    if result.reply is None:
        return f"{result.failure} {result.detail}".strip()
    try:
        return reply_document(result.reply)
    except FfdError as exc:
        return f"garbage answer: {exc}"


class Backoff:
    """A queue's retry schedule: ``RETRY_FIRST_MS``, doubling up to ``RETRY_MAX_MS`` (MODELLED)."""

    def __init__(self, clock: VirtualClock, label: str) -> None:
        self.clock = clock
        self.label = label
        self.ms = RETRY_FIRST_MS
        self._timer: Timer | None = None

    def reset(self) -> None:
        self.ms = RETRY_FIRST_MS

    def later(self, again: Callable[[], None]) -> int:
        """``again()`` after the current delay, which then doubles; the delay in seconds."""
        seconds = self.ms // 1000
        self._timer = self.clock.call_later(self.ms, lambda: self._fire(again), self.label)
        self.ms = min(self.ms * 2, RETRY_MAX_MS)
        return seconds

    def _fire(self, again: Callable[[], None]) -> None:
        self._timer = None
        again()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
