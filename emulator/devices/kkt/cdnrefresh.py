"""The GIS MT client's CDN list: ``cdn/info``, health checks, ranking; the token check.

``GisMtLink`` is the base of ``gismt.GisMtClient``: the request plumbing (one
id per request, what is in flight, the log records through ``GisMtHost``) and
the list. Everything is asynchronous on the virtual clock.

Refresh (``refresh``): ``GET cdn/info`` on the configured base host, then
``GET cdn/health/check`` on every listed host at once (one-shot connections,
``Connection: close``, 2 s timeout each); the hosts are ranked by the latency
measured here. Hosts that do not answer start blocked. When ``cdn/info`` is
unavailable (no answer, 429, 5xx) and the device holds no list that
``cdn/info`` gave, the production contour falls back on the operator's list
``FALLBACK_HOSTS`` (see there); with a cached list the device keeps using it.

Token check (``check_token``): ``GET cdn/info`` as soon as a token is
entered, as the guide asks (§1.4.3 note); 401 is 761, which the device shows.
A refresh that fails while a cached list stays in use leaves the «!» symbol
alone: the checks go on on that list.

Probes of blocked hosts (a block expired) are ``cdnprobe.CdnProbes``'s, the
subclass between this one and ``gismt.GisMtClient``.

The client sees its device only through ``GisMtHost``: the settings, the log
record writer, whether emergency mode is on, "GIS MT answered 203" (emergency
mode goes on) and "GIS MT answers / does not answer" (the «!» status symbol).
It never imports the device.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from emulator.base import errors as E
from emulator.base.clock import Timer, VirtualClock
from emulator.base.failures import Failure
from emulator.devices.kkt.cdn import CdnBook, CdnHost
from emulator.devices.kkt.permit import CheckAnswer, parse_json_body
from emulator.devices.kkt.settings import Settings
from emulator.net.seam import NetRequest, NetResult, Transport

HEALTH_TIMEOUT_MS = 2000
CDN_INFO_TIMEOUT_MS = 5000      # modelled: the operator gives no figure

CDN_INFO_PATH = "/api/v4/true-api/cdn/info"
HEALTH_PATH = "/api/v4/true-api/cdn/health/check"

# From the operator's guide (True API, "CDN selection", §1.4.2 of the guide): "if cdn/info is
# unavailable and has never succeeded, use the production fallback list cdn01.crpt.ru … cdn11.crpt.ru".
# Keyed by the contour's cdn/info host; the sandbox (markirovka.sandbox.crptech.ru) has no documented
# fallback list, so there a failed cdn/info with no list in hand still leaves the device without one (747).
# The fallback hosts are health-checked like a cdn/info list; those that do not answer are left out of
# the list (each failed check is one log record, as for any host), so no probe keeps asking a host of
# the fallback list that may not exist. A later successful cdn/info replaces the fallback list.
FALLBACK_HOSTS: dict[str, tuple[str, ...]] = {
    "cdn.crpt.ru": tuple(f"cdn{i:02d}.crpt.ru" for i in range(1, 12)),
}


@dataclass(frozen=True)
class CheckContext:
    """What the device knows about the position being checked (for records)."""
    code: str
    price: int
    tag2106: int
    code_mrp: int | None


class GisMtHost(Protocol):
    """What the GIS MT client needs from its device (public methods only)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def emergency(self) -> bool: ...

    def write_record(self, code: int, ctx: CheckContext | None, elapsed_ms: int, note: str,
                     answer: CheckAnswer | None = None) -> object: ...

    def emergency_answered(self) -> None: ...

    def gismt_answering(self, ok: bool) -> None: ...


@dataclass
class GisMtStats:
    checks: int = 0
    refreshes: int = 0
    probes: int = 0
    requests: int = 0


def _host_of(entry: str) -> str:
    """``https://cdn01.crpt.ru`` -> ``cdn01.crpt.ru`` (a port, if any, is kept)."""
    entry = entry.strip()
    if "://" not in entry:
        entry = "https://" + entry
    parts = urlsplit(entry)
    if not parts.hostname:
        raise ValueError(f"no host in {entry!r}")
    return parts.netloc


