"""A KKT on the simulated network behind the driver API, in process (the DirectLink)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from emulator.fronts.driverapi.app import DirectLink, Driver, LinkRefused
from emulator.fronts.ecr.commands import DeviceCommands
from emulator.fronts.operator import Operator
from emulator.servers.trueapi import TrueApiBackend
from emulator.servers.trueapi.catalogue import Catalogue
from emulator.world.root import World

TOKEN = "7f0c0d6e-3b1a-4c53-9a8e-5d2f0e9b1c42"
CODE = "010469999010001021Shop01ok\x1d93Tl01"


def b64(code: str) -> str:
    return base64.b64encode(code.encode()).decode()


class Rig:
    def __init__(self, tmp_path: Path, *, settings: dict[str, Any] | None = None) -> None:
        backend = TrueApiBackend(seed=1)
        backend.add_token("prod", TOKEN)
        for entry in Catalogue.shop():
            backend.add_code(entry)
        self.backend = backend
        self.world = World.build("simulated", 1_768_456_800_000, backend, drive_secret=b"x" * 32)
        self.device = self.world.new_device(tmp_path / "dev")
        self.device.settings.token = TOKEN
        for k, v in (settings or {}).items():
            setattr(self.device.settings, k, v)
        op = Operator(self.device, lambda: self.world.settle(lambda: self.device.waiting, 15_000))
        op.status_check()
        op.press("С")
        self.gismt_checks = 0
        check = self.device.gismt.check

        def counted(*args: Any, **kw: Any) -> Any:
            self.gismt_checks += 1
            return check(*args, **kw)
        self.device.gismt.check = counted     # type: ignore[method-assign]
        self.commands = DeviceCommands(self.device, self.world.settle)
        self.driver = Driver(self.open)
        self.key = ""

    def open(self, port: str) -> DirectLink:
        if port != "COM3":
            raise LinkRefused("port-missing", f"no such port {port}")
        return DirectLink(self.commands)

    def call(self, command: str, **fields: Any) -> dict[str, Any]:
        return self.driver.handle({"sessionKey": self.key, "command": command, **fields})

    def session(self) -> Rig:
        answer = self.driver.handle({"sessionKey": None, "command": "OpenSession", "portName": "COM3"})
        assert answer["result"] == 0, answer
        self.key = answer["sessionKey"]
        return self

    def shift(self) -> Rig:
        self.session()
        assert self.call("OpenShift", cashierInfo={"cashierName": "Иванова"})["result"] == 0
        return self

    def backend_requests(self) -> int:
        """The GIS MT checks the device has started."""
        return self.gismt_checks

    def close(self) -> None:
        self.world.close()
