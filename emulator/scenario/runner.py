"""Running scenarios: the device, its servers and a person at the till, on virtual time.

``run_scenario`` builds one world per scenario — a ``VirtualClock`` at
``start``, the True API backend model configured from ``world``, the
simulated network, a temporary device directory holding the scenario's
``settings.json`` — and drives a ``KktDevice`` through the steps the way a
person would: keys, the scanner, the menu. Nothing reads the wall clock but
the ``wall_s`` figure, so the same scenario gives the same log byte for byte.

Steps that need cash mode first dismiss a pending message (С); a step that
cannot do what it says (the device is not where the step needs it, or refuses
a setting) fails the scenario with the device's mode and display in the
message. The first failed step or expectation stops the scenario.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from emulator.base.clock import VirtualClock
from emulator.base.storage import write_json_atomic
from emulator.devices.kkt.device import DOC_KINDS, DOC_TITLES, Event, KktDevice, Receipt
from emulator.devices.kkt.logbook import LogRecord
from emulator.devices.kkt.settings import Settings, SettingsStore
from emulator.net.oism import SimOismLink
from emulator.net.seam import NetRequest, NetResult
from emulator.net.simulated import SimulatedNetwork
from emulator.rules.marking import is_marking
from emulator.rules.syntax import TOKEN_RE, mask_token
from emulator.scenario.model import (
    Scenario,
    ScenarioError,
    Step,
    apply_host,
    apply_world,
    load_all,
    load_data,
    load_file,
    make_backend,
    parse_duration,
    setting_node,
    tokens_named,
)
from emulator.servers.oism.model import OismModel
from tls_store import TlsStore

SETTLE_MAX_MS = 60_000
Printer = Callable[[str], None]


@dataclass
class ScenarioResult:
    name: str
    file: str
    passed: bool
    failures: list[str] = field(default_factory=list)
    steps_run: int = 0
    log_text: str = ""
    wall_s: float = 0.0
    virtual_ms: int = 0


class StepFailed(Exception):
    """A step could not do what it says; the message is shown with the step's place."""


def _price_keys(kop: int) -> str:
    rub, k = divmod(int(kop), 100)
    return f"{rub}" if k == 0 else f"{rub}.{k:02d}"


def _fmt_time(ms: int, tz_min: int) -> str:
    t = datetime.fromtimestamp(ms / 1000, tz=UTC) + timedelta(minutes=tz_min)
    return t.strftime("%H:%M:%S.") + f"{ms % 1000:03d}"


