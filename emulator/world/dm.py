"""The Device Manager's world: the ПРРО world (clock, CA, tax server) with a DM over it, and the DM's
peers — bank terminals and receipt printers — as real TCP servers on loopback.

``DmWorld`` composes:

* ``prro`` — a ``PrroWorld`` (simulated: the tax server called in process; real: its HTTP front);
* ``dm`` — the ``DeviceManager`` on the same clock, its database in ``<dir>/dm``;
* ``add_prro(name)`` — a ПРРО ready to work: a cashier key issued and registered (no delay), the ПРРО
  registered (form 1-ПРРО), started, created in the DM with the default settings and the key loaded;
* ``add_terminal(name)`` / ``add_printer(name)`` — the emulated peer's model and its TCP front on a free
  loopback port, and the DM's link to it (the DM always talks to its peers over TCP);
* ``http()`` — the DM's HTTP front under uvicorn on loopback (started on first use);
* ``vchasno`` — the Vchasno.Kasa cabinet (``servers.vchasno``), reached by the DM through a local link
  (simulated network) or its HTTP front (real network, started on first use); ``cabinet_token()``,
  ``create_prro(name, token)`` and ``load_key(name)`` drive the DM's extended API as a person would.
"""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from emulator.base.storage import private_dir
from emulator.fronts.dm.admin import API, Cabinet
from emulator.fronts.dm.config import default_config
from emulator.fronts.dm.manager import DeviceManager, DmPrinter, DmPrro, DmTerminal, PrroConfig
from emulator.net.bankterm import OPERATION_TIMEOUT_S, BankTermLink, Journal
from emulator.net.escposlink import PrinterLink
from emulator.net.vchasnolink import CabinetAnswer, HttpVchasnoLink, LocalVchasnoLink
from emulator.servers.bankterm.model import BankTerminal
from emulator.servers.bankterm.tcp import BankTermTcp
from emulator.servers.escpos.model import PrinterModel
from emulator.servers.escpos.tcp import PrinterTcp
from emulator.servers.vchasno.model import VchasnoCabinet
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
        self._vchasno_http: Any = None
        self.vchasno = VchasnoCabinet(lambda: self.clock.now_ms)
        self.dm.cabinet = Cabinet(self._vchasno_link(network), self._provision)

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
        term = DmTerminal(name, link)
        if now_ms is None:          # the terminal on the world's virtual clock: pumped while the DM waits on it
            term.pump = self.terminal_pump(model)
        return self.dm.add(term)  # type: ignore[return-value]

    def terminal_pump(self, model: BankTerminal) -> Any:
        """The clock pump of ``fronts.dm.terminal`` for one emulated terminal on the world's clock."""
        from emulator.fronts.dm.terminal import ClockPump
        return ClockPump(model.next_due, lambda: self.clock.now_ms, self.clock.run_until, self.dm.world_lock)

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
                world_name = next(n for n, d in self.prro.devices.items() if d is dev.device)
                dev = dataclasses.replace(dev, device=self.prro.start_prro(world_name))
            dm.add(dev)
        self.dm = dm
        return dm

    # ------------------------------------------------------------ the Vchasno cabinet and the extended API
    def _vchasno_link(self, network: str) -> Any:
        if network == "simulated":
            return LocalVchasnoLink(self.vchasno, advance=self._advance)
        world = self

        class _Lazy:            # the cabinet's HTTP front started at the DM's first call
            link: HttpVchasnoLink | None = None

            def prro(self, token: str, dm_version: str) -> CabinetAnswer:
                if self.link is None:
                    self.link = HttpVchasnoLink(world.vchasno_url(), timeout_s=5.0)
                return self.link.prro(token, dm_version)

            def close(self) -> None:
                if self.link is not None:
                    self.link.close()
        return _Lazy()

    def _advance(self, ms: int) -> None:
        with self.dm.world_lock:            # the clock is the ПРРО's too
            self.clock.run_until(self.clock.now_ms + ms)

    def vchasno_url(self) -> str:
        """The cabinet's HTTP front on loopback (started on first use)."""
        if self._vchasno_http is None:
            from emulator.servers.vchasno.web import make_host
            self._vchasno_http = make_host(self.vchasno).start()
        return str(self._vchasno_http.url)

    def _provision(self, key: str, offline_allowed: bool) -> Any:
        """The DM's callback: the cabinet's ПРРО ``key`` registered with the tax server (once) and started."""
        if key not in self.prro.identities:
            self.prro.register_prro(key, offline_supported=offline_allowed)
        return self.prro.start_prro(key)

    def cabinet_token(self, kind: str = "test", **settings: Any) -> str:
        """A token made in the cabinet: for the account's test ПРРО, or (``kind="fiscal"``) for a new fiscal
        ПРРО of the account with ``settings`` (``tax_groups``, ``pay_types``, ``rounding``, ``offline_allowed``)."""
        if kind == "test":
            return self.vchasno.issue_token(self.vchasno.test_prro.id)
        if kind != "fiscal":
            raise ValueError(f"kind: test or fiscal, not {kind!r}")
        p = self.vchasno.add_prro(f"ПРРО {len(self.vchasno.prros) + 1}", **settings)
        return self.vchasno.issue_token(p.id)

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None, **query: str) -> dict[str, Any]:
        """One call of the DM's extended API (``path`` under ``/dm/vchasno-kasa/api/v1``), in process."""
        raw = json.dumps(body, ensure_ascii=False).encode() if body is not None else b""
        got = self.dm.route(method, f"{API}{path}", query, raw)
        assert got is not None, f"no route {method} {path}"
        return got

    def create_prro(self, name: str, token: str) -> dict[str, Any]:
        """``POST /prro``: the DM's ПРРО ``name`` created with ``token`` (no key yet); the answer."""
        return self.admin("POST", "/prro", {"name": name, "token": token})

    def ready_prro(self, name: str = "prro", *, kind: str = "test", **settings: Any) -> DmPrro:
        """A ПРРО made as a person makes one: a cabinet token, ``create_prro``, ``load_key``; the ``DmPrro``."""
        made = self.create_prro(name, self.cabinet_token(kind, **settings))
        if made["res"] != 0:
            raise ValueError(f"ПРРО {name!r}: {made['res']} {made['errortxt']}")
        loaded = self.load_key(name)
        if loaded["res"] != 0:
            raise ValueError(f"ПРРО {name!r}: {loaded['res']} {loaded['errortxt']}")
        dev = self.dm.find(name)
        assert isinstance(dev, DmPrro)
        return dev

    def load_key(self, name: str, *, key: str | None = None, password: str = "1111", file: str = "Key-6.dat",
                 owner: str = "Романенко Данило", register: bool = True, role: str = "cashier",
                 emergency: bool = False) -> dict[str, Any]:
        """``POST /prro/sign``: a cashier key (issued and registered by form 5-ПРРО unless it exists) loaded
        into the DM's ПРРО ``name`` (``emergency``: the emergency replacement, with the shift open); the answer."""
        key = key or f"{name}-key"
        if key not in self.prro.keys:
            self.prro.issue_key(key, owner=owner, file=file, password=password, role=role)
            if register:
                self.prro.register(key, role, delay_ms=0)
        path = self.prro.key_files[key]
        body = {"key": base64.b64encode(path.read_bytes()).decode(), "password": password, "filename": path.name}
        query = {"dev_id": name, **({"emergency": "1"} if emergency else {})}
        return self.admin("POST", "/prro/sign", body, **query)

    # ------------------------------------------------------------ the DM's HTTP front
    def http(self, port: int = 0) -> str:
        if self._http is None:
            from emulator.fronts.dm.app import make_app
            from emulator.net.asgihost import AsgiHost
            self._http = AsgiHost(make_app(self.dm), port=port, name="device-manager").start()
        return str(self._http.url)

    def close(self) -> None:
        if self._vchasno_http is not None:
            self._vchasno_http.stop()
            self._vchasno_http = None
        close_link = getattr(getattr(self.dm.cabinet, "link", None), "close", None)
        if close_link is not None:
            close_link()
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
