"""``kkt-emu prro``: the ПРРО's own console, and one-shot commands on key files and state.

The console runs a whole ПРРО world in one process (the mock CA, the tax
server — in process, or its HTTP front on loopback with ``--network real`` —
and the ПРРО) on a virtual clock, and takes the scenario steps as lines::

    issue_key name=old owner="Іваненко Іван" role=cashier days=10 file=Key-6.dat password=1111
    register key=old role=cashier
    advance 20m
    set_key key=old password=1111
    open_shift
    sale 125.50

plus ``status``, ``state``, ``registry`` (the tax server's operators),
``journal``, ``help`` and ``quit``. A line that is not a step is one line of
error and nothing changes. The world lives as long as the console, or, with
``--world DIR``, in DIR: the steps that ran are recorded there and replayed
at the next start, so ``kkt-emu prro do --world DIR "register key=new
role=cashier"`` and ``kkt-emu prro do --world DIR registry`` work from a shell
one command at a time.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TextIO

import yaml

from emulator.base.storage import write_atomic
from emulator.scenario.model import Step
from emulator.scenario.prro import EMPTY, STEP_ARGS, PrroRun, PrroScenario, StepFailed, check_step
from emulator.world.prro import PrroWorldError

HELP = """steps, as in a ПРРО scenario (key=value for a step's mapping, one value for the others):
  issue_key name=N owner=O [tax_id=] [role=cashier|senior_cashier|director] [days=] [password=] [file=Key-6.dat]
  register key=N role=R [delay=20m]   revoke N   move_key N   damage_key N   use PRRO   restart
  choose_key key=N [password=]   read_key   save_key   set_key key=N [password=]   update_libraries
  employee name=E [key=N] [password=]   cashier E
  open_shift   sale 10.00   return 10.00   cash_in 10.00   cash_out 10.00   x_report   z_report
  go_offline   go_online   resend   check_warnings   advance 20m   fault down=true
console: status   state   registry   journal   help   quit"""


def parse_line(line: str, index: int = 0) -> Step | None:
    """A console line as a scenario step (None for an empty line); ValueError with one line."""
    try:
        words = shlex.split(line, comments=True)
    except ValueError as exc:
        raise ValueError(f"cannot read the line: {exc}") from None
    if not words:
        return None
    kind, args = words[0], words[1:]
    if kind in EMPTY:
        value: Any = None
        if args:
            raise ValueError(f"{kind} takes no argument")
    elif STEP_ARGS.get(kind) == "scalar":
        if len(args) != 1:
            raise ValueError(f"{kind} takes one value (e.g. `{kind} {_example(kind)}`)")
        value = _scalar(args[0])
    elif kind in STEP_ARGS:
        value = {}
        for a in args:
            k, eq, v = a.partition("=")
            if not eq or not k:
                raise ValueError(f"{kind}: write key=value, not {a!r}")
            value[k] = _scalar(v)
    else:
        raise ValueError(f"unknown command {kind!r} (help lists them)")
    step = Step(index, kind, value)
    problem = check_step(step)
    if problem:
        raise ValueError(problem)
    return step


def _example(kind: str) -> str:
    return {"advance": "20m", "use": "B", "cashier": "Марія"}.get(kind, "100.00" if kind in (
        "sale", "return", "cash_in", "cash_out") else "old")


def _scalar(text: str) -> Any:
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    if text.isdigit() and not text.startswith("0"):
        return int(text)
    return text


class Console:
    def __init__(self, run: PrroRun, out: Callable[[str], None]) -> None:
        self.run = run
        self.out = out
        self.count = 0
        self.stepped = False     # the last line was a step that ran (what a world directory records)
        self.failed = False      # the last line was refused (one line of error)

    def handle(self, line: str) -> bool:
        """One line; False after ``quit``."""
        self.stepped = False
        self.failed = False
        word = line.strip().split(" ", 1)[0] if line.strip() else ""
        if word in ("quit", "exit"):
            return False
        if word == "help":
            self.out(HELP)
            return True
        if word == "status":
            self.out(self.run.device.status_line())
            return True
        if word == "state":
            self.out(json.dumps(self.run.device.state(), ensure_ascii=False, indent=1))
            return True
        if word == "registry":
            for line_ in registry_lines(self.run):
                self.out(line_)
            return True
        if word == "journal":
            self.out(self.run.device.journal_text().rstrip("\n"))
            return True
        try:
            step = parse_line(line, self.count)
        except ValueError as exc:
            self.out(f"error: {exc}")
            self.failed = True
            return True
        if step is None:
            return True
        self.count += 1
        mark = len(self.run.log)
        try:
            self.run.step(step)
        except (StepFailed, PrroWorldError) as exc:
            self.out(f"error: {exc}")
            self.failed = True
            return True
        self.stepped = True
        self.run.flush()
        for entry in self.run.log[mark:]:
            self.out(entry)
        last = self.run.last
        if step.kind not in ("expect", "advance", "note") and last is not None and not last.messages:
            self.out("ok" if last.ok else "refused")
        return True


def registry_lines(run: PrroRun) -> list[str]:
    names = {k.key_id: n for n, k in run.world.keys.items()}
    now = run.world.clock.now_ms
    out = []
    for op in run.world.tax.operators.values():
        state = "active" if op.active(now) else "waiting for the tax service's databases"
        out.append(f"operator {names.get(op.key_id, op.key_id[:12] + '…')}: {op.name}, {op.role.label}, "
                   f"Квитанція №2 № {op.reg_num}, {state}")
    return out or ["no operators registered (form 5-ПРРО)"]


STEPS_FILE = "steps.txt"
WORLD_FILE = "world.json"


def console(lines: Iterable[str], out: Callable[[str], None], *, network: str = "simulated", start: str | None = None,
            prro: tuple[str, ...] = ("A",), world_dir: Path | None = None, banner: bool = True) -> int:
    """Run console lines in a fresh world (0; 2 when the last line was refused); with ``world_dir`` the world is the one its recorded steps make
    (replayed first, silently) and every step that runs is recorded there (``steps.txt``, private)."""
    from emulator.base.instants import parse_instant
    from emulator.scenario.model import DEFAULT_START
    history: list[str] = []
    if world_dir is not None:
        conf_path, steps_path = world_dir / WORLD_FILE, world_dir / STEPS_FILE
        if conf_path.is_file():
            conf = json.loads(conf_path.read_text("utf-8"))
            start, prro = conf["start"], tuple(conf["prro"])
            history = steps_path.read_text("utf-8").splitlines() if steps_path.is_file() else []
        else:
            write_atomic(conf_path, json.dumps({"start": start or DEFAULT_START, "prro": list(prro)}).encode())
    sc = PrroScenario(name="console", file="<console>", steps=(), network=network,
                      start_ms=parse_instant(start or DEFAULT_START), prro=prro)
    run = PrroRun(sc)
    try:
        con = Console(run, lambda s: None)
        for line in history:
            con.handle(line)
            if not con.stepped:
                raise ValueError(f"{world_dir}: the recorded step {line[:60]!r} does not run again")
        con.out = out
        if banner:
            if network == "real":
                out(f"tax server: {run.world.http_url()}/fs (loopback)")
            out(f"ПРРО {', '.join(prro)}: {run.device.status_line()} — `help` lists the commands")
        for line in lines:
            if not con.handle(line.rstrip("\n")):
                break
            if con.stepped and world_dir is not None:
                history.append(line.rstrip("\n"))
                write_atomic(world_dir / STEPS_FILE, ("\n".join(history) + "\n").encode("utf-8"))
    finally:
        run.world.close()
    return 2 if con.failed else 0


def main_console(args: Any, stdin: TextIO | None = None) -> int:
    lines: Iterable[str] = stdin or sys.stdin
    if args.script:
        with open(args.script, encoding="utf-8") as f:
            lines = f.readlines()
    return console(lines, lambda s: print(s, flush=True), network=args.network, start=args.start,
                   prro=tuple(p for p in args.prro.split(",") if p),
                   world_dir=Path(args.world) if args.world else None)


def main_do(args: Any) -> int:
    """``kkt-emu prro do --world DIR LINE``: one console line in the world DIR records."""
    return console([args.line], lambda s: print(s, flush=True), world_dir=Path(args.world), banner=False)


def _json_or_text(obj: Any, as_json: bool) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=1) if as_json else yaml.safe_dump(
        obj, allow_unicode=True, sort_keys=False).rstrip()


# ---------------------------------------------------------------- the command line
def add_parser(sub: Any) -> None:
    p = sub.add_parser("prro", help="the Ukrainian software cash register (ПРРО): console, key files, state",
                       description="The ПРРО, its keys and the mock tax server.")
    ps = p.add_subparsers(dest="prro_command", metavar="SUBCOMMAND")
    ps.required = True
    c = ps.add_parser("console", help="a ПРРО world (CA, tax server, ПРРО) with a console of scenario steps")
    c.add_argument("--network", choices=("simulated", "real"), default="simulated",
                   help="real: the tax server's HTTP front on loopback, httpx from the ПРРО")
    c.add_argument("--start", help="the virtual clock's start (ISO 8601 with an offset)")
    c.add_argument("--prro", default="A", help="names of the ПРРО, comma-separated (default A)")
    c.add_argument("--script", metavar="FILE", help="read the console lines from FILE instead of stdin")
    c.add_argument("--world", metavar="DIR", help="keep the world in DIR: its recorded steps are replayed first "
                                                  "and every step that runs is recorded")
    d = ps.add_parser("do", help="one console line (a step, status, state, registry) in the world a directory keeps")
    d.add_argument("--world", metavar="DIR", required=True)
    d.add_argument("line", metavar="LINE", help="e.g. \"register key=new role=senior_cashier\" or registry")
    r = ps.add_parser("read-key", help="«Read» a key file: the owner's certificate, or the ПРРО's error")
    r.add_argument("file", metavar="FILE")
    _password_args(r)
    r.add_argument("--at", help="the instant to judge the validity at (ISO 8601; default: now)")
    r.add_argument("--all-libraries", action="store_true", help="as after «Update libraries» (.jks too)")
    i = ps.add_parser("issue-key", help="a key container from the emulator's mock CA (not a real КЕП)")
    i.add_argument("--owner", required=True)
    i.add_argument("--tax-id", default="1234567890")
    i.add_argument("--role", choices=("cashier", "senior_cashier", "director"), default="cashier")
    i.add_argument("--days", type=int, default=365)
    i.add_argument("--out", required=True, metavar="FILE", help="Key-6.dat, NAME.jks, NAME.pfx or NAME.p12")
    i.add_argument("--seed", default="0", help="the CA's seed (the same seed issues the same keys)")
    _password_args(i)
    s = ps.add_parser("state", help="the ПРРО's state from its state directory (no password is shown)")
    s.add_argument("directory", metavar="DIR")
    s.add_argument("--json", action="store_true")


def _password_args(p: Any) -> None:
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--password-file", metavar="FILE", help="the key's password: the first line of FILE")
    g.add_argument("--password-env", metavar="VAR", help="the key's password: environment variable VAR")


def _password(args: Any) -> str:
    import os
    if args.password_file:
        with open(args.password_file, encoding="utf-8") as f:
            return f.readline().rstrip("\r\n")
    value = os.environ.get(args.password_env)
    if value is None:
        raise ValueError(f"environment variable {args.password_env} is not set")
    return value


def run_command(args: Any) -> int:
    try:
        if args.prro_command == "console":
            return main_console(args)
        if args.prro_command == "do":
            return main_do(args)
        if args.prro_command == "read-key":
            return _read_key(args)
        if args.prro_command == "issue-key":
            return _issue_key(args)
        return _state(args)
    except (OSError, ValueError) as exc:
        text = exc.strerror if isinstance(exc, OSError) and exc.strerror else " ".join(str(exc).split())
        where = f"{exc.filename}: " if isinstance(exc, OSError) and exc.filename else ""
        print(f"kkt-emu prro: {where}{text}", file=sys.stderr)
        return 2


def _read_key(args: Any) -> int:
    import time

    from emulator.base.instants import parse_instant
    from emulator.devices.prro.keys import ALL_LIBRARIES, DEFAULT_LIBRARIES, read_key
    from emulator.devices.prro.messages import text
    now = parse_instant(args.at) if args.at else int(time.time() * 1000)
    got = read_key(args.file, _password(args), now_ms=now,
                   libraries=ALL_LIBRARIES if args.all_libraries else DEFAULT_LIBRARIES)
    if got.message is not None:
        print(f"{text(got.message)}" + (f" ({got.detail})" if got.detail else ""), file=sys.stderr)
        return 1
    assert got.info is not None
    info = got.info
    print(text("key_read", owner=info.owner, tax_id=info.tax_id, valid_to=_day(info.not_after_ms)))
    print(f"role: {info.role.label if info.role else '-'}; key id {info.key_id[:8]}…; issuer: {info.issuer}")
    return 0


def _issue_key(args: Any) -> int:
    import hashlib
    import time
    from pathlib import Path

    from emulator.base.clock import VirtualClock
    from emulator.base.storage import write_atomic
    from emulator.rules.prro import Role
    from emulator.servers.ca.model import CertificationAuthority
    out = Path(args.out)
    if out.exists():
        raise ValueError(f"{out}: exists already (a key file is never overwritten)")
    clock = VirtualClock(int(time.time() * 1000))
    ca = CertificationAuthority(clock, seed=hashlib.sha256(f"kkt-emu prro ca {args.seed}".encode()).digest())
    issued, data = ca.issue(args.owner, args.tax_id, Role(args.role), days=args.days, password=_password(args),
                            container=out.name)
    write_atomic(out, data)
    print(f"{out}: {issued.owner}, {issued.role.label}, valid to {_day(issued.not_after_ms)} "
          f"(the emulator's mock CA, not a qualified key)")
    return 0


def _state(args: Any) -> int:
    from pathlib import Path

    from emulator.devices.prro.store import DB_NAME, PrroStore
    directory = Path(args.directory)
    if not (directory / DB_NAME).is_file():
        raise ValueError(f"{directory}: no ПРРО state here (no {DB_NAME})")
    store = PrroStore(directory)
    try:
        key = store.get("key")
        state = {"identity": store.get("identity"), "cashier": store.get("cashier"),
                 "key": None if not key else {"file": Path(key["path"]).name, "owner": key["owner"],
                                              "valid_to": _day(key["not_after_ms"])},
                 "employees": {n: (Path(c["path"]).name if c.get("path") else None)
                               for n, c in (store.get("employees") or {}).items()},
                 "shift": {k: v for k, v in (store.get("shift") or {"open": False}).items() if k != "opened_by"},
                 "offline": bool((store.get("offline") or {}).get("active")),
                 "documents": {s: store.count(s) for s in ("pending", "offline", "sent", "refused")}}
    finally:
        store.close()
    print(_json_or_text(state, args.json))
    return 0


def _day(ms: int) -> str:
    from datetime import UTC, datetime
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%d.%m.%Y")
