"""The Device Manager's link to the Vchasno.Kasa cabinet: the one call the DM makes, reading a ПРРО's
settings and billing with its token (``POST /api/v1/dm/prro``, ``Authorization: Bearer <token>``).

``prro(token, dm_version)`` gives a ``CabinetAnswer`` (the HTTP status and the JSON object, ``None`` when the
body is not one) or raises ``VchasnoDown`` when no answer came (refused, timed out, the connection lost):

* ``HttpVchasnoLink`` — httpx to the cabinet's address with a timeout (TLS verification on for ``https``);
* ``LocalVchasnoLink`` — an in-process call into the cabinet model's gate (the one its HTTP front calls),
  for worlds on virtual time; the cabinet's fault plan reaches the DM as it would over HTTP, a planned
  latency moves the virtual clock.

The token goes in a header only, never in a URL or a log line (``mask``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

PRRO_PATH = "/api/v1/dm/prro"
MAX_ANSWER = 256 * 1024


class VchasnoDown(Exception):
    """No answer from the cabinet; ``str()`` is one line saying why."""


@dataclass(frozen=True)
class CabinetAnswer:
    status: int
    data: dict[str, Any] | None        # None: the body is not a JSON object


def mask(secret: str) -> str:
    """A secret as logs and answers may show it: its first four characters and its length."""
    return f"{secret[:4]}…({len(secret)})" if len(secret) > 8 else "…"


def _read(status: int, body: bytes) -> CabinetAnswer:
    try:
        data = json.loads(body[:MAX_ANSWER].decode("utf-8")) if len(body) <= MAX_ANSWER else None
    except (UnicodeDecodeError, ValueError, RecursionError):
        data = None
    return CabinetAnswer(status, data if isinstance(data, dict) else None)


class VchasnoLink(Protocol):
    def prro(self, token: str, dm_version: str) -> CabinetAnswer: ...


class ServerAnswer(Protocol):
    @property
    def status(self) -> int: ...
    @property
    def body(self) -> bytes: ...
    @property
    def fault(self) -> str | None: ...
    @property
    def delay_ms(self) -> int: ...


class CabinetEndpoint(Protocol):
    def request(self, method: str, path: str, body: bytes, *, token: str = ...) -> ServerAnswer: ...


class LocalVchasnoLink:
    def __init__(self, server: CabinetEndpoint, advance: Callable[[int], None] | None = None) -> None:
        self.server = server
        self.advance = advance
        self.requests = 0

    def prro(self, token: str, dm_version: str) -> CabinetAnswer:
        self.requests += 1
        answer = self.server.request("POST", PRRO_PATH, json.dumps({"dm_version": dm_version}).encode(),
                                     token=token)
        if answer.delay_ms and self.advance is not None:
            self.advance(answer.delay_ms)
        if answer.fault is not None:
            raise VchasnoDown(f"the cabinet does not answer ({answer.fault})")
        return _read(answer.status, answer.body)


class HttpVchasnoLink:
    """httpx to ``base_url`` (e.g. ``http://127.0.0.1:8650``), one kept-alive client."""

    def __init__(self, base_url: str, *, timeout_s: float = 10.0, verify: bool | str = True) -> None:
        self.base_url = base_url.rstrip("/")
        self.client = httpx.Client(timeout=timeout_s, verify=verify, trust_env=False)
        self.requests = 0

    def prro(self, token: str, dm_version: str) -> CabinetAnswer:
        self.requests += 1
        try:
            r = self.client.post(f"{self.base_url}{PRRO_PATH}", json={"dm_version": dm_version},
                                 headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            raise VchasnoDown(f"{type(exc).__name__}: {' '.join(str(exc).split())[:200] or 'no answer'}") from None
        return _read(r.status_code, r.content)

    def close(self) -> None:
        self.client.close()
