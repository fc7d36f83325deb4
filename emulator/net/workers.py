"""Blocking I/O off the device's thread: a worker pool whose results come back as posted work.

The device core is single-threaded. A real link runs each blocking call
(an HTTP request, a TCP exchange) on a worker of its ``LinkWorkers`` and hands
the outcome back through ``post`` (the real-time driver's queue), so the
device sees it on its own thread at the virtual time it arrives. The real
HTTP transport and the technological server's TCP link share this.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

R = TypeVar("R")
Post = Callable[[Callable[[], None]], None]
log = logging.getLogger("kkt_emu.net.workers")


class LinkWorkers:
    def __init__(self, post: Post, workers: int, name: str) -> None:
        self.post = post
        self.name = name
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)

    def run(self, work: Callable[[], R], deliver: Callable[[R], None],
            fail: Callable[[Exception], R] | None = None) -> None:
        """``work()`` on a worker; then ``deliver(result)`` on the device's thread. An exception ``work``
        lets out (a defect: the links turn every I/O failure into a result) is logged with its traceback
        and, with ``fail``, delivered as ``fail(exc)`` — the device never waits for an answer that
        cannot come."""
        def job() -> None:
            try:
                result = work()
            except Exception as exc:
                log.exception("%s: a link worker failed", self.name)
                if fail is None:
                    return
                result = fail(exc)
            self.post(lambda: deliver(result))

        self._pool.submit(job)

    def submit(self, work: Callable[[], None]) -> None:
        """``work()`` on a worker; it posts what it has to say itself."""
        self._pool.submit(work)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
