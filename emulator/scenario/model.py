"""Scenario files: loading, validation and the world set-up they describe.

A scenario file is YAML holding one scenario (a mapping with ``name`` and
``steps``) or several under ``scenarios:``. Loading goes in three passes, and
every problem is reported with the file, the place (``steps[3] (sale, line
27)``, ``device.settings``...) and what is wrong:

1. YAML parsing (the parser's own line and column), bounded: at most
   ``MAX_YAML_BYTES``, nesting at most ``MAX_YAML_DEPTH`` deep, no aliases
   (``*name``: a few hundred bytes of them can expand to gigabytes, and a
   recursive one never ends), integers within ±(2**53 - 1), the start instant
   within years 1970..9999 and one ``advance`` at most ``MAX_ADVANCE``;
2. the JSON Schema ``data/scenario.schema.json`` (draft 2020-12), applied to
   the data with mapping keys turned into strings and YAML dates into ISO text;
3. meaning: key names exist, menu labels exist, settings values are ones the
   menu offers, code entries are ones the mock True API accepts, durations
   and instants parse. The world (``world:`` and the ``world``/``host`` steps,
   in step order) is applied to a throw-away backend so a bad host name fails
   here, not half-way through a run.
"""

from __future__ import annotations

import copy
import difflib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from jsonschema.exceptions import ValidationError, best_match

from emulator.base.instants import parse_duration, parse_instant
from emulator.devices.kkt.logbook import LogRecord
from emulator.devices.kkt.settings import Settings
from emulator.servers.trueapi import TrueApiBackend
from emulator.world.spec import apply_host, apply_world, exc_text, make_backend
from firmware_menu.keypad import parse_key
from firmware_menu.tree import Node, menu_data

DEFAULT_START = "2026-01-15T09:00:00+03:00"
CONTOURS = ("prod", "sandbox")

# Step kinds that take no argument (``{}`` or nothing).
EMPTY_STEPS = ("open_shift", "enter_cash", "return_receipt", "close_receipt", "cancel_receipt", "leave_cash",
               "close_shift", "status_check", "settle", "restart")
STEP_KINDS = ("press", "keys", "goto", "type", "scan", "set", "sale", "sale_free", "doc_type", "emergency",
              "advance", "host", "world", "expect", "note", "tech", "fiscal_server") + EMPTY_STEPS


# Loaders of other devices' scenario files, by their top-level ``kind`` (``scenario.prro`` adds "prro").
KIND_LOADERS: dict[str, Any] = {}

MAX_YAML_BYTES = 4 << 20          # a scenario file (the bundled ones are a few kB)
MAX_YAML_DEPTH = 32                # nesting of mappings and lists
MAX_INTEGER = 2**53 - 1            # JSON's safe integers: every count, ms, price and seed fits
MAX_START_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
MAX_ADVANCE_MS = 3650 * 86_400_000  # ten years in one step


class ScenarioError(Exception):
    """A scenario file that cannot be loaded; ``str()`` names the file and the place."""

    def __init__(self, file: str, problems: list[str]) -> None:
        self.file = file
        self.problems = problems
        super().__init__("\n".join(f"{file}: {p}" for p in problems))


@dataclass(frozen=True)
class Step:
    index: int
    kind: str              # "note" for a step that is only a note
    value: Any
    line: int | None = None
    note: str | None = None

    @property
    def where(self) -> str:
        line = f", line {self.line}" if self.line else ""
        return f"steps[{self.index}] ({self.kind}{line})"


@dataclass(frozen=True)
class DeviceSpec:
    settings: dict[str, Any] | None = None   # settings.json content (validated by Settings.from_json)
    log_seq: int = 1
    oism_default: int = 15
    oism_codes: dict[str, int] = field(default_factory=dict)
    shift_open: bool = False
    serial: str = "00000000000001"
    inn: str = "7700000000"
    tls_roots: str = "lab"


