"""The device's exchange with the technological server (MODELLED protocol).

Every «ПЕРИОД ОПРОСА» (``settings.poll_period_min``, at least 5 minutes) a
timer on the clock opens a session, unless the device is in cash mode
(``in_cash_mode``: a cash mode, or a message or prompt shown over one): then
the session is skipped (the vendor: leave cash mode and wait for the next
session to have everything sent), and ``start`` opens none there either. A session is a chain of request/reply
frames over a ``TechLink``::

    HELLO(serial, model, INN, firmware, device key, time, pending records) -> HELLO_ACK
    LOG_RECORDS(batch) -> LOG_ACK(stored seqs)      each batch; the device marks exactly
                                                     those seqs of the batch uploaded
                                                     (SQLite; a seq it did not send is
                                                     ignored), so a crash or a lost
                                                     answer re-sends them and the
                                                     server keeps each seq once
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

The device key (MODELLED: the vendor's authentication is not public) is a
secret the device makes at its first session and keeps in ``tech_key`` in its
directory (0600; in memory for a device without a directory); the server
registers it with the serial and refuses a session with another key. The
HELLO_ACK says how far the server's record numbers go (``log_next_seq``): a
device whose log was reset moves its counter past them, so that its new
records do not reuse numbers the server holds (records written before that
session still reach the server, which keeps them as conflicts).

The exchange sees its device only through ``TechHost`` (public methods and
state: the clock, the settings, the logbook, ``in_cash_mode``, ``emit``,
``settings_arrived``, ``save_state``); it never imports the device.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from emulator.base.clock import VirtualClock
from emulator.base.storage import write_atomic
from emulator.devices.kkt.events import DeviceEvent, TechNote
from emulator.devices.kkt.logbook import Logbook
from emulator.devices.kkt.settings import Settings
from emulator.rules.limits import POLL_PERIOD_MIN
from emulator.wire.techframes import Frame, record_batches

if TYPE_CHECKING:
    from emulator.net.techlink import Deliver, TechReply

UPLOAD_FLOOR_MS = 5 * 60_000
FIRMWARE = "kkt-emu 0.1 (modelled)"
KEY_FILE = "tech_key"
_KEY_RE = re.compile(r"[A-Za-z0-9_-]{32,128}")


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
    @property
    def directory(self) -> Path | None: ...

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
    in_flight: frozenset[int] = frozenset()     # the seqs of the LOG_RECORDS batch awaiting its LOG_ACK


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
        self._key: str | None = None
        self.schedule()

    def device_key(self) -> str:
        """The device's key: read from ``tech_key``, made (and kept there, 0600) when there is none."""
        if self._key is not None:
            return self._key
        path = self.dev.directory / KEY_FILE if self.dev.directory is not None else None
        key = None
        if path is not None:
            try:
                key = path.read_text("ascii").strip()
            except FileNotFoundError:
                key = None
            except (OSError, UnicodeDecodeError) as exc:
                self._note(f"device key unreadable ({type(exc).__name__}): a new one is made")
                key = None
            if key is not None and not _KEY_RE.fullmatch(key):
                self._note("device key damaged: a new one is made (the server will refuse it until "
                           "the device's key is forgotten there)")
                key = None
        if key is None:
            key = secrets.token_urlsafe(32)
            if path is not None:
                write_atomic(path, key.encode("ascii"))     # a private (0600) file, whole or not at all
        self._key = key
        return key

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
                             "firmware": FIRMWARE, "device_key": self.device_key(),
                             "device_time_ms": self.clock.now_ms,
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
        book = self.dev.logbook
        held = int(ack.payload.get("log_next_seq", 0))
        if held > book.next_seq:
            self._note(f"log counter moved from {book.next_seq} to {held}: the server holds records up to "
                       f"{held - 1}")
            book.set_next_seq(held)
        records = book.pending_upload()
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
            run.in_flight = frozenset(int(r["seq"]) for r in batch)
            self._send("LOG_RECORDS", {"records": batch}, "LOG_ACK", self._after_log_ack)
        elif self.result is not None:
            task, applied, code = self.result
            self._send("SETTINGS_RESULT", {"task_id": task, "applied": applied, "code": code}, "BYE",
                       self._after_result)
        else:
            self._send("GET_SETTINGS", {}, "SETTINGS", self._after_settings)

    def _after_log_ack(self, ack: Frame) -> None:
        run = self._run
        assert run is not None
        acked = {int(s) for s in ack.payload.get("stored", [])}
        stored = sorted(acked & run.in_flight)      # a seq this batch did not carry is no acknowledgement
        run.in_flight = frozenset()
        self.dev.logbook.mark_uploaded(stored)
        self.stats.uploaded += len(stored)
        self._note(f"uploaded {len(stored)} record(s)")
        if acked - set(stored):
            self._note(f"acknowledgement ignored for {len(acked) - len(stored)} record(s) not in the batch")
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