def _fallback_for(base: str) -> tuple[str, ...]:
    """The fallback CDN list of the contour whose ``cdn/info`` host is ``base`` (empty: none)."""
    try:
        name = urlsplit("https://" + base.strip()).hostname or ""
    except ValueError:
        return ()
    return FALLBACK_HOSTS.get(name.lower().rstrip("."), ())


def _unavailable(result: NetResult) -> bool:
    """``cdn/info`` could not be had: no answer, or 429 / 5xx.

    Not for the device's own TLS set-up (651, 653: every host would fail the same
    way), nor for answers that say something else is wrong (203, 401, other 4xx).
    """
    if result.failure is not None:
        return result.failure not in (Failure.TLS_SETTINGS, Failure.TLS_INPUT)
    status = result.status or 0
    return status == 429 or status >= 500


class GisMtLink:
    def __init__(self, clock: VirtualClock, transport: Transport, host: GisMtHost, book: CdnBook) -> None:
        self.clock = clock
        self.transport = transport
        self.host = host
        self.book = book
        self.stats = GisMtStats()
        self._next_id = 0
        self._in_flight: set[int] = set()
        self._refresh_waiters: list[Callable[[int | None], None]] | None = None
        self._receipt_keys: dict[str, set[str]] = {}
        self._used_keys: set[str] = set()   # connection keys that already carried an answer
        self._closed = False

    def shutdown(self) -> None:
        """Power off: abandon what is in flight; timers still on the clock become no-ops."""
        self._closed = True
        self.cancel_probes()
        for rid in sorted(self._in_flight):
            self._abandon(rid)
        self._refresh_waiters = None

    # -- plumbing --------------------------------------------------------
    @property
    def busy(self) -> bool:
        return bool(self._in_flight) or self._refresh_waiters is not None

    @property
    def refreshing(self) -> bool:
        return self._refresh_waiters is not None

    def _headers(self, one_shot: bool, with_body: bool) -> tuple[tuple[str, str], ...]:
        h = [("X-API-KEY", self.host.settings.token)]
        if with_body:
            h.append(("Content-Type", "application/json; charset=utf-8"))
        if one_shot:
            h.append(("Connection", "close"))
        return tuple(h)

    def _send(self, method: str, host: str, path: str, body: bytes, key: str | None, timeout_ms: int,
              deliver: Callable[[NetResult], None]) -> int:
        self._next_id += 1
        rid = self._next_id
        self._in_flight.add(rid)
        self.stats.requests += 1
        req = NetRequest(rid, method, host, path, self._headers(key is None, bool(body)), body, key, timeout_ms)

        def done(result: NetResult) -> None:
            if rid in self._in_flight and not self._closed:
                self._in_flight.discard(rid)
                deliver(result)

        self.transport.submit(req, done)
        return rid

    def _abandon(self, rid: int) -> None:
        if rid in self._in_flight:
            self._in_flight.discard(rid)
            self.transport.cancel(rid)

    def _record(self, code: int, ctx: CheckContext | None, elapsed: int, note: str,
                answer: CheckAnswer | None = None) -> None:
        if self._closed:
            return
        self.host.write_record(code, ctx, elapsed, note, answer)

    # -- refresh: cdn/info + health checks --------------------------------
    def refresh(self, on_done: Callable[[int | None], None] | None = None) -> None:
        """Fetch and rank the CDN list. ``on_done(None)`` on success, else the device code."""
        if self._refresh_waiters is not None:
            if on_done:
                self._refresh_waiters.append(on_done)
            return
        self._refresh_waiters = [on_done] if on_done else []
        self.stats.refreshes += 1
        s = self.host.settings
        started = self.clock.now_ms
        problem = s.permit_problem()
        if problem:
            self._record(E.SETTINGS_ERROR, None, 0, f"cdn/info not sent: {problem}")
            self._refresh_done(E.SETTINGS_ERROR)
            return
        base = s.gismt_host
        self._get_cdn_info("cdn/info", lambda result: self._on_cdn_info(result, base, started),
                           lambda: self._cdn_info_failed(E.NO_CONNECTION, base, unavailable=True))

    def _get_cdn_info(self, what: str, deliver: Callable[[NetResult], None], timed_out: Callable[[], None],
                      deadline: str = "cdn/info deadline") -> None:
        """``GET cdn/info`` on the base host; no answer in 5 s is a 748 record, then ``timed_out()``."""
        base = self.host.settings.gismt_host
        timer: list[Timer] = []

        def answered(result: NetResult) -> None:
            timer[0].cancel()
            deliver(result)

        rid = self._send("GET", base, CDN_INFO_PATH, b"", None, CDN_INFO_TIMEOUT_MS, answered)

        def timeout() -> None:
            if rid in self._in_flight and not self._closed:
                self._abandon(rid)
                self._record(E.NO_CONNECTION, None, CDN_INFO_TIMEOUT_MS, f"{what}: no answer from {base}")
                timed_out()

        timer.append(self.clock.call_later(CDN_INFO_TIMEOUT_MS, timeout, deadline))

    def check_token(self, on_done: Callable[[int | None], None]) -> None:
        """``cdn/info`` at once after a token was entered (guide §1.4.3 note): ``on_done(None)`` on 200,
        else the device code (401: 761). The hosts it lists are not kept: the list is ranked at
        «СТАТУС ГИС МТ», as the vendor's instruction has it."""
        started, what = self.clock.now_ms, "cdn/info (token entered)"
        self._get_cdn_info(what, lambda result: on_done(self._status_code(result, what, self.clock.now_ms - started)),
                           lambda: on_done(E.NO_CONNECTION), "token check deadline")

    def _refresh_done(self, code: int | None) -> None:
        waiters = self._refresh_waiters or []
        self._refresh_waiters = None
        if code is None:
            self.host.gismt_answering(True)
        elif code != E.EMERGENCY and not self.book.has_list:
            # No list to check with: marked goods now sell without requests (747). With a
            # cached list the checks go on on it, and the symbol says how they fare.
            self.host.gismt_answering(False)
        for w in waiters:
            w(code)

    def _status_code(self, result: NetResult, what: str, elapsed: int) -> int | None:
        """Map a non-200 status or a failure to a device code and record it; None for 200."""
        if result.failure is not None:
            code = result.failure.device_code
            self._record(code, None, elapsed, f"{what}: {result.failure.value} {result.detail}".strip())
            return code
        status = result.status or 0
        if status == 200:
            return None
        if status == 203:    # 418 was the signal before the guide's v06; now an ordinary 4xx
            self._record(E.EMERGENCY, None, elapsed, f"{what}: HTTP {status}")
            self.host.emergency_answered()
            return E.EMERGENCY
        if status == 401:
            code = E.INVALID_TOKEN
        elif status == 429 or status >= 500:
            code = E.REMOTE_ERROR
        else:
            code = E.BAD_REQUEST
        self._record(code, None, elapsed, f"{what}: HTTP {status}")
        return code

    def _cdn_info_failed(self, code: int, base: str, unavailable: bool) -> None:
        """``cdn/info`` gave no list: keep the cached one, or fall back on the operator's list."""
        fallback = _fallback_for(base)
        if unavailable and fallback and (not self.book.has_list or self.book.fallback):
            self._health_all(list(fallback), fallback=True)
        else:
            self._refresh_done(code)

    def _on_cdn_info(self, result: NetResult, base: str, started: int) -> None:
        elapsed = self.clock.now_ms - started
        code = self._status_code(result, "cdn/info", elapsed)
        if code is not None:
            if code == E.EMERGENCY:
                self._refresh_done(code)
            else:
                self._cdn_info_failed(code, base, _unavailable(result))
            return
        try:
            doc = parse_json_body(result.body)
            if not isinstance(doc, dict) or not isinstance(doc.get("hosts"), list):
                raise ValueError("no hosts list")
            if doc.get("code", 0) != 0:
                self._record(E.REMOTE_ERROR, None, elapsed, f"cdn/info: code {doc.get('code')}")
                self._refresh_done(E.REMOTE_ERROR)
                return
            names = []
            for item in doc["hosts"]:
                if not isinstance(item, dict) or not isinstance(item.get("host"), str):
                    raise ValueError("bad hosts[] item")
                name = _host_of(item["host"])
                if name not in names:
                    names.append(name)
        except ValueError as exc:   # AnswerError from the body, or a bad hosts list
            self._record(E.PARSE_ERROR, None, elapsed, f"cdn/info: {exc}")
            self._refresh_done(E.PARSE_ERROR)
            return
        if not names:
            self._record(E.NO_AVAILABLE_CDN, None, elapsed, "cdn/info: empty host list")
            self._refresh_done(E.NO_AVAILABLE_CDN)
            return
        self._health_all(names)

    def _measure(self, names: list[str], then: Callable[[dict[str, int | None], bool], None]) -> None:
        """``health/check`` on every host of ``names`` at once; when all have ended, ``then(latencies,
        emergency)`` (latency None: no answer; emergency: a 203 came back)."""
        latencies: dict[str, int | None] = {}
        emergency = [False]

        def one_done(name: str, latency: int | None) -> None:
            latencies[name] = latency
            if len(latencies) == len(names):
                then(latencies, emergency[0])

        for name in names:
            self._health(name, one_done, emergency)

    def _health_all(self, names: list[str], fallback: bool = False) -> None:
        """``health/check`` on every host of the list, then rank it (a fallback list: only the hosts that answered)."""
        def measured(latencies: dict[str, int | None], emergency: bool) -> None:
            if emergency:
                self._refresh_done(E.EMERGENCY)
                return
            now = self.clock.now_ms
            if fallback:
                answered = [n for n in names if latencies[n] is not None]
                if not answered:
                    self._record(E.NO_AVAILABLE_CDN, None, 0, "no host of the fallback CDN list answered health/check")
                    self._refresh_done(E.NO_AVAILABLE_CDN)
                    return
                self.book.replace(answered, latencies, now, fallback=True)
                self._refresh_done(None)
                return
            self.book.replace(names, latencies, now)
            for h in self.book.hosts:
                if h.blocked(now):
                    self._schedule_probe(h)
            if all(v is None for v in latencies.values()):
                self._record(E.NO_AVAILABLE_CDN, None, 0, "no CDN host answered health/check")
                self._refresh_done(E.NO_AVAILABLE_CDN)
            else:
                self._refresh_done(None)

        self._measure(names, measured)

    def _health(self, name: str, done: Callable[[str, int | None], None], emergency: list[bool]) -> None:
        started = self.clock.now_ms
        timer: list[Timer] = []

        def deliver(result: NetResult) -> None:
            timer[0].cancel()
            # The latency the transport measured, send to answer (on the real network it
            # can differ from the clock's view, which only follows the wall between inputs).
            elapsed = result.elapsed_ms if result.failure is None else self.clock.now_ms - started
            code = self._status_code(result, f"health/check {name}", elapsed)
            if code == E.EMERGENCY:
                emergency[0] = True
            done(name, elapsed if code is None else None)

        rid = self._send("GET", name, HEALTH_PATH, b"", None, HEALTH_TIMEOUT_MS, deliver)

        def timeout() -> None:
            if rid in self._in_flight and not self._closed:
                self._abandon(rid)
                self._record(E.NO_CONNECTION, None, HEALTH_TIMEOUT_MS, f"health/check {name}: no answer in 2 s")
                done(name, None)

        timer.append(self.clock.call_later(HEALTH_TIMEOUT_MS, timeout, f"health {name}"))

    # -- probes of blocked hosts: ``cdnprobe.CdnProbes`` -------------------
    def _schedule_probe(self, host: CdnHost) -> None:
        raise NotImplementedError

    def cancel_probes(self) -> None:
        raise NotImplementedError