@dataclass(frozen=True)
class Scenario:
    name: str
    file: str
    steps: tuple[Step, ...]
    description: str = ""
    network: str = "simulated"
    start_ms: int = 0
    seed: int = 0
    device: DeviceSpec = DeviceSpec()
    world: Mapping[str, Any] = field(default_factory=dict)
    position: int | None = None   # index under ``scenarios:``, None for a one-scenario file

    @property
    def label(self) -> str:
        return self.file if self.position is None else f"{self.file}: scenarios[{self.position}]"


# ---------------------------------------------------------------- helpers
def setting_node(name: str) -> Node:
    """The menu item that edits setting ``name``."""
    def walk(nodes: Iterable[Node]) -> Node | None:
        for n in nodes:
            if n.kind == "param" and n.setting == name:
                return n
            found = walk(n.items)
            if found:
                return found
        return None

    node = walk(menu_data().main)
    if node is None:
        raise KeyError(f"setting {name!r} has no menu item")
    return node


def menu_label_exists(label: str) -> bool:
    data = menu_data()
    if label in data.context.values():
        return True
    try:
        data.find_path(label)
    except KeyError:
        return False
    return True


def _plain(obj: Any) -> Any:
    """YAML data as JSON data: mapping keys become strings, dates ISO text."""
    if isinstance(obj, dict):
        return {_key(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (datetime, date)):
        return obj.isoformat()
    return obj


def _key(k: Any) -> str:
    if isinstance(k, bool):
        return "true" if k else "false"
    return str(k)


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    return json.loads(resources.files("emulator").joinpath("data/scenario.schema.json").read_text("utf-8"))


@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(schema())
    cls.check_schema(schema())
    return cls(schema())


# ---------------------------------------------------------------- loading
def load_file(path: str | Path) -> list[Scenario]:
    """All scenarios of one YAML file; ScenarioError on any problem."""
    path = Path(path)
    file = str(path)
    try:
        text = read_yaml_text(path)
    except (OSError, ValueError) as exc:
        raise ScenarioError(file, [f"cannot read: {read_problem(exc)}"]) from None
    return load_text(text, file)


def read_yaml_text(path: Path) -> str:
    """The text of a YAML file, read no further than ``MAX_YAML_BYTES`` (``/dev/zero`` included):
    OSError, or ValueError for a file too large or not UTF-8 (``read_problem`` makes it one line)."""
    with open(path, "rb") as f:
        data = f.read(MAX_YAML_BYTES + 1)
    if len(data) > MAX_YAML_BYTES:
        raise ValueError(f"larger than {MAX_YAML_BYTES // (1 << 20)} MiB")
    return data.decode("utf-8")


def read_problem(exc: BaseException) -> str:
    """What ``read_yaml_text`` ran into, as one line."""
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (byte {exc.start} is {exc.object[exc.start]:#04x})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return " ".join(str(exc).split())


def load_text(text: str, file: str = "<text>") -> list[Scenario]:
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(file, [yaml_message(exc)]) from None
    return load_data(data, file, _step_lines(text))


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses aliases and nesting deeper than ``MAX_YAML_DEPTH``.

    Both are refused while composing, before anything is built: an alias never
    expands, a deep document never reaches the recursive constructor."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()
        mark: Any = event.start_mark
        if isinstance(event, yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, f"an alias (*{event.anchor}) is not accepted here: write the value out "
                "(aliases can expand to far more than they look)", mark)
        self.depth += 1
        try:
            if self.depth > MAX_YAML_DEPTH:
                raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_YAML_DEPTH} levels", mark)
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self.depth -= 1


def load_yaml(text: str) -> Any:
    """A scenario's (or ``serve --config``'s) YAML, bounded (see the module docstring).

    Every problem is a ``yaml.YAMLError`` (``yaml_message`` makes it one line)."""
    if len(text) > MAX_YAML_BYTES:
        raise yaml.YAMLError(f"the file is larger than {MAX_YAML_BYTES // (1 << 20)} MiB")
    loader = _BoundedLoader(text)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError:
        raise
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        # The constructors' own errors: a date such as 2026-13-45, an integer of 5000 digits.
        mark = getattr(loader, "problem_mark", None) or loader.get_mark()
        raise yaml.constructor.ConstructorError(None, None, " ".join(str(exc).split()), mark) from None
    finally:
        loader.dispose()
    _check_integers(data)
    return data


def _check_integers(data: Any) -> None:
    """Every integer of the document within ±MAX_INTEGER (a walk without recursion)."""
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        item, where = stack.pop()
        if isinstance(item, dict):
            for k, v in item.items():
                stack.append((k, where))
                stack.append((v, f"{where}.{k}" if where else str(k)))
        elif isinstance(item, list):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(item))
        elif isinstance(item, int) and not isinstance(item, bool) and abs(item) > MAX_INTEGER:
            raise yaml.YAMLError(f"{where or 'the document'}: the integer {str(item)[:24]}"
                                 f"{'…' if len(str(item)) > 24 else ''} is out of range "
                                 f"(at most {MAX_INTEGER} either way)")


def yaml_message(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    if mark is None or problem is None:
        return f"YAML error: {' '.join(str(exc).split())}"
    context = getattr(exc, "context", None)
    return (f"YAML error at line {mark.line + 1}, column {mark.column + 1}: {problem}"
            + (f" ({context})" if context else ""))


def load_data(data: Any, file: str = "<data>", lines: list[list[int]] | None = None) -> list[Scenario]:
    """Scenarios from already parsed data (a mapping, or a mapping with ``scenarios``)."""
    if data is None:
        raise ScenarioError(file, ["the file is empty"])
    data = _plain(data)
    if not isinstance(data, dict):
        raise ScenarioError(file, ["a scenario file must hold a mapping (name, steps, ...) "
                                   f"or `scenarios: [...]`, not a {type(data).__name__}"])
    if data.get("kind") in KIND_LOADERS:
        return list(KIND_LOADERS[data["kind"]](data, file, lines))
    many = data.get("scenarios")
    for sc in many if isinstance(many, list) else [data]:
        _bare_steps(sc)
    problems = [_schema_message(e, data, lines) for e in
                sorted(_validator().iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])]
    if problems:
        raise ScenarioError(file, _dedupe(problems)[:12])
    items: list[tuple[int | None, dict[str, Any]]]
    if "scenarios" in data:
        items = list(enumerate(data["scenarios"]))
    else:
        items = [(None, data)]
    out: list[Scenario] = []
    problems = []
    for pos, raw in items:
        step_lines = (lines or [])[pos or 0] if lines and len(lines) > (pos or 0) else []
        try:
            out.append(_build(raw, file, pos, step_lines))
        except ScenarioError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ScenarioError(file, problems)
    return out


def _bare_steps(scenario: Any) -> None:
    """A step that takes no argument may be written bare, as the README's table shows it: ``- open_shift``."""
    steps = scenario.get("steps") if isinstance(scenario, dict) else None
    if isinstance(steps, list):
        for i, step in enumerate(steps):
            if isinstance(step, str) and step in EMPTY_STEPS:
                steps[i] = {step: {}}


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given, folders searched recursively for ``*.yaml`` / ``*.yml`` (sorted)."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found = sorted((f for f in p.rglob("*") if f.suffix in (".yaml", ".yml") and f.is_file()),
                           key=lambda f: f.as_posix())
            out.extend(found)
        else:
            out.append(p)
    seen: set[Path] = set()
    unique = []
    for p in out:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def load_all(paths: Iterable[str | Path]) -> tuple[list[Scenario], list[ScenarioError]]:
    """Every scenario under ``paths`` and every file that failed to load."""
    scenarios: list[Scenario] = []
    errors: list[ScenarioError] = []
    for f in expand_paths(paths):
        if not f.exists():
            errors.append(ScenarioError(str(f), ["no such file or folder"]))
            continue
        try:
            scenarios.extend(load_file(f))
        except ScenarioError as exc:
            errors.append(exc)
    return scenarios, errors


