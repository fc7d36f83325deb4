"""Running scenarios: the device, its servers and a person at the till, on virtual time.

``run_scenario`` builds one ``World`` per scenario (``emulator.world``: a
``VirtualClock`` at ``start``, the True API model configured from ``world``,
the simulated or the real network, the technological server if named) with a
temporary device directory holding the scenario's ``settings.json``, and
drives the ``KktDevice`` through the steps with the one cashier driver
(``emulator.fronts.operator.Operator``): keys, the scanner, the menu. Nothing reads the wall clock but
the ``wall_s`` figure, so the same scenario gives the same log byte for byte.

Steps that need cash mode first dismiss a pending message (С); a step that
cannot do what it says (the device is not where the step needs it, or refuses
a setting) fails the scenario with the device's mode and display in the
message. The first failed step or expectation stops the scenario.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from emulator.base.instants import parse_duration
from emulator.base.storage import write_json_atomic
from emulator.devices.kkt.device import KktDevice, Receipt
from emulator.devices.kkt.events import DeviceEvent
from emulator.devices.kkt.fiscal import PRINTS_DIR, FiscalUnit
from emulator.devices.kkt.logbook import LogRecord
from emulator.devices.kkt.settings import Settings, SettingsStore
from emulator.devices.printer.form import qr_text
from emulator.fronts.operator import Operator, OperatorError
from emulator.net.seam import NetRequest, NetResult
from emulator.rules.marking import is_marking
from emulator.rules.syntax import TOKEN_RE, mask_token
from emulator.scenario.model import Scenario, ScenarioError, Step, load_all, load_data, load_file, setting_node
from emulator.servers.ofd.model import OfdModel
from emulator.servers.oism.model import OismModel
from emulator.servers.techserver.model import TechServer
from emulator.world.root import World, WorldError
from emulator.world.spec import apply_host, apply_world, make_backend, tokens_named
from tls_store import TlsStore

SETTLE_MAX_MS = 60_000
# Runners of other devices' scenarios, by scenario class (``scenario.prro`` adds the ПРРО's).
KIND_RUNNERS: dict[type, Callable[..., ScenarioResult]] = {}
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
        spec = scenario.device
        # The drive's secret is derived from the seed: the same scenario gives the same fiscal signs.
        secret = hashlib.sha256(f"kkt-emu scenario drive {scenario.seed}".encode()).digest()
        self.world = World.build(self.network, scenario.start_ms, make_backend(scenario.seed, scenario.world),
                                 oism=OismModel(dict(spec.oism_codes), spec.oism_default), drive_secret=secret)
        self.clock = self.world.clock
        self.backend = self.world.backend
        self.net = self.world.net
        self.tmp = self.world.temp_directory()
        self.directory = self.tmp / "device"
        self.directory.mkdir()
        if spec.settings is not None:
            SettingsStore(self.directory).save(Settings.from_json(dict(spec.settings)))
        if self.world.servers is not None and spec.tls_roots == "lab":
            # The device trusts the lab CA that issued the mock hosts' certificates.
            TlsStore(self.directory).load(self.world.servers.ca_pem)
        if "techserver" in scenario.world:
            conf = dict(scenario.world["techserver"] or {})
            self.world.add_techserver(self.tmp / "techserver.sqlite", latency_ms=int(conf.get("latency_ms", 30)),
                                      down=bool(conf.get("down", False)))
        if spec.shift_open:
            write_json_atomic(self.directory / "state.json", {
                "shift_open": True, "shift_number": 1, "shift_opened_ms": scenario.start_ms})
        self.past_beeps = 0
        self.past_events: list[DeviceEvent] = []
        self.past_receipts: list[Receipt] = []
        self.log_mark = 0           # records already matched by a `log` expectation
        self.tokens: set[str] = set()
        self._current_expect_receipt: str | None = None
        if trace is not None:
            self.net.trace = self._trace_net
        self.device = self._new_device()

    @property
    def tech_model(self) -> TechServer | None:
        return self.world.tech.model if self.world.tech is not None else None

    def _new_device(self) -> KktDevice:
        spec = self.sc.device
        d = self.world.new_device(self.directory, first_log_seq=spec.log_seq, serial=spec.serial, inn=spec.inn)
        if self.trace is not None:
            for ev in d.events:
                self._trace_event(ev)
            d.on_event = self._trace_event
        self.op = Operator(d, self._settle)
        self._note_token(d)
        return d

    def _note_token(self, d: KktDevice) -> None:
        if d.settings.token:
            self.tokens.add(d.settings.token)

    def _tz(self) -> int:
        return self.world.device.settings.tz_offset_min if self.world.devices else 180

    def _trace_event(self, ev: DeviceEvent) -> None:
        assert self.trace is not None
        text = ev.render().replace("\x1d", "<GS>")
        self.trace(f"    {_fmt_time(ev.time_ms, self._tz())} {text}")

    def _trace_net(self, direction: str, obj: NetRequest | NetResult) -> None:
        assert self.trace is not None
        now = _fmt_time(self.clock.now_ms, self._tz())
        if isinstance(obj, NetRequest):
            self.trace(f"    {now} net> #{obj.id} {obj.method} {obj.host}{obj.path}")
        else:
            what = obj.failure.value if obj.failure is not None else f"HTTP {obj.status}"
            self.trace(f"    {now} net< #{obj.request_id} {what} after {obj.elapsed_ms} ms")

    def close(self) -> None:
        self.world.close()

    def _where_is(self) -> str:
        d = self.device
        return f"mode {d.mode!r}, display {d.display.text!r}"

    def _settle(self) -> None:
        if not self.world.settle(lambda: self.device.waiting, SETTLE_MAX_MS):
            raise StepFailed(f"the device is still busy after {SETTLE_MAX_MS // 1000} s of virtual time "
                             f"({self._where_is()})")

    # ---------------------------------------------------------------- run
    def run(self) -> ScenarioResult:
        sc = self.sc
        failures: list[str] = []
        steps_run = 0
        t0 = time.perf_counter()
        secrets = scenario_secrets(sc) if self.verbose is not None else set()
        try:
            try:
                self.world.check_simulable()
            except WorldError as exc:
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
                except (StepFailed, OperatorError, WorldError) as exc:
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
            self.op.press(name)
            self._settle()

    def step_keys(self, value: str) -> None:
        self.op.press_many(value)
        self._settle()

    def step_goto(self, label: str) -> None:
        self.op.goto(label)
        self._settle()

    def step_type(self, text: str) -> None:
        self.op.type_text(text)
        self._settle()

    def step_scan(self, value: str | Mapping[str, Any]) -> None:
        if isinstance(value, str):
            value = {"code": value}
        self.op.scan(value["code"], wait=value.get("wait", True))
        fiscal = self.device.fiscal
        if fiscal is not None:      # `wait: false` skips the GIS MT check, not the ОИСМ answer before it
            self.world.settle(lambda: fiscal.oism_waiting > 0, SETTLE_MAX_MS)

    def step_set(self, value: Mapping[str, Any]) -> None:
        for name, wanted in value.items():
            if name == "option":
                for n, v in wanted.items():
                    self.op.set_option(int(n), int(v))
            else:
                self.op.set_setting(setting_node(name), wanted)

    def step_open_shift(self, _: Any) -> None:
        self.op.open_shift()

    def step_enter_cash(self, _: Any) -> None:
        self.op.enter_cash()

    def step_sale(self, value: Mapping[str, Any]) -> None:
        self.op.sell(value["code"], value.get("price"), value.get("answer", "none"))

    def step_sale_free(self, value: Mapping[str, Any]) -> None:
        self.op.sell_free(value["price"])

    def step_doc_type(self, kind: str) -> None:
        self.op.doc_type(kind)

    def step_return_receipt(self, _: Any) -> None:
        self.op.doc_type("sale_return")

    def step_close_receipt(self, _: Any) -> None:
        self.op.close_receipt()

    def step_cancel_receipt(self, _: Any) -> None:
        self.op.cancel_receipt()

    def step_leave_cash(self, _: Any) -> None:
        self.op.leave_cash()

    def step_close_shift(self, _: Any) -> None:
        self.op.close_shift()

    def step_status_check(self, _: Any) -> None:
        self.op.status_check()

    def step_emergency(self, value: str | bool) -> None:
        self.op.emergency(value is True or value == "on")

    def step_advance(self, value: str | int) -> None:
        self.world.advance(parse_duration(value))

    def _change(self, change: Callable[[], None]) -> None:
        try:
            self.world.change(change)
        except WorldError as exc:
            raise StepFailed(str(exc)) from None

    def step_settle(self, _: Any) -> None:
        """Let the clock run while the device waits, and while a document is on its way to the OFD."""
        self._settle()
        fiscal = self.device.fiscal
        if fiscal is not None and not self.world.settle(lambda: fiscal.busy, SETTLE_MAX_MS):
            raise StepFailed(f"a document is still on its way to the OFD after {SETTLE_MAX_MS // 1000} s")

    def step_fiscal_server(self, value: Mapping[str, Any]) -> None:
        """The mock OFD's or ОИСМ's faults: ``down``, a ``plan`` of per-message items, ``repeat``."""
        if self.world.fiscal is None:
            raise StepFailed("this world has no fiscal servers")
        server = self.world.fiscal.ofd if value["name"] == "ofd" else self.world.fiscal.oism
        plan = server.faults.plan
        if "down" in value:
            plan.down = bool(value["down"])
        if "plan" in value:
            plan.plan(list(value["plan"]), bool(value.get("repeat", False)))

    def step_host(self, value: Mapping[str, Any]) -> None:
        self._change(lambda: apply_host(self.backend, value["name"],
                                              {k: v for k, v in value.items() if k != "name"}))

    def step_world(self, value: Mapping[str, Any]) -> None:
        self._change(lambda: apply_world(self.backend, value))

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
            link = self.world.tech.link if self.world.tech is not None else None
            if link is None:
                raise StepFailed("tech down: the scenario has no technological server")
            link.down = bool(value["down"])

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
        places += [(f"event {e.kind}", e.text) for e in self.past_events + list(d.events)]
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
                               "open": self.op.has_positions()}
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

    # ------------------------------------------------------------ the fiscal half
    def _fiscal_unit(self) -> FiscalUnit:
        if self.device.fiscal is None:
            raise StepFailed("this device has no fiscal drive")
        return self.device.fiscal

    def _exp_printed(self, want: list[str]) -> str | None:
        printed = self._fiscal_unit().printed
        if not printed:
            return "nothing has been printed"
        lines = printed[-1].lines
        i = 0
        for n, w in enumerate(want):
            while i < len(lines) and w not in lines[i]:
                i += 1
            if i >= len(lines):
                return f"entry {n + 1} {w!r} not found in order in the last print:\n" + "\n".join(lines)
            i += 1
        return None

    def _plain(self, value: Any) -> Any:
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else str(value)
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, (bytes, bytearray)):
            return value.hex()
        if isinstance(value, str) and self.network == "real":
            return comparable_log(value)
        return value

    def _exp_document(self, want: Mapping[str, Any]) -> str | None:
        docs = self._fiscal_unit().drive.documents()
        if not docs:
            return "the drive holds no document"
        last = docs[-1]
        doc = last.document
        got: dict[str, Any] = {}
        w = dict(want)
        if "doc_type" in w:
            got["doc_type"] = doc.doc_type
        if "fd" in w:
            got["fd"] = last.fd_number
        if "tags" in w:
            w["tags"] = {k: self._plain(v) for k, v in w["tags"].items()}
            got["tags"] = {k: self._plain(doc.get(int(k))) for k in w["tags"]}
        items = [item_view(i) for i in doc.all(1059)]
        if "items" in w:
            w["items"] = [{k: self._plain(v) for k, v in i.items()} for i in w["items"]]
            got["items"] = [{k: self._plain(it.get(int(k))) for k in wi} for wi, it in zip(w["items"], items)]
            got["items"] += [dict(it) for it in items[len(w["items"]):]]
        if "absent" in w:
            got["absent"] = [t for t in w["absent"] if all(t not in it for it in items)]
        return self._differ(w, got)

    def _exp_ofd(self, want: Mapping[str, int]) -> str | None:
        unit = self._fiscal_unit()
        assert self.world.fiscal is not None
        got = {"received": len(self.world.fiscal.ofd.received(unit.fn_number)),
               "pending": len(unit.drive.pending()), "last_fd": unit.drive.last_fd}
        return self._differ(dict(want), {k: got[k] for k in want})

    def _exp_oism(self, want: Mapping[str, int]) -> str | None:
        unit = self._fiscal_unit()
        assert self.world.fiscal is not None
        got = {"notified": sum(1 for e in list(self.world.fiscal.oism.log)
                               if e.doc_type == 82 and e.fn_number == unit.fn_number),
               "pending": unit.notices_waiting}
        return self._differ(dict(want), {k: got[k] for k in want})

    def _exp_fiscal_agrees(self, _: bool) -> str | None:
        unit = self._fiscal_unit()
        assert self.world.fiscal is not None
        problems = fiscal_disagreements(unit, self.world.fiscal.ofd, self._pick_receipt("last")[0])
        return "; ".join(problems) or None

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


def item_view(item: tuple[tuple[int, Any], ...]) -> dict[int, Any]:
    """An item's fields by tag, the permit-mode 1260's 1262-1265 read as the item's own."""
    view: dict[int, Any] = {}
    for tag, value in item:
        if tag == 1260 and isinstance(value, tuple):
            view[1260] = True
            view.update({t: v for t, v in value})
        else:
            view.setdefault(tag, value)
    return view


