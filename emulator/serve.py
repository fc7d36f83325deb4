"""``kkt-emu serve``: the device and the mock servers in real time.

What it starts:

* the mock True API: one HTTPS server per host (``cdn.crpt.ru``, ``cdn01..03.crpt.ru``
  and the sandbox hosts) on its own loopback address 127.0.0.x, certificates from
  a lab CA kept in the state directory (so ``curl --cacert`` keeps working
  across runs);
* the device, on the real network adapter, its clock following the wall clock,
  its directory in the state directory (settings, log and TLS roots survive);
  with no ``world.tokens`` in the configuration its token is registered in the
  mock's contour of its host only (production for ``cdn.crpt.ru``, the sandbox
  for ``markirovka.sandbox.crptech.ru``), as the real True API accepts it;
* the technological server (modelled): the device's exchange over TCP on
  loopback every «ПЕРИОД ОПРОСА», and its pages for people («Общие»,
  «Серверы», «ОТЧЕТЫ») over HTTP, on loopback unless ``--web-bind`` says otherwise;
* a console on standard input: ``press ИТ``, ``keys 2 4 8 ПИ``, ``scan <code>``,
  ``scan-image token.png``, ``type <text>``, ``goto <label>``, ``screen``,
  ``log``, ``cdn``, ``exchange``, ``help``, ``quit``. Each command prints the display
  after it. The first session with the technological server opens at start;
  ``exchange`` opens one at once.

With ``--real`` no mock server is started: the device resolves host names by
DNS and connects to port 443 of the real hosts (for example the sandbox on a
machine that has internet), trusting the root certificates given with
``--ca`` and no others, and using the token given with ``--token`` (or
``--token -`` from standard input, so it stays out of the shell history). Its
directory is then ``device-real`` in the state directory, never the mock's
``device`` (whose TLS store holds the lab CA); ``--ca`` replaces the roots
there, and without ``--real`` it is refused.

The configuration file (YAML) has the same ``world`` section as a scenario
(tokens, hosts with latencies and fault plans, codes) plus ``device``
(``settings``, as in a scenario) and ``state_dir``. Command-line flags override
it. ``world`` and ``device`` are checked as a scenario's are (the scenario
schema and loader). Everything binds to loopback addresses unless
``--web-bind`` names another. A bad configuration, flag or state file stops
``serve`` with one line saying what is wrong (SystemExit), before any server
starts where it can be known then.
"""

from __future__ import annotations

import argparse
import errno
import os
import queue
import signal
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, NoReturn, TextIO

import yaml
from cryptography import x509

from emulator.base.clock import VirtualClock
from emulator.base.storage import private_dir, write_atomic
from emulator.devices.kkt.events import StateFileSetAside
from emulator.devices.kkt.settings import SETTINGS_FILE, Settings, SettingsStore
from emulator.fronts.console import Console
from emulator.fronts.serialports import SerialFronts, check_serial_config
from emulator.net.real import RealNetwork, RealTimeDriver
from emulator.rules.syntax import mask_token
from emulator.scenario.model import ScenarioError, load_data, load_yaml, read_problem, read_yaml_text, yaml_message
from emulator.servers.trueapi import TrueApiBackend
from emulator.world.live import LiveWorld
from emulator.world.root import TechWorld, World
from emulator.world.spec import make_backend, tokens_named
from tls_store import TlsError, TlsStore
from tls_store.lab_ca import CA_CERT_FILE, CA_KEY_FILE, LabCA

