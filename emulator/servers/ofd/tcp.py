"""The mock OFD over TCP: the shared session-message front (``emulator.net.fiscaltcp``) on ``OfdModel``.

``OfdTcp(model).start()`` listens on loopback; every message read whole goes
to ``model.exchange_message`` and its answer (acknowledgement, refusal or a
planned fault) goes back. Limits and timeouts: see ``FiscalTcpServer``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emulator.net.fiscaltcp import FiscalTcpServer
from emulator.servers.ofd.model import OfdModel
from emulator.wire.ffd.session import OFD_SIGNATURE


class OfdTcp(FiscalTcpServer):
    def __init__(self, model: OfdModel, host: str = "127.0.0.1", port: int = 0,
                 now_ms: Callable[[], int] | None = None, **limits: Any) -> None:
        kwargs: dict[str, Any] = {"now_ms": now_ms} if now_ms is not None else {}
        super().__init__(model.exchange_message, host, port, name="ofd", signatures=(OFD_SIGNATURE,),
                         **kwargs, **limits)
        self.model = model