class ScenarioRun:
    """One scenario's world and the device in it; ``run()`` plays the steps."""

    def __init__(self, scenario: Scenario, *, trace: Printer | None = None,
                 verbose: Printer | None = None, network: str | None = None) -> None:
        self.sc = scenario
        self.trace = trace
        self.verbose = verbose
        self.network = network or ("simulated" if scenario.network == "both" else scenario.network)
        self.clock = VirtualClock(scenario.start_ms)
        self.backend = make_backend(scenario.seed, scenario.world)
        self.servers: Any = None
        self.driver: Any = None
        if self.network == "real":
            self.net: Any = self._real_network()
        else:
            self.net = SimulatedNetwork(self.clock, self.backend)
        self.oism = OismModel(dict(scenario.device.oism_codes), scenario.device.oism_default)
        self.tmp = Path(tempfile.mkdtemp(prefix="kkt-emu-"))
        self.directory = self.tmp / "device"
        self.directory.mkdir()
        spec = scenario.device
        if spec.settings is not None:
            SettingsStore(self.directory).save(Settings.from_json(dict(spec.settings)))
        if self.servers is not None and spec.tls_roots == "lab":
            # The device trusts the lab CA that issued the mock hosts' certificates.
            TlsStore(self.directory).load(self.servers.ca_pem)
        self.tech_model: Any = None
        self.tech_link: Any = None
        self.tech_tcp: Any = None
        if "techserver" in scenario.world:
            self._start_techserver(dict(scenario.world["techserver"] or {}))
        if spec.shift_open:
            write_json_atomic(self.directory / "state.json", {
                "shift_open": True, "shift_number": 1, "shift_opened_ms": scenario.start_ms})
        self.devices: list[KktDevice] = []
        self.past_beeps = 0
        self.past_events: list[Event] = []
        self.past_receipts: list[Receipt] = []
        self.log_mark = 0           # records already matched by a `log` expectation
        self.tokens: set[str] = set()
        self._current_expect_receipt: str | None = None
        if trace is not None:
            self.net.trace = self._trace_net
        self.device = self._new_device()

    # ------------------------------------------------------------- plumbing
    def _real_network(self) -> Any:
        from emulator.net.real import RealNetwork, RealTimeDriver
        from emulator.servers.trueapi.servers import TrueApiServers
        from tls_store.lab_ca import LabCA

        self.driver = RealTimeDriver(self.clock)
        self.servers = TrueApiServers(self.backend, LabCA.create(), now_ms=lambda: self.clock.now_ms).start()
        return RealNetwork(self.driver, self.servers.resolver(), lambda: self.device.tls_context(),
                           route=self.servers.route)

    def _start_techserver(self, conf: dict[str, Any]) -> None:
        from emulator.net.techlink import SimTechLink, TcpTechLink
        from emulator.servers.techserver.model import TechServer
        from emulator.servers.techserver.session import Session

        # The server prepares, for «Запросить и применить на сервере», the root of the CA the
        # GIS MT hosts use: the lab CA of the real servers, or one made for the simulated run.
        if self.servers is not None:
            roots = self.servers.ca_pem
        else:
            from tls_store.lab_ca import LabCA
            roots = LabCA.create().cert_pem
        self.tech_model = TechServer(str(self.tmp / "techserver.sqlite"), root_certs_pem=roots,
                                     clock=lambda: self.clock.now_ms)
        if self.driver is not None:
            from emulator.servers.techserver.tcp import TechServerTcp
            self.tech_tcp = TechServerTcp(self.tech_model, "127.0.0.1", 0,
                                          now_ms=lambda: self.clock.now_ms).start()
            self.tech_link = TcpTechLink(self.driver.post, self.tech_tcp.address)
        else:
            model = self.tech_model
            self.tech_link = SimTechLink(self.clock, lambda: Session(model, lambda: self.clock.now_ms),
                                         int(conf.get("latency_ms", 30)))
            self.tech_link.down = bool(conf.get("down", False))

    def _change_world(self, change: Callable[[], None]) -> None:
        if self.servers is None:
            change()
            self._no_tls_faults()
            return
        with self.servers.lock:
            change()
        self.servers.sync_faults()

    def _no_tls_faults(self) -> None:
        """TLS is not modelled on the simulated network: a host's ``tls`` fault needs the real one."""
        hosts = [n for n in self.backend.hosts() if self.backend.host(n).faults.tls_fault]
        if hosts:
            raise StepFailed(f"a TLS fault ({', '.join(hosts)}) needs `network: real`: TLS is not modelled "
                             f"on the simulated network")

    def _new_device(self) -> KktDevice:
        spec = self.sc.device
        d = KktDevice(self.clock, self.net, self.directory, oism=SimOismLink(self.oism), first_log_seq=spec.log_seq,
                      tech_link=self.tech_link, serial=spec.serial, inn=spec.inn)
        if self.trace is not None:
            for ev in d.events:
                self._trace_event(ev)
            d.on_event = self._trace_event
        self.devices.append(d)
        self._note_token(d)
        return d

    def _note_token(self, d: KktDevice) -> None:
        if d.settings.token:
            self.tokens.add(d.settings.token)

    def _tz(self) -> int:
        return self.device.settings.tz_offset_min if self.devices else 180

    def _trace_event(self, ev: Event) -> None:
        assert self.trace is not None
        detail = ev.detail.replace("\x1d", "<GS>")
        self.trace(f"    {_fmt_time(ev.time_ms, self._tz())} {ev.kind}: {detail}")

    def _trace_net(self, direction: str, obj: NetRequest | NetResult) -> None:
        assert self.trace is not None
        now = _fmt_time(self.clock.now_ms, self._tz())
        if isinstance(obj, NetRequest):
            self.trace(f"    {now} net> #{obj.id} {obj.method} {obj.host}{obj.path}")
        else:
            what = obj.failure.value if obj.failure is not None else f"HTTP {obj.status}"
            self.trace(f"    {now} net< #{obj.request_id} {what} after {obj.elapsed_ms} ms")

    def close(self) -> None:
        if self.tech_tcp is not None:
            self.tech_link.shutdown()
            self.tech_tcp.stop()
        if self.tech_model is not None:
            self.tech_model.close()
        if self.servers is not None:
            self.net.close()
            self.servers.stop()
        for d in self.devices:
            try:
                d.logbook.close()
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _where_is(self) -> str:
        d = self.device
        return f"mode {d.mode!r}, display {d.display.text!r}"

    def _settle(self) -> None:
        def busy() -> bool:
            return self.device.waiting

        if self.driver is not None:
            done = self.driver.run_while(busy, SETTLE_MAX_MS)
        else:
            done = self.clock.run_while(busy, SETTLE_MAX_MS)
        if not done:
            raise StepFailed(f"the device is still busy after {SETTLE_MAX_MS // 1000} s of virtual time "
                             f"({self._where_is()})")

    def _dismiss(self) -> None:
        """Put away a message (С), as a cashier does before the next operation."""
        d = self.device
        for _ in range(5):
            if d.mode not in ("message", "cash_refused"):
                return
            d.press("С")

    def _need_cash_ready(self, what: str) -> KktDevice:
        self._dismiss()
        d = self.device
        if d.mode != "cash_ready":
            raise StepFailed(f"{what} needs cash mode (cash_ready) but the device is in {self._where_is()}; "
                             "add open_shift or enter_cash before it")
        return d

    def _to_main(self) -> None:
        d = self.device
        for _ in range(12):
            if d.mode == "main":
                return
            if d.mode == "menu" or (d.mode == "cash_ready" and not _has_positions(d)):
                d.press("РЕЖ")
            elif d.mode in ("message", "edit", "options", "option_edit", "context", "scan_token", "z_confirm",
                            "cash_refused", "cash_password", "cash_open_shift", "cash_doctype",
                            "cash_need_price", "cash_cancel_confirm"):
                d.press("С")
            else:
                break
        if d.mode != "main":
            raise StepFailed(f"cannot get back to the main menu from {self._where_is()}")

    def _press_text(self, text: str) -> None:
        for ch in text:
            self.device.press(ch)

    # ---------------------------------------------------------------- run
    def run(self) -> ScenarioResult:
        sc = self.sc
        failures: list[str] = []
        steps_run = 0
        t0 = time.perf_counter()
        secrets = scenario_secrets(sc) if self.verbose is not None else set()
        try:
            if self.servers is None:
                try:
                    self._no_tls_faults()
                except StepFailed as exc:
                    failures.append(f"world: {exc}")
            for step in ([] if failures else sc.steps):
                steps_run += 1
                if self.verbose is not None:
                    if step.kind == "type" and isinstance(step.value, str) and self.device.awaits_token:
                        secrets.add(step.value)      # typed into the token field: a token
                    self.verbose(f"  {step.where}: {_describe(step, secrets)}")
                if step.kind == "note":
                    continue
                try:
                    if step.kind == "expect":
                        problems = self.check(step.value)
                        if problems:
                            failures.extend(f"{step.where} {p}" for p in problems)
                            break
                    else:
                        getattr(self, f"step_{step.kind}")(step.value)
                except StepFailed as exc:
                    failures.append(f"{step.where}: {exc}")
                    break
                except Exception as exc:  # noqa: BLE001 - a device error fails this scenario only
                    failures.append(f"{step.where}: {type(exc).__name__}: {exc} ({self._where_is()})")
                    break
                self._note_token(self.device)
            log_text = "\n\n".join(r.text for r in self.device.logbook.records)
        finally:
            wall = time.perf_counter() - t0
            virtual = self.clock.now_ms - sc.start_ms
            self.close()
        return ScenarioResult(sc.name, sc.label, not failures, failures, steps_run, log_text, round(wall, 4),
                              virtual)

    # -------------------------------------------------------------- steps
    # Input steps wait for the device to finish what the input started (a person
    # at the till is slower than the network): the clock runs while it is busy.
    def step_press(self, value: str | list[str]) -> None:
        for name in [value] if isinstance(value, str) else value:
            self.device.press(name)
            self._settle()

    def step_keys(self, value: str) -> None:
        self.device.press_many(value)
        self._settle()

    def step_goto(self, label: str) -> None:
        self.device.goto(label)
        self._settle()

    def step_type(self, text: str) -> None:
        self.device.type_text(text)
        self._settle()

    def step_scan(self, value: str | Mapping[str, Any]) -> None:
        if isinstance(value, str):
            value = {"code": value}
        self.device.scan(value["code"])
        if value.get("wait", True):
            self._settle()

    def step_set(self, value: Mapping[str, Any]) -> None:
        for name, wanted in value.items():
            if name == "option":
                for n, v in wanted.items():
                    self._set_option(int(n), int(v))
            else:
                self._set_setting(name, wanted)
        self._to_main()

    def _set_setting(self, name: str, wanted: Any) -> None:
        d = self.device
        node = setting_node(name)
        d.goto(node.label)
        d.press("ИТ")
        if d.mode != "edit":
            raise StepFailed(f"{node.label!r} did not open for editing ({self._where_is()})")
        if node.type == "choice":
            for _ in range(len(node.values)):
                if d.display.content[1] == wanted:
                    break
                d.press("+")
            d.press("ИТ")
        else:
            if d.buffer:
                d.press("С")
            d.type_text(str(wanted))
            d.press("ИТ")
        if getattr(d.settings, name) != wanted:
            shown = mask_token(str(wanted)) if node.type == "secret" else wanted
            raise StepFailed(f"the device did not take {name} = {shown!r} ({self._where_is()})")

    def _set_option(self, number: int, value: int) -> None:
        d = self.device
        d.goto("ОПЦИИ")
        d.press("ИТ")
        self._press_text(str(number))
        d.press("ИТ")
        if d.mode != "option_edit":
            raise StepFailed(f"option {number} did not open ({self._where_is()})")
        self._press_text(str(value))
        d.press("ИТ")
        if d.settings.options.get(number) != value:
            raise StepFailed(f"the device did not take option {number} = {value} ({self._where_is()})")

    def _password(self) -> str:
        return str(self.device.settings.options.get(2, 0))

    def _enter_cash(self) -> None:
        d = self.device
        d.goto("КАССОВЫЙ РЕЖИМ")
        d.press("ИТ")
        self._press_text(self._password())
        d.press("ИТ")
        if d.mode not in ("cash_ready", "cash_open_shift"):
            raise StepFailed(f"cash mode did not open ({self._where_is()})")

    def step_open_shift(self, _: Any) -> None:
        d = self.device
        self._dismiss()
        if d.mode == "cash_ready" and d.shift_open:
            return
        self._enter_cash()
        if d.mode == "cash_open_shift":
            d.press("3")
        self._settle()
        self._dismiss()
        if d.mode != "cash_ready" or not d.shift_open:
            raise StepFailed(f"the shift did not open ({self._where_is()})")

    def step_enter_cash(self, _: Any) -> None:
        d = self.device
        self._dismiss()
        if d.mode == "cash_ready":
            return
        self._enter_cash()

    def step_sale(self, value: Mapping[str, Any]) -> None:
        d = self._need_cash_ready("sale")
        if value.get("price"):
            self._press_text(_price_keys(value["price"]))
        d.scan(value["code"])
        self._settle()
        answer = value.get("answer", "none")
        if d.mode == "cash_confirm" and answer != "none":
            d.press("3" if answer == "sell" else "С")

    def step_sale_free(self, value: Mapping[str, Any]) -> None:
        d = self._need_cash_ready("sale_free")
        self._press_text(_price_keys(value["price"]))
        d.press("ПИ")

    def step_doc_type(self, kind: str) -> None:
        d = self._need_cash_ready("doc_type")
        if _has_positions(d):
            raise StepFailed("the document type cannot change while a receipt is open")
        d.press("ВЗ")
        if d.mode != "cash_doctype":
            raise StepFailed(f"ВЗ did not open the document type ({self._where_is()})")
        title = d.msgs[DOC_TITLES[kind]]
        for _ in range(len(DOC_KINDS)):
            if d.display.content[1] == title:
                break
            d.press("+")
        d.press("ИТ")
        if d.doc_kind != kind:
            raise StepFailed(f"the document type is {d.doc_kind!r}, not {kind!r} ({self._where_is()})")

    def step_return_receipt(self, _: Any) -> None:
        self.step_doc_type("sale_return")

    def step_close_receipt(self, _: Any) -> None:
        d = self._need_cash_ready("close_receipt")
        if not _has_positions(d):
            raise StepFailed("no receipt is open (or it has no positions)")
        d.press("ИТ")
        if d.receipt is not None:
            raise StepFailed(f"the receipt did not close ({self._where_is()})")

    def step_cancel_receipt(self, _: Any) -> None:
        d = self._need_cash_ready("cancel_receipt")
        if d.receipt is None:
            raise StepFailed("no receipt is open")
        if d.buffer:
            d.press("С")
        d.press("С")
        d.press("3")
        if d.receipt is not None:
            raise StepFailed(f"the receipt was not cancelled ({self._where_is()})")

    def step_leave_cash(self, _: Any) -> None:
        d = self.device
        self._dismiss()
        if d.mode == "cash_ready":
            if _has_positions(d):
                raise StepFailed("a receipt is open: close or cancel it before leaving cash mode")
            d.press("РЕЖ")
        if d.mode.startswith("cash_"):
            raise StepFailed(f"still in cash mode ({self._where_is()})")

    def step_close_shift(self, _: Any) -> None:
        d = self.device
        self._dismiss()
        if not d.shift_open:
            raise StepFailed("no shift is open")
        if _has_positions(d):
            raise StepFailed("a receipt is open: close or cancel it before closing the shift")
        d.goto("ОТЧЕТЫ С ГАШЕНИЕМ")
        d.press("ИТ")
        if d.mode != "z_confirm":
            raise StepFailed(f"the Z report did not ask for confirmation ({self._where_is()})")
        d.press("3")
        self._dismiss()
        if d.shift_open:
            raise StepFailed(f"the shift is still open ({self._where_is()})")

    def step_status_check(self, _: Any) -> None:
        d = self.device
        d.goto(d.menu.context["status"])
        d.press("ИТ")
        self._settle()

    def step_emergency(self, value: str | bool) -> None:
        on = value is True or value == "on"
        d = self.device
        d.goto(d.menu.context["emergency_on" if on else "emergency_off"])
        d.press("ИТ")

    def step_advance(self, value: str | int) -> None:
        ms = parse_duration(value)
        if self.driver is None:
            self.clock.advance(ms)
            return
        # On the real network a timer that sends something (a health-check probe, a CDN
        # refresh, a session with the technological server) must get its real answer before
        # later timers fire: time jumps from timer to timer, and runs at wall pace while
        # anything is on the wire, as the simulated network's latencies run on the clock.
        target = self.clock.now_ms + ms

        def waiting() -> bool:
            return bool(self.net.in_flight or self.device.waiting)

        while True:
            due = self.clock.next_due()
            if due is None or due > target:
                break
            self.clock.step()
            if waiting():
                self.driver.run_while(waiting, max(0, target - self.clock.now_ms))
        self.clock.run_until(max(target, self.clock.now_ms))
        self.servers.expire_idle()      # the servers' keep-alive timeout, on the clock as well

    def step_settle(self, _: Any) -> None:
        self._settle()

    def step_host(self, value: Mapping[str, Any]) -> None:
        self._change_world(lambda: apply_host(self.backend, value["name"],
                                              {k: v for k, v in value.items() if k != "name"}))

    def step_world(self, value: Mapping[str, Any]) -> None:
        self._change_world(lambda: apply_world(self.backend, value))

    def step_tech(self, value: str | Mapping[str, Any]) -> None:
        """A button of the technological server's pages, for this device."""
        m, serial = self.tech_model, self.device.serial
        if m is None:
            raise StepFailed("tech needs world.techserver")
        if value == "session":
            if not self.device.tech or not self.device.tech.start("scenario"):
                raise StepFailed("the device could not open a session now (one is running, or no link)")
            self._settle()
        elif value == "request_certs":
            m.request_and_apply_certs(serial)
        elif value == "insert_cert":
            m.insert_cert(serial)
        elif value == "send_all":
            m.send_all_settings(serial)
        elif isinstance(value, Mapping) and "set" in value:
            for kind, v in value["set"].items():
                m.set_setting(serial, kind, v)
        elif isinstance(value, Mapping) and "token_for_inn" in value:
            m.queue_token_for_inn(value["token_for_inn"]["inn"], value["token_for_inn"]["token"])
        elif isinstance(value, Mapping) and "down" in value:
            if self.tech_tcp is not None:
                raise StepFailed("tech down is available on the simulated network only")
            self.tech_link.down = bool(value["down"])

    def _exp_tech(self, want: Mapping[str, Any]) -> str | None:
        if self.tech_model is None:
            return "no technological server in this scenario (world.techserver)"
        serial = self.device.serial
        recs = self.tech_model.records(serial)
        got: dict[str, Any] = {}
        for key in want:
            if key == "records":
                got[key] = len(recs)
            elif key == "codes":
                got[key] = [r.code for r in recs]
            elif key == "tasks":
                got[key] = [t.state for t in self.tech_model.tasks(serial)]
            elif key == "pending_upload":
                got[key] = len(self.device.logbook.pending_upload())
            elif key == "same_as_device_log":
                device_texts = [r.text for r in self.device.logbook.records if r.seq in {x.seq for x in recs}]
                got[key] = bool(recs) and [r.text for r in recs] == device_texts and \
                    len({r.seq for r in recs}) == len(recs)
        return self._differ(dict(want), got)

    def step_restart(self, _: Any) -> None:
        """Power cycle: the device directory survives, the open receipt and the RAM do not."""
        old = self.device
        self.past_beeps += len(old.beeps)
        self.past_events.extend(old.events)
        self.past_receipts.extend(old.receipts)
        old.power_off()  # whatever of it is still on the clock reaches neither the log nor the state
        self.device = self._new_device()

    # -------------------------------------------------------- expectations
    def check(self, exp: Mapping[str, Any]) -> list[str]:
        """Problems with the expectations of one ``expect`` step (empty when all hold)."""
        out: list[str] = []
        self._current_expect_receipt = exp.get("receipt")
        for key, want in exp.items():
            problem = getattr(self, f"_exp_{key}")(want)
            if problem:
                out.append(f"{key}: {problem}")
        if "log" in exp:
            self.log_mark = len(self.device.logbook.records)
        return out

    @staticmethod
    def _differ(want: Any, got: Any) -> str | None:
        return None if want == got else f"expected {want!r}, got {got!r}"

    def _exp_display(self, want: list[str]) -> str | None:
        got = [line.rstrip() for line in self.device.screen()[:2]][:len(want)]
        return self._differ([w.rstrip() for w in want], got)

    def _exp_display_text(self, want: str) -> str | None:
        return self._differ(want, self.device.display.text)

    def _exp_display_contains(self, want: str) -> str | None:
        # A message is word-wrapped at spaces: a line break also matches a space.
        text = self.device.display.text
        if want in text or want in text.replace("\n", " "):
            return None
        return f"{want!r} is not in the display text {text!r}"

    def _exp_status(self, want: str) -> str | None:
        return self._differ(want, self.device.status_symbol)

    def _exp_status_line(self, want: str) -> str | None:
        return self._differ(want, self.device.status_line)

    def _exp_last_error(self, want: int | None) -> str | None:
        return self._differ(want, self.device.last_error)

    def _exp_beeps(self, want: int) -> str | None:
        beeps = self.past_beeps + len(self.device.beeps)
        if want == beeps:
            return None
        reasons = [b.reason for b in self.device.beeps]
        return f"expected {want}, got {beeps} (this power-up: {reasons!r})"

    def _exp_mode(self, want: str) -> str | None:
        return self._differ(want, self.device.mode)

    def _exp_log_count(self, want: int) -> str | None:
        recs = self.device.logbook.records
        return None if len(recs) == want else f"expected {want}, got {len(recs)}: {_summary(recs)}"

    def _exp_log(self, want: list[Mapping[str, Any]]) -> str | None:
        recs = self.device.logbook.records[self.log_mark:]
        problem = _match_records(want, recs)
        return f"{problem} among the records written since the last `log` check: {_summary(recs)}" if problem \
            else None

    def _exp_log_all(self, want: list[Mapping[str, Any]]) -> str | None:
        recs = self.device.logbook.records
        problem = _match_records(want, recs)
        return f"{problem} among all records: {_summary(recs)}" if problem else None

    def _exp_log_text(self, want: str) -> str | None:
        recs = self.device.logbook.records
        if not recs:
            return "expected a record, the log is empty"
        got = recs[-1].text
        if self.network == "real":
            # Over real sockets the measured time and the answer's timestamp are the wall clock's.
            want, got = comparable_log(want), comparable_log(got)
        if got == want:
            return None
        i = next((n for n, (a, b) in enumerate(zip(want, got)) if a != b), min(len(want), len(got)))
        return (f"the last record differs from character {i} on: expected {want[i:i + 40]!r}..., "
                f"got {got[i:i + 40]!r}...\n      expected {want!r}\n      got      {got!r}")

    def _exp_log_codes(self, want: list[int]) -> str | None:
        return self._differ(want, [r.code for r in self.device.logbook.records])

    def _exp_settings(self, want: Mapping[str, Any]) -> str | None:
        s = self.device.settings
        bad = []
        for name, value in want.items():
            if name == "options":
                for n, v in value.items():
                    opt = s.options.get(int(n))
                    if opt != v:
                        bad.append(f"option {n}: expected {v!r}, got {opt!r}")
                continue
            got = getattr(s, name)
            if got != value:
                if name == "token":
                    value, got = mask_token(str(value)), mask_token(str(got))
                bad.append(f"{name}: expected {value!r}, got {got!r}")
        return "; ".join(bad) or None

    def _exp_token_masked(self, want: bool) -> str | None:
        tokens = [t for t in self.tokens | {self.device.settings.token} if len(t) > 8]
        d = self.device
        # A long token is cut by word-wrapping: look at the display content joined up too.
        places: list[tuple[str, str]] = [("display", d.display.text), ("display", "".join(d.display.content)),
                                         ("screen", "\n".join(d.screen()))]
        places += [(f"event {e.kind}", e.detail) for e in self.past_events + list(d.events)]
        places += [(f"log record [{r.seq}]", f"{r.text}\n{r.note}") for r in d.logbook.records]
        for t in tokens:
            for where, text in places:
                if t in text:
                    return f"the full token {mask_token(t)} appears in the {where}"
        return None

    def _receipts(self) -> list[Receipt]:
        return self.past_receipts + list(self.device.receipts)

    def _exp_receipts(self, want: Mapping[str, Any]) -> str | None:
        rs = self._receipts()
        got: dict[str, Any] = {"closed": sum(1 for r in rs if r.state == "closed"),
                               "cancelled": sum(1 for r in rs if r.state == "cancelled"),
                               "open": _has_positions(self.device)}
        return self._differ(dict(want), {k: got[k] for k in want})

    def _exp_receipt(self, want: str) -> str | None:
        return None  # selects the receipt for `positions`; checked there

    def _exp_positions(self, want: list[Mapping[str, Any]]) -> str | None:
        # `receipt` in the same expect picks which one; default: the open one, else the last closed.
        return self._positions(want, self._current_expect_receipt)

    def _pick_receipt(self, which: str | None) -> tuple[Receipt | None, str]:
        closed = [r for r in self._receipts() if r.state == "closed"]
        if which == "current" or (which is None and self.device.receipt is not None):
            return self.device.receipt, "the open receipt"
        return (closed[-1] if closed else None), "the last closed receipt"

    def _positions(self, want: list[Mapping[str, Any]], which: str | None) -> str | None:
        receipt, what = self._pick_receipt(which)
        if receipt is None:
            return f"there is no {what[4:]}"
        got = receipt.positions
        if len(got) != len(want):
            return (f"{what} (#{receipt.number}) has {len(got)} positions, expected {len(want)}: "
                    f"{[_pos_summary(p) for p in got]}")
        bad = []
        for i, (w, p) in enumerate(zip(want, got)):
            for key, value in w.items():
                actual = getattr(p, key)
                if key == "tag1265" and self.network == "real" and isinstance(value, str) and actual:
                    value, actual = comparable_log(value), comparable_log(actual)
                if actual != value:
                    bad.append(f"position {i + 1} {key}: expected {value!r}, got {actual!r}")
        return f"{what} (#{receipt.number}): " + "; ".join(bad) if bad else None

    def _exp_connections(self, want: Mapping[str, int]) -> str | None:
        opened = self.net.stats.opened
        return self._differ(dict(want), {h: opened.get(h, 0) for h in want})

    def _exp_requests(self, want: Mapping[str, int]) -> str | None:
        reqs = self.net.stats.requests
        return self._differ(dict(want), {h: reqs.get(h, 0) for h in want})

    def _exp_cdn(self, want: Mapping[str, Any]) -> str | None:
        book = self.device.book
        now = self.clock.now_ms
        active = book.active(now)
        got = {"active": active.name if active else None, "order": [h.name for h in book.hosts],
               "blocked": sorted(h.name for h in book.hosts if h.blocked(now))}
        w = dict(want)
        if "blocked" in w:
            w["blocked"] = sorted(w["blocked"])
        return self._differ(w, {k: got[k] for k in w})


