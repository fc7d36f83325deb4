"""``kkt-emu terminal serve``: the emulated PrivatBank terminal alone on loopback, in real time, with a console.

It prints ``terminal listening on HOST:PORT`` and then reads commands from stdin, one a line::

    holder ACTION...      the card holder's next actions (approve decline insufficient wrong_pin
                          emv_decline cancel no_card)
    plan ITEM...          the fault plan, one item per operation request (ok no_host no_paper keys
                          reader log_full lose_answer lose_request close stall)
    down|host|paper|stall on|off    the switches: connections reset, no bank, no paper, hung
    latency MS            extra bank time
    keyboard AMOUNT       a sale keyed on the terminal itself (the ECR never hears of it)
    status                batch, busy, last status code, counters
    quit                  stop (so does the end of stdin, unless --no-console)

A bad command gets one ``error: ...`` line and changes nothing. Only loopback addresses are served.
"""

from __future__ import annotations

import argparse
import ipaddress
import signal
import sys
import threading
import time
from typing import TextIO

from emulator.servers.bankterm.card import ACTIONS
from emulator.servers.bankterm.model import PLAN_WORDS, BankTerminal, parse_amount
from emulator.servers.bankterm.tcp import DEFAULT_PORT, BankTermTcp

SWITCH = {"down": "down", "host": "host_down", "paper": "paper_out", "stall": "stalled"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="loopback address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT}; 0: any free)")
    p.add_argument("--present-ms", type=int, default=2_000, help="time the holder takes to present the card")
    p.add_argument("--pin-ms", type=int, default=3_000, help="time the holder takes to type the PIN")
    p.add_argument("--bank-ms", type=int, default=1_500, help="the bank's answer time")
    p.add_argument("--no-console", action="store_true", help="no stdin console: serve until interrupted")


def command(term: BankTerminal, line: str) -> str:
    """One console line; the answer line (``error: ...`` when it is refused)."""
    words = line.split()
    if not words:
        return ""
    cmd, rest = words[0].lower(), words[1:]
    try:
        if cmd == "holder":
            term.holder.plan(rest)
            return f"holder: {' '.join(rest) or 'approve'}"
        if cmd == "plan":
            if any(w.isdigit() for w in rest):
                raise ValueError("plan items are words")
            term.faults.plan(rest)
            return f"plan: {' '.join(rest) or 'empty'}"
        if cmd in SWITCH:
            if rest not in (["on"], ["off"]):
                raise ValueError(f"{cmd} on|off")
            if cmd == "down":
                term.faults.down = rest == ["on"]
            else:
                setattr(term, SWITCH[cmd], rest == ["on"])
            return f"{cmd}: {rest[0]}"
        if cmd == "latency":
            if len(rest) != 1 or not rest[0].isdigit() or len(rest[0]) > 7:
                raise ValueError("latency MS (0-9999999)")
            term.faults.latency_ms = int(rest[0])
            return f"latency: {rest[0]} ms"
        if cmd == "keyboard":
            amount = parse_amount(rest[0]) if len(rest) == 1 else None
            if amount is None:
                raise ValueError("keyboard AMOUNT (e.g. 12.50)")
            txn = term.keyboard_purchase(amount)
            return f"keyboard sale: invoice {txn.invoice}, rrn {txn.rrn}"
        if cmd == "status":
            return (f"batch {term.batch_no}: {len(term.batch)} transactions; busy {term.busy}; "
                    f"status {term.last_stat}; " + ", ".join(f"{k} {v}" for k, v in term.stats.items()))
    except ValueError as exc:
        return f"error: {exc}"
    return (f"error: unknown command {cmd[:40]!r} (holder, plan, down, host, paper, stall, latency, keyboard, "
            "status, quit)")


def main(args: argparse.Namespace, stdin: TextIO | None = None) -> int:
    try:
        if not ipaddress.ip_address(args.host).is_loopback:
            raise ValueError
    except ValueError:
        print(f"error: {args.host!r} is not a loopback address", file=sys.stderr)
        return 2
    term = BankTerminal(lambda: int(time.time() * 1000))
    term.holder.present_ms, term.holder.pin_ms, term.config.host_ms = args.present_ms, args.pin_ms, args.bank_ms
    srv = BankTermTcp(term, args.host, args.port)
    try:
        srv.start()
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"terminal listening on {srv.host}:{srv.port}", flush=True)
    print(f"holder actions: {' '.join(ACTIONS)}; fault plan items: {' '.join(sorted(PLAN_WORDS))}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        if args.no_console:
            while not stop.wait(0.5):
                pass
        else:
            for line in stdin or sys.stdin:
                if line.strip().lower() in ("quit", "exit"):
                    break
                answer = command(term, line[:400])
                if answer:
                    print(answer, flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()
    return 0