def load_paths(paths: Iterable[str | Path]) -> list[Scenario]:
    """Like ``load_all`` but raises the first load error."""
    scenarios, errors = load_all(paths)
    if errors:
        raise errors[0]
    return scenarios


# ----------------------------------------------------- schema messages
def _dedupe(items: list[str]) -> list[str]:
    seen: set[str] = set()
    return [x for x in items if not (x in seen or seen.add(x))]  # type: ignore[func-returns-value]


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _where(path: list[Any], data: Any, lines: list[list[int]] | None) -> str:
    parts = list(path)
    prefix = ""
    pos = 0
    scenario = data
    if parts[:1] == ["scenarios"] and len(parts) >= 2 and isinstance(parts[1], int):
        pos = parts[1]
        prefix = f"scenarios[{pos}]"
        scenario = data["scenarios"][pos] if isinstance(data.get("scenarios"), list) else {}
        parts = parts[2:]
    if parts[:1] == ["steps"] and len(parts) >= 2 and isinstance(parts[1], int):
        i = parts[1]
        steps = scenario.get("steps") if isinstance(scenario, dict) else None
        step = steps[i] if isinstance(steps, list) and i < len(steps) else None
        kinds = [k for k in step if k != "note"] if isinstance(step, dict) else []
        if isinstance(step, dict):
            kind = "+".join(kinds) if kinds else "note"
        else:
            kind = "?"
        line = None
        if lines and pos < len(lines) and i < len(lines[pos]):
            line = lines[pos][i]
        place = f"steps[{i}] ({kind}" + (f", line {line})" if line else ")")
        rest = parts[2:]
        if rest and rest[0] == kind:
            rest = rest[1:]
        if rest:
            place += " " + _dotted(rest)
    else:
        place = _dotted(parts) if parts else "(top level)"
    return f"{prefix} {place}".strip() if prefix else place


