"""``kkt-emu bench --net``: the real network on loopback, as ratios against bare baselines.

Two figures, each a ratio of two measurements made in the same run, on the
same machine, against the same loopback servers (127.0.0.x, real TLS from a
lab CA made for the run), alternated so that drift cancels out:

1. **Device overhead** (``net_device_overhead_ratio``, target at most 1.3):
   a ``KktDevice`` on ``RealNetwork`` + ``RealTimeDriver``, permit mode on,
   status check done and shift open, sells marked positions in receipts of 10
   (price keys, then the scan); the time from the scan to the decision (the
   device no longer busy) is compared with a bare ``httpx.Client`` making the
   same ``codes/check`` request (same body, same headers, same TLS settings:
   the lab CA only, SNI and ``Host`` of the real name) to the same host, one
   kept-alive connection per 10 requests as the device has per receipt.
   Receipts alternate: one through the device, one bare. Medians are compared.

2. **Mock throughput** (``mock_throughput_ratio``, target at least 0.5): the
   mock True API (``TrueApiServers``: the ASGI front, the backend model, its
   lock) answering ``codes/check`` against a minimal Starlette app with one
   POST route that reads the body and returns a fixed JSON of the same size,
   served by uvicorn with the same settings (h11, one worker, one event loop
   thread, the same TLS context kind from the same lab CA). The load is a
   fixed number of requests over K concurrent kept-alive connections, made by
   a lean HTTP/1.1 client in a *separate process* (one blocking TLS socket per
   connection, one thread each), so that the client neither shares the GIL
   with the servers nor is the bottleneck. The servers take turns, at least
   two rounds each; the best round of each counts. Besides, the time of one
   request on one connection with nothing else running (``*_serial_*``): a
   server that stalls each answer (say, on a delayed ACK) shows there.

Everything is bounded: a fixed number of requests, socket timeouts, and a
process that is always reaped.
"""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import socket
import ssl
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from emulator.base.clock import VirtualClock
from emulator.fronts.operator import Operator
from emulator.net.seam import NetRequest
from emulator.rules.marking import GS
from emulator.servers.trueapi import TrueApiBackend
from emulator.world.root import World

TOKEN = "7f0c0d6e-3b1a-4c53-9a8e-5d2f0e9b1c42"
CHECK_PATH = "/api/v4/true-api/codes/check"
BARE_HOST = "bare-starlette.bench.invalid"
DEVICE_OVERHEAD_TARGET = 1.3
THROUGHPUT_TARGET = 0.5
PER_RECEIPT = 10
USER_AGENT = "kkt-emu"          # what RealNetwork's clients send


@dataclass(frozen=True)
class NetBenchConfig:
    receipts: int = 20           # measured receipts a side (x PER_RECEIPT positions)
    warmup_receipts: int = 2     # a side, not measured
    device_max_s: float = 10.0   # no new measured receipt after this (at least 2 a side are made)
    requests: int = 2000         # a throughput round
    concurrency: int = 8         # kept-alive connections of the load
    rounds: int = 4              # a server, alternating; the best round counts
    round_max_s: float = 1.5     # a throughput round stops here (the rate is then of what was done)
    serial_requests: int = 200   # one connection, one request at a time (bounded by round_max_s / 4)
    seed: int = 1


FULL = NetBenchConfig()
QUICK = NetBenchConfig(receipts=2, warmup_receipts=1, device_max_s=2.0, requests=300, concurrency=4, rounds=2,
                       round_max_s=0.5, serial_requests=50)


def _codes(n: int) -> list[str]:
    return [f"010460000000{i % 10:02d}0021netbn{i:06d}{GS}93dGVz" for i in range(n)]


# ----------------------------------------------------------------- the world
class _World:
    """The lab CA, the backend (prod contour, latency 0, a token, passing codes) and its servers."""

    def __init__(self, seed: int, codes: list[str]) -> None:
        from emulator.servers.trueapi.catalogue import CatalogueEntry
        from emulator.servers.trueapi.servers import TrueApiServers
        from tls_store.lab_ca import LabCA

        self.ca = LabCA.create(common_name="kkt-emu bench lab CA")
        self.clock = VirtualClock(int(time.time() * 1000))
        b = TrueApiBackend(seed=seed)
        b.add_token("prod", TOKEN)
        hosts = [b.base_host("prod"), *b.cdn_hosts("prod")]
        for name in hosts:
            b.host(name).faults.latency_ms = 0
        for c in codes:
            b.add_code(CatalogueEntry(code=c, groupIds=(8,)))
        self.backend = b
        self.codes = codes
        self.servers = TrueApiServers(b, self.ca, hosts, now_ms=lambda: self.clock.now_ms)

    def start(self) -> None:
        self.servers.start()

    def stop(self) -> None:
        self.servers.stop()


