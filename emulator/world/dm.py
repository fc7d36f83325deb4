"""The Device Manager's world: the ПРРО world (clock, CA, tax server) with a DM over it, and the DM's
peers — bank terminals and receipt printers — as real TCP servers on loopback.

``DmWorld`` composes:

* ``prro`` — a ``PrroWorld`` (simulated: the tax server called in process; real: its HTTP front);
* ``dm`` — the ``DeviceManager`` on the same clock, its database in ``<dir>/dm``;
* ``add_prro(name)`` — a ПРРО ready to work: a cashier key issued and registered (no delay), the ПРРО
  registered (form 1-ПРРО), started, created in the DM with the default settings and the key loaded;
* ``add_terminal(name)`` / ``add_printer(name)`` — the emulated peer's model and its TCP front on a free
  loopback port, and the DM's link to it (the DM always talks to its peers over TCP);
* ``http()`` — the DM's HTTP front under uvicorn on loopback (started on first use).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from emulator.base.storage import private_dir
from emulator.fronts.dm.config import default_config
from emulator.fronts.dm.manager import DeviceManager, DmPrinter, DmPrro, DmTerminal, PrroConfig
from emulator.net.bankterm import OPERATION_TIMEOUT_S, BankTermLink, Journal
from emulator.net.escposlink import PrinterLink
from emulator.servers.bankterm.model import BankTerminal
from emulator.servers.bankterm.tcp import BankTermTcp
from emulator.servers.escpos.model import PrinterModel
from emulator.servers.escpos.tcp import PrinterTcp
from emulator.world.prro import PrroWorld


class DmWorld:
    def __init__(self, directory: Path | None = None, *, start_ms: int = 0, seed: int = 0,
                 network: str = "simulated") -> None:
        self._tmp = None if directory is not None else tempfile.mkdtemp(prefix="kkt-emu-dm-")
        self.directory = private_dir(Path(directory if directory is not None else self._tmp))  # type: ignore[arg-type]
        self.prro = PrroWorld(self.directory / "prro-world", start_ms=start_ms, seed=seed, network=network,
                              propagation_delay_ms=0)
        self.clock = self.prro.clock
        self.dm = DeviceManager(self.clock, self.directory / "dm")
        self.terminals: dict[str, tuple[BankTerminal, BankTermTcp]] = {}
        self.printers: dict[str, tuple[PrinterModel, PrinterTcp]] = {}
        self._http: Any = None

    # ------------------------------------------------------------ ПРРО
    def add_prro(self, name: str = "prro", *, config: PrroConfig | None = None, offline_supported: bool = True,
                 owner: str = "Романенко Данило") -> DmPrro:
        key = f"{name}-key"
        path = self.prro.issue_key(key, owner=owner, file="Key-6.dat")
        self.prro.register(key, "cashier", delay_ms=0)
        device = self.prro.add_prro(name, offline_supported=offline_supported)
        device.choose_key(str(path), "1111")
        assert device.read_key().ok and device.save_key().ok
        entry = DmPrro(name, device, config or default_config(), dev_id=len(self.dm.prros()) + 1)
        self.dm.add(entry)
        return entry

    # ------------------------------------------------------------ peers
    def add_terminal(self, name: str = "term", *, now_ms: Any = None, timeout_s: float | None = None) -> DmTerminal:
        model = BankTerminal(now_ms or (lambda: self.clock.now_ms))
        srv = BankTermTcp(model).start()
        journal = Journal(str(self.directory / "dm" / f"terminal-{name}.sqlite"), now_ms=lambda: self.clock.now_ms)
        host, port = srv.address
        link = BankTermLink(host, port, timeout_s=timeout_s or OPERATION_TIMEOUT_S, journal=journal)
        self.terminals[name] = (model, srv)
        return self.dm.add(DmTerminal(name, link))  # type: ignore[return-value]

    def add_printer(self, name: str = "prn") -> DmPrinter:
        model = PrinterModel(self.clock)
        srv = PrinterTcp(model).start()
        self.printers[name] = (model, srv)
        host, port = srv.address
        return self.dm.add(DmPrinter(name, PrinterLink(host, port)))  # type: ignore[return-value]

    # ------------------------------------------------------------ real time (kkt-emu dm serve)
    def follow_wall_clock(self, wall_ms: Any = None) -> None:
        """From now on the world's clock is brought up to the wall clock before every request of the DM
        (and by ``tick_wall_clock``, which a served DM calls every fraction of a second), never backwards."""
        import time
        wall = wall_ms or (lambda: int(time.time() * 1000))

        def sync() -> None:
            self.clock.run_until(max(self.clock.now_ms, int(wall())))
        self.dm._sync_clock = sync

    def tick_wall_clock(self) -> None:
        if self.dm._sync_clock is not None:
            with self.dm.world_lock:
                self.dm._sync_clock()

    # ------------------------------------------------------------ a kill and a restart of the DM
    def kill_dm(self) -> None:
        """The DM process dies: its HTTP front gone, its database left as committed (WAL, FULL); the
        peers (terminal, printer, tax server) live on."""
        if self._http is not None:
            self._http.stop()
            self._http = None
        self.dm.store.close()

    def restart_dm(self) -> DeviceManager:
        """A new DM over the same database and devices; each ПРРО restarted from its own state."""
        import dataclasses
        old = self.dm
        dm = DeviceManager(self.clock, self.directory / "dm", sync_clock=old._sync_clock)
        dm.cabinet = old.cabinet
        for dev in old.devices.values():
            if isinstance(dev, DmPrro):
                dev = dataclasses.replace(dev, device=self.prro.start_prro(dev.name))
            dm.add(dev)
        self.dm = dm
        return dm

    # ------------------------------------------------------------ the DM's HTTP front
    def http(self, port: int = 0) -> str:
        if self._http is None:
            from emulator.fronts.dm.app import make_app
            from emulator.net.asgihost import AsgiHost
            self._http = AsgiHost(make_app(self.dm), port=port, name="device-manager").start()
        return str(self._http.url)

    def close(self) -> None:
        if self._http is not None:
            self._http.stop()
            self._http = None
        self.dm.close()
        for _, srv in self.terminals.values():
            srv.stop()
        for _, psrv in self.printers.values():
            psrv.stop()
        self.prro.close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> DmWorld:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
