"""Why a request got no answer: the failure vocabulary shared by the network links and the TLS layer.

Each value maps to one device error code (``device_code``). The links (simulated
and real, HTTP and TCP) report a ``Failure`` as data; ``tls_store.errors``
classifies a real exception into one.
"""

from __future__ import annotations

import enum

from emulator.base import errors as E


class Failure(enum.Enum):
    """Why no HTTP answer arrived. Each maps to one device error code."""

    RESOLVE = "resolve"              # host name unknown
    REFUSED = "refused"              # TCP connection refused / unreachable
    TIMEOUT = "timeout"              # transport gave up waiting
    TLS_SETTINGS = "tls-settings"    # no usable root certificates
    TLS_INPUT = "tls-input"          # bad host / port given to the TLS layer
    TLS_HANDSHAKE = "tls-handshake"  # handshake failed or stalled
    TLS_CERT = "tls-cert"            # certificate check failed
    TLS_READ = "tls-read"
    TLS_WRITE = "tls-write"
    PEER_CLOSED = "peer-closed"      # server closed the connection

    @property
    def device_code(self) -> int:
        return _FAILURE_CODES[self]


_FAILURE_CODES = {
    Failure.RESOLVE: E.NO_CONNECTION,
    Failure.REFUSED: E.NO_CONNECTION,
    Failure.TIMEOUT: E.NO_CONNECTION,
    Failure.TLS_SETTINGS: E.TLS_SETTINGS,
    Failure.TLS_INPUT: E.TLS_INPUT,
    Failure.TLS_HANDSHAKE: E.TLS_CONNECT,
    Failure.TLS_CERT: E.TLS_CERT_CHECK,
    Failure.TLS_READ: E.TLS_READ,
    Failure.TLS_WRITE: E.TLS_WRITE,
    Failure.PEER_CLOSED: E.TLS_PEER_CLOSED,
}