def _client_context(ca_pem: bytes) -> ssl.SSLContext:
    """What ``TlsStore.client_context`` makes with host checks on: the lab CA only, TLS 1.2 minimum."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    ctx.load_verify_locations(cadata=ca_pem.decode("ascii"))
    return ctx


# ------------------------------------------------- 1. device vs bare httpx
class _DeviceSide:
    """A device on the real network, status check done, shift open, in cash mode."""

    def __init__(self, world: _World) -> None:
        from emulator.net.real import RealNetwork, RealTimeDriver
        from tls_store import TlsStore

        self.world = world
        self.tmp = Path(tempfile.mkdtemp(prefix="kkt-emu-bench-net-"))
        directory = self.tmp / "device"
        directory.mkdir()
        TlsStore(directory).load(world.ca.cert_pem)     # the device trusts the lab CA
        self.driver = RealTimeDriver(world.clock)
        self.net = RealNetwork(self.driver, world.servers.resolver(), lambda: self.dev.tls_context())
        self.kkt_world = World.on_real_servers(world.clock, world.backend, self.net, self.driver, world.servers)
        self.dev = self.kkt_world.new_device(directory, keep_events=False)
        self.dev.settings.token = TOKEN
        self.op = Operator(self.dev, self._settle)

    def prepare(self) -> None:
        """Status check, then cash mode with the shift open (its CDN list refreshed)."""
        d = self.dev
        self.op.status_check()
        self.op.press("С")
        self.op.open_shift()
        if d.mode != "cash_ready" or d.book.active(self.world.clock.now_ms) is None:
            raise RuntimeError(f"bench device not ready: mode {d.mode!r}, display {d.display.text!r}, "
                               f"last error {d.last_error}")

    def _settle(self) -> None:
        dev = self.dev
        if not self.driver.run_while(lambda: dev.waiting, 10_000):
            raise RuntimeError("bench device still busy after 10 s")

    @property
    def host(self) -> str:
        active = self.dev.book.active(self.world.clock.now_ms)
        if active is None:
            raise RuntimeError("bench device has no active CDN host")
        return active.name

    def receipt(self, codes: list[str]) -> list[float]:
        """Sell ``codes`` in one receipt; the seconds from each scan to its decision."""
        d, out = self.dev, []
        busy = lambda: d.busy  # noqa: E731
        for code in codes:
            self.op.press_text("150")
            t0 = time.perf_counter()
            d.scan(code)
            done = self.driver.run_while(busy, 5_000, poll_ms=20)
            out.append(time.perf_counter() - t0)
            if not done:
                raise RuntimeError("bench device: no decision within 5 s")
            r = d.receipt
            if r is None or not r.positions or r.positions[-1].gismt != "allowed":
                raise RuntimeError(f"bench device: position not allowed (mode {d.mode!r}, "
                                   f"display {d.display.text!r}, last error {d.last_error})")
        self.op.close_receipt()      # its connection goes
        self.op.dismiss()
        return out

    def close(self) -> None:
        try:
            self.net.close()
            self.dev.logbook.close()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


class _BareSide:
    """A bare ``httpx.Client`` per 'receipt', one kept-alive connection, the device's request bytes."""

    def __init__(self, world: _World, host: str) -> None:
        self.world = world
        self.host = host
        self.ctx = _client_context(world.ca.cert_pem)
        self.url = world.servers.url(host, CHECK_PATH)

    def receipt(self, codes: list[str]) -> list[float]:
        out = []
        kw = self.world.servers.client_kwargs(self.host)
        headers = [("Host", kw["headers"]["Host"]), ("X-API-KEY", TOKEN),
                   ("Content-Type", "application/json; charset=utf-8")]
        with httpx.Client(verify=self.ctx, timeout=httpx.Timeout(10.0), trust_env=False,
                          limits=httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=None),
                          headers={"User-Agent": USER_AGENT}) as client:
            for code in codes:
                t0 = time.perf_counter()
                body = json.dumps({"codes": [code]}, ensure_ascii=False).encode("utf-8")
                r = client.post(self.url, content=body, headers=headers, extensions=kw["extensions"])
                r.read()
                out.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    raise RuntimeError(f"bare client: HTTP {r.status_code} {r.content[:200]!r}")
        return out


