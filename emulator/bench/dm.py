"""The Device Manager benchmark: ``/dm/execute`` sale receipts a second through the whole stack over real
HTTP, against a bare starlette endpoint on the same uvicorn settings, in the same run.

One receipt is the whole way: an httpx client (kept alive) POSTs a sale (task 1: two rows, paid in cash)
to the DM's front (starlette under uvicorn, h11, loopback), which reads the envelope, takes the device,
validates the receipt, has the ПРРО build, sign and store the document and send it to the tax server (in
process: ``network: simulated``), keeps the DM's copy and the tagged answer in its SQLite database
(``synchronous=FULL``) and answers. The bare endpoint reads the same body as JSON and answers a JSON object
of the same size, from the same ``AsgiHost`` (the same uvicorn configuration) — what HTTP and JSON alone
cost. Best of ``rounds`` rounds each.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulator.net.asgihost import AsgiHost
from emulator.world.dm import DmWorld

START = 1_772_434_800_000     # 2026-03-02T07:00:00Z
PRRO = "kasa"


def sale_body(i: int) -> dict[str, Any]:
    return {"ver": 6, "source": "bench", "device": PRRO, "tag": f"bench-{i}", "type": 1,
            "fiscal": {"task": 1, "cashier": "Бенчмарк Касир", "receipt": {
                "sum": 15.5, "rows": [
                    {"code": "1", "name": "Хліб", "cnt": 1, "price": 10.5, "cost": 10.5, "taxgrp": 1},
                    {"code": "2", "name": "Сіль", "cnt": 2, "price": 2.5, "cost": 5, "taxgrp": 2}],
                "pays": [{"type": 0, "sum": 15.5}]}}}


def _bare_app(answer_size: int) -> Starlette:
    async def bare(request: Request) -> Response:
        body = json.loads(await request.body())
        out = {"res": 0, "tag": body.get("tag", ""), "pad": "x" * answer_size}
        return Response(json.dumps(out).encode(), media_type="application/json; charset=utf-8")
    return Starlette(routes=[Route("/dm/execute", bare, methods=["POST"])])


def _timed(client: httpx.Client, url: str, bodies: list[bytes], check: Any) -> float:
    t0 = time.perf_counter()
    for raw in bodies:
        r = client.post(url, content=raw, headers={"Content-Type": "application/json"})
        check(r)
    return time.perf_counter() - t0


def run_dm(quick: bool = False) -> dict[str, Any]:
    n, rounds = (20, 3) if quick else (100, 6)
    with DmWorld(start_ms=START) as world:
        world.add_prro(PRRO)
        url = world.http()
        sample: dict[str, Any] = {}

        def check(r: httpx.Response) -> None:
            got = r.json()
            if r.status_code != 200 or got.get("res") != 0:
                raise AssertionError(f"the DM refused a benchmark request: {json.dumps(got, ensure_ascii=False)[:400]}")
            sample.setdefault("answer", r.content)

        def body(i: int) -> bytes:
            return json.dumps(sale_body(i), ensure_ascii=False).encode()

        with httpx.Client(timeout=30, trust_env=False) as client:
            check(client.post(f"{url}/dm/execute", json={"device": PRRO, "tag": "bench-open", "fiscal": {"task": 0}}))
            check(client.post(f"{url}/dm/execute", content=body(-1)))
            bare_host = AsgiHost(_bare_app(len(sample["answer"])), name="bare-dm").start()
            try:
                best = bare_best = float("inf")
                for r_ in range(rounds):     # alternating, so that a loaded machine's stall hits both alike
                    bodies = [body(r_ * n + i) for i in range(n)]
                    best = min(best, _timed(client, f"{url}/dm/execute", bodies, check))
                    bare_best = min(bare_best, _timed(client, f"{bare_host.url}/dm/execute", bodies,
                                                      lambda r: r.raise_for_status()))
            finally:
                bare_host.stop()
            kept = len(world.dm.store.docs(PRRO, ("sale",)))
            if kept != n * rounds + 1:
                raise AssertionError(f"the DM kept {kept} of {n * rounds + 1} sale receipts")
            registered = sum(1 for d in world.prro.tax.documents if d.doc.is_receipt)
            if registered != n * rounds + 1:
                raise AssertionError(f"the tax server holds {registered} of {n * rounds + 1} receipts")
    dm_rate, bare_rate = n / best, n / bare_best
    return {"dm_receipts_per_s": round(dm_rate, 1), "dm_bare_http_per_s": round(bare_rate, 1),
            "dm_bare_http_ratio": round(bare_rate / dm_rate, 2)}