def _has_positions(d: KktDevice) -> bool:
    """A receipt is open once something is in it (a refused first position leaves an empty one)."""
    return d.receipt is not None and bool(d.receipt.positions)


def _pos_summary(p: Any) -> str:
    return f"{p.price} {p.gismt}" + (f" {p.error}" if p.error else "")


def _summary(recs: list[LogRecord]) -> str:
    if not recs:
        return "(none)"
    return "[" + ", ".join(f"{r.code} {r.note!r}" for r in recs) + "]"


def _record_matches(want: Mapping[str, Any], rec: LogRecord) -> bool:
    if "code" in want and rec.code != want["code"]:
        return False
    for name, value in (want.get("fields") or {}).items():
        if rec.field(name) != str(value):
            return False
    if "note_contains" in want and want["note_contains"] not in rec.note:
        return False
    if "text_contains" in want and want["text_contains"] not in rec.text:
        return False
    return True


def _match_records(want: list[Mapping[str, Any]], recs: list[LogRecord]) -> str | None:
    """Each wanted entry matches a later record than the one before (in order, gaps allowed)."""
    i = 0
    for n, w in enumerate(want):
        while i < len(recs) and not _record_matches(w, recs[i]):
            i += 1
        if i >= len(recs):
            return f"entry {n + 1} {dict(w)!r} not found in order"
        i += 1
    return None