def _device_vs_bare(world: _World, cfg: NetBenchConfig) -> dict[str, object]:
    device = _DeviceSide(world)
    try:
        device.prepare()
        bare = _BareSide(world, device.host)      # the host the device checks on
        codes = world.codes
        i = 0

        def next_codes() -> list[str]:
            nonlocal i
            chunk = [codes[(i + k) % len(codes)] for k in range(PER_RECEIPT)]
            i += PER_RECEIPT
            return chunk

        for _ in range(cfg.warmup_receipts):
            device.receipt(next_codes())
            bare.receipt(next_codes())
        dev_t: list[float] = []
        bare_t: list[float] = []
        stop_at = time.perf_counter() + cfg.device_max_s
        for r in range(cfg.receipts):
            if r >= 2 and time.perf_counter() > stop_at:
                break
            # Alternate which side goes first, so neither always follows the other.
            if r % 2 == 0:
                dev_t += device.receipt(next_codes())
                bare_t += bare.receipt(next_codes())
            else:
                bare_t += bare.receipt(next_codes())
                dev_t += device.receipt(next_codes())
        checks = device.dev.gismt.stats.checks
    finally:
        device.close()
    dev_ms = statistics.median(dev_t) * 1000
    bare_ms = statistics.median(bare_t) * 1000
    ratio = round(dev_ms / bare_ms, 3)      # the flag says what the reported figure says
    return {
        "net_positions": len(dev_t),
        "net_device_checks": checks,
        "net_device_check_ms": round(dev_ms, 3),
        "net_bare_httpx_check_ms": round(bare_ms, 3),
        "net_device_check_p90_ms": round(_quantile(dev_t, 0.9) * 1000, 3),
        "net_bare_httpx_check_p90_ms": round(_quantile(bare_t, 0.9) * 1000, 3),
        "net_device_overhead_ratio": ratio,
        "net_device_overhead_target": DEVICE_OVERHEAD_TARGET,
        "net_device_overhead_met": ratio <= DEVICE_OVERHEAD_TARGET,
    }


