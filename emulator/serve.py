"""``kkt-emu serve``: the device and the mock servers in real time.

What it starts:

* the mock True API: one HTTPS server per host (``cdn.crpt.ru``, ``cdn01..03.crpt.ru``
  and the sandbox hosts) on its own loopback address 127.0.0.x, certificates from
  a lab CA kept in the state directory (so ``curl --cacert`` keeps working
  across runs);
* the device, on the real network adapter, its clock following the wall clock,
  its directory in the state directory (settings, log and TLS roots survive);
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
``--ca`` and using the token given with ``--token`` (or ``--token -`` from
standard input, so it stays out of the shell history).

The configuration file (YAML) has the same ``world`` section as a scenario
(tokens, hosts with latencies and fault plans, codes) plus ``device``
(settings, as in a scenario) and ``state_dir``. Command-line flags override it.
Everything binds to loopback addresses unless ``--web-bind`` names another.
"""

from __future__ import annotations

import argparse
import queue
import shlex
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

import yaml

from tls_store import TlsError, TlsStore

from .clock import VirtualClock
from .kkt.device import KktDevice
from .kkt.settings import Settings, SettingsStore, mask_token
from .realnet import RealNetwork, RealTimeDriver

CDN_INFO = "/api/v4/true-api/cdn/info"
HELP = """commands:
  press KEY...        keys by name: ИТ ПИ ВЗ С РЕЖ + - X КОД 00 0-9 .
  keys 2 4 8 ПИ       the same, digits typed one by one
  scan CODE           the barcode scanner (write the GS as <GS>)
  scan-image FILE     the scanner reading a picture (a token QR code)
  type TEXT           the PC keyboard (host names, tokens)
  goto LABEL          walk the menu to an item, e.g. goto СТАТУС ГИС МТ
  screen | log | cdn  show the display, the GIS MT log, the CDN list
  exchange            a session with the technological server now (not in cash mode)
  quit                stop (Ctrl-C works too)"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="YAML file: world (as in scenarios), device settings, state_dir")
    p.add_argument("--state-dir", help="where the lab CA and the device directory live (default .kkt-emu)")
    p.add_argument("--token", help="the device's token; '-' reads it from standard input")
    p.add_argument("--host", dest="gismt_host", help="GIS MT host name the device uses (default cdn.crpt.ru)")
    p.add_argument("--real", action="store_true",
                   help="no mock servers: connect to the real hosts by DNS, port 443")
    p.add_argument("--ca", action="append", default=[],
                   help="PEM/DER root certificate(s) to load into the device (with --real)")
    p.add_argument("--no-console", action="store_true", help="do not read commands from standard input")
    p.add_argument("--first-ip", type=int, default=2, help="first loopback address 127.0.0.N for the mock hosts")
    p.add_argument("--web-bind", default="127.0.0.1",
                   help="address of the technological server's pages (default loopback only)")
    p.add_argument("--web-port", type=int, default=0, help="port of the pages (default: any free port)")
    p.add_argument("--no-techserver", action="store_true", help="do not start the technological server")


def _load_config(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    data = yaml.safe_load(Path(path).read_text("utf-8")) or {}
    if not isinstance(data, dict):
        raise SystemExit(f"kkt-emu serve: {path}: the configuration must be a mapping")
    unknown = set(data) - {"world", "device", "state_dir"}
    if unknown:
        raise SystemExit(f"kkt-emu serve: {path}: unknown keys {sorted(unknown)}")
    return data


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
        self.config = _load_config(args.config)
        self.state = Path(args.state_dir or self.config.get("state_dir") or ".kkt-emu")
        self.stop = threading.Event()
        self.servers: Any = None
        self.backend: Any = None

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def start(self) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        device_dir = self.state / "device"
        self._write_settings(device_dir)
        self.clock = VirtualClock(int(time.time() * 1000))
        self.driver = RealTimeDriver(self.clock)
        tls = TlsStore(device_dir)
        if self.args.real:
            for path in self.args.ca:
                try:
                    tls.load_all(Path(path).read_bytes())
                except (OSError, TlsError) as exc:
                    raise SystemExit(f"kkt-emu serve: --ca {path}: {exc}") from None
            resolve: Any = _dns_resolver
        else:
            self._start_mock(tls)
            resolve = self.servers.resolver()
        self.net = RealNetwork(self.driver, resolve, lambda: self.device.tls_context())
        link = None if self.args.no_techserver else self._start_techserver()
        self.device = KktDevice(self.clock, self.net, device_dir, tech_link=link)
        self.device.on_event = self._event
        self._print_banner()
        tech = self.device.tech
        if tech is not None:
            # The first session right away, so the device is on the server's list from the start;
            # then every «ПЕРИОД ОПРОСА».
            def first_session() -> None:
                tech.start("start")
            self.driver.post(first_session)

    def _write_settings(self, device_dir: Path) -> None:
        store = SettingsStore(device_dir)
        settings = store.load()
        wanted = dict(self.config.get("device", {}).get("settings", {}))
        token = self.args.token
        if token == "-":
            token = sys.stdin.readline().strip()
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
            except ValueError as exc:
                raise SystemExit(f"kkt-emu serve: device settings: {exc}") from None
            store.save(settings)

    def _start_mock(self, tls: TlsStore) -> None:
        from tls_store.lab_ca import LabCA

        from .scenario.model import make_backend
        from .trueapi.servers import TrueApiServers

        ca_dir = self.state / "lab-ca"
        ca = LabCA.load(ca_dir) if (ca_dir / "ca.pem").exists() else LabCA.create()
        if not (ca_dir / "ca.pem").exists():
            ca.save(ca_dir)
        world = dict(self.config.get("world", {}))
        self.backend = make_backend(0, world)
        token = self.args.token if self.args.token and self.args.token != "-" else None
        settings_token = SettingsStore(self.state / "device").load().token
        for t in {token, settings_token} - {None, ""}:
            if not world.get("tokens"):
                # With no token registry in the configuration, the device's own token is valid.
                self.backend.add_token("prod", t)
                self.backend.add_token("sandbox", t)
        self.servers = TrueApiServers(self.backend, ca, now_ms=lambda: self.clock.now_ms,
                                      first_ip=self.args.first_ip).start()
        if not tls.slots():
            tls.load_all(ca.cert_pem)
        self.ca_path = ca_dir / "ca.pem"

    def _start_techserver(self) -> Any:
        import uvicorn

        from .techlink import TcpTechLink
        from .techserver.model import TechServer
        from .techserver.tcp import TechServerTcp
        from .techserver.web import make_app

        roots = self.servers.ca_pem if self.servers is not None else b""
        self.tech_model = TechServer(str(self.state / "techserver.sqlite"), root_certs_pem=roots,
                                     clock=lambda: self.clock.now_ms)
        self.tech_tcp = TechServerTcp(self.tech_model, "127.0.0.1", 0, now_ms=lambda: self.clock.now_ms).start()
        config = uvicorn.Config(make_app(self.tech_model), host=self.args.web_bind, port=self.args.web_port,
                                log_level="warning", lifespan="off")
        self.web = uvicorn.Server(config)
        self.web_thread = threading.Thread(target=self.web.run, name="kkt-techserver-web", daemon=True)
        self.web_thread.start()
        for _ in range(200):
            if self.web.started:
                break
            time.sleep(0.02)
        if not self.web.started:
            raise SystemExit("kkt-emu serve: the technological server's pages did not start")
        sock = self.web.servers[0].sockets[0].getsockname()
        self.web_url = f"http://{sock[0]}:{sock[1]}/"
        self.tech_link = TcpTechLink(self.driver.post, self.tech_tcp.address)
        return self.tech_link

    def _print_banner(self) -> None:
        s = self.device.settings
        if self.servers is not None:
            self.say("kkt-emu serve: mock True API (modelled), lab CA " + str(self.ca_path))
            for host, (ip, port) in sorted(self.servers.resolver().items()):
                self.say(f"  https://{host}:{port}  ->  {ip}:{port}")
            ip, port = self.servers.resolver()["cdn.crpt.ru"]
            self.say("try:")
            self.say(f"  curl --cacert {self.ca_path} --resolve cdn.crpt.ru:{port}:{ip} "
                     f"-H 'X-API-KEY: <token>' https://cdn.crpt.ru:{port}{CDN_INFO}")
        else:
            self.say("kkt-emu serve: real hosts by DNS (port 443)")
        if not self.args.no_techserver:
            host, port = self.tech_tcp.address
            self.say(f"technological server (modelled): pages {self.web_url}  exchange tcp://{host}:{port}")
        self.say(f"device: {self.device.directory}, host {s.gismt_host}, token {mask_token(s.token) or '(none)'}, "
                 f"TLS {self.device.tls.describe(s.host_check_off)}")
        self.say("type 'help' for the console commands; Ctrl-C stops")
        self._screen()

    def _event(self, ev: Any) -> None:
        if ev.kind in ("log", "error", "emergency", "beep", "tls", "cdn", "receipt", "tech"):
            self.say(f"  [{ev.kind}] {ev.detail}")

    def _screen(self) -> None:
        l1, l2, status = self.device.screen()
        self.say(f"┌{'─' * 20}┐\n│{l1}│\n│{l2}│\n└{'─' * 20}┘ {status}")

    def command(self, line: str) -> None:
        """Run one console command (on the driver thread)."""
        try:
            parts = shlex.split(line)
        except ValueError as exc:
            self.say(f"? {exc}")
            return
        if not parts:
            return
        cmd, rest = parts[0], parts[1:]
        d = self.device
        try:
            if cmd == "press":
                for k in rest:
                    d.press(k)
            elif cmd == "keys":
                d.press_many(" ".join(rest))
            elif cmd == "scan":
                d.scan(line.split(None, 1)[1] if len(parts) > 1 else "")
            elif cmd == "scan-image":
                d.scan_image(Path(rest[0]))
            elif cmd == "type":
                d.type_text(line.split(None, 1)[1] if len(parts) > 1 else "")
            elif cmd == "goto":
                d.goto(" ".join(rest))
            elif cmd == "log":
                for r in d.logbook.records[-10:]:
                    self.say(r.text + "\n")
                return
            elif cmd == "cdn":
                for h in d.book.snapshot(self.clock.now_ms):
                    self.say(f"  {h}")
                return
            elif cmd == "exchange":
                if d.tech is None:
                    self.say("? no technological server (--no-techserver)")
                    return
                if d.mode.startswith("cash_"):
                    self.say("? not in cash mode: leave it first (the device never exchanges there)")
                    return
                if not d.tech.start("console"):
                    self.say("? a session is already running")
                    return
            elif cmd == "help":
                self.say(HELP)
                return
            elif cmd == "quit":
                self.stop.set()
                return
            elif cmd != "screen":
                self.say(f"? unknown command {cmd!r} (help)")
                return
        except (ValueError, KeyError, RuntimeError, OSError) as exc:
            self.say(f"? {exc}")
        self.driver.run_while(lambda: d.waiting, 15_000)
        self._screen()

    def _console(self) -> None:
        # Commands wait in their own queue: the driver's queue carries network results, and a
        # command waiting for its answer must not run the next command in the middle of it.
        for line in sys.stdin:
            if self.stop.is_set():
                return
            self.commands.put(line.strip())
        self.commands.put(None)

    def run(self) -> int:
        self.start()
        self.commands: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        if not self.args.no_console:
            threading.Thread(target=self._console, name="kkt-console", daemon=True).start()
        previous = signal.getsignal(signal.SIGINT)
        signal.signal(signal.SIGINT, lambda *_: self.stop.set())
        signal.signal(signal.SIGTERM, lambda *_: self.stop.set())
        try:
            while not self.stop.is_set():
                self.driver.run_while(lambda: self.commands.empty() and not self.stop.is_set(), 1000)
                try:
                    line = self.commands.get_nowait()
                except queue.Empty:
                    continue
                if line is None:  # end of standard input: keep serving until Ctrl-C
                    continue
                self.command(line)
        finally:
            signal.signal(signal.SIGINT, previous)
            self.shutdown()
        return 0

    def shutdown(self) -> None:
        self.device.power_off()
        self.net.close()
        if not self.args.no_techserver:
            self.tech_link.shutdown()
            self.tech_tcp.stop()
            self.web.should_exit = True
            self.web_thread.join(timeout=5)
            self.tech_model.close()
        if self.servers is not None:
            self.servers.stop()
        self.say("kkt-emu serve: stopped")


def main(args: argparse.Namespace) -> int:
    return Serve(args).run()
