"""``serve``'s driver half: the KKT's command port on a pty, the driver service in front of it.

``start_driver(...)`` brings up, as on a shop's PC:

* the KKT's side of the serial link (``DeviceSerialEndpoint`` of
  ``emulator.net.serialport``: a pseudo-terminal whose slave path is the
  "COM port"), serving ``DeviceCommands`` on the device's thread (``run``:
  hand a function over, wait for its result, as the console and the control
  API do); unless the caller has such an endpoint already;
* the driver service (``Driver`` under uvicorn, 127.0.0.1, port 50010 by
  default): ``OpenSession``'s ``portName`` is opened with
  ``SerialDeviceLink`` — a pty path, or a COM name of the port map (``COM3``
  is the KKT's pty unless the configuration maps it elsewhere).

So a POS's command travels HTTP → driver → pyserial → pty → the device's
frame reader → the device's thread, and back, as it would to a real KKT.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from emulator.devices.kkt.device import KktDevice
from emulator.fronts.driverapi.app import Driver, make_driver_app
from emulator.fronts.driverapi.openapi import document
from emulator.fronts.ecr import results as R
from emulator.fronts.ecr.commands import DeviceCommands, Settle
from emulator.net.serialport import DeviceSerialEndpoint, PortMap, SerialDeviceLink

Runner = Callable[[Callable[[], Any]], "Future[Any]"]
DEVICE_WAIT_S = 30.0          # a command waits at most this long for the device's thread
LINK_TIMEOUT_S = DEVICE_WAIT_S + 5.0
DEFAULT_PORT = 50010
DEFAULT_COM = "COM3"


def device_handler(commands: DeviceCommands, run: Runner) -> Callable[[str, dict[str, Any]], dict[str, Any]]:
    """The serial endpoint's handler: each command on the device's thread, at most ``DEVICE_WAIT_S``."""

    def handle(command: str, args: dict[str, Any]) -> dict[str, Any]:
        future = run(lambda: commands(command, args))
        try:
            answer: dict[str, Any] = future.result(timeout=DEVICE_WAIT_S)
        except FutureTimeout:
            future.cancel()
            return R.refused(R.DEVICE_BUSY, f"the KKT did not take the command within {DEVICE_WAIT_S:.0f} s")
        return answer
    return handle


def _serve(app: Any, port: int) -> tuple[Any, threading.Thread]:
    """uvicorn on 127.0.0.1:``port`` in a thread; ``(None, thread)`` when it could not bind."""
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="kkt-driver-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    if not server.started:
        server.should_exit = True
        thread.join(timeout=5)
        return None, thread
    return server, thread


@dataclass
class DriverHalf:
    endpoint: DeviceSerialEndpoint | None
    ports: PortMap
    driver: Driver
    commands: DeviceCommands
    server: Any
    thread: threading.Thread
    url: str
    device_port: str          # the KKT's COM name in ``ports``

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
        self.driver.close_all()
        if self.endpoint is not None:
            self.endpoint.stop()


def start_driver(device: KktDevice, settle: Settle, run: Runner, *, port: int | None = None,
                 ports: PortMap | None = None, endpoint: DeviceSerialEndpoint | None = None,
                 commands: DeviceCommands | None = None, device_port: str = DEFAULT_COM,
                 say: Callable[[str], None] = print) -> DriverHalf:
    """Start the KKT's command pty (unless ``endpoint`` is given) and the driver API.

    ``port`` None is the real service's 50010, or, when something else holds it, a free port (said
    with a warning: parallel runs on one machine must not stop each other); a port given is that port
    or an ``OSError``. ``endpoint`` (serve's serial fronts: the KKT's pty serving ``commands``), ``ports``
    and ``device_port`` (its COM name) are used when given; else the KKT's own pty is started here, as
    ``device_port`` (COM3).
    """
    commands = commands or DeviceCommands(device, settle)
    own = None
    ports = ports or PortMap()
    if endpoint is None:
        own = endpoint = DeviceSerialEndpoint(device_handler(commands, run))
        endpoint.start()
        ports.add(device_port, endpoint.path)
    port_map = ports

    def open_link(name: str) -> SerialDeviceLink:
        return SerialDeviceLink(name, timeout_s=LINK_TIMEOUT_S, ports=port_map)

    driver = Driver(open_link, log=lambda text: say(f"[driver] {text}"))
    app = make_driver_app(driver, document)
    try:
        server, thread = _serve(app, DEFAULT_PORT if port is None else port)
        if server is None and port is None:
            say(f"warning: port {DEFAULT_PORT} is in use: the driver API listens on a free port instead "
                "(--driver-port PORT chooses one)")
            server, thread = _serve(app, 0)
        if server is None:
            raise OSError(f"the driver API did not start on 127.0.0.1 port {port} (is the port in use?)")
    except BaseException:
        if own is not None:
            own.stop()
        raise
    sock = server.servers[0].sockets[0].getsockname()
    return DriverHalf(own, ports, driver, commands, server, thread, f"http://{sock[0]}:{sock[1]}/api.json",
                      device_port.upper())
