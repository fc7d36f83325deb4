"""serve's serial ports: the KKT's port for the driver service and the scanner's port, both pseudo-terminals.

Configuration (the ``serial`` section of serve's configuration file; flags override)::

    serial:
      device_port: COM3        # the COM name the driver's OpenSession(portName) may use for the KKT
      scanner: true            # the barcode scanner's pty (false: none)
      scanner_prefix: ""       # stripped from each code where present (a name: CR LF CRLF TAB NONE, or the text)
      scanner_suffix: CR       # ends each code (default CR)
      ports:                   # more COM names for existing ports (a real adapter, a socat pty)
        COM5: /dev/ttyUSB0

The ptys get new numbers every start; ``links_dir`` (``<state>/serial``) holds
a symlink per port (``COM3`` → ``/dev/pts/7``, ``scanner`` → ...) so that a
program may be pointed at a fixed path.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from emulator.fronts.scanner import ScannerPort, parse_affix
from emulator.net.serialport import COM_NAME, DeviceSerialEndpoint, Handler, PortMap

log = logging.getLogger("kkt_emu.serial")

SERIAL_KEYS = ("device_port", "scanner", "scanner_prefix", "scanner_suffix", "ports")


def check_serial_config(data: Any, where: str) -> dict[str, Any]:
    """The ``serial`` section checked; ValueError with one line naming the key."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{where}: serial: a mapping of {', '.join(SERIAL_KEYS)}")
    unknown = sorted(str(k) for k in data if k not in SERIAL_KEYS)
    if unknown:
        raise ValueError(f"{where}: serial: unknown keys {unknown} (known: {', '.join(SERIAL_KEYS)})")
    out: dict[str, Any] = {}
    port = data.get("device_port", "COM3")
    if not isinstance(port, str) or not COM_NAME.match(port):
        raise ValueError(f"{where}: serial.device_port: {port!r} is not COM1..COM999")
    out["device_port"] = port.upper()
    scanner = data.get("scanner", True)
    if not isinstance(scanner, bool):
        raise ValueError(f"{where}: serial.scanner: true or false, not {scanner!r}")
    out["scanner"] = scanner
    for key, default in (("scanner_prefix", ""), ("scanner_suffix", "CR")):
        value = data.get(key, default)
        if not isinstance(value, str):
            raise ValueError(f"{where}: serial.{key}: a string, not {value!r}")
        out[key] = parse_affix(value, key.split("_")[1])
    ports = data.get("ports") or {}
    if not isinstance(ports, dict):
        raise ValueError(f"{where}: serial.ports: a mapping of COM names to device paths")
    for name, path in ports.items():
        if not isinstance(name, str) or not COM_NAME.match(name) or name.upper() == out["device_port"]:
            raise ValueError(f"{where}: serial.ports: {name!r} is not a free COM name (COM1..COM999, "
                             f"not the device's {out['device_port']})")
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"{where}: serial.ports.{name}: {path!r} is not an absolute device path")
    out["ports"] = {str(k).upper(): str(v) for k, v in ports.items()}
    return out


class SerialFronts:
    """The device's serial endpoint (serving ``handler``) and the scanner (feeding ``scan``), with the COM map."""

    def __init__(self, config: dict[str, Any], links_dir: Path | None = None) -> None:
        self.config = check_serial_config(config, "serial")   # idempotent: a checked one passes as it is
        self.links_dir = links_dir
        self.ports = PortMap(self.config.get("ports", {}))
        self.device: DeviceSerialEndpoint | None = None
        self.scanner: ScannerPort | None = None
        self._links: list[Path] = []

    def start(self, handler: Handler, scan: Callable[[str], None]) -> None:
        self.device = DeviceSerialEndpoint(handler)
        self.device.start()
        self.ports.add(self.config["device_port"], self.device.path)
        self._link(self.config["device_port"], self.device.path)
        if self.config.get("scanner", True):
            self.scanner = ScannerPort(scan, self.config.get("scanner_prefix", ""),
                                       self.config.get("scanner_suffix", "\r"))
            self.scanner.start()
            self._link("scanner", self.scanner.path)

    def _link(self, name: str, target: str) -> None:
        if self.links_dir is None:
            return
        try:
            self.links_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            link = self.links_dir / name
            tmp = self.links_dir / f".{name}.new"
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            os.symlink(target, tmp)
            os.replace(tmp, link)
            self._links.append(link)
        except OSError as exc:
            log.warning("serial: cannot link %s in %s: %s", name, self.links_dir, exc.strerror or exc)

    def banner(self) -> list[str]:
        lines = []
        if self.device is not None:
            lines.append(f"KKT serial port (framing modelled): {self.device.path}  = {self.config['device_port']}"
                         + (f"  ({self.links_dir / self.config['device_port']})" if self.links_dir else ""))
        if self.scanner is not None:
            sfx = self.config.get("scanner_suffix", "\r").encode("unicode_escape").decode()
            lines.append(f"scanner port: {self.scanner.path}  (write a code + {sfx}, GS as 0x1D)"
                         + (f"  ({self.links_dir / 'scanner'})" if self.links_dir else ""))
        for name, path in sorted(self.config.get("ports", {}).items()):
            lines.append(f"  {name} -> {path}")
        return lines

    def stop(self) -> None:
        for part in (self.device, self.scanner):
            if part is not None:
                part.stop()
        for link in self._links:
            with contextlib.suppress(OSError):
                link.unlink()
        self._links.clear()
