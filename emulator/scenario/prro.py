"""ПРРО scenarios: the seeds' procedures on virtual time (a file with ``kind: prro``).

A ПРРО scenario has ``name``, ``steps`` and optionally ``description``,
``network`` (``simulated``: the server's gate called in process; ``real``: the
server's HTTP front under uvicorn on loopback, httpx from the ПРРО, the CA's
OCSP over HTTP; ``both``: each, the logs compared), ``start``,
``seed``, ``propagation_delay`` (default 15m) and ``prro`` (the names of the
ПРРО registered by form 1-ПРРО; default ``[A]``, the first is current).

Steps (one key each; an outcome is what the step's action gave: ``ok`` and the
messages shown):

==================  ==========================================================================
``issue_key``       ``{name, owner, tax_id, role, days, password, file, ca}``: the CA (``ca: other``:
                    another bank's) issues a key
``register``        ``{key, role, delay}``: form 5-ПРРО → «Квитанція №2»; active after the delay
``revoke``          ``key``: the CA revokes the key (its OCSP says revoked)
``move_key``        ``key``: the key file is moved away; ``damage_key``: its bytes are changed
``use``             the ПРРО the next steps act on; ``restart``: the current one restarts
``choose_key``      ``{key, password}``: the settings' «Private key» field (file and password)
``read_key``        «Read»; ``save_key``: Set/Save; ``set_key`` ``{key, password}``: the three
``update_libraries`` the settings' «Update libraries»; ``offline_limits``: ``block`` or ``warn``
``employee``        ``{name, key, password}``: an employee card with its own key (no key: none)
``cashier``         the employee who works now (``null``: nobody, the settings' key signs)
``open_shift``      ``sale`` / ``return`` / ``cash_in`` / ``cash_out`` (an amount, ``125.50``),
                    ``sales`` ``{count, amount}`` (that many sales, stopping at a refusal),
                    ``x_report``, ``z_report``, ``go_offline``, ``go_online``, ``resend``
``check_warnings``  the key-expiry warnings, shown; ``check_link``: the connection check (offline: back
                    online when the server answers); ``link_checks: 1m``: that check every minute
``fault``           ``{plan, repeat, down, latency}``: the tax server's fault plan
``advance``         virtual time (``20m``, ``3h``, ``15d``)
``expect``          ``ok``, ``shown`` (each text among the last outcome's messages),
                    ``shown_ever`` (in the journal), ``not_shown_ever``, ``status``
                    (the status line starts with it), ``warnings``, ``shift``
                    (``open``/``closed``), ``documents`` (counts by state),
                    ``signed_by`` (the last document's key), ``server`` (``documents``:
                    registered count, ``shift``: ``open``/``closed``, ``operators``)
==================  ==========================================================================

The scenario's log is the journal of every ПРРО (what each showed, with the
virtual time) and the world's events; the same scenario gives the same log
(the control digits of offline fiscal numbers are left out: they cover the
hash of a signed document, and the modelled signatures are randomised).
"""

from __future__ import annotations

import dataclasses
import re
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from emulator.base.instants import parse_duration, parse_instant
from emulator.devices.prro.device import Outcome, PrroDevice
from emulator.scenario import model, runner
from emulator.scenario.model import DEFAULT_START, MAX_ADVANCE_MS, Scenario, ScenarioError, Step, read_steps
from emulator.scenario.runner import ScenarioResult
from emulator.world.prro import PrroWorld, PrroWorldError

ROLES = ("cashier", "senior_cashier", "director")
# step -> the argument keys it takes (None: no argument, "scalar": one value)
STEP_ARGS: dict[str, Any] = {
    "issue_key": {"name", "owner", "tax_id", "role", "days", "password", "file", "ca"},
    "offline_limits": "scalar", "link_checks": "scalar",
    "sales": {"count", "amount"},
    "register": {"key", "role", "delay"},
    "revoke": "scalar", "move_key": "scalar", "damage_key": "scalar", "use": "scalar", "cashier": "scalar",
    "choose_key": {"key", "password"}, "set_key": {"key", "password"},
    "employee": {"name", "key", "password"},
    "sale": "scalar", "return": "scalar", "cash_in": "scalar", "cash_out": "scalar",
    "fault": {"plan", "repeat", "down", "latency"},
    "advance": "scalar", "expect": {"ok", "shown", "shown_ever", "not_shown_ever", "status", "warnings", "shift",
                                    "documents", "signed_by", "server"},
    "note": "scalar",
}
EMPTY = ("read_key", "save_key", "update_libraries", "open_shift", "x_report", "z_report", "go_offline",
         "go_online", "resend", "restart", "check_warnings", "check_link")
