"""The ПРРО's link to the tax service's fiscal server: ``/fs/cmd``, ``/fs/doc``, ``/fs/pck``.

The device does no I/O of its own: it hands a request (path, body bytes,
content type) to a ``TaxLink`` and gets a ``TaxAnswer`` (HTTP status, body
bytes) back, or ``TaxLinkDown`` when no answer came (server down, refused,
timed out, the connection lost mid-answer).

* ``HttpTaxLink`` — httpx over loopback (``http://127.0.0.1:<port>/fs``; the
  tax service's plain-HTTP address has the same paths), with a timeout, TLS
  verification left on for an ``https`` address;
* ``LocalTaxLink`` — an in-process link to a server object with the same three
  entry points (``cmd``/``doc``/``pck`` taking and giving bytes), for scenarios
  on virtual time; it honours a fault plan given by the world (down, lost
  answer) the same way the real link meets them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import httpx

PATHS = ("cmd", "doc", "pck")
JSON = "application/json"
SIGNED = "application/octet-stream"


class TaxLinkDown(Exception):
    """No answer from the tax server; ``str()`` is one line saying why."""


@dataclass(frozen=True)
class TaxAnswer:
    status: int
    body: bytes


class TaxLink(Protocol):
    def post(self, path: str, body: bytes, content_type: str) -> TaxAnswer: ...


class TaxEndpoint(Protocol):
    """What a server offers an in-process link: each path as a call of bytes to (status, bytes)."""

    def handle(self, path: str, body: bytes, content_type: str) -> tuple[int, bytes]: ...


class LocalTaxLink:
    """A direct call into the server model; ``fault`` (set by the world) may drop the request or the answer.

    ``fault()`` returns ``None`` (deliver), ``"down"`` (the request never arrives)
    or ``"lost"`` (the server handles it, the answer is lost)."""

    def __init__(self, server: TaxEndpoint, fault: Callable[[str], str | None] | None = None) -> None:
        self.server = server
        self.fault = fault
        self.requests = 0

    def post(self, path: str, body: bytes, content_type: str) -> TaxAnswer:
        if path not in PATHS:
            raise ValueError(f"unknown path {path!r}")
        self.requests += 1
        what = self.fault(path) if self.fault is not None else None
        if what == "down":
            raise TaxLinkDown("the tax server does not answer (connection refused)")
        status, answer = self.server.handle(path, body, content_type)
        if what == "lost":
            raise TaxLinkDown("the connection was lost before the answer came")
        return TaxAnswer(status, answer)


class HttpTaxLink:
    """httpx to ``base_url`` (e.g. ``http://127.0.0.1:8609/fs``), one kept-alive client."""

    def __init__(self, base_url: str, *, timeout_s: float = 10.0, verify: bool | str = True) -> None:
        self.base_url = base_url.rstrip("/")
        self.client = httpx.Client(timeout=timeout_s, verify=verify, trust_env=False)
        self.requests = 0

    def post(self, path: str, body: bytes, content_type: str) -> TaxAnswer:
        if path not in PATHS:
            raise ValueError(f"unknown path {path!r}")
        self.requests += 1
        try:
            r = self.client.post(f"{self.base_url}/{path}", content=body, headers={"Content-Type": content_type})
        except httpx.HTTPError as exc:
            raise TaxLinkDown(f"{type(exc).__name__}: {' '.join(str(exc).split()) or 'no answer'}") from None
        return TaxAnswer(r.status_code, r.content)

    def close(self) -> None:
        self.client.close()
