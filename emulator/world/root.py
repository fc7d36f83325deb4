"""``World``: the one place where the clock, the servers, the network and the devices are put together.

A world is built on one of two networks:

* **simulated** — the device's requests go to the server models in-process
  (``SimulatedNetwork``, ``SimTechLink``); latencies and faults are clock
  events; nothing touches a socket, so a run is a pure function of its inputs;
* **real** — the mock True API hosts are HTTPS servers on 127.0.0.x with
  certificates of a lab CA (``TrueApiServers``), the device talks to them with
  httpx over real TLS (``RealNetwork``), the technological server is a TCP
  server on loopback (``TechServerTcp`` + ``TcpTechLink``), and a
  ``RealTimeDriver`` steps the clock with the wall clock while anything is on
  the wire. ``serve`` builds its world with its own servers (fixed addresses,
  a lab CA and databases kept in its state directory) and hands them in.

Data flows one way: the spec (a scenario's ``world``/``device`` or
``serve``'s configuration) → the server models → the network → the device.
The scenario runner, ``serve`` and the benchmarks build their worlds here;
none of them wires servers, links and devices by itself.

What a world offers its users: ``new_device()`` (a ``KktDevice`` on this
world's network, ОИСМ and technological link; a power cycle is a new device on
the same directory), ``settle(condition)`` (let time pass while the device
waits, on either network), ``advance(ms)`` (virtual time; on the real network
timers that send something get their real answers first), ``change(fn)``
(change the server models while the servers run) and ``close()``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emulator.base.clock import VirtualClock
from emulator.devices.fn.errors import DamagedArchive
from emulator.devices.fn.model import FiscalDrive, archive_path
from emulator.devices.kkt.device import KktDevice
from emulator.devices.kkt.fiscal import FiscalUnit
from emulator.devices.kkt.fiscaldocs import Identity
from emulator.net.ofdlink import FiscalLink, SimFiscalLink, TcpFiscalLink
from emulator.net.oism import SimOismLink
from emulator.net.real import RealNetwork, RealTimeDriver
from emulator.net.simulated import SimulatedNetwork
from emulator.net.techlink import SimTechLink, TcpTechLink
from emulator.servers.ofd.model import OfdModel
from emulator.servers.oism.model import OismModel
from emulator.servers.oism.routes import OismServer
from emulator.servers.techserver.model import TechServer
from emulator.servers.techserver.session import Session
from emulator.servers.trueapi import TrueApiBackend
from tls_store.lab_ca import LabCA

if TYPE_CHECKING:
    from emulator.servers.ofd.tcp import OfdTcp
    from emulator.servers.oism.tcp import OismTcp
    from emulator.servers.techserver.tcp import TechServerTcp
    from emulator.servers.trueapi.servers import TrueApiServers

NETWORKS = ("simulated", "real")
OFD_TIMEOUT_MS = 10_000          # the device's deadline for an OFD acknowledgement (MODELLED)
OISM_TIMEOUT_MS = 1_000          # ... for the ОИСМ answer, before GIS MT is asked (MODELLED)


class WorldError(Exception):
    """The world cannot do what was asked (a TLS fault on the simulated network, ...)."""


@dataclass
class TechWorld:
    """The technological server of a world: its model, the device's link, and (real network) its TCP front."""

    model: TechServer
    link: SimTechLink | TcpTechLink
    tcp: TechServerTcp | None = None

    def close(self) -> None:
        if self.tcp is not None:
            if isinstance(self.link, TcpTechLink):
                self.link.shutdown()
            self.tcp.stop()
        self.model.close()


@dataclass
class FiscalWorld:
    """The mock OFD and ОИСМ of a world, the device's links to them, and (real network) their TCP fronts.

    On the simulated network the links reach the models in-process with no latency of their own
    (``latency_ms`` 0, so that the fiscal half adds no virtual time to a sale and the GIS MT log of
    a scenario stays what it was); on the real one they are TCP connections to 127.0.0.1.
    """

    ofd: OfdModel
    oism: OismServer
    ofd_link: FiscalLink
    oism_link: FiscalLink
    fronts: tuple[OfdTcp, OismTcp] | None = None

    @classmethod
    def simulated(cls, clock: VirtualClock, oism: OismModel) -> FiscalWorld:
        ofd, server = OfdModel(), OismServer(oism)
        return cls(ofd, server, SimFiscalLink(clock, ofd, 0, OFD_TIMEOUT_MS),
                   SimFiscalLink(clock, server, 0, OISM_TIMEOUT_MS))

    @classmethod
    def real(cls, driver: RealTimeDriver, oism: OismModel) -> FiscalWorld:
        from emulator.servers.ofd.tcp import OfdTcp
        from emulator.servers.oism.tcp import OismTcp

        ofd, server = OfdModel(), OismServer(oism)
        now = driver.now_ms
        ofd_tcp = OfdTcp(ofd, "127.0.0.1", 0, now_ms=now)
        oism_tcp = OismTcp(server, "127.0.0.1", 0, now_ms=now)
        ofd_tcp.start()
        oism_tcp.start()
        return cls(ofd, server, TcpFiscalLink(*ofd_tcp.address, OFD_TIMEOUT_MS, post=driver.post),
                   TcpFiscalLink(*oism_tcp.address, OISM_TIMEOUT_MS, post=driver.post), (ofd_tcp, oism_tcp))

    def close(self) -> None:
        for link in (self.ofd_link, self.oism_link):
            if isinstance(link, TcpFiscalLink):
                link.shutdown()
        for front in self.fronts or ():
            front.stop()