TOP_KEYS = {"kind", "name", "description", "network", "start", "seed", "propagation_delay", "prro", "steps",
            "scenarios"}


@dataclass(frozen=True)
class PrroScenario(Scenario):
    prro: tuple[str, ...] = ("A",)
    propagation_delay_ms: int = 15 * 60_000


# ---------------------------------------------------------------- loading
def load_prro(data: dict[str, Any], file: str, lines: list[list[int]] | None = None) -> list[Scenario]:
    items = data["scenarios"] if isinstance(data.get("scenarios"), list) else [data]
    out: list[Scenario] = []
    problems: list[str] = []
    for pos, raw in enumerate(items):
        where = f"scenarios[{pos}] " if "scenarios" in data else ""
        if not isinstance(raw, dict):
            problems.append(f"{where}: a scenario is a mapping")
            continue
        merged = {**{k: v for k, v in data.items() if k != "scenarios"}, **raw}
        step_lines = (lines or [])[pos] if lines and len(lines) > pos else []
        try:
            out.append(_build(merged, file, pos if "scenarios" in data else None, step_lines))
        except ScenarioError as exc:
            problems.extend(f"{where}{p}" for p in exc.problems)
    if problems:
        raise ScenarioError(file, problems[:12])
    return out


def _build(raw: dict[str, Any], file: str, pos: int | None, lines: list[int]) -> PrroScenario:
    problems: list[str] = []
    unknown = set(raw) - TOP_KEYS
    if unknown:
        problems.append(f"unknown key(s) {', '.join(sorted(unknown))} (a ПРРО scenario takes "
                        f"{', '.join(sorted(TOP_KEYS - {'scenarios', 'kind'}))})")
    if not isinstance(raw.get("name"), str) or not raw.get("name"):
        problems.append("name: a non-empty text is required")
    network = raw.get("network", "simulated")
    if network not in ("simulated", "real", "both"):
        problems.append(f"network: simulated, real or both, not {network!r}")
    try:
        start_ms = parse_instant(raw.get("start", DEFAULT_START))
    except ValueError as exc:
        problems.append(f"start: {exc}")
        start_ms = 0
    try:
        delay = parse_duration(raw.get("propagation_delay", "15m"))
    except ValueError as exc:
        problems.append(f"propagation_delay: {exc}")
        delay = 0
    prro = raw.get("prro", ["A"])
    if not (isinstance(prro, list) and prro and all(isinstance(p, str) and p for p in prro)):
        problems.append("prro: a list of ПРРО names, e.g. [A, B]")
        prro = ["A"]
    steps = read_steps(raw.get("steps"), lines, EMPTY, check_step, '- open_shift: {}', problems)
    if problems:
        raise ScenarioError(file, problems)
    return PrroScenario(name=raw["name"], file=file, steps=tuple(steps), description=str(raw.get("description", "")),
                        network=network, start_ms=start_ms, seed=int(raw.get("seed", 0)), position=pos,
                        prro=tuple(prro), propagation_delay_ms=delay)


