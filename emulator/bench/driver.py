"""Benchmark: driver API commands per second against a bare starlette endpoint, same server, same run.

The driver app (``emulator.fronts.driverapi``: the envelope, the session, the
field checks and scaling, the device's command on the KKT core) and a bare
starlette app with one ``POST /api.json`` that parses the JSON and answers
an object of the same size, each under uvicorn with the settings ``serve``
uses (127.0.0.1, HTTP/1.1, no access log). The KKT is in process (the
``DirectLink``) on the simulated network with its shift and a receipt open,
so ``AddGoods`` of an unmarked item is the whole command: checked, scaled,
typed into the device key by key, a position added (every ``PER_RECEIPT``
positions the receipt is cancelled and a new one opened, in the measured
time: a receipt of thousands of positions is no till's).

A separate load process (no GIL shared with the servers) sends ``n``
requests over ``k`` kept-alive connections; the three targets take turns
for ``rounds`` rounds and the best of each counts. Reported: requests per
second of each and the ratios ``driver_getstatus_ratio`` and
``driver_addgoods_ratio`` (driver ÷ bare, target ≥ 0.5).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

TARGET = 0.5
N, K, ROUNDS, MAX_S = 1500, 4, 3, 8.0
PER_RECEIPT = 50          # positions a benchmark receipt gets before a new one


def _request(port: int, body: bytes) -> bytes:
    return (f"POST /api.json HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode("ascii") + body


def _read(s: socket.socket, buf: bytearray) -> None:
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the headers")
        buf += chunk
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(head.split(b"\r\n")[0].decode("latin-1"))
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")[1:]
                  if line.lower().startswith(b"content-length"))
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed in the body")
        rest += chunk
    if b'"result":0' not in rest[:length].replace(b" ", b""):
        raise RuntimeError(f"not OK: {rest[:200]!r}")
    buf[:] = rest[length:]


def _load(port: int, request: bytes, n: int, k: int, max_s: float) -> tuple[int, float]:
    from emulator.bench.net import drive_connections

    socks = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(k)]
    buffers = {id(s): bytearray() for s in socks}

    def exchange(s: socket.socket) -> None:
        s.sendall(request)
        _read(s, buffers[id(s)])
    try:
        for s in socks:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return drive_connections(socks, n, exchange, max_s)
    finally:
        for s in socks:
            s.close()


def _load_main() -> None:
    """The load process: JSON jobs ``{"port", "body", "n", "k", "max_s"}`` on stdin, ``{"rate"}`` out."""
    for line in sys.stdin:
        job = json.loads(line)
        try:
            done, elapsed = _load(int(job["port"]), _request(int(job["port"]), job["body"].encode("utf-8")),
                                  int(job["n"]), int(job["k"]), float(job["max_s"]))
            answer: dict[str, Any] = {"rate": done / elapsed}
        except Exception as exc:  # noqa: BLE001
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


def _serve(app: Any) -> tuple[Any, threading.Thread, int]:
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off",
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    if not server.started:
        raise RuntimeError("bench server did not start")
    return server, thread, int(server.servers[0].sockets[0].getsockname()[1])


def _bare_app(answer_size: int) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    padding = "x" * max(0, answer_size - 30)

    async def api(request: Request) -> Response:
        body = json.loads(await request.body())
        return JSONResponse({"result": 0, "command": body.get("command"), "pad": padding})

    return Starlette(routes=[Route("/api.json", api, methods=["POST"])])


def run_driver_bench(quick: bool = False) -> dict[str, object]:
    from emulator.fronts.driverapi.app import DirectLink, Driver, make_driver_app
    from emulator.fronts.driverapi.openapi import document
    from emulator.fronts.ecr.commands import DeviceCommands
    from emulator.world.root import World
    from emulator.world.spec import make_backend

    n, rounds = (300, 1) if quick else (N, ROUNDS)
    world = World.build("simulated", 1_768_456_800_000, make_backend(0, {}))
    device = world.new_device(Path(tempfile.mkdtemp(prefix="kkt-bench-driver-")), images=False)
    commands = DeviceCommands(device, world.settle)
    added = [0]

    def kkt(command: str, args: dict[str, Any]) -> dict[str, Any]:
        """The KKT, a receipt of at most ``PER_RECEIPT`` positions: then it is cancelled and a new one opened
        (inside the measured time, as a till does it)."""
        answer = commands(command, args)
        if command == "AddGoods":
            added[0] += 1
            if added[0] % PER_RECEIPT == 0:
                commands("ResetCheck", {})
                commands("OpenCheck", {"checkType": 0})
        return answer

    driver = Driver(lambda port: DirectLink(kkt))
    key = driver.handle({"command": "OpenSession", "portName": "COM3"})["sessionKey"]
    for name, extra in (("OpenShift", {}), ("OpenCheck", {"checkType": 0})):
        assert driver.handle({"sessionKey": key, "command": name, **extra})["result"] == 0
    status = json.dumps({"sessionKey": key, "command": "GetStatus"})
    add = json.dumps({"sessionKey": key, "command": "AddGoods", "productName": "Хлеб", "qty": 10000, "price": 4500,
                      "taxCode": 6, "paymentFormCode": 4, "productTypeCode": 1}, ensure_ascii=False)
    size = len(json.dumps(driver.handle(json.loads(status)), ensure_ascii=False).encode())
    servers = [_serve(make_driver_app(driver, document)), _serve(_bare_app(size))]
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    load = subprocess.Popen([sys.executable, "-c", "from emulator.bench.driver import _load_main; _load_main()"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8", env=env)
    best = {"bare": 0.0, "status": 0.0, "add": 0.0}
    try:
        assert load.stdin is not None and load.stdout is not None
        jobs = {"bare": (servers[1][2], status), "status": (servers[0][2], status), "add": (servers[0][2], add)}
        for _ in range(rounds):
            for what, (port, body) in jobs.items():
                load.stdin.write(json.dumps({"port": port, "body": body, "n": n, "k": K, "max_s": MAX_S}) + "\n")
                load.stdin.flush()
                answer = json.loads(load.stdout.readline() or '{"error": "load process ended"}')
                if "error" in answer:
                    raise RuntimeError(f"driver bench {what}: {answer['error']}")
                best[what] = max(best[what], float(answer["rate"]))
    finally:
        if load.stdin is not None:
            load.stdin.close()
        load.wait(timeout=10)
        for server, thread, _ in servers:
            server.should_exit = True
            thread.join(timeout=5)
        world.close()
    status_ratio, add_ratio = round(best["status"] / best["bare"], 3), round(best["add"] / best["bare"], 3)
    return {"driver_bare_per_s": round(best["bare"], 1), "driver_getstatus_per_s": round(best["status"], 1),
            "driver_addgoods_per_s": round(best["add"], 1), "driver_getstatus_ratio": status_ratio,
            "driver_addgoods_ratio": add_ratio, "driver_ratio_target": TARGET,
            "driver_ratio_met": min(status_ratio, add_ratio) >= TARGET}