def scenario_secrets(sc: Scenario) -> set[str]:
    """Every token a scenario names (``tokens_named`` over its world, device settings and
    steps), and every scanned text that is a token rather than a marking code."""
    found = tokens_named([dict(sc.world), dict(sc.device.settings or {}), [step.value for step in sc.steps]])
    for step in sc.steps:
        if step.kind == "scan":
            code = step.value["code"] if isinstance(step.value, Mapping) else step.value
            if isinstance(code, str) and TOKEN_RE.match(code) and not is_marking(code):
                found.add(code)
    return {t for t in found if len(t) > 8}


def _describe(step: Step, tokens: set[str] = frozenset()) -> str:  # type: ignore[assignment]
    """A step as the verbose output shows it: tokens masked, long values cut."""
    v = step.value
    text = str(v) if step.kind == "note" else repr(v)
    for t in sorted(tokens, key=len, reverse=True):
        text = text.replace(t, mask_token(t))
    return text if len(text) <= 100 else text[:97] + "..."


# ---------------------------------------------------------------- public
def run_scenario(source: Scenario | str | Path | Mapping[str, Any], *, trace: Printer | None = None,
                 verbose: Printer | None = None) -> ScenarioResult:
    """Run one scenario: a loaded ``Scenario``, a file holding one, or a mapping as in a file."""
    if isinstance(source, Scenario):
        sc = source
    else:
        loaded = load_file(source) if isinstance(source, (str, Path)) else load_data(dict(source), "<dict>")
        if len(loaded) != 1:
            raise ValueError(f"{source}: holds {len(loaded)} scenarios; use run_paths")
        sc = loaded[0]
    if sc.network == "both":
        return run_on_both(sc, trace=trace, verbose=verbose)
    r = ScenarioRun(sc, trace=trace, verbose=verbose).run()
    if sc.network == "real":
        r = dataclasses.replace(r, name=f"{r.name} [real]")
    return r