def check_step(step: Step) -> str | None:
    kind, v = step.kind, step.value
    if kind in EMPTY:
        return None if v in (None, {}) else f"{kind} takes no argument"
    if kind not in STEP_ARGS:
        known = sorted([*STEP_ARGS, *EMPTY])
        return f"unknown ПРРО step {kind!r} (steps: {', '.join(known)})"
    args = STEP_ARGS[kind]
    if args == "scalar":
        if isinstance(v, (dict, list)):
            return f"{kind} takes one value, not a {type(v).__name__}"
        if kind in ("sale", "return", "cash_in", "cash_out"):
            try:
                amount_kop(v)
            except ValueError as exc:
                return str(exc)
        if kind == "link_checks" and v not in (None, "off", False):
            try:
                if not 1000 <= parse_duration(v) <= MAX_ADVANCE_MS:
                    return "link_checks: an interval of at least 1s, or off"
            except ValueError as exc:
                return str(exc)
        if kind == "advance":
            try:
                if parse_duration(v) > MAX_ADVANCE_MS:
                    return f"{v!r} is longer than one step may advance"
            except ValueError as exc:
                return str(exc)
        return None
    if not isinstance(v, dict):
        return f"{kind} takes a mapping of {', '.join(sorted(args))}"
    extra = set(v) - args
    if extra:
        return f"{kind}: unknown key(s) {', '.join(sorted(extra))} (takes {', '.join(sorted(args))})"
    for k in ("role",):
        if k in v and v[k] not in ROLES:
            return f"role: one of {', '.join(ROLES)}, not {v[k]!r}"
    if kind in ("register", "choose_key", "set_key") and "key" not in v:
        return f"{kind} needs `key`"
    if kind == "issue_key" and not {"name", "owner"} <= set(v):
        return "issue_key needs `name` and `owner`"
    if kind == "sales":
        if not (isinstance(v.get("count"), int) and 1 <= v["count"] <= 10_000):
            return "sales: count is 1..10000"
        try:
            amount_kop(v.get("amount", "1.00"))
        except ValueError as exc:
            return str(exc)
    if kind == "employee" and "name" not in v:
        return "employee needs `name`"
    if kind == "register" and "delay" in v:
        try:
            parse_duration(v["delay"])
        except ValueError as exc:
            return str(exc)
    return None


def amount_kop(value: Any) -> int:
    """An amount as written (``125.50``, ``100``) in kopecks; ValueError for anything else."""
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r} (write e.g. 125.50)") from None
    if not d.is_finite() or d <= 0 or d != d.quantize(Decimal("0.01")) or d > Decimal("99999999.99"):
        raise ValueError(f"an amount above 0 with at most 2 decimals and below 100 000 000: {value!r}")
    return int(d * 100)


# ---------------------------------------------------------------- running
# An offline control number covers PREVDOCHASH, the hash of a signed document, and the (modelled) ECDSA
# signatures are randomised: the scenario log leaves those digits out so that a run replays byte for byte.
_RANDOM_CONTROL = re.compile(r"(offline fiscal number \d+\.\d+\.)\d+")

class StepFailed(Exception):
    pass


