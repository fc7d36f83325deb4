"""TLS errors of the device: ``TlsError`` (codes 650-653) and the classification
of real TLS/socket failures into ``emulator.net.Failure`` (codes 654-658, 748).

``classify(exc, phase)`` looks at the exception and everything chained to it
(``__cause__``, else ``__context__``), so it accepts the ``ssl``/``socket``
exceptions themselves, ``http.client``'s, and httpx's wrappers around them.
``phase`` is where the caller was: ``"connect"`` (TCP connect, and the TLS
handshake when the client does both in one call, as
``HTTPSConnection.connect`` and httpx do), ``"handshake"``, ``"write"`` or ``"read"``. An
httpx exception names its own phase (``ConnectError`` -> connect, ``ReadError``
-> read, ``WriteError`` -> write), which then wins over the caller's, except
that a caller's ``"handshake"`` stays (``ConnectError`` covers TCP and TLS).

The rules, first match wins (MODELLED: the vendor does not publish them):

====================================================  ==============================
exception in the chain                                 Failure (device code)
====================================================  ==============================
``ssl.SSLCertVerificationError`` (unknown CA,          TLS_CERT (655)
expired, host name mismatch)
``socket.gaierror``                                    RESOLVE (748)
``ConnectionRefusedError``                             REFUSED (748)
``ssl.SSLZeroReturnError``, ``ConnectionResetError``   PEER_CLOSED (658); but during
(``http.client.RemoteDisconnected`` is one),           connect/handshake (TLS not up
``BrokenPipeError``, ``ConnectionAbortedError``,       yet) TLS_HANDSHAKE (654), as a
``EOFError``, ``http.client.IncompleteRead``,          close there gives SSLEOFError;
``httpx.RemoteProtocolError``                          the HTTP-level ones are 658 always
a timeout (``TimeoutError`` = ``socket.timeout``,      TLS_HANDSHAKE (654) when it hit
httpx ``TimeoutException``)                            the handshake, else TIMEOUT (748)
other ``ssl.SSLError`` (``SSLEOFError`` included)      by phase: connect/handshake ->
and other ``OSError``                                  TLS_HANDSHAKE (654), write ->
                                                       TLS_WRITE (657), read ->
                                                       TLS_READ (656); a plain OSError
                                                       at connect -> REFUSED (748)
====================================================  ==============================

A timeout "hit the handshake" when the phase is ``"handshake"``, or when the
exception says so: ``ssl`` raises ``TimeoutError("_ssl.c:...: The handshake
operation timed out")`` and its traceback runs through ``SSLSocket.do_handshake``.

Observed over real loopback sockets (tests/tls_store/test_classify.py): ``ssl``
sockets suppress "ragged" EOFs by default (``suppress_ragged_eofs=True``, kept by
http.client and httpx), so a server that cuts a TLS record short, or closes TCP
without close_notify mid-answer, surfaces as an HTTP-level "closed without a
(complete) answer" -> PEER_CLOSED (658); an ``SSLEOFError`` while reading (656)
comes only from a strict client. A damaged record (bad record MAC) is 656.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from types import TracebackType
from typing import Any

from emulator.base import errors as E
from emulator.base.failures import Failure

try:  # httpx is optional here: only its exception types are used
    import httpx as _httpx
except ImportError:  # pragma: no cover
    _httpx = None  # type: ignore[assignment]

PHASES = ("connect", "handshake", "write", "read")


class TlsError(Exception):
    """A device TLS error: ``code`` is one of 650-658, ``message`` says what went wrong."""

    def __init__(self, code: int, message: str = "") -> None:
        self.code = code
        self.message = message
        super().__init__(code, message)

    @property
    def device_error(self) -> E.DeviceError:
        return E.error(self.code)

    @property
    def line(self) -> str:
        """The code and text as the device shows them."""
        return self.device_error.line

    def __str__(self) -> str:
        return f"{self.line}: {self.message}" if self.message else self.line


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        out.append(cur)
        cur = cur.__cause__ if cur.__cause__ is not None else cur.__context__
    return out


def _httpx_phase(chain: list[BaseException]) -> str | None:
    if _httpx is None:
        return None
    for e in chain:
        if isinstance(e, (_httpx.ConnectError, _httpx.ConnectTimeout)):
            return "connect"
        if isinstance(e, (_httpx.ReadError, _httpx.ReadTimeout)):
            return "read"
        if isinstance(e, (_httpx.WriteError, _httpx.WriteTimeout)):
            return "write"
    return None


def _traceback_has(tb: TracebackType | None, names: tuple[str, ...]) -> bool:
    while tb is not None:
        if tb.tb_frame.f_code.co_name in names:
            return True
        tb = tb.tb_next
    return False


def _hit_handshake(chain: list[BaseException]) -> bool:
    for e in chain:
        if "handshake" in str(e).lower():
            return True
        if _traceback_has(e.__traceback__, ("do_handshake",)):
            return True
    return False


def _is_timeout(e: BaseException) -> bool:
    if isinstance(e, TimeoutError):  # socket.timeout is TimeoutError since 3.10
        return True
    return _httpx is not None and isinstance(e, _httpx.TimeoutException)


def _is_peer_closed(e: BaseException) -> bool:
    if isinstance(e, (ssl.SSLZeroReturnError, ConnectionResetError, BrokenPipeError, ConnectionAbortedError,
                      EOFError, http.client.IncompleteRead, http.client.RemoteDisconnected)):
        return True
    return _httpx is not None and isinstance(e, _httpx.RemoteProtocolError)


def _is_http_level(e: BaseException) -> bool:
    """An HTTP client's "closed without (complete) answer": TLS was up, whatever phase was given."""
    if isinstance(e, (http.client.IncompleteRead, http.client.RemoteDisconnected)):
        return True
    return _httpx is not None and isinstance(e, _httpx.RemoteProtocolError)


