"""``kkt-emu``: the command line.

Subcommands::

    kkt-emu run PATH... [--junit FILE] [--verbose] [--trace]
        run scenario files (folders are searched for *.yaml / *.yml);
        exit 0 when all pass, 1 when any fails, 2 when a file cannot be loaded
    kkt-emu errors [--dm] [--json]
        the device error table: code, text, cause
    kkt-emu fd decode FILE|- [--json]
        a TLV document or a whole OFD / ОИСМ session message as a tree; bad input: one line, exit 2
    kkt-emu fd show STATE_DIR|ARCHIVE [--json] [--number N]
        the fiscal drive's documents (ФД, type, date, ФП, delivered or pending),
        or one decoded; exit 2 for a missing or damaged archive
    kkt-emu terminal serve [--host H] [--port N] [--no-console]
        the emulated PrivatBank bank terminal (ECR JSON over TCP) alone on loopback, with a console
    kkt-emu printer serve [--port N] [--png-dir DIR] [faults]
        the emulated ESC/POS receipt printer on loopback, with a console on standard input
    kkt-emu dm serve [--port N] [--no-console]
        the Vchasno Device Manager API (port 3939) over a test ПРРО, a terminal and a printer, with a fault console

Each subcommand is a pair ``_add_<name>(subparsers)`` / ``_cmd_<name>(args)``
registered in ``COMMANDS``; a new one (``bench``) adds its pair there.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from emulator import __version__

if TYPE_CHECKING:
    from pathlib import Path

    from emulator.wire.datamatrix import CodeImageError
    from emulator.wire.token_qr import TokenQrError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_LOAD_ERROR = 2


def _out(text: str = "") -> None:
    print(text, flush=True)


def _fmt_virtual(ms: int) -> str:
    s, milli = divmod(int(ms), 1000)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    if h:
        return f"{h}h{m:02d}m{s:02d}s"
    if m:
        return f"{m}m{s:02d}s"
    return f"{s}.{milli:03d}s"


# ---------------------------------------------------------------- run
def _add_run(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("run", help="run scenario files", description="Run scenario files on virtual time.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="scenario files or folders")
    p.add_argument("--junit", metavar="FILE", help="write JUnit XML to FILE")
    p.add_argument("--verbose", "-v", action="store_true", help="print each step as it runs")
    p.add_argument("--trace", action="store_true", help="print device events and network traffic as they happen")
    p.add_argument("--network", choices=("simulated", "real", "both"),
                   help="run every scenario on this network, whatever its own 'network' says")


def _cmd_run(args: argparse.Namespace) -> int:
    from emulator.scenario.junit import write_junit
    from emulator.scenario.model import load_all
    from emulator.scenario.runner import ScenarioResult, run_scenario

    scenarios, errors = load_all(args.paths)
    if errors:
        for err in errors:
            for problem in err.problems:
                print(f"ERROR {err.file}: {problem}", file=sys.stderr)
        if args.junit:
            write_junit(args.junit, [], errors)
        print(f"{len(errors)} file(s) could not be loaded; nothing was run", file=sys.stderr)
        return EXIT_LOAD_ERROR
    if not scenarios:
        print(f"no scenario files under {' '.join(args.paths)}", file=sys.stderr)
        return EXIT_LOAD_ERROR

    if args.network:
        scenarios = [dataclasses.replace(sc, network=args.network) for sc in scenarios]
    printer = _out if (args.verbose or args.trace) else None
    results: list[ScenarioResult] = []
    for sc in scenarios:
        if printer:
            _out(f"--- {sc.name} ({sc.label})")
        r = run_scenario(sc, trace=_out if args.trace else None, verbose=_out if args.verbose else None)
        results.append(r)
        word = "PASS" if r.passed else "FAIL"
        _out(f"{word}  {r.name}  [{r.file}]  {_fmt_virtual(r.virtual_ms)} virtual, {r.wall_s:.3f} s wall")
        for f in r.failures:
            _out(f"      {f}")
    passed = sum(1 for r in results if r.passed)
    failed = len(results) - passed
    _out(f"{passed} passed, {failed} failed")
    if args.junit:
        write_junit(args.junit, results)
    return EXIT_OK if failed == 0 else EXIT_FAILED


# ------------------------------------------------------------- errors
def _add_errors(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("errors", help="print the device error table",
                       description="The device error codes 650-658 and 747-768: code, text, cause.")
    p.add_argument("--json", action="store_true", help="a JSON list of {code, text, cause, group}")
    p.add_argument("--dm", action="store_true", help="the Vchasno Device Manager's tables instead (every row)")


def _cmd_errors(args: argparse.Namespace) -> int:
    from emulator.base.errors import error_table

    if args.dm:
        from emulator.fronts.dm.admin import print_error_rows
        return print_error_rows(_out, as_json=args.json)
    table = error_table()
    if args.json:
        rows = [{"code": e.code, "text": e.text, "cause": e.cause, "group": e.group} for e in table.values()]
        _out(json.dumps(rows, ensure_ascii=False, indent=2))
        return EXIT_OK
    width = max(len(e.text) for e in table.values())
    _out(f"{'CODE':<5} {'TEXT':<{width}}  CAUSE")
    for e in table.values():
        _out(f"{e.code:<5} {e.text:<{width}}  {e.cause}")
    return EXIT_OK


# ------------------------------------------------------------ registry
# name -> (add the subparser, run it). Add `bench` here: ("bench": (_add_bench, _cmd_bench)).
def _add_bench(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("bench", help="simulate a store for N days on virtual time and report the speed",
                       description="Simulate a shop for N days on virtual time (one shift a day, driven key by key) "
                                   "and measure the loopback HTTPS ratios; prints the figures.")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--days", type=int, default=30, metavar="N", help="days to simulate, one shift each (default 30)")
    p.add_argument("--receipts", type=int, default=300, metavar="N", help="receipts a shift (default 300)")
    p.add_argument("--marked", type=int, default=2, metavar="N", help="marked positions a receipt (default 2)")
    p.add_argument("--seed", type=int, default=1, metavar="N",
                   help="seed of the mock backend (its reqId generator; default 1)")
    p.add_argument("--no-net", action="store_true",
                   help="skip the loopback benchmarks (HTTPS: device vs bare httpx, mock vs bare starlette; "
                        "TCP: mock OFD vs bare echo; pty: the serial link vs a bare echo)")
    p.add_argument("--quick-net", action="store_true", help="smaller loopback HTTPS benchmarks")


def _cmd_bench(args: argparse.Namespace) -> int:
    from emulator.bench.days import BenchConfig, run

    if args.days < 1 or args.receipts < 1 or args.marked < 0:
        print("kkt-emu bench: --days and --receipts must be at least 1, --marked at least 0", file=sys.stderr)
        return 2
    result = run(BenchConfig(days=args.days, receipts=args.receipts, marked=args.marked, seed=args.seed))
    from emulator.bench.ffd import run_ffd

    result.update(run_ffd())
    if not args.no_net:
        from emulator.bench.net import run_net

        result.update(run_net(quick=args.quick_net))
        from emulator.bench.ofd import run_ofd

        result.update(run_ofd(quick=args.quick_net))
        from emulator.bench.serial import run_serial

        result.update(run_serial(quick=args.quick_net))
        from emulator.bench.driver import run_driver_bench

        result.update(run_driver_bench(quick=args.quick_net))
        from emulator.bench.prro import run_prro

        result.update(run_prro(quick=args.quick_net))
        from emulator.bench.dm import run_dm

        result.update(run_dm(quick=args.quick_net))
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        width = max(len(k) for k in result)
        for key, value in result.items():
            print(f"{key:<{width}}  {value}")
    return 0


def _add_token_qr(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("token-qr", help="draw a Chestny Znak token as a QR code (PNG) for the device's scanner")
    p.add_argument("token", help="the token; '-' reads it from standard input (keeps it out of the shell history)")
    p.add_argument("-o", "--output", required=True, help="PNG file to write")


def _cmd_token_qr(args: argparse.Namespace) -> int:
    from pathlib import Path

    from emulator.rules.syntax import mask_token
    from emulator.wire.token_qr import TokenQrError, make_token_qr

    token = sys.stdin.readline().strip() if args.token == "-" else args.token
    if _write_picture("token-qr", Path(args.output), "token.png", lambda out: make_token_qr(token, out),
                      TokenQrError):
        return 2
    print(f"wrote {args.output} with token {mask_token(token)}")
    return 0


def _write_picture(command: str, out: Path, example: str, draw: Callable[[Path], object],
                   refused: type[TokenQrError] | type[CodeImageError]) -> bool:
    """Draw a picture to ``-o out``; False when written, True after one line on stderr saying why not
    (a folder, a missing folder, an input ``draw`` refuses, a failed write)."""
    why = (f"-o {out}: is a folder; give a file name such as {out / example}" if out.is_dir()
           else f"-o {out}: the folder {out.parent} does not exist" if not out.parent.is_dir() else "")
    if not why:
        try:
            draw(out)
            return False
        except refused as exc:
            why = exc.message
        except OSError as exc:
            why = f"-o {out}: cannot write it: {exc.strerror or exc}"
    print(f"kkt-emu {command}: {why}", file=sys.stderr)
    return True


def _add_code_image(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("code-image", help="draw a marking code as the GS1 DataMatrix a pack carries (PNG)",
                       description="Draw a marking code (КМ) as a DataMatrix picture for scan-image: a GS1 code "
                                   "with FNC1 first and FNC1 for each GS separator, a 29-character pack code plain.")
    p.add_argument("code", help="the code; write the GS separator as <GS> (or \\x1d); '-' reads a line from stdin")
    p.add_argument("-o", "--output", required=True, help="PNG file to write")


def _cmd_code_image(args: argparse.Namespace) -> int:
    from pathlib import Path

    from emulator.wire.datamatrix import CodeImageError, code_symbol_data, make_code_image

    code = sys.stdin.readline().rstrip("\r\n") if args.code == "-" else args.code
    if _write_picture("code-image", Path(args.output), "code.png", lambda out: make_code_image(code, out),
                      CodeImageError):
        return 2
    gs1 = code_symbol_data(code)[1]
    print(f"wrote {args.output}: " + ("a GS1 DataMatrix (FNC1 first, FNC1 for each GS)" if gs1
                                      else "a DataMatrix (a pack code: no GS1 elements)"))
    return 0


def _add_explain(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("explain-log", help="explain GIS MT log records in plain Russian", add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)


def _cmd_explain(args: argparse.Namespace) -> int:
    from emulator.rules.explain import main_explain

    return main_explain(args.rest)


def _add_serve(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from emulator.serve import add_arguments

    p = sub.add_parser("serve", help="the device and the mock True API servers in real time, with a console")
    add_arguments(p)


def _cmd_serve(args: argparse.Namespace) -> int:
    from emulator.serve import main as serve_main

    return serve_main(args)


def _add_console(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from emulator.serve import add_arguments

    p = sub.add_parser("console", help="serve with the training console: the device in a browser")
    add_arguments(p)
    p.description = "kkt-emu serve, its first line the training console's address (open it in a browser)."


def _cmd_console(args: argparse.Namespace) -> int:
    from emulator.serve import main as serve_main

    args.no_control = False
    args.console_first = True
    return serve_main(args)


# ---------------------------------------------------------------- the Device Manager's peers alone
def _peer(name: str, module: str, help_text: str, serve_help: str) -> tuple[Any, Any]:
    """``kkt-emu NAME serve``: one emulated peer on loopback, its arguments and main in ``module``."""
    import importlib

    def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
        p = sub.add_parser(name, help=help_text)
        peer_sub = p.add_subparsers(dest=f"{name}_command", metavar="SUBCOMMAND")
        peer_sub.required = True
        importlib.import_module(module).add_arguments(peer_sub.add_parser("serve", help=serve_help))

    def run(args: argparse.Namespace) -> int:
        return int(importlib.import_module(module).main(args))

    return add, run


# ---------------------------------------------------------------- fd (fiscal documents)
# `kkt-emu fd <subcommand>`: each subcommand is a pair in FD_COMMANDS, as COMMANDS are.
def _add_fd_decode(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("decode", help="decode a TLV document, a container or a whole OFD / ОИСМ session message",
                       description="Decode fiscal bytes (binary, or hex text): session and container headers "
                                   "with their CRCs, then the document's tags as a tree.")
    p.add_argument("file", metavar="FILE", help="the bytes to decode; '-' reads standard input")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")


def _cmd_fd_decode(args: argparse.Namespace) -> int:
    from emulator.wire.ffd.dump import MAX_INPUT, dump, render
    from emulator.wire.ffd.values import FfdError

    name = "standard input" if args.file == "-" else args.file
    try:
        if args.file == "-":
            data = sys.stdin.buffer.read(MAX_INPUT + 1)
        else:
            with open(args.file, "rb") as fh:
                data = fh.read(MAX_INPUT + 1)
    except OSError as exc:
        print(f"kkt-emu fd decode: {name}: cannot read it: {exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        result = dump(data)
    except FfdError as exc:
        print(f"kkt-emu fd decode: {name}: {exc}", file=sys.stderr)
        return 2
    if args.json:
        _out(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        for line in render(result):
            _out(line)
    return 0


FD_COMMANDS: dict[str, tuple[Callable[[argparse._SubParsersAction], None],  # type: ignore[type-arg]
                             Callable[[argparse.Namespace], int]]] = {
    "decode": (_add_fd_decode, _cmd_fd_decode),
}


def _add_fd(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("fd", help="fiscal documents: decode bytes, list the drive's documents")
    fd_sub = p.add_subparsers(dest="fd_command", metavar="SUBCOMMAND")
    fd_sub.required = True
    for add, _ in FD_COMMANDS.values():
        add(fd_sub)


def _cmd_fd(args: argparse.Namespace) -> int:
    return FD_COMMANDS[args.fd_command][1](args)


# fd show
def _add_fd_show(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("show", help="list the fiscal drive's documents (number, type, date, ФП, OFD delivery)",
                       description="List the documents of a fiscal drive's archive, or show one decoded.")
    p.add_argument("path", metavar="STATE_DIR|ARCHIVE", help="a device state directory or its fn_archive.sqlite")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--number", "-n", type=int, metavar="N", help="show document N decoded")


def _cmd_fd_show(args: argparse.Namespace) -> int:
    from emulator.devices.fn import show
    from emulator.devices.fn.errors import FnError

    try:
        drive = show.open_archive(args.path)
    except FnError as exc:
        print(f"kkt-emu fd show: {exc.text}", file=sys.stderr)
        return EXIT_LOAD_ERROR
    try:
        if args.number is not None:
            doc = show.document_json(drive, args.number) if args.json else show.document_text(drive, args.number)
        else:
            doc = show.listing_json(drive) if args.json else show.listing_text(drive)
    except FnError as exc:
        print(f"kkt-emu fd show: {exc.text}", file=sys.stderr)
        return EXIT_LOAD_ERROR
    finally:
        drive.close_archive()
    if isinstance(doc, dict):
        _out(json.dumps(doc, ensure_ascii=False, indent=1))
    else:
        for line in doc:
            _out(line)
    return EXIT_OK


FD_COMMANDS["show"] = (_add_fd_show, _cmd_fd_show)


COMMANDS: dict[str, tuple[Callable[[argparse._SubParsersAction], None],  # type: ignore[type-arg]
                          Callable[[argparse.Namespace], int]]] = {
    "run": (_add_run, _cmd_run),
    "errors": (_add_errors, _cmd_errors),
    "bench": (_add_bench, _cmd_bench),
    "token-qr": (_add_token_qr, _cmd_token_qr),
    "code-image": (_add_code_image, _cmd_code_image),
    "serve": (_add_serve, _cmd_serve),
    "console": (_add_console, _cmd_console),
    "explain-log": (_add_explain, _cmd_explain),
    "fd": (_add_fd, _cmd_fd),
    "prro": (lambda sub: _prro().add_parser(sub), lambda args: _prro().run_command(args)),
    "printer": _peer("printer", "emulator.fronts.printer", "the emulated ESC/POS receipt printer on loopback",
                     "run the printer on raw TCP (port 9100 style), with a console"),
}


COMMANDS["dm"] = _peer("dm", "emulator.scenario.dm_serve", "the Vchasno Device Manager API (ПРРО, terminal, printer)",
                       "serve the Device Manager on loopback (port 3939) with a fault console")
COMMANDS["terminal"] = _peer("terminal", "emulator.servers.bankterm.serve",
                             "the emulated PrivatBank bank terminal (ECR JSON over TCP)",
                             "serve the terminal alone on loopback, with a console")


def _prro() -> Any:
    from emulator.scenario import prro_console
    return prro_console


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kkt-emu", description="Emulator of an Incotex cash register in the Chestny Znak permit mode.")
    parser.add_argument("--version", action="version", version=f"kkt-emu {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add, _ in COMMANDS.values():
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["explain-log"]:
        # explain-log has its own parser (its options, its Russian help): hand it everything.
        from emulator.rules.explain import main_explain

        return main_explain(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command][1](args)
    except BrokenPipeError:
        # The reader went away (`kkt-emu errors | head`): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
