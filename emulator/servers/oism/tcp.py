"""The mock ОИСМ over TCP: the shared session-message front (``emulator.net.fiscaltcp``) on ``OismServer``.

``OismTcp(server).start()`` listens on loopback and accepts messages with the
ОИСМ signature only; each is answered by ``OismServer.exchange_message``
(81 → 83, 82 → 84, planned faults). Limits and timeouts: see ``FiscalTcpServer``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emulator.net.fiscaltcp import FiscalTcpServer
from emulator.servers.oism.routes import OismServer
from emulator.wire.ffd.session import OISM_SIGNATURE


class OismTcp(FiscalTcpServer):
    def __init__(self, server: OismServer, host: str = "127.0.0.1", port: int = 0,
                 now_ms: Callable[[], int] | None = None, **limits: Any) -> None:
        kwargs: dict[str, Any] = {"now_ms": now_ms} if now_ms is not None else {}
        super().__init__(server.exchange_message, host, port, name="oism", signatures=(OISM_SIGNATURE,),
                         **kwargs, **limits)
        self.server = server
