"""``DeviceManager``: the DM's devices by name and one request's way through them.

The devices the DM knows (each a name in ``device`` / ``dev_name`` / ``dev_id``):

* ``DmPrro`` — a ПРРО: the ``devices.prro.PrroDevice``, its settings from the Vchasno cabinet
  (``PrroConfig``: tax groups, pay types, rounding, offline allowed) and its package-mode settings;
* ``DmTerminal`` — a bank terminal: a ``net.bankterm.BankTermLink`` (PrivatBank "ECR JSON");
* ``DmPrinter`` — a receipt printer: a ``net.escposlink.PrinterLink``.

``execute(endpoint, body)`` is a whole request: the envelope read, the device found (1091), the device
taken for the task (1105 while it runs another), a re-query by ``tag`` answered from the store (1058),
a fiscal task whose ``tag`` already succeeded answered with its stored result, the collision of an
unfinished fiscal task repaired (``on_repair``) before a new one, then the endpoint's handler. Every
exception a handler lets out becomes 1016 «Internal error:» with the reason logged — never a 500.

Handlers are registered by the modules that own them (``prro_task``, ``terminal_task``,
``printer_task``, ``endpoint``, ``route``); the manager itself knows no task.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator.base.clock import VirtualClock
from emulator.fronts.dm.envelope import Answer, Request, answer_json, parse_request
from emulator.fronts.dm.errors import COLLISION, FATAL, DmError, bad_json
from emulator.fronts.dm.store import DmStore

log = logging.getLogger("kkt_emu.dm")

DM_VERSION = "5.183.0"


@dataclass(frozen=True)
class TaxGroup:
    code: str            # as the receipt's ``taxgrp`` names it ("1", "2", …)
    name: str            # «ПДВ 20%»
    letter: str          # the letter printed beside a row (А, Б, …)
    vat_bp: int          # VAT rate in basis points (2000 = 20 %); 0 with ``vat`` False: not a VAT payer
    excise_bp: int = 0   # excise (акциз) in basis points
    vat: bool = True


@dataclass
class PrroConfig:
    """A ПРРО's settings as the Vchasno cabinet gives them (default: reference §3.3's defaults)."""

    tax_groups: dict[str, TaxGroup] = field(default_factory=dict)
    pay_types: dict[int, str] = field(default_factory=dict)
    rounding: bool = False            # the «Заокруглення» pay type enabled
    offline_allowed: bool = True
    is_fiscal: bool = True            # False: the cabinet's test ПРРО (documents marked TESTING)


@dataclass
class PackageSettings:
    """«Налаштування пакетного режиму» (saved only with the shift closed)."""

    terminal: str = ""
    printer: str = ""
    pay_types: tuple[int, ...] = (2,)
    auto_cancel: bool = True
    merchant: str = "1"


@dataclass
class DmPrro:
    name: str
    device: Any                       # devices.prro.PrroDevice
    config: PrroConfig
    dev_id: int = 0
    package: PackageSettings = field(default_factory=PackageSettings)
    kind: str = "prro"


@dataclass
class DmTerminal:
    name: str
    link: Any                         # net.bankterm.BankTermLink
    protocol: str = "privatbank_json"
    bank: str = "Приватбанк"
    kind: str = "terminal"
    pump: Any = None                  # terminal.ClockPump: the virtual clock moved while the DM waits on it


@dataclass
class DmPrinter:
    name: str
    link: Any                         # net.escposlink.PrinterLink
    kind: str = "printer"


Device = DmPrro | DmTerminal | DmPrinter


@dataclass
class Context:
    """One request in flight."""

    dm: DeviceManager
    endpoint: str                     # "execute", "execute-prn", "execute-pkg"
    req: Request
    dev: Device
    task: int | None
    query: dict[str, str] = field(default_factory=dict)

    @property
    def prro(self) -> DmPrro:
        assert isinstance(self.dev, DmPrro)
        return self.dev


Handler = Callable[[Context], Answer]
Route = Callable[["DeviceManager", dict[str, str], bytes], dict[str, Any]]

# (device kind, task) → (handler, fiscal): a fiscal task is de-duplicated by tag and repairs collisions first
TASKS: dict[tuple[str, int], tuple[Handler, bool]] = {}
# endpoint → handler of the whole request (default: the task's handler); "execute-prn", "execute-pkg"
ENDPOINTS: dict[str, Handler] = {}
# (HTTP method, path) → route: the service methods and the extended API, answered as JSON with HTTP 200
ROUTES: dict[tuple[str, str], Route] = {}
# hooks: the collision repair before a fiscal task; the print forms of an answer
REPAIR: list[Callable[[Context], None]] = []
FORMS: list[Callable[[Context, Answer], None]] = []
# printing an answer's document (``Answer.printable``) on a printer: sets ``info["isprint"]`` (0 / 1) and,
# when the last argument is true and it printed, opens the cash drawer (registered by reports.py)
PRINT: list[Callable[[Context, Answer, DmPrinter, bool], None]] = []


def prro_task(*tasks: int, fiscal: bool) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for t in tasks:
            TASKS[("prro", t)] = (fn, fiscal)
        return fn
    return register


def terminal_task(*tasks: int) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for t in tasks:
            TASKS[("terminal", t)] = (fn, False)
        return fn
    return register


def printer_task(*tasks: int) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for t in tasks:
            TASKS[("printer", t)] = (fn, False)
        return fn
    return register


def endpoint(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        ENDPOINTS[name] = fn
        return fn
    return register


def route(method: str, path: str) -> Callable[[Route], Route]:
    def register(fn: Route) -> Route:
        ROUTES[(method, path)] = fn
        return fn
    return register


def load_handlers() -> None:
    """Import every module that registers handlers (each registers on import)."""
    import importlib
    for name in ("prro_tasks", "reports", "terminal", "package", "admin"):
        try:
            importlib.import_module(f"emulator.fronts.dm.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"emulator.fronts.dm.{name}":
                raise


class DeviceManager:
    """See the module docstring. Thread-safe: the ASGI front runs requests in worker threads."""

    def __init__(self, clock: VirtualClock, directory: Path | None = None, *,
                 sync_clock: Callable[[], None] | None = None) -> None:
        load_handlers()
        self.clock = clock
        self.store = DmStore(directory)
        self.directory = directory
        self.devices: dict[str, Device] = {}
        self.world_lock = threading.RLock()      # the ПРРО devices and the clock: one caller at a time
        self._busy: dict[str, threading.Lock] = {}
        self._busy_guard = threading.Lock()
        self._sync_clock = sync_clock
        self.cabinet: Any = None                  # the Vchasno cabinet's link (admin.py), set by the world
        self.started_ms = clock.now_ms

    # ------------------------------------------------------------ devices
    def add(self, dev: Device) -> Device:
        self.devices[dev.name] = dev
        return dev

    def find(self, name: str, kind: str | None = None) -> Device:
        dev = self.devices.get(name)
        if dev is None or (kind is not None and dev.kind != kind):
            raise DmError(1091)
        return dev

    def prros(self) -> list[DmPrro]:
        return [d for d in self.devices.values() if isinstance(d, DmPrro)]

    @contextmanager
    def busy(self, name: str) -> Iterator[None]:
        """The device taken for one task; 1105 «Пристрій зайнятий» while it runs another."""
        with self._busy_guard:
            lock = self._busy.setdefault(name, threading.Lock())
        if not lock.acquire(blocking=False):
            raise DmError(1105)
        try:
            yield
        finally:
            lock.release()

    def now_ms(self) -> int:
        if self._sync_clock is not None:
            with self.world_lock:
                self._sync_clock()
        return self.clock.now_ms

    # ------------------------------------------------------------ a request
    def execute(self, endpoint_name: str, body: bytes | dict[str, Any],
                query: dict[str, str] | None = None) -> dict[str, Any]:
        """One request to ``/dm/<endpoint_name>``; the answer (always an answer, never an exception)."""
        req: Request | None = None
        task: int | None = None
        try:
            req = parse_request(body)
            task = req.task
            dev = self.find(req.device)
            with self.busy(dev.name):
                ctx = Context(self, endpoint_name, req, dev, task, dict(query or {}))
                return self._run(ctx)
        except DmError as err:
            detail = getattr(err, "detail", "")
            log.info("dm %s: res %d %s%s", endpoint_name, err.res, err.errortxt, f" ({detail})" if detail else "")
            return answer_json(req, Answer.error(err), self.now_ms(), task)
        except Exception as exc:        # a defect: answered, logged whole, never a 500
            log.exception("dm %s: internal error", endpoint_name)
            defect = DmError(1016, action=FATAL, raw_text=f"Internal error: {type(exc).__name__}")
            return answer_json(req, Answer.error(defect), self.clock.now_ms, task)

    def _run(self, ctx: Context) -> dict[str, Any]:
        req = ctx.req
        if req.is_requery:
            got = self.store.result(ctx.dev.name, req.tag)
            if got is not None and got[0] == "open":     # a task cut short: repaired first, then its result
                for repair in REPAIR:
                    repair(ctx)
                got = self.store.result(ctx.dev.name, req.tag)
            if got is None or got[0] != "done":
                raise DmError(1058)
            return got[1]
        handler, fiscal = self.handler(ctx)
        if fiscal:
            if req.tag:
                got = self.store.result(ctx.dev.name, req.tag)
                if got is not None and got[0] == "done" and got[1].get("res") == 0:
                    return got[1]               # that task succeeded already: its result, nothing done twice
            for repair in REPAIR:
                repair(ctx)
            if req.tag:
                got = self.store.result(ctx.dev.name, req.tag)
                if got is not None and got[0] == "done" and got[1].get("res") == 0:
                    return got[1]               # the repair found this very task done: its real result
                self.store.open_result(ctx.dev.name, req.tag, ctx.task, self.now_ms())
        try:
            ans = handler(ctx)
        except DmError as err:
            ans = Answer.error(err)
        if ans.res == 0:
            for form in FORMS:
                form(ctx, ans)
        out = answer_json(req, ans, self.now_ms(), ctx.task)
        if fiscal and req.tag:
            if ans.res_action == COLLISION:
                pass                            # stays open: the next request repairs it
            else:
                self.store.close_result(ctx.dev.name, req.tag, ctx.task, out, self.clock.now_ms)
        return out

    def handler(self, ctx: Context) -> tuple[Handler, bool]:
        special = ENDPOINTS.get(ctx.endpoint)
        if ctx.task is None and special is None:
            raise bad_json("no task")
        found = TASKS.get((ctx.dev.kind, ctx.task)) if ctx.task is not None else None
        if special is not None:
            return special, found[1] if found else False
        if found is None:
            raise bad_json(f"no task {ctx.task} for a {ctx.dev.kind}")
        return found

    def route(self, method: str, path: str, query: dict[str, str], body: bytes) -> dict[str, Any] | None:
        """A service or extended-API route; ``None`` when there is none (the front answers 404)."""
        fn = ROUTES.get((method, path))
        if fn is None:
            return None
        try:
            return fn(self, query, body)
        except DmError as err:
            log.info("dm %s %s: res %d %s", method, path, err.res, err.errortxt)
            return {"res": err.res, "res_action": err.action, "errortxt": err.errortxt, "info": err.info}
        except Exception as exc:
            log.exception("dm %s %s: internal error", method, path)
            return {"res": 1016, "res_action": FATAL, "errortxt": f"Internal error: {type(exc).__name__}", "info": {}}

    def close(self) -> None:
        for dev in self.devices.values():
            link = getattr(dev, "link", None)
            if link is not None and hasattr(link, "close"):
                link.close()
        self.store.close()
