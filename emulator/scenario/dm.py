"""Device Manager scenarios: POS requests to the Vchasno DM on virtual time (a file with ``kind: dm``).

A DM scenario has ``name``, ``steps`` and optionally ``description``, ``start``, ``seed``, ``network``
(the tax server: ``simulated``, in process; ``real``: its HTTP front on loopback), ``config`` (each ПРРО's
cabinet settings: ``offline_allowed``, ``rounding``, ``is_fiscal``; default the cabinet's), ``http`` (``true``: every
request goes to the DM's own HTTP front under uvicorn over a real socket; default ``false``: straight into
``DeviceManager.execute``, the same code past the socket) and ``devices`` — the DM's devices by name::

    devices: {prro: [kasa], terminals: [term], printers: [prn]}     # the default

Steps (one key each, plus an optional ``note``):

=================  ==========================================================================================
``execute``        a request body for ``POST /dm/execute`` (``ver: 6``, ``source: scenario`` and the first
                   ПРРО as ``device`` are filled in when absent); ``{body: {...}, query: {...}}`` to add a query
``execute_prn``    the same for ``/dm/execute-prn`` (``query: {dev_id: prn}``)
``execute_pkg``    the same for ``/dm/execute-pkg``
``get``            a route: ``/dm/bankping?dev_name=term``; ``post``: ``{path, body}``
``expect``         a subset of the last answer: every key given must be there with that value (mappings
                   compared key by key, lists item by item); ``errortxt_of: [1058]`` or ``[1110, "7"]``: the
                   table's exact text of that code (``group`` to pick the table)
``expect_peer``    the peers' state: ``{printer: {documents: 1, drawer_openings: 1}, terminal: {batch: 2},
                   tax: {documents: 3}}`` (the first printer / terminal, or ``printer_NAME``)
``fault``          a control line or a list of them (``world.dm_control``: ``term decline``, ``printer paper
                   out``, ``tax down``, ``net down``, …): the same grammar as ``kkt-emu dm serve``'s console
``advance``        virtual time (``20m``, ``3h``, ``1d``)
``kill_dm``        the DM process dies (its database closed as a kill leaves it: committed rows only) and
                   ``restart`` starts it again over the same database and devices
=================  ==========================================================================================

The log is every request and answer (JSON, keys in the order sent) with the virtual time, and every fault
line; the same scenario gives the same log: the three things of an answer that are not the scenario's —
the loopback port of a peer (``127.0.0.1:PORT``), a printer's measured ``elapsed_ms`` and the random
``transaction_id`` the DM gives a terminal operation — are written as ``PORT``, ``…`` and ``UUID``.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from emulator.base.instants import parse_duration, parse_instant
from emulator.fronts.dm import errors
from emulator.fronts.dm.config import default_config
from emulator.fronts.dm.manager import DeviceManager
from emulator.scenario import model, runner
from emulator.scenario.model import DEFAULT_START, MAX_ADVANCE_MS, Scenario, ScenarioError, Step, read_steps
from emulator.scenario.runner import ScenarioResult
from emulator.world.dm import DmWorld
from emulator.world.dm_control import control

TOP_KEYS = {"kind", "name", "description", "network", "start", "seed", "http", "devices", "config", "steps",
            "scenarios"}
CONFIG_KEYS = ("offline_allowed", "rounding", "is_fiscal")
REQUESTS = {"execute": "execute", "execute_prn": "execute-prn", "execute_pkg": "execute-pkg"}
STEPS = (*REQUESTS, "get", "post", "expect", "expect_peer", "fault", "advance", "kill_dm", "restart", "note")
EMPTY = ("kill_dm", "restart")
DEFAULT_DEVICES = {"prro": ["kasa"], "terminals": ["term"], "printers": ["prn"]}


@dataclass(frozen=True)
class DmScenario(Scenario):
    http: bool = False
    devices: dict[str, list[str]] = field(default_factory=lambda: dict(DEFAULT_DEVICES))
    config: dict[str, bool] = field(default_factory=dict)


# ---------------------------------------------------------------- loading
def load_dm(data: dict[str, Any], file: str, lines: list[list[int]] | None = None) -> list[Scenario]:
    items = data["scenarios"] if isinstance(data.get("scenarios"), list) else [data]
    out: list[Scenario] = []
    problems: list[str] = []
    for pos, raw in enumerate(items):
        where = f"scenarios[{pos}] " if "scenarios" in data else ""
        if not isinstance(raw, dict):
            problems.append(f"{where}: a scenario is a mapping")
            continue
        merged = {**{k: v for k, v in data.items() if k != "scenarios"}, **raw}
        step_lines = lines[pos] if lines and len(lines) > pos else []
        try:
            out.append(_build(merged, file, pos if "scenarios" in data else None, step_lines))
        except ScenarioError as exc:
            problems.extend(f"{where}{p}" for p in exc.problems)
    if problems:
        raise ScenarioError(file, problems[:12])
    return out


def _devices(raw: Any, problems: list[str]) -> dict[str, list[str]]:
    if raw is None:
        return {k: list(v) for k, v in DEFAULT_DEVICES.items()}
    if not isinstance(raw, dict) or set(raw) - set(DEFAULT_DEVICES):
        problems.append("devices: a mapping of prro, terminals, printers to lists of names")
        return {k: list(v) for k, v in DEFAULT_DEVICES.items()}
    got: dict[str, list[str]] = {}
    for k in DEFAULT_DEVICES:
        names = raw.get(k, [])
        if not (isinstance(names, list) and all(isinstance(n, str) and n and len(n) <= 100 for n in names)):
            problems.append(f"devices.{k}: a list of names")
            names = []
        got[k] = list(names)
    every = [n for names in got.values() for n in names]
    if len(set(every)) != len(every):
        problems.append("devices: each name once")
    if not got["prro"]:
        problems.append("devices.prro: at least one ПРРО")
    return got


def _build(raw: dict[str, Any], file: str, pos: int | None, lines: list[int]) -> DmScenario:
    problems: list[str] = []
    unknown = set(raw) - TOP_KEYS
    if unknown:
        problems.append(f"unknown key(s) {', '.join(sorted(unknown))} (a DM scenario takes "
                        f"{', '.join(sorted(TOP_KEYS - {'scenarios', 'kind'}))})")
    if not isinstance(raw.get("name"), str) or not raw.get("name"):
        problems.append("name: a non-empty text is required")
    network = raw.get("network", "simulated")
    if network not in ("simulated", "real"):
        problems.append(f"network: simulated or real, not {network!r}")
    if not isinstance(raw.get("http", False), bool):
        problems.append("http: true or false")
    try:
        start_ms = parse_instant(raw.get("start", DEFAULT_START))
    except ValueError as exc:
        problems.append(f"start: {exc}")
        start_ms = 0
    devices = _devices(raw.get("devices"), problems)
    config = raw.get("config") or {}
    if not (isinstance(config, dict) and set(config) <= set(CONFIG_KEYS)
            and all(isinstance(x, bool) for x in config.values())):
        problems.append(f"config: a mapping of {', '.join(CONFIG_KEYS)} to true / false")
        config = {}
    steps = read_steps(raw.get("steps"), lines, EMPTY, check_step, '- execute: {fiscal: {task: 20}}', problems)
    if problems:
        raise ScenarioError(file, problems)
    return DmScenario(name=raw["name"], file=file, steps=tuple(steps), description=str(raw.get("description", "")),
                      network=network, start_ms=start_ms, seed=int(raw.get("seed", 0) or 0), position=pos,
                      http=bool(raw.get("http", False)), devices=devices, config=dict(config))


def check_step(step: Step) -> str | None:
    kind, v = step.kind, step.value
    if kind not in STEPS:
        return f"unknown DM step {kind!r} (steps: {', '.join(STEPS)})"
    if kind in EMPTY:
        return None if v in (None, {}) else f"{kind} takes no argument"
    if kind in REQUESTS:
        if not isinstance(v, dict):
            return f"{kind} takes a request body (a mapping)"
        if "body" in v and (set(v) - {"body", "query"} or not isinstance(v["body"], dict)
                            or not isinstance(v.get("query", {}), dict)):
            return f"{kind}: {{body: {{...}}, query: {{...}}}} or the body itself"
    if kind == "get" and not (isinstance(v, str) and v.startswith("/dm/")):
        return "get takes a path beginning /dm/"
    if kind == "post" and not (isinstance(v, dict) and isinstance(v.get("path"), str)
                               and v["path"].startswith("/dm/") and set(v) <= {"path", "body", "query"}):
        return "post takes {path: /dm/..., body: {...}}"
    if kind in ("expect", "expect_peer") and not isinstance(v, dict):
        return f"{kind} takes a mapping"
    if kind == "fault" and not (isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v))):
        return "fault takes a control line or a list of them (e.g. `term decline`)"
    if kind == "advance":
        try:
            if not 0 <= parse_duration(v) <= MAX_ADVANCE_MS:
                return f"{v!r} is longer than one step may advance"
        except ValueError as exc:
            return str(exc)
    return None


# ---------------------------------------------------------------- running
class StepFailed(Exception):
    pass


_VOLATILE = ((re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:PORT"), (re.compile(r'"elapsed_ms": \d+'), '"elapsed_ms": …'),
             (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "UUID"))


def _steady(text: str) -> str:
    for pattern, stand_in in _VOLATILE:
        text = pattern.sub(stand_in, text)
    return text


def subset_problems(want: Any, got: Any, where: str = "") -> list[str]:
    """Where ``got`` differs from ``want`` (mappings key by key, lists item by item, the rest by ``==``)."""
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return [f"{where or 'answer'}: expected a mapping, got {json.dumps(got, ensure_ascii=False)[:200]}"]
        out: list[str] = []
        for k, w in want.items():
            if k not in got:
                out.append(f"{where}{k}: missing")
            else:
                out.extend(subset_problems(w, got[k], f"{where}{k}."))
        return out
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return [f"{where.rstrip('.')}: expected {len(want)} items, got {json.dumps(got, ensure_ascii=False)[:200]}"]
        return [p for i, (w, g) in enumerate(zip(want, got, strict=True))
                for p in subset_problems(w, g, f"{where}{i}.")]
    if isinstance(want, float) or isinstance(got, float):
        ok = isinstance(got, int | float) and not isinstance(got, bool) and abs(float(got) - float(want)) < 1e-9
    else:
        ok = want == got and type(want) is type(got)
    return [] if ok else [f"{where.rstrip('.')}: expected {want!r}, got {got!r}"]


class DmRun:
    def __init__(self, sc: DmScenario) -> None:
        self.sc = sc
        self.world = DmWorld(start_ms=sc.start_ms, seed=sc.seed, network=sc.network)
        for name in sc.devices["prro"]:
            self.world.add_prro(name, config=default_config(**sc.config))
        for name in sc.devices["terminals"]:
            self.world.add_terminal(name)
        for name in sc.devices["printers"]:
            self.world.add_printer(name)
        self.last: dict[str, Any] | None = None
        self.log: list[str] = []
        self._http: Any = None

    @property
    def dm(self) -> DeviceManager:
        return self.world.dm

    def _line(self, text: str) -> None:
        self.log.append(f"{_stamp(self.world.clock.now_ms)} {_steady(text)}")

    def run(self) -> ScenarioResult:
        t0 = time.perf_counter()
        failures: list[str] = []
        done = 0
        try:
            for step in self.sc.steps:
                try:
                    self.step(step)
                except StepFailed as exc:
                    failures.append(f"{step.where}: {exc}")
                    break
                done += 1
        finally:
            virtual = self.world.clock.now_ms - self.sc.start_ms
            if self._http is not None:
                self._http.close()
            self.world.close()
        name = self.sc.name + (" [http]" if self.sc.http else "") + (" [real]" if self.sc.network == "real" else "")
        return ScenarioResult(name=name, file=self.sc.file, passed=not failures, failures=failures, steps_run=done,
                              log_text="\n".join(self.log) + ("\n" if self.log else ""),
                              wall_s=time.perf_counter() - t0, virtual_ms=virtual)

    # -- requests
    def _client(self) -> Any:
        if self._http is None:
            import httpx
            self._http = httpx.Client(base_url=self.world.http(), timeout=30, trust_env=False)
        return self._http

    def request(self, endpoint: str, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        full = {"ver": 6, "source": "scenario", "device": self.sc.devices["prro"][0], **body}
        suffix = f"?{urllib.parse.urlencode(query)}" if query else ""
        self._line(f"→ /dm/{endpoint}{suffix} {json.dumps(full, ensure_ascii=False)}")
        raw = json.dumps(full, ensure_ascii=False).encode("utf-8")
        if self.sc.http:
            r = self._client().post(f"/dm/{endpoint}", content=raw, params=query,
                                    headers={"Content-Type": "application/json"})
            if r.status_code != 200:
                raise StepFailed(f"HTTP {r.status_code} from /dm/{endpoint} (the DM always answers 200)")
            answer = r.json()
        else:
            answer = self.dm.execute(endpoint, raw, query)
        return answer

    def route(self, method: str, path: str, body: Any) -> dict[str, Any]:
        parsed = urllib.parse.urlsplit(path)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        raw = b"" if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        self._line(f"→ {method} {path}" + (f" {raw.decode()}" if raw else ""))
        if self.sc.http:
            r = self._client().request(method, parsed.path, params=query, content=raw or None)
            return {"http_status": r.status_code, **r.json()} if r.status_code != 200 else r.json()
        got = self.dm.route(method, parsed.path, query, raw)
        if got is None:
            return {"http_status": 404}
        return got

    # -- steps
    def step(self, step: Step) -> None:
        kind, v = step.kind, step.value
        if kind == "note":
            return
        if kind in REQUESTS:
            body, query = (v["body"], v.get("query", {})) if "body" in v else (v, {})
            self._answered(self.request(REQUESTS[kind], dict(body), {str(k): str(x) for k, x in query.items()}))
        elif kind == "get":
            self._answered(self.route("GET", v, None))
        elif kind == "post":
            path = v["path"] + (f"?{urllib.parse.urlencode(v['query'])}" if v.get("query") else "")
            self._answered(self.route("POST", path, v.get("body")))
        elif kind == "expect":
            self.expect(v)
        elif kind == "expect_peer":
            self.expect_peer(v)
        elif kind == "fault":
            for line in [v] if isinstance(v, str) else v:
                got = control(self.world, line)
                self._line(f"fault {line}: {got}")
                if got.startswith("error:"):
                    raise StepFailed(f"fault {line!r}: {got}")
        elif kind == "advance":
            with self.dm.world_lock:
                self.world.clock.run_until(self.world.clock.now_ms + parse_duration(v))
        elif kind == "kill_dm":
            if self._http is not None:
                self._http.close()
                self._http = None
            self.world.kill_dm()
            self._line("the DM was killed")
        elif kind == "restart":
            self.world.restart_dm()
            self._line("the DM restarted")

    def _answered(self, answer: dict[str, Any]) -> None:
        self.last = answer
        self._line(f"← {json.dumps(answer, ensure_ascii=False)}")

    def expect(self, v: dict[str, Any]) -> None:
        if self.last is None:
            raise StepFailed("expect before any request")
        want = dict(v)
        problems: list[str] = []
        if "errortxt_of" in want:
            spec = want.pop("errortxt_of")
            spec = spec if isinstance(spec, list) else [spec]
            group = want.pop("group", None)
            try:
                exact = errors.text(int(spec[0]), *spec[1:], group=group)
            except (KeyError, ValueError, TypeError) as exc:
                raise StepFailed(f"errortxt_of {spec!r}: {exc}") from None
            if self.last.get("errortxt") != exact:
                problems.append(f"errortxt: expected the table's {exact!r}, got {self.last.get('errortxt')!r}")
        problems += subset_problems(want, self.last)
        if problems:
            raise StepFailed("; ".join(problems[:8]) + f" (answer: {json.dumps(self.last, ensure_ascii=False)[:600]})")

    def expect_peer(self, v: dict[str, Any]) -> None:
        problems: list[str] = []
        for key, want in v.items():
            facts = self._peer_facts(str(key))
            if facts is None:
                problems.append(f"{key}: no such peer")
                continue
            problems += subset_problems(want, facts, f"{key}.")
        if problems:
            raise StepFailed("; ".join(problems))

    def _peer_facts(self, key: str) -> dict[str, Any] | None:
        w = self.world
        if key == "tax":
            return {"documents": len(w.prro.tax.documents), "down": w.prro.tax.faults.down}
        kind, _, name = key.partition("_")
        if kind == "printer" and w.printers:
            pair = w.printers.get(name or next(iter(w.printers)))
            return None if pair is None else dict(pair[0].state())
        if kind == "terminal" and w.terminals:
            tpair = w.terminals.get(name or next(iter(w.terminals)))
            if tpair is None:
                return None
            term = tpair[0]
            return {"batch": len(term.batch), "batch_no": term.batch_no, **dict(term.stats)}
        return None


def _stamp(ms: int) -> str:
    from datetime import UTC, datetime
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def run_dm(sc: Scenario, **_: Any) -> ScenarioResult:
    assert isinstance(sc, DmScenario)
    return DmRun(sc).run()


model.KIND_LOADERS["dm"] = load_dm
runner.KIND_RUNNERS[DmScenario] = run_dm

__all__ = ["DmRun", "DmScenario", "check_step", "load_dm", "run_dm", "subset_problems"]