CDN_INFO = "/api/v4/true-api/cdn/info"
TOKEN_ENV = "KKT_EMU_TOKEN"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = ("The device, the mock True API hosts (HTTPS on loopback, a lab CA) and the technological "
                     "server in real time, with a console on standard input and a JSON control API on loopback.")
    p.add_argument("--config", metavar="FILE",
                   help="YAML file: world (as in scenarios), device settings, state_dir")
    p.add_argument("--state-dir", metavar="DIR",
                   help="where the lab CA, the device directory and the technological server's database live "
                        "(default .kkt-emu)")
    p.add_argument("--token-file", metavar="FILE",
                   help=f"read the device's token from FILE (the documented way; also the {TOKEN_ENV} "
                        "environment variable, or --token - for standard input)")
    p.add_argument("--token", metavar="TOKEN",
                   help="the device's token; '-' reads it from standard input. A token given here is seen "
                        "by every local user in ps: prefer --token-file")
    p.add_argument("--host", dest="gismt_host", metavar="NAME",
                   help="GIS MT host name the device uses (default cdn.crpt.ru)")
    p.add_argument("--real", action="store_true",
                   help="no mock servers: connect to the real hosts by DNS, port 443")
    p.add_argument("--ca", action="append", default=[], metavar="FILE",
                   help="PEM/DER root certificate(s): with --real, the device trusts these and no others")
    p.add_argument("--no-console", action="store_true", help="do not read commands from standard input")
    p.add_argument("--first-ip", type=int, default=2, metavar="N",
                   help="first loopback address 127.0.0.N for the mock hosts (default 2)")
    p.add_argument("--https-port", type=int, default=0, metavar="PORT",
                   help="every mock host listens on its own loopback address at this port (443: the conventional "
                        "port, so clients need only the names; binding it needs root or CAP_NET_BIND_SERVICE). "
                        "Default 0: each host on a free port of its own, for parallel runs")
    p.add_argument("--hosts-file", metavar="FILE",
                   help="write /etc/hosts lines for the mock host names to FILE (the system file is never edited)")
    p.add_argument("--control-port", type=int, default=0, metavar="PORT",
                   help="port of the JSON control API on 127.0.0.1 (default: any free port)")
    p.add_argument("--no-control", action="store_true", help="do not start the JSON control API")
    p.add_argument("--web-bind", default="127.0.0.1", metavar="ADDRESS",
                   help="address of the technological server's pages (default loopback only)")
    p.add_argument("--web-port", type=int, default=0, metavar="PORT",
                   help="port of the pages (default: any free port)")
    p.add_argument("--web-name", action="append", default=[], metavar="NAME",
                   help="a host name people reach the pages by (with --web-bind); other names are refused")
    p.add_argument("--no-techserver", action="store_true", help="do not start the technological server")
    p.add_argument("--driver-port", type=int, default=None, metavar="PORT",
                   help="port of the Mercury driver API (INECRMAN JSON, POST /api.json) on 127.0.0.1 "
                        "(default 50010, as the real service, or a free port with a warning when 50010 is "
                        "taken; 0: any free port)")
    p.add_argument("--no-driver", action="store_true", help="do not start the driver API and the KKT's command pty")
    p.add_argument("--device-port", metavar="COMn", help="the COM name of the KKT's serial pty (default COM3)")
    p.add_argument("--no-serial", action="store_true", help="no serial ptys (the KKT's port, the scanner)")


CONFIG_KEYS = ("world", "device", "state_dir", "serial")
# What ``start()`` turns into a one-line SystemExit instead of a traceback.
SETUP_ERRORS = (ValueError, TypeError, OSError, TlsError, sqlite3.Error)


def _fail(message: str) -> NoReturn:
    raise SystemExit(f"kkt-emu serve: {message}")


