"""``kkt-emu printer serve``: the emulated receipt printer alone on loopback, with a small console.

The printer (``emulator.servers.escpos``) listens on raw TCP (``--port``,
9100 by default; 0 picks a free one) and says where on its first line
(``printer listening on HOST:PORT``). Each receipt it cuts is reported as a
line and, with ``--png-dir``, saved there as ``receipt-NNNN.png``. Faults can
be set at the start (``--paper-out``, ``--cover-open``, ``--slow-ms``,
``--paper-lines``) and changed on standard input, one command a line:

    paper-out on|off   paper-low on|off   cover-open on|off   offline on|off
    slow MS            paper-lines N|none close-drawer        status        quit

A bad line gets one line starting with ``?``. End of input leaves the printer
running until SIGINT / SIGTERM; ``quit`` stops it. Only loopback addresses
are accepted for ``--host``.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from emulator.net.webguard import is_loopback
from emulator.servers.escpos.model import PrinterModel
from emulator.servers.escpos.tcp import PrinterTcp

HELP = ("commands: paper-out|paper-low|cover-open|offline on|off, slow MS, paper-lines N|none, close-drawer, "
        "status, quit")
_SWITCH_WORDS = {"paper-out": "paper_out", "paper-low": "paper_low", "cover-open": "cover_open", "offline": "offline"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="a loopback address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=9100, help="TCP port (default 9100; 0 = a free one)")
    p.add_argument("--png-dir", type=Path, help="save each cut receipt there as receipt-NNNN.png")
    p.add_argument("--paper-out", action="store_true", help="start with an empty roll")
    p.add_argument("--cover-open", action="store_true", help="start with the cover open")
    p.add_argument("--slow-ms", type=int, default=0, help="delay before each piece of data is handled")
    p.add_argument("--paper-lines", type=int, help="the roll ends after this many lines")


class PrinterConsole:
    """One line, one command on the model (see the module docstring)."""

    def __init__(self, model: PrinterModel) -> None:
        self.model = model

    def command(self, line: str) -> str | None:
        """The answer to ``line`` (None for ``quit``)."""
        words = line.split()
        if not words:
            return ""
        cmd, args = words[0], words[1:]
        try:
            if cmd == "quit":
                return None
            if cmd == "status":
                return json.dumps(self.model.state(), ensure_ascii=False)
            if cmd == "close-drawer":
                self.model.close_drawer()
                return "drawer closed"
            if cmd in _SWITCH_WORDS and len(args) == 1 and args[0] in ("on", "off"):
                self.model.set_fault(_SWITCH_WORDS[cmd], args[0] == "on")
                return f"{cmd} {args[0]}"
            if cmd == "slow" and len(args) == 1 and args[0].isdigit():
                self.model.set_fault("slow", int(args[0]))
                return f"slow {int(args[0])} ms"
            if cmd == "paper-lines" and len(args) == 1 and (args[0].isdigit() or args[0] == "none"):
                self.model.set_fault("paper_lines", None if args[0] == "none" else int(args[0]))
                return f"paper-lines {args[0]}"
        except ValueError as exc:
            return f"? {exc}"
        return f"? {line.strip()[:60]!r}: {HELP}"


def _watch(model: PrinterModel, png_dir: Path | None, stop: threading.Event, out: Any) -> None:
    seen = 0
    while not stop.wait(0.1):
        cuts = model.state()["documents"]
        assert isinstance(cuts, int)
        if cuts == seen:
            continue
        docs = model.documents
        for k in range(seen + 1, cuts + 1):
            idx = len(docs) - (cuts - k) - 1
            if idx < 0:
                continue
            doc = docs[idx]
            msg = (f"receipt {k}: {len(doc.lines())} lines, {len(doc.barcodes)} barcodes, {len(doc.qr_codes)} QR, "
                   f"{len(doc.images)} images")
            if png_dir is not None:
                path = png_dir / f"receipt-{k:04d}.png"
                path.write_bytes(model.png(idx))
                msg += f" -> {path}"
            print(msg, file=out, flush=True)
        seen = cuts


def main(args: argparse.Namespace) -> int:
    if not is_loopback(args.host):
        print(f"kkt-emu printer: --host {args.host} is not a loopback address", file=sys.stderr)
        return 2
    model = PrinterModel()
    try:
        if args.paper_out:
            model.set_fault("paper_out", True)
        if args.cover_open:
            model.set_fault("cover_open", True)
        model.set_fault("slow", args.slow_ms)
        if args.paper_lines is not None:
            model.set_fault("paper_lines", args.paper_lines)
    except ValueError as exc:
        print(f"kkt-emu printer: {exc}", file=sys.stderr)
        return 2
    if args.png_dir is not None:
        args.png_dir.mkdir(parents=True, exist_ok=True)
    server = PrinterTcp(model, args.host, args.port)
    try:
        server.start()
    except OSError as exc:
        print(f"kkt-emu printer: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    watcher = threading.Thread(target=_watch, args=(model, args.png_dir, stop, sys.stdout), daemon=True)
    watcher.start()
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    print(f"printer listening on {server.host}:{server.port}", flush=True)
    console = PrinterConsole(model)

    def read_stdin() -> None:
        for line in sys.stdin:
            answer = console.command(line)
            if answer is None:
                break
            if answer:
                print(answer, flush=True)
        else:
            return                     # end of input: serve on until a signal
        done.set()

    threading.Thread(target=read_stdin, daemon=True).start()
    try:
        done.wait()
    finally:
        server.stop()
        stop.set()
        watcher.join(2)
    return 0