def _first(chain: list[BaseException], pred: Any) -> BaseException | None:
    for e in chain:
        if pred(e):
            return e
    return None


def _detail(e: BaseException) -> str:
    if isinstance(e, ssl.SSLCertVerificationError) and e.verify_message:
        return f"certificate verify failed: {e.verify_message}"
    if isinstance(e, ssl.SSLError) and e.reason:
        return f"{type(e).__name__}: {e.reason}"
    text = str(e) or type(e).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def classify_detail(exc: BaseException, phase: str) -> tuple[Failure, str]:
    """The ``Failure`` for a real TLS/socket error and a short human detail."""
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {PHASES}, not {phase!r}")
    chain = _chain(exc)
    wrapped = _httpx_phase(chain)
    if wrapped is not None and not (wrapped == "connect" and phase == "handshake"):
        phase = wrapped  # httpx's ConnectError covers the handshake too: a caller's "handshake" is finer

    if (e := _first(chain, lambda x: isinstance(x, ssl.SSLCertVerificationError))) is not None:
        return Failure.TLS_CERT, _detail(e)
    if (e := _first(chain, lambda x: isinstance(x, socket.gaierror))) is not None:
        return Failure.RESOLVE, f"host name not resolved: {_detail(e)}"
    if (e := _first(chain, lambda x: isinstance(x, ConnectionRefusedError))) is not None:
        return Failure.REFUSED, "connection refused"
    if (e := _first(chain, _is_peer_closed)) is not None:
        if phase in ("connect", "handshake") and not _is_http_level(e):
            # Closed or reset before TLS was up: the handshake failed, like the EOF
            # (ssl.SSLEOFError) a plain close gives at that point -> 654 either way.
            return Failure.TLS_HANDSHAKE, f"handshake failed, closed by the server: {_detail(e)}"
        return Failure.PEER_CLOSED, f"closed by the server ({phase}): {_detail(e)}"
    if (e := _first(chain, _is_timeout)) is not None:
        if phase == "handshake" or _hit_handshake(chain):
            return Failure.TLS_HANDSHAKE, "handshake timed out"
        return Failure.TIMEOUT, f"timed out ({phase})"
    e = _first(chain, lambda x: isinstance(x, OSError)) or exc  # ssl.SSLError is an OSError
    if phase in ("connect", "handshake"):
        if isinstance(e, ssl.SSLError) or phase == "handshake" or _hit_handshake(chain):
            return Failure.TLS_HANDSHAKE, f"handshake failed: {_detail(e)}"
        return Failure.REFUSED, f"cannot connect: {_detail(e)}"
    if phase == "write":
        return Failure.TLS_WRITE, f"write failed: {_detail(e)}"
    return Failure.TLS_READ, f"read failed: {_detail(e)}"


def classify(exc: BaseException, phase: str) -> Failure:
    """The ``Failure`` (and so the device code) for a real TLS/socket error; see the module doc."""
    return classify_detail(exc, phase)[0]