def _quantile(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


# --------------------------------------------- 2. mock vs bare starlette
class _BareStarlette:
    """A Starlette app with one POST route (fixed JSON) on its own uvicorn server and thread, h11, TLS."""

    def __init__(self, ca: Any, answer: bytes, ip: str = "127.0.0.1") -> None:
        import uvicorn
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import Response
        from starlette.routing import Route

        async def check(request: Request) -> Response:
            await request.body()
            return Response(answer, media_type="application/json")

        app = Starlette(routes=[Route(CHECK_PATH, check, methods=["POST"])])
        ctx = ca.server_context(ca.issue_server([BARE_HOST], ip_addresses=[]))
        self.config = uvicorn.Config(
            app, http="h11", ws="none", lifespan="off", interface="asgi3", log_config=None, access_log=False,
            proxy_headers=False, server_header=False, date_header=True, timeout_keep_alive=180, workers=1,
            ssl_context_factory=lambda _config, _default: ctx,
        )
        self.server = uvicorn.Server(self.config)
        # IPPROTO_TCP as uvicorn's own bind (getaddrinfo) has it: asyncio sets TCP_NODELAY only on such sockets.
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((ip, 0))
        self.address = self.sock.getsockname()
        self._thread = threading.Thread(target=self._run, name="bench-bare-starlette", daemon=True)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()        # a plain asyncio loop, as TrueApiServers has
        try:
            loop.run_until_complete(self.server.serve(sockets=[self.sock]))
        finally:
            loop.close()

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("bare starlette server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=5)
        self.sock.close()


@dataclass(frozen=True)
class _Target:
    ip: str
    port: int
    name: str               # SNI and Host
    request: bytes          # the whole HTTP/1.1 request


def _http_request(name: str, body: bytes) -> bytes:
    head = (f"POST {CHECK_PATH} HTTP/1.1\r\nHost: {name}\r\nUser-Agent: {USER_AGENT}\r\nAccept: */*\r\n"
            f"X-API-KEY: {TOKEN}\r\nContent-Type: application/json; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode("ascii") + body


def _load_main() -> None:
    """The load process (``python -c 'from emulator.bench.net import _load_main; _load_main()'``).

    Reads JSON lines from stdin: first ``{"ca": PEM}``, then jobs ``{"ip", "port", "name", "request"
    (latin-1), "n", "k", "max_s"}``; answers each job with ``{"done", "elapsed"}`` or ``{"error"}``.
    Ends at the end of stdin.
    """
    import sys

    ctx: ssl.SSLContext | None = None
    for line in sys.stdin:
        msg = json.loads(line)
        if "ca" in msg:
            ctx = _client_context(msg["ca"].encode("ascii"))
            continue
        try:
            assert ctx is not None, "no CA given"
            target = _Target(msg["ip"], int(msg["port"]), msg["name"], msg["request"].encode("latin-1"))
            done, elapsed = _load(ctx, target, int(msg["n"]), int(msg["k"]), float(msg["max_s"]))
            answer: dict[str, object] = {"done": done, "elapsed": elapsed}
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


def _load(ctx: ssl.SSLContext, target: _Target, n: int, k: int, max_s: float) -> tuple[int, float]:
    """``n`` requests over ``k`` connections (one thread each), or fewer if ``max_s`` runs out first."""
    socks = []
    try:
        for _ in range(k):               # connect and handshake before the clock starts
            raw = socket.create_connection((target.ip, target.port), timeout=10)
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            socks.append(ctx.wrap_socket(raw, server_hostname=target.name))

        def exchange(s: socket.socket) -> None:
            s.sendall(target.request)
            status = _read_response(s)    # type: ignore[arg-type]
            if status != 200:
                raise RuntimeError(f"HTTP {status}")
        return drive_connections(socks, n, exchange, max_s)
    finally:
        for s in socks:
            s.close()


def drive_connections(socks: Sequence[socket.socket], n: int, exchange: Callable[[socket.socket], None],
                      max_s: float) -> tuple[int, float]:
    """``n`` exchanges spread over the connections (one thread each, started together), or fewer if
    ``max_s`` runs out first: ``(done, elapsed seconds)``; the first error is raised."""
    k = len(socks)
    counts = [n // k + (1 if i < n % k else 0) for i in range(k)]
    errors: list[str] = []
    done = [0] * k
    start = threading.Barrier(k + 1, timeout=10)
    deadline = [0.0]

    def one(i: int, s: socket.socket, count: int) -> None:
        try:
            start.wait()
            end = deadline[0]
            for _ in range(count):
                exchange(s)
                done[i] += 1
                if time.perf_counter() > end:
                    return
        except Exception as exc:  # noqa: BLE001
            errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=one, args=(i, s, c), daemon=True)
               for i, (s, c) in enumerate(zip(socks, counts))]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    deadline[0] = t0 + max_s
    start.wait()
    for t in threads:
        t.join(max_s + 15)
    elapsed = time.perf_counter() - t0
    if errors:
        raise RuntimeError(errors[0])
    return sum(done), elapsed


def _read_response(s: ssl.SSLSocket) -> int:
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the headers")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed in the body")
        rest += chunk
    if len(rest) != length:
        raise ConnectionError("more bytes than Content-Length (pipelining is not used)")
    return status


class _LoadProcess:
    """The load generator in a child process of the same interpreter: no GIL shared with the servers."""

    def __init__(self, ca_pem: bytes) -> None:
        import os
        import subprocess
        import sys

        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from emulator.bench.net import _load_main; _load_main()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True, encoding="utf-8")
        self._send({"ca": ca_pem.decode("ascii")})

    def _send(self, msg: dict[str, object]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()

    def run(self, target: _Target, n: int, k: int, max_s: float) -> float:
        """Requests a second: ``n`` requests over ``k`` connections, or as many as ``max_s`` seconds allow."""
        import selectors

        self._send({"ip": target.ip, "port": target.port, "name": target.name,
                    "request": target.request.decode("latin-1"), "n": n, "k": k, "max_s": max_s})
        assert self.proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            if not sel.select(max_s + 30):
                raise RuntimeError("load process: no result in time")
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"load process ended (exit code {self.proc.poll()})")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"load process: {answer['error']}")
        done, elapsed = int(answer["done"]), float(answer["elapsed"])
        if done < 1 or elapsed <= 0:
            raise RuntimeError("load process: no request done")
        return done / elapsed

    def close(self) -> None:
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except Exception:  # noqa: BLE001 - whatever happened, the process must go
            self.proc.kill()
            self.proc.wait(timeout=5)
        finally:
            if self.proc.stdout is not None:
                self.proc.stdout.close()


