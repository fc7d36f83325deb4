"""The events the training console's pages receive: one broadcast, many server-sent-event streams.

The device thread publishes (``Hub.publish``: thread-safe, never blocks);
each page's stream has its own bounded asyncio queue on the web server's
loop. A page that falls behind loses its oldest messages, not the device's
pace: when its queue is full the oldest message goes and the page is sent a
``resync`` (it fetches the whole state again). ``delivered`` counts the
messages written to pages, ``published`` the messages published, for the
events-per-second figure.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

QUEUE = 2000


class Subscriber:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[str] = asyncio.Queue(QUEUE)
        self.dropped = 0

    def put(self, message: str) -> None:
        """On the subscriber's loop: queue ``message``, dropping the oldest when full."""
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
            if self.dropped == 1:
                message = sse("resync", {"dropped": True})
        self.queue.put_nowait(message)


def sse(event: str, data: Any) -> str:
    """One server-sent event: ``event:`` and a one-line JSON ``data:``."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


class Hub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: set[Subscriber] = set()
        self.published = 0
        self.delivered = 0

    @property
    def listeners(self) -> int:
        with self._lock:
            return len(self._subs)

    def subscribe(self, loop: asyncio.AbstractEventLoop) -> Subscriber:
        sub = Subscriber(loop)
        with self._lock:
            self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        with self._lock:
            self._subs.discard(sub)

    def publish(self, event: str, data: Any) -> None:
        """Thread-safe: send ``event`` with ``data`` (JSON-able) to every page listening now."""
        with self._lock:
            subs = list(self._subs)
        if not subs:
            return
        message = sse(event, data)
        self.published += 1
        for sub in subs:
            try:
                sub.loop.call_soon_threadsafe(sub.put, message)
            except RuntimeError:          # its loop has closed: the page is gone
                self.unsubscribe(sub)