def fiscal_disagreements(unit: FiscalUnit, ofd: OfdModel, receipt: Receipt | None) -> list[str]:
    """What does not agree between the last receipt, its document, the OFD's copies and the print."""
    out: list[str] = []
    drive = unit.drive
    signed = next((d for d in reversed(drive.documents()) if d.document.doc_type == 3), None)
    if signed is None or receipt is None:
        return ["no receipt in the drive" if signed is None else "no closed receipt"]
    items = [item_view(i) for i in signed.document.all(1059)]
    if len(items) != len(receipt.positions):
        out.append(f"{len(items)} items in ФД {signed.fd_number}, {len(receipt.positions)} positions in the receipt")
    for n, (p, it) in enumerate(zip(receipt.positions, items), 1):
        if p.marking is None:
            continue
        if it.get(2000) != p.marking or it.get(2106) != p.tag2106 or it.get(1265) != p.tag1265:
            out.append(f"item {n}: 2000/2106/1265 {it.get(2000)!r}/{it.get(2106)!r}/{it.get(1265)!r}, "
                       f"the check gave {p.marking!r}/{p.tag2106!r}/{p.tag1265!r}")
    if drive.pending():
        out.append(f"{len(drive.pending())} documents not acknowledged")
    held = [(r.fd_number, r.document) for r in ofd.received(drive.fn_number)]
    mine = [(d.fd_number, drive.document_bytes(d.fd_number)) for d in drive.documents()]
    if held != mine:
        out.append(f"the OFD holds ФД {[fd for fd, _ in held]}, the drive {[fd for fd, _ in mine]} "
                   "(or their bytes differ)")
    printed = next((p for p in reversed(unit.printed) if p.fd_number == signed.fd_number), None)
    want_qr = qr_text(signed.document, signed.fiscal_sign)
    if printed is None or printed.qr != want_qr:
        out.append(f"the print of ФД {signed.fd_number} has QR {printed.qr if printed else None!r}, "
                   f"the document {want_qr!r}")
    if unit.directory is not None:
        png = unit.directory / PRINTS_DIR / f"{signed.fd_number}.png"
        decoded = read_qr(png) if png.exists() else None
        if decoded != want_qr:
            out.append(f"the QR image {png.name} reads {decoded!r}, the document {want_qr!r}")
    return out


def read_qr(png: Path) -> str | None:
    """The text of the first QR code in a PNG (pyzbar)."""
    from PIL import Image
    from pyzbar.pyzbar import decode

    with Image.open(png) as image:
        found = decode(image)
    return found[0].data.decode("ascii") if found else None


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
    if type(sc) in KIND_RUNNERS:
        return KIND_RUNNERS[type(sc)](sc, trace=trace, verbose=verbose)
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
