"""The device's exchange with the technological server (MODELLED protocol).

Every «ПЕРИОД ОПРОСА» (``settings.poll_period_min``, at least 5 minutes) a
timer on the clock opens a session, unless the device is in cash mode
(``in_cash_mode``: a cash mode, or a message or prompt shown over one): then
the session is skipped (the vendor: leave cash mode and wait for the next
session to have everything sent), and ``start`` opens none there either. A session is a chain of request/reply
frames over a ``TechLink``::

    HELLO(serial, model, INN, firmware, time, pending records) -> HELLO_ACK
    LOG_RECORDS(batch) -> LOG_ACK(stored seqs)      each batch; the device marks exactly
                                                     those seqs uploaded (SQLite), so a
                                                     crash or a lost answer re-sends them
                                                     and the server keeps each seq once
    SETTINGS_RESULT(task, applied, code) -> BYE      a result the cashier produced earlier
    GET_SETTINGS -> SETTINGS(task, items)            task 0: nothing waiting
    BYE -> BYE

Log records go out at most once every five minutes (``UPLOAD_FLOOR_MS``).
Settings that arrive are shown as «ЕСТЬ НАСТР. ДЛЯ ОБНОВЛЕНИЯ [3]-ДА»; the
device applies them when the cashier presses 3 (certificates into the TLS
store, token, host, options, poll period, sale ban) and reports the result in
a session it opens at once; any other key leaves them waiting on the server,
which hands them out again at the next session.

A failed link (refused, timed out, an ERROR frame) ends the session; it is
noted in the device's events, and the next period tries again. The session
goes to the server named by «АДРЕС СЕРВЕРА» (``settings.tech_server_host``,
``rd.incotexkkm.ru`` by default): a name the link does not resolve fails the
session at once ("unknown host").

The exchange sees its device only through ``TechHost`` (public methods and
state: the clock, the settings, the logbook, ``in_cash_mode``, ``emit``,
``settings_arrived``, ``save_state``); it never imports the device.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from emulator.base.clock import VirtualClock
from emulator.devices.kkt.events import DeviceEvent, TechNote
from emulator.devices.kkt.logbook import Logbook
from emulator.devices.kkt.settings import Settings
from emulator.rules.limits import POLL_PERIOD_MIN
from emulator.wire.techframes import Frame, record_batches

if TYPE_CHECKING:
    from emulator.net.techlink import Deliver, TechReply

UPLOAD_FLOOR_MS = 5 * 60_000
FIRMWARE = "kkt-emu 0.1 (modelled)"


class TechLink(Protocol):
    def resolves(self, host: str) -> bool: ...

    def request(self, key: str, frame: Frame, deliver: Deliver) -> None: ...

    def close(self, key: str) -> None: ...


class TechHost(Protocol):
    """What the exchange needs from its device (public methods and state only)."""

    @property
    def clock(self) -> VirtualClock: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def logbook(self) -> Logbook: ...
    @property
    def powered(self) -> bool: ...
    @property
    def in_cash_mode(self) -> bool: ...
    @property
    def serial(self) -> str: ...
    @property
    def model_name(self) -> str: ...
    @property
    def inn(self) -> str: ...

    def emit(self, ev: DeviceEvent) -> None: ...

    def settings_arrived(self) -> None: ...

    def save_state(self) -> None: ...


@dataclass
class TechStats:
    sessions: int = 0
    failed: int = 0
    deferred: int = 0
    uploaded: int = 0


@dataclass
class _Run:
    key: str
    reason: str
    started_ms: int
    seq: int = 0
    batches: list[list[dict[str, Any]]] = field(default_factory=list)


class TechExchange:
    def __init__(self, device: TechHost, link: TechLink) -> None:
        self.dev = device
        self.clock = device.clock
        self.link = link
        self.stats = TechStats()
        self.last_upload_ms: int | None = None
        self.pending_task: tuple[int, list[dict[str, Any]]] | None = None
        self.result: tuple[int, bool, int] | None = None   # (task, applied, code), persisted by the device
        self._run: _Run | None = None
        self._timer: Any = None
        self._n = 0
        self.schedule()

    @property
    def busy(self) -> bool:
        return self._run is not None

    def _note(self, text: str) -> None:
        self.dev.emit(TechNote(self.clock.now_ms, text))

    def schedule(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        period = max(POLL_PERIOD_MIN, int(self.dev.settings.poll_period_min)) * 60_000
        self._timer = self.clock.call_later(period, self._tick, "tech poll")

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._run is not None:
            self.link.close(self._run.key)
            self._run = None

    def _tick(self) -> None:
        self._timer = None
        if not self.dev.powered:
            return
        if self.dev.in_cash_mode:
            self.stats.deferred += 1
            self._note("session skipped: the device is in cash mode")
        else:
            self.start("poll")
        self.schedule()

    # -- a session -------------------------------------------------------------
    def start(self, reason: str) -> bool:
        """Open a session now; False when one is running, the device is off or in cash mode."""
        if self._run is not None or not self.dev.powered or self.dev.in_cash_mode:
            return False
        host = self.dev.settings.tech_server_host
        if not self.link.resolves(host):
            # «АДРЕС СЕРВЕРА» names a server this emulator's resolver table does not know.
            self.stats.failed += 1
            self._note(f"exchange failed: {host}: unknown host")
            return False
        self._n += 1
        self._run = _Run(f"tech-{self._n}", reason, self.clock.now_ms)
        self.stats.sessions += 1
        pending = len(self.dev.logbook.pending_upload())
        self._send("HELLO", {"serial": self.dev.serial, "model": self.dev.model_name, "inn": self.dev.inn,
                             "firmware": FIRMWARE, "device_time_ms": self.clock.now_ms,
                             "pending_records": pending}, "HELLO_ACK", self._after_hello)
        return True

    def _send(self, kind: str, payload: dict[str, Any], expect: str, then: Any) -> None:
        run = self._run
        assert run is not None
        run.seq += 1
        frame = Frame(kind, run.seq, payload)

        def on_reply(reply: TechReply) -> None:
            if self._run is not run or not self.dev.powered:
                return
            if reply.failure is not None or reply.frame is None:
                self._fail(f"{kind}: {reply.detail or 'no answer'}")
            elif reply.frame.type == "ERROR":
                self._fail(f"{kind}: server error {reply.frame.payload.get('code')} "
                           f"{reply.frame.payload.get('text', '')}")
            elif reply.frame.type != expect:
                self._fail(f"{kind}: {reply.frame.type} instead of {expect}")
            else:
                then(reply.frame)

        self.link.request(run.key, frame, on_reply)

    def _fail(self, why: str) -> None:
        run = self._run
        self._run = None
        self.stats.failed += 1
        if run is not None:
            self.link.close(run.key)
        self._note(f"exchange failed: {why}")

    def _after_hello(self, ack: Frame) -> None:
        run = self._run
        assert run is not None
        # The five minutes run from session start to session start: the poll timer's ticks are
        # exactly one period apart, whatever the round trip of each HELLO took.
        now = run.started_ms
        records = self.dev.logbook.pending_upload()
        floor_ok = self.last_upload_ms is None or now - self.last_upload_ms >= UPLOAD_FLOOR_MS
        if records and floor_ok:
            run.batches = record_batches([{"seq": r.seq, "time_ms": r.time_ms, "code": r.code, "text": r.text}
                                          for r in records])
            self.last_upload_ms = now
        elif records:
            self._note(f"{len(records)} record(s) wait: the last upload was under 5 minutes ago")
        self._upload_next()

    def _upload_next(self) -> None:
        run = self._run
        assert run is not None
        if run.batches:
            batch = run.batches.pop(0)
            self._send("LOG_RECORDS", {"records": batch}, "LOG_ACK", self._after_log_ack)
        elif self.result is not None:
            task, applied, code = self.result
            self._send("SETTINGS_RESULT", {"task_id": task, "applied": applied, "code": code}, "BYE",
                       self._after_result)
        else:
            self._send("GET_SETTINGS", {}, "SETTINGS", self._after_settings)

    def _after_log_ack(self, ack: Frame) -> None:
        stored = [int(s) for s in ack.payload.get("stored", [])]
        self.dev.logbook.mark_uploaded(stored)
        self.stats.uploaded += len(stored)
        self._note(f"uploaded {len(stored)} record(s)")
        self._upload_next()

    def _after_result(self, _: Frame) -> None:
        self._note(f"settings result sent for task {self.result[0] if self.result else '?'}")
        self.result = None
        self.dev.save_state()
        self._upload_next()

    def _after_settings(self, settings: Frame) -> None:
        task = int(settings.payload.get("task_id", 0))
        if task:
            self.pending_task = (task, list(settings.payload.get("items", [])))
            self.dev.settings_arrived()
        self._send("BYE", {}, "BYE", self._after_bye)

    def _after_bye(self, _: Frame) -> None:
        run = self._run
        self._run = None
        if run is not None:
            self.link.close(run.key)
            self._note(f"session ended ({run.reason})")
