"""``kkt-emu dm serve``: the Vchasno Device Manager on loopback in real time, ready for POS software.

It starts a ``DmWorld`` on the wall clock with a test ПРРО (``prro``: the cabinet's test ПРРО, its key
loaded, the default tax groups and pay types), a bank terminal (``term``) and a receipt printer
(``prn``) — the ПРРО's package mode set to that terminal and printer —, serves the DM's API on ``http://127.0.0.1:3939/dm/...`` (``--port``) and prints its URLs::

    device manager: http://127.0.0.1:3939/dm/execute
    control API:    POST http://127.0.0.1:3939/emu/control
    devices: prro (ПРРО 4000002411), term (terminal), prn (printer)

Then it reads fault commands from standard input, one a line (``world.dm_control``: ``term decline``,
``printer paper out``, ``tax down``, ``net down``, ``status`` …; ``quit`` or the end of the input
stops it; ``--no-console`` serves until SIGINT / SIGTERM). A bad line gets one
``error: ...`` line and changes nothing. The control API takes the same line as the body of
``POST /emu/control`` (text, at most 400 characters) and answers ``{"ok": bool, "answer": "..."}``.

Only loopback addresses are served. The state lives in a private temporary directory (``--dir`` keeps it
in a directory of your choice, which must be new or empty): every run starts with a fresh ПРРО.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from emulator.fronts.dm.app import DEFAULT_PORT, make_app
from emulator.fronts.dm.config import default_config
from emulator.net.asgihost import AsgiHost
from emulator.net.webguard import is_loopback
from emulator.world.dm import DmWorld
from emulator.world.dm_control import MAX_LINE, control

PRRO, TERMINAL, PRINTER = "prro", "term", "prn"
CONTROL_PATH = "/emu/control"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="a loopback address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT}; 0 = a free one)")
    p.add_argument("--dir", type=Path, help="keep the state there (a new or empty directory; default: a temporary one)")
    p.add_argument("--no-console", action="store_true", help="no stdin console: serve until SIGINT / SIGTERM")


def make_served_app(world: DmWorld) -> Starlette:
    """The DM's app with the control API beside it."""
    lock = threading.Lock()

    async def control_api(request: Request) -> Response:
        body = (await request.body())[: MAX_LINE * 4 + 1]
        try:
            line = body.decode("utf-8")
        except UnicodeDecodeError:
            line = None
        if line is None or len(line) > MAX_LINE or "\n" in line.strip():
            answer = f"error: one line of UTF-8 text, at most {MAX_LINE} characters"
        else:
            with lock:
                answer = control(world, line.strip())
        ok = bool(answer) and not answer.startswith("error:")
        return Response(json.dumps({"ok": ok, "answer": answer}, ensure_ascii=False).encode("utf-8"),
                        media_type="application/json; charset=utf-8")

    return Starlette(routes=[Route(CONTROL_PATH, control_api, methods=["POST"]), Mount("/", app=make_app(world.dm))])


def build_world(directory: Path | None) -> DmWorld:
    import time
    world = DmWorld(directory, start_ms=int(time.time() * 1000))
    world.follow_wall_clock()
    prro = world.add_prro(PRRO, config=default_config(is_fiscal=False))
    world.add_terminal(TERMINAL, now_ms=lambda: int(time.time() * 1000))
    world.add_printer(PRINTER)
    prro.package.terminal, prro.package.printer = TERMINAL, PRINTER     # package mode: term, then prn
    return world


def _ticker(world: DmWorld, stop: threading.Event) -> None:
    while not stop.wait(0.25):
        world.tick_wall_clock()


def main(args: argparse.Namespace, stdin: TextIO | None = None, out: Any = None) -> int:
    out = out or sys.stdout
    if not is_loopback(args.host):
        print(f"kkt-emu dm: --host {args.host} is not a loopback address", file=sys.stderr)
        return 2
    if args.dir is not None and args.dir.exists() and any(args.dir.iterdir()):
        print(f"kkt-emu dm: --dir {args.dir} is not empty", file=sys.stderr)
        return 2
    world = build_world(args.dir)
    host = AsgiHost(make_served_app(world), host=args.host, port=args.port, name="device-manager")
    try:
        host.start()
    except OSError as exc:
        world.close()
        print(f"kkt-emu dm: {exc.strerror or exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    threading.Thread(target=_ticker, args=(world, stop), daemon=True, name="dm-wall-clock").start()
    fisid = world.dm.prros()[0].device.identity.fiscal_num
    print(f"device manager: {host.url}/dm/execute", file=out, flush=True)
    print(f"control API:    POST {host.url}{CONTROL_PATH}", file=out, flush=True)
    print(f"devices: {PRRO} (ПРРО {fisid}, test), {TERMINAL} (terminal), {PRINTER} (printer)", file=out, flush=True)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            signal.signal(sig, lambda *_: done.set())
        except ValueError:          # not the main thread (tests)
            pass

    def read_console() -> None:
        for line in stdin or sys.stdin:
            if line.strip().lower() in ("quit", "exit"):
                break
            answer = control(world, line.strip()[: MAX_LINE + 1])
            if answer:
                print(answer, file=out, flush=True)
        done.set()

    if not args.no_console:
        threading.Thread(target=read_console, daemon=True, name="dm-console").start()
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        host.stop()
        world.close()
    return 0