def _dotted(parts: list[Any]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null" if value is None else type(value).__name__


def _is_step_path(path: list[Any]) -> bool:
    return len(path) >= 2 and path[-2] == "steps" and isinstance(path[-1], int)


def _schema_message(err: ValidationError, data: Any, lines: list[list[int]] | None) -> str:
    path = list(err.absolute_path)
    where = _where(path, data, lines)
    sch = err.schema if isinstance(err.schema, dict) else {}
    what = sch.get("x-what")
    v = err.validator
    if _is_step_path(path):
        if v == "type":
            return (f"{where}: a step must be a one-key mapping such as `settle: {{}}` or "
                    f"`press: \"ИТ\"`, got {_short(err.instance)}")
        if v == "maxProperties" and isinstance(err.instance, dict):
            kinds = [k for k in err.instance if k != "note"]
            return f"{where}: a step holds exactly one action (plus an optional note), got: {', '.join(kinds)}"
        if v == "minProperties":
            return f"{where}: an empty step"
    if v == "additionalProperties" and isinstance(err.instance, dict):
        known = list(sch.get("properties", {}))
        extra = [k for k in err.instance if k not in known]
        noun = what or "key"
        return (f"{where}: unknown {noun} {', '.join(repr(k) for k in extra)}{_hint_for_unknown(extra, known, noun)}"
                f" (known: {', '.join(known)})")
    if v in ("anyOf", "oneOf"):
        if "description" in sch:
            return f"{where}: {_short(err.instance)} is not valid: expected {sch['description']}"
        kind = _json_type(err.instance)
        same = [e for e in err.context or () if isinstance(e.schema, dict) and e.schema.get("type") == kind]
        inner = same[0] if same else (best_match(err.context) if err.context else None)
        if inner is not None:
            return f"{where}: {inner.message}"
    hint = _hint_for_value(path, err.instance)
    if v == "type":
        return f"{where}: {_short(err.instance)} is not of type {err.validator_value!r}{hint}"
    return f"{where}: {err.message}{hint}"


def _hint_for_unknown(extra: list[str], known: list[str], noun: str) -> str:
    """"did you mean" for a misspelt key, or the indentation an expectation written as a step needs."""
    if not extra:
        return ""
    expectations = schema()["$defs"]["expect"]["properties"]
    if noun == "step kind" and extra[0] in expectations:
        return f" — an expectation: indent it under `- expect:` (`- expect: {{{extra[0]}: ...}}`)"
    close = difflib.get_close_matches(str(extra[0]), known, n=1, cutoff=0.6)
    return f" — did you mean {close[0]!r}?" if close else ""


def _hint_for_value(path: list[Any], value: Any) -> str:
    """A hint for YAML's traps: unquoted yes/no/on/off are booleans; prices are whole kopecks."""
    if isinstance(value, bool):
        word = "yes/on/true" if value else "no/off/false"
        return f" (YAML reads an unquoted {word} as {str(value).lower()}: quote the word, e.g. \"no\")"
    if path and path[-1] == "price":
        return " (price is in kopecks, a whole number: 248.50 ₽ is 24850)"
    return ""


def _step_lines(text: str) -> list[list[int]]:
    """1-based line numbers of each step, per scenario in the file (best effort)."""
    try:
        root = _BoundedLoader(text).get_single_node()
    except yaml.YAMLError:
        return []
    if not isinstance(root, yaml.MappingNode):
        return []

    def value_of(node: yaml.MappingNode, key: str) -> yaml.Node | None:
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return v
        return None

    def steps_of(node: yaml.Node) -> list[int]:
        if not isinstance(node, yaml.MappingNode):
            return []
        seq = value_of(node, "steps")
        if not isinstance(seq, yaml.SequenceNode):
            return []
        return [item.start_mark.line + 1 for item in seq.value]

    many = value_of(root, "scenarios")
    if isinstance(many, yaml.SequenceNode):
        return [steps_of(item) for item in many.value]
    return [steps_of(root)]


# -------------------------------------------------- meaning of the data
_LOG_PROBE = LogRecord(1, 0, 0, (None,) * 7, 0, 0, 0, 0, 0, 0, "", None)


def _build(raw: dict[str, Any], file: str, pos: int | None, lines: list[int]) -> Scenario:
    problems: list[str] = []
    prefix = f"scenarios[{pos}] " if pos is not None else ""

    def bad(place: str, msg: str) -> None:
        problems.append(f"{prefix}{place}: {msg}")

    try:
        start_ms = parse_instant(raw.get("start", DEFAULT_START))
        if not 0 <= start_ms <= MAX_START_MS:
            raise ValueError(f"{raw.get('start')!r} is outside the years 1970..9999")
    except (ValueError, OverflowError) as exc:
        bad("start", str(exc))
        start_ms = 0

    dev = raw.get("device") or {}
    settings = dev.get("settings")
    if settings is not None:
        try:
            Settings.from_json(copy.deepcopy(settings))
        except (ValueError, TypeError) as exc:
            bad("device.settings", str(exc))
    oism = dev.get("oism") or {}
    device = DeviceSpec(settings=settings, log_seq=int(dev.get("log_seq", 1)),
                        oism_default=int(oism.get("default", 15)), oism_codes=dict(oism.get("codes") or {}),
                        shift_open=bool(dev.get("shift_open", False)),
                        serial=str(dev.get("serial", "00000000000001")), inn=str(dev.get("inn", "7700000000")),
                        tls_roots=str(dev.get("tls_roots", "lab")))

    world = raw.get("world") or {}
    backend: TrueApiBackend | None = None
    try:
        backend = make_backend(int(raw.get("seed", 0)), world)
    except (ValueError, KeyError, TypeError) as exc:
        bad("world", exc_text(exc))

    steps: list[Step] = []
    for i, item in enumerate(raw["steps"]):
        kinds = [k for k in item if k != "note"]
        kind = kinds[0] if kinds else "note"
        step = Step(i, kind, item.get(kind) if kind != "note" else item.get("note"),
                    lines[i] if i < len(lines) else None, item.get("note"))
        steps.append(step)
        try:
            _check_step(step, backend)
        except (ValueError, KeyError, TypeError) as exc:
            bad(step.where, exc_text(exc))

    if problems:
        raise ScenarioError(file, problems)
    return Scenario(name=raw["name"], file=file, steps=tuple(steps), description=raw.get("description", ""),
                    network=raw.get("network", "simulated"), start_ms=start_ms, seed=int(raw.get("seed", 0)),
                    device=device, world=world, position=pos)


def _check_step(step: Step, backend: TrueApiBackend | None) -> None:
    v = step.value
    kind = step.kind
    if kind == "press":
        for name in [v] if isinstance(v, str) else v:
            parse_key(name)
    elif kind == "keys":
        for token in v.split():
            if not (token.isdigit() and token != "00"):
                parse_key(token)
    elif kind == "goto":
        if not menu_label_exists(v):
            raise ValueError(f"no menu or context-menu item labelled {v!r}")
    elif kind == "set":
        for name, value in v.items():
            if name == "option":
                options = menu_data().options
                for n in value:
                    if int(n) not in options:
                        raise ValueError(f"no option {n} (options: {', '.join(str(o) for o in options)})")
                continue
            node = setting_node(name)
            if node.type == "choice" and value not in node.values:
                raise ValueError(f"{name}: {value!r} is not one of {', '.join(node.values)}")
    elif kind == "advance":
        if parse_duration(v) > MAX_ADVANCE_MS:
            raise ValueError(f"{v!r} is longer than one step may advance ({MAX_ADVANCE_MS // 86_400_000}d)")
    elif kind == "host":
        if backend is not None:
            conf = {k: x for k, x in v.items() if k != "name"}
            apply_host(backend, v["name"], conf)
    elif kind == "world":
        if backend is not None:
            apply_world(backend, v)
    elif kind == "expect":
        for key in ("log", "log_all"):
            for entry in v.get(key, ()):
                for name in entry.get("fields", {}):
                    _LOG_PROBE.field(name)
        settings = v.get("settings")
        if settings:
            s = Settings.from_json({})
            for name in settings:
                if name != "options" and not hasattr(s, name):
                    raise ValueError(f"unknown setting {name!r}")


def read_steps(raw_steps: object, lines: list[int], empty: Iterable[str], check: Callable[[Step], str | None],
               example: str, problems: list[str]) -> list[Step]:
    """The ``steps`` list of a device scenario (ПРРО, DM): one step name per item (a bare name for the steps
    in ``empty``), ``note`` beside it, each checked by ``check``; what is wrong goes to ``problems``."""
    steps: list[Step] = []
    if not isinstance(raw_steps, list) or not raw_steps:
        problems.append("steps: a non-empty list is required")
        return steps
    for i, item in enumerate(raw_steps):
        if isinstance(item, str) and item in empty:
            item = {item: None}
        line = lines[i] if i < len(lines) else None
        place = f"steps[{i}]" + (f" (line {line})" if line else "")
        if not isinstance(item, dict) or not item:
            problems.append(f"{place}: a step is a mapping of one step name, e.g. `{example}`")
            continue
        kinds = [k for k in item if k != "note"] or ["note"]
        if len(kinds) != 1:
            problems.append(f"{place}: one step per item, not {', '.join(map(str, kinds))}")
            continue
        kind = kinds[0]
        step = Step(i, kind, item.get(kind), line, item.get("note") if kind != "note" else None)
        problem = check(step)
        if problem:
            problems.append(f"{step.where}: {problem}")
        steps.append(step)
    return steps