class PrroRun:
    def __init__(self, sc: PrroScenario) -> None:
        self.sc = sc
        self.world = PrroWorld(start_ms=sc.start_ms, seed=sc.seed, network=sc.network,
                               propagation_delay_ms=sc.propagation_delay_ms)
        for name in sc.prro:
            self.world.add_prro(name)
        self.current = sc.prro[0]
        self.last: Outcome | None = None
        self.log: list[str] = []
        self._marks: dict[str, int] = {}

    @property
    def device(self) -> PrroDevice:
        return self.world.device(self.current)

    def flush(self) -> None:
        for name, dev in self.world.devices.items():
            seen = self._marks.get(name, 0)
            for t, line in dev.journal[seen:]:
                shown = _RANDOM_CONTROL.sub(r"\1…", line)
                self.log.append(f"[{name}] {_stamp(t)} {shown}")
            self._marks[name] = len(dev.journal)

    def _world_line(self, line: str) -> None:
        self.flush()
        self.log.append(f"[world] {_stamp(self.world.clock.now_ms)} {line}")

    def run(self) -> ScenarioResult:
        t0 = time.perf_counter()
        failures: list[str] = []
        done = 0
        try:
            for step in self.sc.steps:
                try:
                    self.step(step)
                except (StepFailed, PrroWorldError) as exc:
                    failures.append(f"{step.where}: {exc}")
                    break
                done += 1
        finally:
            self.flush()
            virtual = self.world.clock.now_ms - self.sc.start_ms
            self.world.close()
        name = self.sc.name + (" [real]" if self.sc.network == "real" else "")
        return ScenarioResult(name=name, file=self.sc.file, passed=not failures, failures=failures, steps_run=done,
                              log_text="\n".join(self.log) + ("\n" if self.log else ""),
                              wall_s=time.perf_counter() - t0, virtual_ms=virtual)

    def _key_path(self, name: str) -> str:
        self.world.key(name)
        return str(self.world.key_files[name])

    def step(self, step: Step) -> None:  # noqa: C901 - one branch per step kind
        kind, v = step.kind, step.value
        w = self.world
        d = self.device
        out: Outcome | None = None
        if kind == "note":
            return
        if kind == "issue_key":
            w.issue_key(v["name"], owner=v["owner"], tax_id=str(v.get("tax_id", "1234567890")),
                        role=v.get("role", "cashier"), days=int(v.get("days", 365)),
                        password=str(v.get("password", "1111")), file=str(v.get("file", "key.pfx")),
                        ca=str(v.get("ca", "main")))
            k = w.key(v["name"])
            self._world_line(f"CA: key {v['name']} ({k.owner}, {k.role.label}) valid to {_stamp(k.not_after_ms)}")
        elif kind == "register":
            delay = parse_duration(v["delay"]) if "delay" in v else None
            r = w.register(v["key"], v.get("role", "cashier"), delay_ms=delay)
            self._world_line(f"Form 5-ПРРО for key {v['key']} ({r.role.label}): Квитанція №2 № {r.number}, "
                             f"active from {_stamp(r.active_from_ms)}")
        elif kind == "revoke":
            w.revoke(str(v))
            self._world_line(f"CA: key {v} revoked")
        elif kind == "move_key":
            w.move_key(str(v))
            self._world_line(f"key file of {v} moved away")
        elif kind == "damage_key":
            w.damage_key(str(v))
            self._world_line(f"key file of {v} damaged")
        elif kind == "use":
            w.device(str(v))
            self.current = str(v)
        elif kind == "restart":
            w.start_prro(self.current)
            self._marks[self.current] = 0
        elif kind == "choose_key":
            out = d.choose_key(self._key_path(v["key"]), str(v.get("password", "1111")))
        elif kind == "read_key":
            out = d.read_key()
        elif kind == "save_key":
            out = d.save_key()
        elif kind == "set_key":
            d.choose_key(self._key_path(v["key"]), str(v.get("password", "1111")))
            out = d.read_key()
            if out.ok:
                saved = d.save_key()
                out.messages.extend(saved.messages)
                out.ok = saved.ok
        elif kind == "link_checks":
            if v in (None, "off", False):
                d.stop_link_checks()
            else:
                d.start_link_checks(parse_duration(v))
        elif kind == "offline_limits":
            out = d.set_offline_limits(str(v))
        elif kind == "update_libraries":
            out = d.update_libraries()
        elif kind == "employee":
            key = v.get("key")
            out = d.set_employee(v["name"], self._key_path(key) if key else None, str(v.get("password", "1111")))
        elif kind == "cashier":
            out = d.select_cashier(None if v is None else str(v))
        elif kind == "open_shift":
            out = d.open_shift()
        elif kind in ("sale", "return", "cash_in", "cash_out"):
            out = d.receipt(kind, amount_kop(v))
        elif kind == "sales":
            for _ in range(int(v.get("count", 1))):
                out = d.receipt("sale", amount_kop(v.get("amount", "1.00")))
                if not out.ok:
                    break
        elif kind == "x_report":
            out = d.x_report()
        elif kind == "z_report":
            out = d.z_report()
        elif kind == "go_offline":
            out = d.go_offline()
        elif kind == "go_online":
            out = d.go_online()
        elif kind == "resend":
            out = d.resend()
        elif kind == "check_link":
            out = d.check_link()
        elif kind == "check_warnings":
            out = d.check_warnings()
        elif kind == "fault":
            plan = w.tax.faults
            if "plan" in v:
                try:
                    plan.plan(list(v["plan"]), repeat=bool(v.get("repeat", False)))
                except ValueError as exc:
                    raise StepFailed(str(exc)) from None
            if "down" in v:
                plan.down = bool(v["down"])
            if "latency" in v:
                plan.latency_ms = parse_duration(v["latency"])
            self._world_line(f"tax server fault plan: {v}")
        elif kind == "advance":
            w.clock.run_until(w.clock.now_ms + parse_duration(v))
        elif kind == "expect":
            self.expect(v)
        if out is not None:
            self.last = out
            self.flush()

    def expect(self, v: dict[str, Any]) -> None:
        d = self.device
        problems: list[str] = []
        last = self.last
        if "ok" in v:
            if last is None or last.ok != bool(v["ok"]):
                problems.append(f"ok: expected {v['ok']}, the last step gave "
                                f"{None if last is None else last.ok} ({last.text if last else ''})")
        for want in _list(v.get("shown")):
            if last is None or want not in last.messages:
                problems.append(f"shown: {want!r} not among {last.messages if last else []}")
        journal = d.shown()
        for want in _list(v.get("shown_ever")):
            if want not in journal:
                problems.append(f"shown_ever: {want!r} never shown")
        for want in _list(v.get("not_shown_ever")):
            if want in journal:
                problems.append(f"not_shown_ever: {want!r} was shown")
        if "status" in v:
            status = d.status_line()
            if not status.startswith(str(v["status"])):
                problems.append(f"status: expected {v['status']!r}…, the status line is {status!r}")
        if "warnings" in v:
            got = d.warnings()
            if got != _list(v["warnings"]):
                problems.append(f"warnings: expected {_list(v['warnings'])}, got {got}")
        if "shift" in v:
            state = "open" if d.shift.get("open") else "closed"
            if state != v["shift"]:
                problems.append(f"shift: expected {v['shift']}, it is {state}")
        for state, n in (v.get("documents") or {}).items():
            got_n = d.store.count(state)
            if got_n != int(n):
                problems.append(f"documents.{state}: expected {n}, there are {got_n}")
        if "signed_by" in v:
            docs = d.store.docs()
            want_id = self.world.key(v["signed_by"]).key_id
            if not docs or docs[-1].signer != want_id:
                names = {k.key_id: n for n, k in self.world.keys.items()}
                problems.append(f"signed_by: expected key {v['signed_by']}, the last document is signed by "
                                f"{names.get(docs[-1].signer, '?') if docs else 'nothing'}")
        if "server" in v:
            problems.extend(_expect_server(self.world, d, v["server"]))
        if problems:
            raise StepFailed("; ".join(problems))


