#!/usr/bin/env python3
"""Run ``kkt-emu bench`` and rewrite the figures table in README.md with the result.

Usage: ``.venv/bin/python tools/update_bench_figures.py [--check]``. With
``--check`` nothing is written; the exit status says whether the README's
30-day wall time still meets the target.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from emulator.bench.days import BenchConfig, run
from emulator.bench.ffd import run_ffd
from emulator.bench.net import run_net
from emulator.bench.ofd import run_ofd
from emulator.bench.serial import run_serial

README = Path(__file__).resolve().parent.parent / "README.md"
START = "| `wall_s` for 30 days (target < 5 s) |"


def table(r: dict[str, object]) -> str:
    days = float(r["virtual_s"]) / 86400  # type: ignore[arg-type]
    return "\n".join([
        "| figure | value |",
        "|---|---|",
        f"| `wall_s` for 30 days (target < 5 s) | {r['wall_s']} |",
        f"| `virtual_s` | {int(float(r['virtual_s'])):,} ({days:.1f} days) |".replace(",", " "),  # type: ignore[arg-type]
        f"| `speedup` | {float(r['speedup']):.3g} |",  # type: ignore[arg-type]
        f"| `receipts_per_s` | {r['receipts_per_s']} |",
        f"| `device_overhead` (device position ÷ bare backend check) | {r['device_overhead']} |",
        f"| `net_device_overhead_ratio`: device check over loopback HTTPS ÷ bare httpx (target ≤ 1.3) "
        f"| {r['net_device_overhead_ratio']} ({r['net_device_check_ms']} ms ÷ {r['net_bare_httpx_check_ms']} ms) |",
        f"| `mock_throughput_ratio`: mock `codes/check` ÷ bare starlette endpoint (target ≥ 0.5) "
        f"| {r['mock_throughput_ratio']} ({r['mock_checks_per_s']} ÷ {r['bare_starlette_per_s']} req/s) |",
        f"| `fiscal_documents` in the 30 days (acknowledged by the mock OFD) | {r.get('fiscal_documents')} "
        f"({r.get('ofd_acknowledged')}) |",
        f"| `device_only_wall_s`: the same 30 days without the fiscal half | {r.get('device_only_wall_s')} |",
        f"| `fiscal_exchanges` (OFD + ОИСМ, a request and its answer each) | {r.get('fiscal_exchanges')} |",
        f"| `fiscal_us_per_exchange` (fiscal wall ÷ exchanges) | {r.get('fiscal_us_per_exchange')} |",
        f"| `codec_us_per_exchange` / `struct_floor_us_per_exchange` (both documents decoded and encoded once) "
        f"| {r.get('codec_us_per_exchange')} / {r.get('struct_floor_us_per_exchange')} |",
        f"| `struct_floor_s`: the documents alone with the `struct` baseline, no framing | {r.get('struct_floor_s')} |",
        f"| `fiscal_budget_us_per_exchange`: what an exchange may cost to meet 5 s | "
        f"{r.get('fiscal_budget_us_per_exchange')} |",
        f"| `ffd_decode_ratio`: typical receipt decode ÷ `struct` baseline (target ≤ 3) "
        f"| {r['ffd_decode_ratio']} ({r['ffd_decode_us']} µs ÷ {r['ffd_baseline_decode_us']} µs) |",
        f"| `ffd_encode_ratio`: typical receipt encode ÷ `struct` baseline (target ≤ 3) "
        f"| {r['ffd_encode_ratio']} ({r['ffd_encode_us']} µs ÷ {r['ffd_baseline_encode_us']} µs) |",
        f"| `ofd_echo_ratio`: bare asyncio echo ÷ mock OFD, documents per second over loopback "
        f"| {r['ofd_echo_ratio']} ({r['ofd_echo_docs_per_s']} ÷ {r['ofd_docs_per_s']} docs/s) |",
        f"| `serial_echo_ratio`: driver ↔ KKT round trip over a pty ÷ bare pty echo (target ≤ 2) "
        f"| {r['serial_echo_ratio']} ({r['serial_round_trip_us']} µs ÷ {r['serial_echo_round_trip_us']} µs) |",
    ])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    r = run(BenchConfig())
    r.update(run_net())
    r.update(run_ffd())
    r.update(run_ofd())
    r.update(run_serial())
    print(r)
    if args.check:
        return 0 if r["target_met"] else 1
    text = README.read_text("utf-8")
    pattern = re.compile(r"\| figure \| value \|\n\|---\|---\|\n(?:\|.*\|\n)+")
    if not pattern.search(text):
        print("README has no figures table", file=sys.stderr)
        return 2
    README.write_text(pattern.sub(table(r) + "\n", text, count=1), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
