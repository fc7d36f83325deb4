"""The ПРРО's link to the tax service's fiscal server: ``/fs/cmd``, ``/fs/doc``, ``/fs/pck``.

The device does no I/O of its own: it hands a request (path, body bytes,
content type) to a ``TaxLink`` and gets a ``TaxAnswer`` (HTTP status, body
bytes) back, or ``TaxLinkDown`` when no answer came (server down, refused,
timed out, the connection lost mid-answer).

* ``HttpTaxLink`` — httpx over loopback (``http://127.0.0.1:<port>/fs``; the
  tax service's plain-HTTP address has the same paths), with a timeout, TLS
  verification left on for an ``https`` address;
* ``LocalTaxLink`` — an in-process link to the server model's own gate
  (``request(path, body, content_type=…)``, the one its HTTP front calls), for
  scenarios on virtual time; the server's fault plan (down, lost answer)
  reaches the device as it would over HTTP.
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


class ServerAnswer(Protocol):
    @property
    def status(self) -> int: ...
    @property
    def body(self) -> bytes: ...
    @property
    def fault(self) -> str | None: ...
    @property
    def delay_ms(self) -> int: ...


class TaxEndpoint(Protocol):
    """What a server offers an in-process link: the one gate its HTTP front uses too."""

    def request(self, path: str, body: bytes, *, content_type: str = ...) -> ServerAnswer: ...


class LocalTaxLink:
    """A direct call into the server model, on virtual time.

    The server's fault plan decides what arrives: ``refuse`` / ``close`` /
    ``stall`` (nothing processed) and ``lost-answer`` (processed, the answer
    lost) are ``TaxLinkDown`` here as they are over HTTP; a planned latency
    moves the virtual clock (``advance``) by that much."""

    def __init__(self, server: TaxEndpoint, advance: Callable[[int], None] | None = None) -> None:
        self.server = server
        self.advance = advance
        self.requests = 0

    def post(self, path: str, body: bytes, content_type: str) -> TaxAnswer:
        if path not in PATHS:
            raise ValueError(f"unknown path {path!r}")
        self.requests += 1
        answer = self.server.request(f"/fs/{path}", body, content_type=content_type)
        if answer.delay_ms and self.advance is not None:
            self.advance(answer.delay_ms)
        if answer.fault == "lost-answer":
            raise TaxLinkDown("the connection was lost before the answer came")
        if answer.fault is not None:
            raise TaxLinkDown(f"the tax server does not answer ({answer.fault})")
        return TaxAnswer(answer.status, answer.body)


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