def _expect_server(world: PrroWorld, d: PrroDevice, v: dict[str, Any]) -> list[str]:
    problems = []
    summary = world.tax.summary()
    reg = next(r for r in summary["registrars"] if r["fiscal_num"] == d.identity.fiscal_num)
    mine = [doc for doc in world.tax.documents if doc.registrar == d.identity.fiscal_num]
    facts = {"documents": len(mine), "shift": "open" if reg["shift_open"] else "closed", "blocked": reg["blocked"],
             "operators": len(summary["operators"]), "offline": reg["offline_active"]}
    for key, want in v.items():
        got = facts.get(key)
        if got != want:
            problems.append(f"server.{key}: expected {want!r}, the tax server has {got!r}")
    return problems


def _list(v: Any) -> list[Any]:
    if v is None:
        return []
    return list(v) if isinstance(v, list) else [v]


def _stamp(ms: int) -> str:
    from datetime import UTC, datetime
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def run_prro(sc: Scenario, **_: Any) -> ScenarioResult:
    """One ПРРО scenario; ``network: both`` runs it in process and over loopback HTTP, the logs compared."""
    assert isinstance(sc, PrroScenario)
    if sc.network != "both":
        return PrroRun(sc).run()
    sim = PrroRun(dataclasses.replace(sc, network="simulated")).run()
    real = PrroRun(dataclasses.replace(sc, network="real")).run()
    failures = [f"[simulated] {f}" for f in sim.failures] + [f"[real] {f}" for f in real.failures]
    if sim.passed and real.passed and sim.log_text != real.log_text:
        failures.append(f"the logs differ between the simulated and the real network:\n--- simulated\n"
                        f"{sim.log_text}--- real\n{real.log_text}")
    return ScenarioResult(f"{sc.name} [simulated + real]", sc.file, not failures, failures,
                          sim.steps_run + real.steps_run, sim.log_text, round(sim.wall_s + real.wall_s, 4),
                          sim.virtual_ms)


model.KIND_LOADERS["prro"] = load_prro
runner.KIND_RUNNERS[PrroScenario] = run_prro

__all__ = ["PrroRun", "PrroScenario", "amount_kop", "check_step", "load_prro", "run_prro"]
