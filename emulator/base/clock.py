"""The virtual clock: the only source of time for the device and the mock servers.

Time is an integer number of milliseconds since the Unix epoch (UTC), so that
values such as ``reqTimestamp`` come straight from it. Timers live in a heap of
``(due, seq, timer)``; ``seq`` grows with every scheduling call, so timers due at
the same millisecond fire in the order they were scheduled. Nothing here reads
the wall clock: a run is a pure function of its inputs.

A real-time driver (used when people watch the device live) only changes how the
clock steps: it calls ``run_until(wall_now)`` in a loop.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

Callback = Callable[[], None]


@dataclass(eq=False)
class Timer:
    due: int
    seq: int
    callback: Callback
    label: str = ""
    cancelled: bool = field(default=False)

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock:
    """Integer-millisecond clock with a deterministic timer queue."""

    def __init__(self, start_ms: int = 0) -> None:
        self._now = int(start_ms)
        self._seq = 0
        self._heap: list[tuple[int, int, Timer]] = []
        self.fired = 0  # timers run so far; a cheap progress measure for benchmarks

    @property
    def now_ms(self) -> int:
        return self._now

    def call_at(self, due_ms: int, callback: Callback, label: str = "") -> Timer:
        due = max(int(due_ms), self._now)
        self._seq += 1
        timer = Timer(due, self._seq, callback, label)
        heapq.heappush(self._heap, (due, self._seq, timer))
        return timer

    def call_later(self, delay_ms: int, callback: Callback, label: str = "") -> Timer:
        if delay_ms < 0:
            raise ValueError(f"negative delay: {delay_ms}")
        return self.call_at(self._now + int(delay_ms), callback, label)

    def next_due(self) -> int | None:
        while self._heap and self._heap[0][2].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def pending(self) -> int:
        return sum(1 for _, _, t in self._heap if not t.cancelled)

    def step(self) -> bool:
        """Run the next due timer, moving time forward to it. False when idle."""
        due = self.next_due()
        if due is None:
            return False
        _, _, timer = heapq.heappop(self._heap)
        self._now = due
        self.fired += 1
        timer.callback()
        return True

    def run_until(self, t_ms: int) -> None:
        """Run every timer due at or before ``t_ms``, then set the time to ``t_ms``."""
        t_ms = int(t_ms)
        if t_ms < self._now:
            raise ValueError(f"time cannot go back: {t_ms} < {self._now}")
        while True:
            due = self.next_due()
            if due is None or due > t_ms:
                break
            self.step()
        self._now = t_ms

    def advance(self, ms: int) -> None:
        if ms < 0:
            raise ValueError(f"negative advance: {ms}")
        self.run_until(self._now + int(ms))

    def run_until_idle(self, limit: int = 1_000_000) -> int:
        """Run timers until none is left; ``limit`` guards against periodic timers."""
        n = 0
        while n < limit and self.step():
            n += 1
        if n >= limit and self.next_due() is not None:
            raise RuntimeError(f"clock not idle after {limit} timers")
        return n

    def run_while(self, condition: Callable[[], bool], max_ms: int) -> bool:
        """Step timers while ``condition()`` holds, for at most ``max_ms`` of virtual time.

        Returns True when the condition became false. Used to let the device
        finish what it is waiting for (a network answer, a deadline) without
        also running far-off periodic timers.
        """
        deadline = self._now + int(max_ms)
        while condition():
            due = self.next_due()
            if due is None or due > deadline:
                return not condition()
            self.step()
        return True