_MEASURED = re.compile(r"ВремяОбработки:\d+мс|Time=\d*")


def comparable_log(log_text: str) -> str:
    """A log with what differs between networks masked: measured times and answer timestamps."""
    return _MEASURED.sub(lambda m: m.group(0).split(":")[0].split("=")[0] + "=…", log_text)


def run_on_both(sc: Scenario, *, trace: Printer | None = None, verbose: Printer | None = None) -> ScenarioResult:
    """Run on the simulated and on the real network; both must pass and log the same records."""
    sim = ScenarioRun(sc, trace=trace, verbose=verbose, network="simulated").run()
    real = ScenarioRun(sc, trace=trace, verbose=verbose, network="real").run()
    failures = [f"[simulated] {f}" for f in sim.failures] + [f"[real] {f}" for f in real.failures]
    if sim.passed and real.passed and comparable_log(sim.log_text) != comparable_log(real.log_text):
        failures.append("the logs differ between the simulated and the real network:\n--- simulated\n"
                        f"{comparable_log(sim.log_text)}\n--- real\n{comparable_log(real.log_text)}")
    # The simulated run's log stands for both: it is the one that replays byte for byte.
    return ScenarioResult(f"{sc.name} [simulated + real]", sim.file, not failures, failures,
                          sim.steps_run + real.steps_run, sim.log_text, round(sim.wall_s + real.wall_s, 4),
                          sim.virtual_ms)


def run_paths(paths: Iterable[str | Path], *, trace: Printer | None = None, verbose: Printer | None = None,
              on_result: Callable[[ScenarioResult], None] | None = None) -> list[ScenarioResult]:
    """Run every scenario under ``paths`` (folders recursively); raises ScenarioError on a bad file."""
    scenarios, errors = load_all(paths)
    if errors:
        raise errors[0]
    results = []
    for sc in scenarios:
        r = run_scenario(sc, trace=trace, verbose=verbose)
        if on_result is not None:
            on_result(r)
        results.append(r)
    return results


__all__ = ["ScenarioResult", "ScenarioRun", "StepFailed", "run_paths", "run_scenario", "ScenarioError"]