def _mock_vs_starlette(world: _World, cfg: NetBenchConfig) -> dict[str, object]:
    host = world.backend.cdn_hosts("prod")[0]
    body = json.dumps({"codes": [world.codes[0]]}, ensure_ascii=False).encode("utf-8")
    # The mock's answer to this request, as the bare app's fixed answer: the same size (a reqId is as long as another).
    headers = (("X-API-KEY", TOKEN), ("Content-Type", "application/json; charset=utf-8"))
    with world.servers.lock:
        reply = world.backend.handle(host, NetRequest(0, "POST", host, CHECK_PATH, headers, body), world.clock.now_ms)
    if reply.status != 200:
        raise RuntimeError(f"bench: the mock answers codes/check with HTTP {reply.status}")
    answer = reply.body
    ip, port = world.servers.address(host)
    mock = _Target(ip, port, host, _http_request(host, body))
    bare_srv = _BareStarlette(world.ca, answer)
    load: _LoadProcess | None = None
    try:
        bare_srv.start()
        load = _LoadProcess(world.ca.cert_pem)
        bare = _Target(bare_srv.address[0], bare_srv.address[1], BARE_HOST, _http_request(BARE_HOST, body))
        k = cfg.concurrency
        # Warm up both (connections, code paths), not measured.
        warm = max(k * 10, cfg.requests // 10)
        load.run(mock, warm, k, cfg.round_max_s / 4)
        load.run(bare, warm, k, cfg.round_max_s / 4)
        best = {"mock": 0.0, "bare": 0.0}
        for r in range(cfg.rounds):
            pair = [("mock", mock), ("bare", bare)]
            for which, target in (pair if r % 2 == 0 else pair[::-1]):
                best[which] = max(best[which], load.run(target, cfg.requests, k, cfg.round_max_s))
        # One connection, one request at a time: the time a request takes when nothing else runs.
        serial = {}
        for which, target in (("mock", mock), ("bare", bare)):
            serial[which] = 1000 / load.run(target, cfg.serial_requests, 1, cfg.round_max_s / 4)
    finally:
        if load is not None:
            load.close()
        bare_srv.stop()
    ratio = round(best["mock"] / best["bare"], 3)
    return {
        "throughput_requests": cfg.requests,
        "throughput_concurrency": k,
        "throughput_rounds": cfg.rounds,
        "throughput_answer_bytes": len(answer),
        "mock_checks_per_s": round(best["mock"], 1),
        "bare_starlette_per_s": round(best["bare"], 1),
        "mock_throughput_ratio": ratio,
        "mock_throughput_target": THROUGHPUT_TARGET,
        "mock_throughput_met": ratio >= THROUGHPUT_TARGET,
        "mock_serial_check_ms": round(serial["mock"], 3),
        "bare_starlette_serial_ms": round(serial["bare"], 3),
    }


# ----------------------------------------------------------------------- run
def run_net(quick: bool = False, cfg: NetBenchConfig | None = None) -> dict[str, object]:
    """Both measurements; ``quick`` = a few receipts and requests (for tests). Keys are ``net_*`` / throughput."""
    cfg = cfg or (QUICK if quick else FULL)
    t0 = time.perf_counter()
    world = _World(cfg.seed, _codes(500))
    world.start()
    try:
        out: dict[str, object] = {}
        out.update(_device_vs_bare(world, cfg))
        out.update(_mock_vs_starlette(world, cfg))
    finally:
        world.stop()
    out["net_wall_s"] = round(time.perf_counter() - t0, 3)
    for k, v in out.items():
        if isinstance(v, float) and not math.isfinite(v):
            raise RuntimeError(f"bench --net: {k} is {v}")
    return out


if __name__ == "__main__":
    import sys

    print(json.dumps(run_net(quick="--quick" in sys.argv), ensure_ascii=False, indent=1))