@dataclass
class World:
    clock: VirtualClock
    backend: TrueApiBackend
    network: str
    net: SimulatedNetwork | RealNetwork
    oism: OismModel
    driver: RealTimeDriver | None = None
    servers: TrueApiServers | None = None
    tech: TechWorld | None = None
    fiscal: FiscalWorld | None = None
    devices: list[KktDevice] = field(default_factory=list)
    drive_secret: bytes | None = None    # a new drive's secret (random when None; scenarios derive one)
    _cleanup: list[Callable[[], None]] = field(default_factory=list)

    # ------------------------------------------------------------ building
    @classmethod
    def build(cls, network: str, start_ms: int, backend: TrueApiBackend, *,
              oism: OismModel | None = None, fiscal: bool = True, drive_secret: bytes | None = None) -> World:
        """A world on the ``simulated`` or the ``real`` network (mock hosts on loopback, a fresh lab CA)."""
        if network not in NETWORKS:
            raise ValueError(f"network {network!r} is not one of {', '.join(NETWORKS)}")
        clock = VirtualClock(start_ms)
        oism = oism or OismModel()
        if network == "simulated":
            world = cls(clock, backend, network, SimulatedNetwork(clock, backend), oism,
                        fiscal=FiscalWorld.simulated(clock, oism) if fiscal else None)
            world.drive_secret = drive_secret
            return world
        from emulator.servers.trueapi.servers import TrueApiServers

        driver = RealTimeDriver(clock)
        servers = TrueApiServers(backend, LabCA.create(), now_ms=lambda: clock.now_ms).start()
        built: list[World] = []      # the device's TLS context comes from the world's current device
        net = RealNetwork(driver, servers.resolver(), lambda: built[0].device.tls_context(), route=servers.route)
        built.append(cls(clock, backend, network, net, oism, driver, servers,
                         fiscal=FiscalWorld.real(driver, oism) if fiscal else None))
        built[0].drive_secret = drive_secret
        return built[0]

    @classmethod
    def on_real_servers(cls, clock: VirtualClock, backend: TrueApiBackend, net: RealNetwork,
                        driver: RealTimeDriver, servers: TrueApiServers | None, *,
                        oism: OismModel | None = None, fiscal: bool = False) -> World:
        """A real-network world around servers and a network made by the caller (``serve``).

        ``fiscal``: with the mock OFD and ОИСМ on 127.0.0.1 (port 0) and a drive for each device.
        """
        oism = oism or OismModel()
        return cls(clock, backend, "real", net, oism, driver, servers,
                   fiscal=FiscalWorld.real(driver, oism) if fiscal else None)

    @property
    def roots_pem(self) -> bytes:
        """The root certificate the GIS MT hosts' certificates chain to (the lab CA of the real servers)."""
        if self.servers is not None:
            return self.servers.ca_pem
        return LabCA.create().cert_pem

    def add_techserver(self, database: Path, *, latency_ms: int = 30, down: bool = False,
                       roots_pem: bytes | None = None) -> TechWorld:
        """The technological server: a TCP server on loopback on the real network, in-process on the simulated one.

        ``roots_pem`` is what it hands out for «Запросить и применить на сервере» (by default the
        root of the CA the GIS MT hosts use).
        """
        model = TechServer(str(database), root_certs_pem=self.roots_pem if roots_pem is None else roots_pem,
                           clock=lambda: self.clock.now_ms)
        if self.driver is not None:
            from emulator.servers.techserver.tcp import TechServerTcp

            tcp = TechServerTcp(model, "127.0.0.1", 0, now_ms=lambda: self.clock.now_ms).start()
            self.tech = TechWorld(model, TcpTechLink(self.driver.post, tcp.address), tcp)
        else:
            link = SimTechLink(self.clock, lambda: Session(model, lambda: self.clock.now_ms), latency_ms)
            link.down = down
            self.tech = TechWorld(model, link)
        return self.tech

    def attach_techserver(self, tech: TechWorld) -> None:
        """A technological server the caller started itself (``serve``: persistent database, pages)."""
        self.tech = tech

    # ------------------------------------------------------------ devices
    def new_device(self, directory: Path | None, *, images: bool = True, **options: Any) -> KktDevice:
        """A ``KktDevice`` on this world's network, ОИСМ, OFD and technological link (options: serial, inn, ...).

        With the fiscal half (``fiscal``), the device gets a fiscal drive whose archive is in its
        directory (in memory without one), registered when new, and its queue is sent at once.
        """
        unit = self._fiscal_unit(directory, options, images) if self.fiscal is not None else None
        device = KktDevice(self.clock, self.net, directory, oism=unit or SimOismLink(self.oism),
                           tech_link=self.tech.link if self.tech is not None else None, fiscal=unit, **options)
        self.devices.append(device)
        if unit is not None:
            if unit.drive.state == "setting":
                unit.register()
            unit.deliver()
            unit.notify()
        return device

    def _fiscal_unit(self, directory: Path | None, options: dict[str, Any], images: bool) -> FiscalUnit:
        assert self.fiscal is not None
        fn = options.get("fn_number", "9999078900000001")
        path = archive_path(directory) if directory is not None else None
        try:
            drive = FiscalDrive(path, fn, self.drive_secret)
        except DamagedArchive:
            drive = FiscalDrive(path, fn, self.drive_secret)   # the damaged file was set aside: a new drive
        ident = Identity(inn=options.get("inn", "7700000000"), serial=options.get("serial", "00000000000001"))
        return FiscalUnit(self.clock, drive, ident, ofd=self.fiscal.ofd_link, oism=self.fiscal.oism_link,
                          directory=directory, images=images)

    @property
    def device(self) -> KktDevice:
        """The current device (the newest: a power cycle makes a new one on the same directory)."""
        return self.devices[-1]

    def temp_directory(self) -> Path:
        """A private temporary folder removed by ``close()`` (device directories, databases)."""
        tmp = Path(tempfile.mkdtemp(prefix="kkt-emu-"))
        self._cleanup.append(lambda: shutil.rmtree(tmp, ignore_errors=True))
        return tmp

    # ------------------------------------------------------------ time
    def settle(self, condition: Callable[[], bool], max_ms: int) -> bool:
        """Let time pass while ``condition()`` holds, at most ``max_ms``; False if it still holds then."""
        if self.driver is not None:
            return self.driver.run_while(condition, max_ms)
        return self.clock.run_while(condition, max_ms)

    def advance(self, ms: int) -> None:
        """Move virtual time on by ``ms``, firing the timers due meanwhile.

        On the real network a timer that sends something (a health-check probe, a CDN
        refresh, a session with the technological server) gets its real answer before
        later timers fire: time jumps from timer to timer, and runs at wall pace while
        anything is on the wire, as the simulated network's latencies run on the clock.
        """
        if self.driver is None:
            self.clock.advance(ms)
            return
        assert isinstance(self.net, RealNetwork)
        net, driver = self.net, self.driver
        target = self.clock.now_ms + ms

        def waiting() -> bool:
            return bool(net.in_flight or (self.devices and self.device.waiting))

        while True:
            due = self.clock.next_due()
            if due is None or due > target:
                break
            self.clock.step()
            if waiting():
                driver.run_while(waiting, max(0, target - self.clock.now_ms))
        self.clock.run_until(max(target, self.clock.now_ms))
        if self.servers is not None:
            self.servers.expire_idle()      # the servers' keep-alive timeout, on the clock as well

    # ------------------------------------------------------------ the servers
    def tls_faulted_hosts(self) -> list[str]:
        return [n for n in self.backend.hosts() if self.backend.host(n).faults.tls_fault]

    def check_simulable(self) -> None:
        """TLS is not modelled on the simulated network: a host's ``tls`` fault needs the real one."""
        if self.servers is None:
            hosts = self.tls_faulted_hosts()
            if hosts:
                raise WorldError(f"a TLS fault ({', '.join(hosts)}) needs `network: real`: TLS is not modelled "
                                 f"on the simulated network")

    def change(self, change: Callable[[], None]) -> None:
        """Change the server models; with servers running, under their lock, then applied at once."""
        if self.servers is None:
            change()
            self.check_simulable()
            return
        with self.servers.lock:
            change()
        self.servers.sync_faults()

    def close(self) -> None:
        if self.tech is not None:
            self.tech.close()
        if self.fiscal is not None:
            self.fiscal.close()
        if self.servers is not None:
            assert isinstance(self.net, RealNetwork)
            self.net.close()
            self.servers.stop()
        for device in self.devices:
            try:
                device.logbook.close()
                if device.fiscal is not None:
                    device.fiscal.stop()
                    device.fiscal.drive.close_archive()
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass
        for clean in reversed(self._cleanup):
            clean()
