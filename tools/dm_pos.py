#!/usr/bin/env python3
"""A POS client of the Vchasno Device Manager: one shop day through ``/dm/execute`` (standard library only).

    python3 tools/dm_pos.py [--url http://127.0.0.1:3939] [--device prro] [--steps day] [--quiet]

The day: the ПРРО's fiscal number (task 20), open the shift (0), a service cash-in (3), a sale paid in
cash (1), a sale paid by card through package mode (``/dm/execute-pkg``: the terminal, then the receipt),
a return of the cash sale (2), an X-report (10) and the Z-report that closes the shift (11). ``--steps``
picks steps by name (comma-separated: ``fisid,open,cash_in,sale_cash,sale_card,return,x,z``; ``day`` is
all of them). Each request and each answer is printed (``→`` / ``←``, JSON).

Every fiscal request carries a fresh ``tag``; an answer with ``res_action`` 1 (may repeat) or 2 (collision:
the DM repairs it on the next request) is repeated with the same tag up to ``--retries`` times, as the
DM's documentation advises, so a document is never made twice.

Exit status: 0 every step answered ``res`` 0; 1 a step was refused (its answer printed); 2 the DM could not
be reached or did not answer JSON with HTTP 200.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

STEPS = ("fisid", "open", "cash_in", "sale_cash", "sale_card", "return", "x", "z")
REPEAT, COLLISION = 1, 2


class Unreachable(Exception):
    pass


def receipt(pay_type: int) -> dict[str, Any]:
    return {"sum": 57.0, "comment_down": "Дякуємо \\nза покупку.",
            "rows": [{"code": "101", "name": "Хліб житній", "cnt": 2, "price": 18.5, "cost": 37.0, "taxgrp": 1},
                     {"code": "102", "name": "Молоко 2,5%", "cnt": 1, "price": 20.0, "cost": 20.0, "taxgrp": 1}],
            "pays": [{"type": pay_type, "sum": 57.0}]}


def plan(device: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """Step name → (endpoint, body)."""
    def fiscal(task: int, **extra: Any) -> dict[str, Any]:
        return {"ver": 6, "source": "dm_pos", "device": device, "type": 1, "fiscal": {"task": task, **extra}}
    cashier = "Іваненко Марія"
    return {
        "fisid": ("/dm/execute", fiscal(20)),
        "open": ("/dm/execute", fiscal(0, cashier=cashier)),
        "cash_in": ("/dm/execute", fiscal(3, cashier=cashier, cash={"type": 0, "sum": 500.0})),
        "sale_cash": ("/dm/execute", fiscal(1, cashier=cashier, receipt=receipt(0))),
        "sale_card": ("/dm/execute-pkg", fiscal(1, cashier=cashier, receipt=receipt(2))),
        "return": ("/dm/execute", fiscal(2, cashier=cashier, receipt=receipt(0))),
        "x": ("/dm/execute", fiscal(10, cashier=cashier)),
        "z": ("/dm/execute", fiscal(11, cashier=cashier)),
    }


def post(url: str, body: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
    req = urllib.request.Request(url, data=raw, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as r:      # noqa: S310 - the URL is the user's DM
            status, data = r.status, r.read()
    except urllib.error.HTTPError as exc:
        raise Unreachable(f"HTTP {exc.code} from {url}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise Unreachable(f"cannot reach the DM at {url}: {getattr(exc, 'reason', exc)}") from None
    if status != 200:
        raise Unreachable(f"HTTP {status} from {url}")
    try:
        got = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Unreachable(f"{url} answered something that is not JSON") from None
    if not isinstance(got, dict):
        raise Unreachable(f"{url} answered JSON that is not an object")
    return got


def show(arrow: str, text: str, out: Any) -> None:
    print(f"{arrow} {text}", file=out, flush=True)


def run(base: str, device: str, steps: list[str], *, retries: int = 2, timeout_s: float = 320.0,
        pause_s: float = 1.0, out: Any = sys.stdout, quiet: bool = False) -> int:
    bodies = plan(device)
    for name in steps:
        path, body = bodies[name]
        body = {**body, "tag": f"{name}-{uuid.uuid4()}"} if name != "fisid" else body
        for attempt in range(retries + 1):
            if not quiet:
                show("→", f"POST {path} {json.dumps(body, ensure_ascii=False)}", out)
            try:
                got = post(base.rstrip("/") + path, body, timeout_s)
            except Unreachable as exc:
                print(f"dm_pos: {name}: {exc}", file=sys.stderr)
                return 2
            if not quiet:
                show("←", json.dumps(got, ensure_ascii=False), out)
            if got.get("res") == 0:
                print(f"{name}: ok", file=out, flush=True)
                break
            if got.get("res_action") in (REPEAT, COLLISION) and attempt < retries:
                print(f"{name}: res {got.get('res')} res_action {got.get('res_action')}: repeating with the same tag",
                      file=out, flush=True)
                time.sleep(pause_s)
                continue
            print(f"dm_pos: {name}: refused: res {got.get('res')} {got.get('errortxt', '')}", file=sys.stderr)
            return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="dm_pos.py", description="A shop day against the Vchasno Device Manager API.")
    p.add_argument("--url", default="http://127.0.0.1:3939", help="the DM (default http://127.0.0.1:3939)")
    p.add_argument("--device", default="prro", help="the ПРРО's name in the DM (default prro)")
    p.add_argument("--steps", default="day", help=f"comma-separated: {','.join(STEPS)}, or day (all)")
    p.add_argument("--retries", type=int, default=2, help="repeats of a request answered res_action 1 or 2")
    p.add_argument("--timeout", type=float, default=320.0, help="seconds to wait for an answer (default 320: "
                                                                "a terminal waits up to 300 s for the card)")
    p.add_argument("--quiet", action="store_true", help="print only each step's outcome")
    args = p.parse_args(argv)
    steps = list(STEPS) if args.steps == "day" else [s.strip() for s in args.steps.split(",") if s.strip()]
    bad = [s for s in steps if s not in STEPS]
    if bad or not steps or args.retries < 0 or args.timeout <= 0:
        p.error(f"unknown step(s) {', '.join(bad)}" if bad else "--steps names at least one step; --retries ≥ 0")
    return run(args.url, args.device, steps, retries=args.retries, timeout_s=args.timeout, quiet=args.quiet)


if __name__ == "__main__":
    sys.exit(main())