def _reason(exc: BaseException, with_file: bool = False) -> str:
    """An exception as one line of text: ``strerror`` for an OSError (and its file when asked)."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if with_file and exc.filename else exc.strerror
    return " ".join(str(exc).split()) or type(exc).__name__


def _load_config(path: str | None) -> dict[str, Any]:
    """The configuration file, checked before anything starts; SystemExit naming the place of a problem.

    ``world`` and ``device`` are checked exactly as a scenario's: they are loaded as a scenario
    holding only a note, so the scenario JSON schema and the scenario loader's checks of meaning
    (host names, plan items, settings values) apply, with the same messages.
    """
    if not path:
        return {}
    try:
        text = read_yaml_text(Path(path))
    except (OSError, ValueError) as exc:
        _fail(f"--config {path}: cannot read it: {read_problem(exc)}")
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        _fail(f"{path}: {yaml_message(exc)}")
    if data is None:
        return {}
    if not isinstance(data, dict):
        _fail(f"{path}: the configuration must be a mapping ({', '.join(CONFIG_KEYS)})")
    unknown = sorted(str(k) for k in data if k not in CONFIG_KEYS)
    if unknown:
        _fail(f"{path}: unknown keys {unknown} (known: {', '.join(CONFIG_KEYS)})")
    config: dict[str, Any] = {}
    state_dir = data.get("state_dir")
    if state_dir is not None:
        if not isinstance(state_dir, str) or not state_dir.strip():
            _fail(f"{path}: state_dir: {state_dir!r} is not a folder name")
        config["state_dir"] = state_dir
    probe: dict[str, Any] = {"name": "kkt-emu serve", "steps": [{"note": "the configuration of kkt-emu serve"}]}
    probe.update({k: data[k] for k in ("world", "device") if data.get(k) is not None})
    try:
        scenario = load_data(probe, path)[0]
    except ScenarioError as exc:
        text = str(exc)
        tokens = [t for t in tokens_named(data) if len(t) >= 8]   # shorter text is no token, too common to replace
        for token in sorted(tokens, key=len, reverse=True):          # never a token in full, here neither
            text = text.replace(token, mask_token(token))
        _fail(text.replace("\n", "\nkkt-emu serve: "))
    if "techserver" in scenario.world:
        _fail(f"{path}: world.techserver: not used by serve, which always starts its technological server "
              "(--no-techserver starts none)")
    extra = sorted(set(probe.get("device", {})) - {"settings"})
    if extra:
        _fail(f"{path}: device: serve takes only `settings` here, not {', '.join(extra)}")
    config["world"] = dict(scenario.world)
    config["device"] = {"settings": dict(scenario.device.settings or {})}
    try:
        config["serial"] = check_serial_config(data.get("serial"), path)
    except ValueError as exc:
        _fail(str(exc))
    return config


def _dns_resolver(host: str) -> tuple[str, int] | None:
    name, _, port = host.partition(":")
    try:
        info = socket.getaddrinfo(name, int(port or 443), type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return None
    addr = info[0][4]
    return str(addr[0]), int(addr[1])


class Serve:
    def __init__(self, args: argparse.Namespace, out: TextIO = sys.stdout) -> None:
        self.args = args
        self.out = out
        if args.ca and not args.real:
            _fail("--ca goes with --real (on the mock the device trusts the lab CA of the state directory)")
        self.config = _load_config(args.config)
        self.state = Path(args.state_dir or self.config.get("state_dir") or ".kkt-emu")
        # Its own device directory under --real: its TLS store must not keep the lab CA of mock runs.
        self.device_dir = self.state / ("device-real" if args.real else "device")
        self.stop = threading.Event()
        # What start() brings up, None until it is up: shutdown() stops what there is.
        self.servers: Any = None
        self.backend: Any = None
        self.device: Any = None
        self.net: Any = None
        self.tech_model: Any = None
        self.tech_tcp: Any = None
        self.tech_link: Any = None
        self.web: Any = None
        self.web_thread: threading.Thread | None = None
        self.world: World | None = None
        self.console: Console | None = None
        self.live: LiveWorld | None = None
        self.control: Any = None
        self.control_thread: threading.Thread | None = None
        self.control_url = ""
        self.driver_half: Any = None      # the driver API and the KKT's command pty (fronts/driverapi/service.py)
        self.webconsole: Any = None     # the training console (emulator.fronts.webconsole), on the control port
        self.warnings: list[str] = []
        # Console lines and the control API's calls, run one at a time on the device's thread.
        self.commands: queue.SimpleQueue[str | Callable[[], None] | None] = queue.SimpleQueue()
        self.token_contour: str | None = None
        self.settings_set_aside: tuple[str, str] | None = None
        self.token_note = ""
        self.serial: SerialFronts | None = None
        self.device_commands: Any = None   # the driver's commands on the device (serial port, driver API)

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def start(self) -> None:
        """Check and prepare everything, then start the servers and the device.

        What can be checked is checked before any server starts; a later failure stops what has
        started. Either way a problem ends in SystemExit with one line saying what is wrong.
        """
        try:
            self._prepare()
            self._launch()
            for text in self.warnings:
                print(text, file=sys.stderr, flush=True)
        except BaseException as exc:
            self._stop_started()
            if isinstance(exc, SETUP_ERRORS):
                raise SystemExit(f"kkt-emu serve: {_reason(exc, with_file=True)}") from None
            raise

    def _prepare(self) -> None:
        """The state directory, the lab CA, the settings, the TLS store, the backend, the database: no server yet."""
        try:
            private_dir(self.state)        # 0700: it holds the lab CA key, tokens, the log
        except OSError as exc:
            _fail(f"state directory {self.state}: cannot create it: {_reason(exc)}")
        lab = None if self.args.real else self._lab_ca()
        settings = self._write_settings(self.device_dir)
        self.clock = VirtualClock(int(time.time() * 1000))
        self.driver = RealTimeDriver(self.clock)
        tls = TlsStore(self.device_dir)
        if lab is None:
            self._load_roots(tls)
        else:
            self._prepare_mock(lab[0], lab[1], tls, settings)
        if not self.args.no_techserver:
            from emulator.servers.techserver.model import TechServer

            db = self.state / "techserver.sqlite"
            try:
                self.tech_model = TechServer(str(db), root_certs_pem=b"" if lab is None else lab[0].cert_pem,
                                             clock=lambda: self.clock.now_ms)
            except sqlite3.DatabaseError as exc:
                _fail(f"{db}: {exc}; delete it to start the technological server afresh "
                      "(its list of devices and their settings go with it)")

    def _launch(self) -> None:
        if self.servers is not None:
            self._start_servers()
            resolve: Any = self.servers.resolver()
        else:
            resolve = _dns_resolver
        route = self.servers.route if self.servers is not None else None   # `refuse` plan items: real refusals
        self.net = RealNetwork(self.driver, resolve, lambda: self.device.tls_context(), route=route)
        self.world = World.on_real_servers(self.clock, self.backend or TrueApiBackend(), self.net, self.driver,
                                           self.servers, fiscal=True)
        if not self.args.no_techserver:
            self.world.attach_techserver(self._start_techserver())
        self.device = self.world.new_device(self.device_dir)
        if self.servers is not None:
            self.live = LiveWorld(self.world, self.say)
        self.console = Console(self.device, self.say, lambda: self.driver.run_while(lambda: self.device.waiting,
                                                                                     15_000),
                               self.stop.set, live=self.live)
        self.device.on_event = self.console.show_event
        if self.settings_set_aside is not None and self.device.store.set_aside is None:
            self.device.report_set_aside(SETTINGS_FILE, *self.settings_set_aside)   # found by _write_settings
        for ev in self.device.events:      # said while the device started, before the console listened
            if isinstance(ev, StateFileSetAside):
                self.console.show_event(ev)
        if not self.args.no_serial:
            self._start_serial()
        if self.live is not None and not self.args.no_control:
            self._start_control()
        if not self.args.no_driver:
            from emulator.fronts.driverapi.service import start_driver

            serial = self.serial
            self.driver_half = start_driver(
                self.device, self.driver.run_while, self.run_on_device_thread, port=self.args.driver_port,
                say=self.say, commands=self.device_commands,
                endpoint=serial.device if serial is not None else None,
                ports=serial.ports if serial is not None else None,
                device_port=serial.config["device_port"] if serial is not None else "COM3")
        self._print_banner()
        tech = self.device.tech
        if tech is not None:
            # The first session right away, so the device is on the server's list from the start;
            # then every «ПЕРИОД ОПРОСА».
            def first_session() -> None:
                tech.start("start")
            self.driver.post(first_session)

    def _start_servers(self) -> None:
        assert self.servers is not None
        port = self.args.https_port
        try:
            self.servers.start()
        except OSError as exc:
            if port and exc.errno in (errno.EACCES, errno.EPERM):
                _fail(f"--https-port {port}: binding a port below 1024 needs privileges: run as root, or grant "
                      "them once (sudo sysctl net.ipv4.ip_unprivileged_port_start=443, or sudo setcap "
                      "cap_net_bind_service=+ep on the Python binary), or run serve and the client in a "
                      "namespace of your own (unshare -r -n), or take --https-port 8443 and give clients "
                      "the port (README: kkt-emu serve)")
            if port and exc.errno == errno.EADDRINUSE:
                _fail(f"--https-port {port}: an address 127.0.0.{self.args.first_ip}.. is already in use at "
                      "that port (another serve?): stop it, or move with --first-ip")
            raise
        if self.args.hosts_file:
            path = Path(self.args.hosts_file)
            try:
                write_atomic(path, self._hosts_lines().encode("utf-8"))
            except OSError as exc:
                _fail(f"--hosts-file {path}: cannot write it: {_reason(exc)}")

    def _hosts_lines(self) -> str:
        """The /etc/hosts lines for the mock host names (one address each)."""
        assert self.servers is not None
        lines = ["# kkt-emu serve: the mock True API hosts (each on its own loopback address)"]
        width = max(len(ip) for ip, _ in self.servers.resolver().values())
        for host, (ip, _) in self.servers.resolver().items():
            lines.append(f"{ip:<{width}}  {host}")
        return "\n".join(lines) + "\n"

    def _start_serial(self) -> None:
        """The KKT's serial pty (the driver's commands) and the scanner's (codes into the device)."""
        from emulator.fronts.ecr.commands import DeviceCommands

        conf = dict(self.config.get("serial") or check_serial_config({}, "serial"))
        if self.args.device_port:
            conf["device_port"] = self.args.device_port
        try:
            conf = check_serial_config(conf, "--device-port")
        except ValueError as exc:
            _fail(str(exc))
        if self.device_commands is None:
            self.device_commands = DeviceCommands(self.device, self.driver.run_while)
        commands, console = self.device_commands, self.console
        assert console is not None

        def scanned(code: str) -> None:   # on the device's thread
            console.device.scan(code)
            console.settle()
            console.screen()

        def scan(code: str) -> None:      # on the scanner's thread
            self.run_on_device_thread(lambda: scanned(code))
        self.serial = SerialFronts(conf, self.state / "serial")
        self.serial.start(lambda c, a: self.run_on_device_thread(lambda: commands(c, a)).result(timeout=120), scan)

    def run_on_device_thread(self, fn: Callable[[], Any]) -> Future[Any]:
        """Thread-safe: run ``fn`` on the device's thread between console commands; its Future."""
        future: Future[Any] = Future()

        def job() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed to the waiting caller
                future.set_exception(exc)
        self.commands.put(job)
        return future

    def _start_control(self) -> None:
        import uvicorn

        from emulator.fronts.control import make_control_app

        assert self.live is not None
        live = self.live
        app = self._web_console(make_control_app(live, lambda: self.device, self.run_on_device_thread,
                                                 live.world_state))
        config = uvicorn.Config(app, host="127.0.0.1", port=self.args.control_port, log_level="warning",
                                lifespan="off")
        self.control = uvicorn.Server(config)
        self.control_thread = threading.Thread(target=self.control.run, name="kkt-control-api", daemon=True)
        self.control_thread.start()
        for _ in range(200):
            if self.control.started or not self.control_thread.is_alive():
                break
            time.sleep(0.02)
        if not self.control.started:
            _fail(f"the control API did not start on 127.0.0.1 port {self.args.control_port}"
                  + (" (is the port in use?)" if self.args.control_port else ""))
        sock = self.control.servers[0].sockets[0].getsockname()
        self.control_url = f"http://{sock[0]}:{sock[1]}/api/"

    def _web_console(self, control_app: Any) -> Any:
        """The training console in the browser, answering on the control API's port (its /api/ is the API)."""
        from emulator.fronts.webconsole import WebConsole
        from emulator.servers.trueapi.catalogue import Catalogue
        from emulator.world.codes_table import catalogue_rows

        assert self.live is not None and self.world is not None

        def catalogue() -> list[dict[str, object]]:     # off the device's thread: a copy, under the world's lock
            with self.servers.lock:
                codes = Catalogue(list(self.backend.catalogue))
            return catalogue_rows(codes)

        self.webconsole = wc = WebConsole(
            device=lambda: self.device, run=self.run_on_device_thread, post=self.driver.post, live=self.live,
            pace=self.driver, advance=self.world.advance, catalogue=catalogue,
            links={**({} if self.world.fiscal is None else {"ofd": self.world.fiscal.ofd.faults.plan,
                                                             "oism": self.world.fiscal.oism.faults.plan}),
                   **({} if self.world.tech is None else {"tech": self.world.tech.link})})
        shown = self.device.on_event

        def both(ev: Any) -> None:
            if shown is not None:
                shown(ev)
            wc.on_event(ev)
        self.device.on_event = both
        self.driver.hold = lambda: bool(self.device.waiting or self.net.in_flight)
        return wc.app(control_app)

    def _write_settings(self, device_dir: Path) -> Settings:
        store = SettingsStore(device_dir)
        settings = store.load()
        self.settings_set_aside = store.set_aside
        wanted = dict(self.config.get("device", {}).get("settings", {}))
        token = self._token()
        if token:
            wanted["token"] = token
        if self.args.gismt_host:
            wanted["gismt_host"] = self.args.gismt_host
        if wanted:
            merged = settings.to_json()
            merged.update({k: v for k, v in wanted.items() if k != "options"})
            if "options" in wanted:
                merged["options"].update({str(k): v for k, v in wanted["options"].items()})
            try:
                settings = Settings.from_json(merged)
            except (ValueError, TypeError) as exc:
                _fail(f"device settings: {exc}")
            store.save(settings)
        return settings

    def _token(self) -> str | None:
        """The device's token: --token-file, --token - (standard input), --token (warned), KKT_EMU_TOKEN."""
        args = self.args
        if args.token_file and args.token:
            _fail("--token-file and --token: give the token one way")
        if args.token_file:
            path = Path(args.token_file)
            try:
                if not path.is_file():
                    _fail(f"--token-file {path}: no such file" if not path.exists() else
                          f"--token-file {path}: not a file")
                with path.open("rb") as f:
                    data = f.read(65_537)
                text = data.decode("utf-8")
            except OSError as exc:
                _fail(f"--token-file {path}: cannot read it: {_reason(exc)}")
            except UnicodeDecodeError:
                _fail(f"--token-file {path}: not UTF-8 text")
            if len(data) > 65_536:
                _fail(f"--token-file {path}: larger than 64 KiB, not a token")
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            if len(lines) != 1:
                _fail(f"--token-file {path}: one line with the token expected, found {len(lines)}")
            if path.stat().st_mode & 0o004:
                self.warn(f"--token-file {path} is readable by every local user (chmod 600 {path})")
            return lines[0]
        if args.token == "-":
            return sys.stdin.readline().strip()
        if args.token:
            self.warn("--token shows the token to every local user (ps, /proc); use --token-file FILE, "
                      f"the {TOKEN_ENV} environment variable or --token - (standard input)")
            return str(args.token)
        return os.environ.get(TOKEN_ENV, "").strip() or None

    def warn(self, text: str) -> None:
        """A warning, printed once everything has started (a refusal stays the one line it is)."""
        self.warnings.append(f"kkt-emu serve: warning: {text}")

    def _lab_ca(self) -> tuple[LabCA, bool]:
        """The lab CA of the state directory, made on the first run; True when it was made now."""
        ca_dir = self.state / "lab-ca"
        self.ca_path = ca_dir / CA_CERT_FILE
        key_path = ca_dir / CA_KEY_FILE
        if not (self.ca_path.exists() or key_path.exists()):
            ca = LabCA.create()
            ca.save(ca_dir)
            return ca, True
        fix = (f"delete the folder {ca_dir} and a new lab CA is made at the next start "
               "(curl --cacert then needs the new ca.pem)")
        try:
            x509.load_pem_x509_certificate(self.ca_path.read_bytes())
        except OSError as exc:
            _fail(f"{self.ca_path}: cannot read the lab CA certificate ({_reason(exc)}); {fix}")
        except ValueError:
            _fail(f"{self.ca_path}: the lab CA certificate is damaged (not a PEM certificate); {fix}")
        try:
            return LabCA.load(ca_dir), False
        except (OSError, ValueError, TypeError) as exc:
            _fail(f"{key_path}: not a usable lab CA key ({_reason(exc)}); {fix}")

    def _load_roots(self, tls: TlsStore) -> None:
        """--real: the device's store holds the --ca roots and no others (without --ca it stays as it was)."""
        if not self.args.ca:
            return
        trial = TlsStore(None, tls.capacity)   # every file checked, and the room for them, before the store changes
        blobs: list[bytes] = []
        for path in self.args.ca:
            try:
                data = Path(path).read_bytes()
                trial.load_all(data)
            except (OSError, TlsError) as exc:
                _fail(f"--ca {path}: {_reason(exc)}")
            blobs.append(data)
        tls.clear()
        for data in blobs:
            tls.load_all(data)

    def _prepare_mock(self, ca: LabCA, new_ca: bool, tls: TlsStore, settings: Settings) -> None:
        from emulator.servers.trueapi.servers import TrueApiServers

        if new_ca or not tls.slots():
            # A new lab CA (the first run, or the lab-ca folder deleted) goes into the device's store too.
            try:
                tls.load_all(ca.cert_pem)
            except TlsError as exc:
                self.say(f"kkt-emu serve: the lab CA is not in the device's TLS store: {exc}")
        world = dict(self.config.get("world", {}))
        self.backend = make_backend(0, world)
        if world.get("tokens"):
            self.token_note = "tokens: those of world.tokens in the configuration"
        elif settings.token:
            # With no token registry in the configuration, the device's own token is valid, but only
            # in the contour of its host: as on the real True API, a sandbox token is refused by the
            # production hosts and a production token by the sandbox hosts.
            try:
                self.token_contour = self.backend.host(settings.gismt_host.partition(":")[0]).contour
            except KeyError:
                self.token_note = (f"tokens: the device's host {settings.gismt_host} is not a mock host, "
                                   "so its token is registered nowhere")
            else:
                contour = self.token_contour
                self.backend.add_token(contour, settings.token)
                self.token_note = (f"tokens: the device's token is valid in the {contour} contour only "
                                   f"({self.backend.base_host(contour)} and its CDN hosts), "
                                   "as the host it is set up for")
        try:
            self.servers = TrueApiServers(self.backend, ca, now_ms=lambda: self.clock.now_ms,
                                          first_ip=self.args.first_ip, port=self.args.https_port)
        except ValueError as exc:
            _fail(f"--first-ip {self.args.first_ip}: " + str(exc).removeprefix(f"first_ip {self.args.first_ip}: "))

    def _start_techserver(self) -> TechWorld:
        import uvicorn

        from emulator.net.techlink import TcpTechLink
        from emulator.servers.techserver.tcp import TechServerTcp
        from emulator.servers.techserver.web import make_app

        self.tech_tcp = TechServerTcp(self.tech_model, "127.0.0.1", 0, now_ms=lambda: self.clock.now_ms).start()
        config = uvicorn.Config(make_app(self.tech_model, (self.args.web_bind, *self.args.web_name)),
                                host=self.args.web_bind, port=self.args.web_port,
                                log_level="warning", lifespan="off")
        self.web = uvicorn.Server(config)
        self.web_thread = threading.Thread(target=self.web.run, name="kkt-techserver-web", daemon=True)
        self.web_thread.start()
        for _ in range(200):
            if self.web.started:
                break
            time.sleep(0.02)
        if not self.web.started:
            _fail(f"the technological server's pages did not start on {self.args.web_bind} "
                  f"port {self.args.web_port}")
        sock = self.web.servers[0].sockets[0].getsockname()
        self.web_url = f"http://{sock[0]}:{sock[1]}/"
        self.tech_link = TcpTechLink(self.driver.post, self.tech_tcp.address)
        return TechWorld(self.tech_model, self.tech_link, self.tech_tcp)

    def _print_banner(self) -> None:
        s = self.device.settings
        if getattr(self.args, "console_first", False) and self.control_url:
            self.say(f"kkt-emu console: open {self.control_url.removesuffix('api/')} in a browser")
        if self.servers is not None:
            self.say("kkt-emu serve: mock True API (modelled), lab CA " + str(self.ca_path))
            fixed = self.args.https_port == 443
            for host, (ip, port) in sorted(self.servers.resolver().items()):
                url = f"https://{host}" if fixed else f"https://{host}:{port}"
                self.say(f"  {url}  ->  {ip}:{port}")
            if self.token_note:
                self.say(self.token_note)
            # curl asks the base host of the token's contour: the other one refuses the token.
            base = self.backend.base_host(self.token_contour or "prod")
            ip, port = self.servers.resolver()[base]
            where = f"{base}" if fixed else f"{base}:{port}"
            self.say("try:")
            self.say(f"  curl --cacert {self.ca_path} --resolve {base}:{port}:{ip} "
                     f"-H 'X-API-KEY: <token>' https://{where}{CDN_INFO}")
            self.say("/etc/hosts lines for the names"
                     + (f" (written to {self.args.hosts_file})" if self.args.hosts_file else " (--hosts-file FILE writes them)")
                     + ":")
            for line in self._hosts_lines().splitlines()[1:]:
                self.say(f"  {line}")
            if fixed:
                self.say("  with them in /etc/hosts a client needs only the names, the lab CA and a token "
                         "(curl without --resolve)")
            else:
                self.say("  the hosts listen on ports of their own: a client needs the ports too "
                         "(--https-port 443 puts every host on port 443)")
        else:
            self.say("kkt-emu serve: real hosts by DNS (port 443)")
        if self.control_url:
            self.say(f"training console (browser): {self.control_url.removesuffix('api/')}")
            self.say(f"control API (JSON, loopback only): {self.control_url}  e.g. "
                     f"curl --json '{{\"down\": true}}' {self.control_url}hosts/cdn01.crpt.ru")
        if not self.args.no_techserver:
            host, port = self.tech_tcp.address
            self.say(f"technological server (modelled): pages {self.web_url}  exchange tcp://{host}:{port}")
        if self.driver_half is not None:
            half = self.driver_half
            self.say(f"driver API (INECRMAN JSON, loopback only): {half.url}  openapi "
                     f"{half.url.replace('/api.json', '/openapi.json')}  KKT port {half.device_port} = "
                     f"{half.ports.names()[half.device_port]}")
        self.say(f"device: {self.device.directory}, host {s.gismt_host}, token {mask_token(s.token) or '(none)'}, "
                 f"TLS {self.device.tls.describe(s.host_check_off)}")
        for line in self.serial.banner() if self.serial is not None else []:
            self.say(line)
        self.say("type 'help' for the console commands; Ctrl-C stops")
        self._screen()

    def _screen(self) -> None:
        assert self.console is not None
        self.console.screen()

    def command(self, line: str) -> None:
        """Run one console command (on the driver thread)."""
        assert self.console is not None
        self.console.command(line)

    def _console(self) -> None:
        # Commands wait in their own queue: the driver's queue carries network results, and a
        # command waiting for its answer must not run the next command in the middle of it.
        for line in sys.stdin:
            if self.stop.is_set():
                return
            self.commands.put(line.strip())
        self.commands.put(None)

    def run(self) -> int:
        # Ctrl-C is ours before start(): one that comes while it runs stops the servers once they are up,
        # instead of breaking start() half-way.
        previous = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGINT, lambda *_: self.stop.set())
        signal.signal(signal.SIGTERM, lambda *_: self.stop.set())
        try:
            self.start()
            if not self.args.no_console:
                threading.Thread(target=self._console, name="kkt-console", daemon=True).start()
            try:
                while not self.stop.is_set():
                    self.driver.run_while(lambda: self.commands.empty() and not self.stop.is_set(),
                                          int(1000 * max(1.0, self.driver.speed)))   # a second of wall time
                    try:
                        line = self.commands.get_nowait()
                    except queue.Empty:
                        continue
                    if line is None:  # end of standard input: keep serving until Ctrl-C
                        continue
                    if callable(line):   # a call of the control API
                        line()
                        continue
                    self.command(line)
            finally:
                self.shutdown()
        finally:
            signal.signal(signal.SIGINT, previous[0])
            signal.signal(signal.SIGTERM, previous[1])
        return 0

    def shutdown(self) -> None:
        self._stop_started()
        self.say("kkt-emu serve: stopped")

    def _stop_started(self) -> None:
        """Stop whatever has started (all of it after start(), part of it when start() failed)."""
        if self.serial is not None:
            self.serial.stop()
        if self.webconsole is not None:
            self.webconsole.close()
        if self.control is not None and self.control_thread is not None:
            self.control.should_exit = True
            self.control_thread.join(timeout=5)
        if self.driver_half is not None:
            self.driver_half.stop()
        if self.device is not None:
            self.device.power_off()
        if self.world is not None and self.world.fiscal is not None:
            self.world.fiscal.close()
        if self.net is not None:
            self.net.close()
        if self.tech_link is not None:
            self.tech_link.shutdown()
        if self.tech_tcp is not None:
            self.tech_tcp.stop()
        if self.web is not None and self.web_thread is not None:
            self.web.should_exit = True
            self.web_thread.join(timeout=5)
        if self.tech_model is not None:
            self.tech_model.close()
            self.tech_model = None
        if self.servers is not None:
            self.servers.stop()


def main(args: argparse.Namespace) -> int:
    return Serve(args).run()
