"""The ПРРО benchmark: receipts a second through the ПРРО and the mock tax server on loopback.

One receipt is the whole way: the ПРРО builds the XML (windows-1251), signs
it (CMS SignedData, the modelled ECDSA P-256), stores it in its SQLite state
(``synchronous=FULL``), POSTs it to ``/fs/doc`` of the tax server's HTTP front
(uvicorn, h11, loopback), which verifies the signature, asks the CA's OCSP
responder over HTTP, applies the shift rules, registers it and signs the
ticket; the ПРРО verifies the ticket and marks the document sent. The bare
round trip is an unsigned ``ServerState`` POST to ``/fs/cmd`` of the same
server with the same kept-alive httpx client setup: what HTTP alone costs.
The in-process figure is the same ПРРО on the in-process link (no HTTP).
Best of ``rounds`` rounds each.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from emulator.world.prro import PrroWorld

START = 1_772_434_800_000     # 2026-03-02T07:00:00Z


def _receipts(network: str, n: int, rounds: int) -> tuple[float, float | None]:
    """(receipts a second, bare ServerState round trips a second or None in process)."""
    with PrroWorld(start_ms=START, network=network) as world:
        world.issue_key("k", owner="Бенчмарк Касир", file="Key-6.dat", password="1111")
        world.register("k", "cashier", delay_ms=0)
        device = world.add_prro("A")
        device.choose_key(str(world.key_files["k"]), "1111")
        if not (device.read_key().ok and device.save_key().ok and device.open_shift().ok):
            raise AssertionError(f"the ПРРО did not open its shift: {device.journal_text()}")
        best = float("inf")
        for _ in range(rounds):
            t0 = time.perf_counter()
            for i in range(n):
                if not device.receipt("sale", 100 + i).ok:
                    raise AssertionError(f"a receipt failed: {device.journal_text()[-400:]}")
            best = min(best, time.perf_counter() - t0)
        registered = sum(1 for d in world.tax.documents if d.doc.is_receipt)
        if registered != n * rounds:
            raise AssertionError(f"the tax server holds {registered} of {n * rounds} receipts")
        bare = None
        if network == "real":
            body = json.dumps({"Command": "ServerState"}).encode()
            with httpx.Client(timeout=10, trust_env=False) as client:
                url = f"{world.http_url()}/fs/cmd"
                best_bare = float("inf")
                for _ in range(rounds):
                    t0 = time.perf_counter()
                    for _ in range(n):
                        r = client.post(url, content=body, headers={"Content-Type": "application/json"})
                        if r.status_code != 200:
                            raise AssertionError(f"ServerState: HTTP {r.status_code}")
                    best_bare = min(best_bare, time.perf_counter() - t0)
            bare = n / best_bare
    return n / best, bare


def run_prro(quick: bool = False) -> dict[str, Any]:
    n, rounds = (40, 2) if quick else (300, 3)
    real, bare = _receipts("real", n, rounds)
    local, _ = _receipts("simulated", n, rounds)
    assert bare is not None
    return {
        "prro_receipts_per_s": round(real, 1),
        "prro_bare_http_per_s": round(bare, 1),
        "prro_bare_http_ratio": round(bare / real, 2),
        "prro_in_process_receipts_per_s": round(local, 1),
    }
