"""The technological server's state and rules (MODELLED), kept in SQLite.

What the vendor's instruction says the real server (rd.incotexkkm.ru) does:
it receives the KKT's permit-mode log and shows it on «ОТЧЕТЫ»; on «Общие»
«Запросить и применить на сервере» prepares the root certificates the GIS MT
hosts need; on «Серверы» «Вставить сертификат» puts them into the device's
settings and «Сохранить и отправить все настройки» sends them; the KKT then
asks «ЕСТЬ НАСТР. ДЛЯ ОБНОВЛЕНИЯ [3]-ДА». Tokens were to be distributed per
INN. How it does any of that is not public; this is the emulator's model:

* ``devices``: a KKT appears with its first HELLO (serial, model, INN) and
  its **device key**, a secret the KKT made for itself; the server keeps only
  its SHA-256 (``key_hash``). Every later HELLO for that serial must carry the
  same key, or it is refused (``IdentityRefused``, counted on the device's
  page) and the session gets nothing: no records stored, no settings handed
  out. A device registered before keys existed takes the key of its next
  HELLO. «Забыть ключ ККТ» (``forget_identity``) lets a device whose storage
  was replaced register again. MODELLED: the vendor's authentication is not
  public; the key is as strong as the channel it crosses (the exchange may run
  over TLS).
* ``log_records``: primary key (serial, seq), so every record is stored once;
  a record sent again with the same text is a duplicate and the first copy is
  kept. A record under a seq that already holds **another** text (the
  device's log was reset and reuses numbers) is a **conflict**: it is kept in
  ``log_conflicts`` and shown on «ОТЧЕТЫ», never dropped. The acknowledgement
  lists exactly the seqs the server holds with the text sent; a record out of
  range (``validate_record``) refuses its whole batch and nothing of it is
  stored.
* a per-device settings **draft** (``draft_items``), edited on «Серверы»;
  «Сохранить и отправить все настройки» turns it into a **task**.
* ``tasks``: kind ``settings``, state ``queued`` → ``sent`` (handed to the KKT
  in a SETTINGS message) → ``applied`` / ``failed`` (the KKT's
  SETTINGS_RESULT). A ``sent`` task without a result is handed out again, so
  a session that breaks after SETTINGS loses nothing; the KKT recognises it by
  its task id. ``settings_waiting`` is true while a task is queued or sent.
* ``cert_jobs``: «Запросить и применить на сервере» prepares the root
  certificates given to the model (PEM, the lab CA's root) for one device. The
  job is done ``cert_job_delay_ms`` after it was started (0 by default: at
  once); «Вставить сертификат» needs a done job.
* ``inn_tokens``: «Токен для всех ККТ ИНН» queues a task with the token for
  every device of that INN, and for a device of that INN seen later, at its
  first HELLO.

Tokens are kept in the task items while the KKT still needs them; once a
task is applied or failed its tokens are masked in the database too. Every
listing (``Task.listing()``, ``draft()``, ``inn_tokens()``) masks them with
``mask_token``. The database file (and its WAL and shared-memory files) is
private to the user (0600), in a directory the server creates 0700. A task
whose stored items do not parse is marked failed with the reason, and the
tasks after it go on. Every change runs in one SQLite transaction; the object
may be used from several threads (one lock).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import sqlite3
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from cryptography.hazmat.primitives import serialization

from emulator.base.moscow import MSK
from emulator.rules.limits import POLL_PERIOD_MAX, POLL_PERIOD_MIN
from emulator.rules.syntax import HOST_RE, TOKEN_RE, mask_token
from tls_store import TlsError, parse_certificates

SETTING_KINDS = ("cert", "token", "gismt_host", "option", "poll_period", "sale_ban")
SALE_BAN_VALUES = ("ВКЛЮЧЕН", "ПРЕДУПРЕЖДЕНИЕ")
POLL_MIN, POLL_MAX = POLL_PERIOD_MIN, POLL_PERIOD_MAX
KNOWN_OPTIONS = {92: 1}  # option number -> max value (only option 92 is the vendor's)
TASK_STATES = ("queued", "sent", "applied", "failed")

_PEM_RE = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


class TechServerError(ValueError):
    """A request the server refuses (unknown device, bad value, nothing to send …)."""


class UnknownDevice(TechServerError, KeyError):
    pass


class UnknownTask(TechServerError, KeyError):
    pass


class IdentityRefused(TechServerError):
    """A HELLO whose device key is missing or not the one the serial registered with."""


class BadRecord(TechServerError):
    """A log record out of range: its batch is refused whole."""


# The ranges a log record must be in (the device's own records are far inside them).
SEQ_MAX = 0xFFFFFFFF
TIME_MS_MAX = 32_503_680_000_000 - 1       # before 01.01.3000 UTC: every such time shows as a date
CODE_MAX = 999                             # the device's codes have three digits
RECORD_TEXT_MAX = 4096                     # characters; a record the device writes has about 300
HELLO_TEXT_MAX = 64                        # model and firmware names
DEVICE_KEY_RE = re.compile(r"[A-Za-z0-9_-]{32,128}")
SERIAL_RE = re.compile(r"[0-9A-Za-z-]{1,32}")


class StoreResult(NamedTuple):
    stored: list[int]      # every seq of the batch the server holds with exactly the text sent, in batch order
    duplicates: int        # … of them already held before (or repeated inside the batch)
    conflicts: int         # … of them newly kept as conflicts (the seq held another text)


def key_hash(device_key: str) -> str:
    return hashlib.sha256(device_key.encode("ascii")).hexdigest()


def validate_record(r: dict[str, Any]) -> dict[str, Any]:
    """One log record as the exchange may store it, or ``BadRecord`` naming what is out of range."""
    try:
        seq, time_ms, code, text = r["seq"], r["time_ms"], r["code"], r["text"]
    except (KeyError, TypeError):
        raise BadRecord("a log record needs seq, time_ms, code and text") from None
    for name, value, lo, hi in (("seq", seq, 1, SEQ_MAX), ("time_ms", time_ms, 0, TIME_MS_MAX),
                                ("code", code, 0, CODE_MAX)):
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            raise BadRecord(f"record {str(seq)[:12]}: {name} {str(value)[:24]} is out of range {lo}..{hi}")
    if not isinstance(text, str) or not text.strip() or len(text) > RECORD_TEXT_MAX or "\x00" in text:
        raise BadRecord(f"record {seq}: the text must be 1..{RECORD_TEXT_MAX} characters without NUL")
    return {"seq": seq, "time_ms": time_ms, "code": code, "text": text}


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def msk_text(ms: int | None, with_ms: bool = False) -> str:
    """A Unix time in ms as Moscow time: ``03.04.2024 13:55:50`` (``—`` for none or one that is no date)."""
    if ms is None:
        return "—"
    try:
        t = datetime.fromtimestamp(ms / 1000, tz=MSK)
    except (OverflowError, OSError, ValueError):
        return "—"
    text = t.strftime("%d.%m.%Y %H:%M:%S")
    return f"{text}.{ms % 1000:03d}" if with_ms else text


def pem_to_der_list(pem: bytes) -> list[bytes]:
    ders = []
    for block in _PEM_RE.findall(pem):
        ders.append(ssl.PEM_cert_to_DER_cert(block.decode("ascii")))
    return ders


def _day_start_ms(d: date | str) -> int:
    if isinstance(d, str):
        d = date.fromisoformat(d)
    return int(datetime(d.year, d.month, d.day, tzinfo=MSK).timestamp() * 1000)


@dataclass(frozen=True)
class Device:
    serial: str
    model: str
    inn: str
    firmware: str
    first_seen_ms: int
    last_exchange_ms: int
    key_hash: str = ""               # SHA-256 of the device key ("" until a HELLO brings one)
    identity_refusals: int = 0       # HELLOs for this serial refused for a wrong or missing key
    last_refusal_ms: int | None = None

    @property
    def key_fingerprint(self) -> str:
        return self.key_hash[:16] if self.key_hash else ""

    def listing(self) -> dict[str, Any]:
        return {"serial": self.serial, "model": self.model, "inn": self.inn, "firmware": self.firmware,
                "first_seen_ms": self.first_seen_ms, "last_exchange_ms": self.last_exchange_ms,
                "last_exchange_msk": msk_text(self.last_exchange_ms), "key_fingerprint": self.key_fingerprint,
                "identity_refusals": self.identity_refusals, "last_refusal_ms": self.last_refusal_ms}


@dataclass(frozen=True)
class StoredRecord:
    serial: str
    seq: int
    time_ms: int
    code: int
    text: str
    received_ms: int

    def listing(self) -> dict[str, Any]:
        return {"serial": self.serial, "seq": self.seq, "time_ms": self.time_ms, "time_msk": msk_text(self.time_ms),
                "code": self.code, "text": self.text, "received_ms": self.received_ms}


@dataclass(frozen=True)
class SettingItem:
    kind: str
    value: str | bytes   # bytes (DER) for cert, str otherwise

    def to_wire(self) -> dict[str, Any]:
        return {"kind": self.kind, "value": self.value}

    def to_json(self) -> dict[str, Any]:
        if isinstance(self.value, bytes):
            return {"kind": self.kind, "value_b64": base64.b64encode(self.value).decode("ascii")}
        return {"kind": self.kind, "value": self.value}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SettingItem:
        """An item as stored; ``ValueError`` when it is damaged (not an item of a known kind)."""
        if not isinstance(d, dict) or d.get("kind") not in SETTING_KINDS:
            raise ValueError(f"not a setting item: {str(d)[:60]}")
        if "value_b64" in d:
            if d["kind"] != "cert" or not isinstance(d["value_b64"], str):
                raise ValueError("only a certificate is stored as base64")
            try:
                return cls(d["kind"], base64.b64decode(d["value_b64"], validate=True))
            except binascii.Error:
                raise ValueError("a certificate's base64 is damaged") from None
        if d["kind"] == "cert" or not isinstance(d.get("value"), str):
            raise ValueError(f"{d['kind']}: the value is not text")
        return cls(d["kind"], d["value"])

    def shown(self) -> str:
        """The value as people may see it: tokens masked, certificates summarised."""
        if self.kind == "token":
            # A token of a finished task is stored masked already (no real token has "…" or "*").
            return mask_token(str(self.value)) if TOKEN_RE.match(str(self.value)) else str(self.value)
        if isinstance(self.value, bytes):
            return f"сертификат DER, {len(self.value)} байт, {_cert_subject(self.value)}"
        return str(self.value)

    def listing(self) -> dict[str, Any]:
        return {"kind": self.kind, "value": self.shown()}


def _cert_subject(der: bytes) -> str:
    try:
        from cryptography import x509

        return x509.load_der_x509_certificate(der).subject.rfc4514_string()
    except Exception:  # cryptography missing or not a certificate: show nothing more
        return "субъект не разобран"


@dataclass(frozen=True)
class Task:
    id: int
    serial: str
    kind: str
    state: str
    created_ms: int
    items: tuple[SettingItem, ...]
    result_code: int | None
    sent_ms: int | None
    done_ms: int | None
    origin: str
    problem: str = ""        # why the task failed on the server (its stored items are damaged)

    def listing(self) -> dict[str, Any]:
        return {"id": self.id, "serial": self.serial, "kind": self.kind, "state": self.state,
                "created_ms": self.created_ms, "created_msk": msk_text(self.created_ms),
                "sent_ms": self.sent_ms, "done_ms": self.done_ms, "result_code": self.result_code,
                "origin": self.origin, "problem": self.problem, "items": [i.listing() for i in self.items]}


@dataclass(frozen=True)
class CertJob:
    id: int
    serial: str
    created_ms: int
    due_ms: int
    count: int

    def state(self, now_ms: int) -> str:
        return "done" if now_ms >= self.due_ms else "running"

    def listing(self, now_ms: int) -> dict[str, Any]:
        return {"id": self.id, "serial": self.serial, "state": self.state(now_ms), "created_ms": self.created_ms,
                "created_msk": msk_text(self.created_ms), "done_ms": self.due_ms, "certificates": self.count}


_SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (
    serial TEXT PRIMARY KEY, model TEXT NOT NULL, inn TEXT NOT NULL, firmware TEXT NOT NULL,
    first_seen_ms INTEGER NOT NULL, last_exchange_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, serial TEXT NOT NULL, started_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS log_records (
    serial TEXT NOT NULL, seq INTEGER NOT NULL, time_ms INTEGER NOT NULL, code INTEGER NOT NULL,
    text TEXT NOT NULL, received_ms INTEGER NOT NULL, PRIMARY KEY (serial, seq)
);
CREATE INDEX IF NOT EXISTS log_records_time ON log_records (serial, time_ms);
CREATE TABLE IF NOT EXISTS tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT, serial TEXT NOT NULL, kind TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'applied', 'failed')),
    created_ms INTEGER NOT NULL, items TEXT NOT NULL, result_code INTEGER,
    sent_ms INTEGER, done_ms INTEGER, origin TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS draft_items (
    serial TEXT NOT NULL, slot TEXT NOT NULL, item TEXT NOT NULL, pos INTEGER NOT NULL,
    PRIMARY KEY (serial, slot)
);
CREATE TABLE IF NOT EXISTS cert_jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, serial TEXT NOT NULL, created_ms INTEGER NOT NULL,
    due_ms INTEGER NOT NULL, certs TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS inn_tokens (
    inn TEXT PRIMARY KEY, token TEXT NOT NULL, created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS log_conflicts (
    serial TEXT NOT NULL, seq INTEGER NOT NULL, time_ms INTEGER NOT NULL, code INTEGER NOT NULL,
    text TEXT NOT NULL, received_ms INTEGER NOT NULL, PRIMARY KEY (serial, seq, text)
);
"""
# Columns added since the first schema: (table, column, declaration), added to an older file on open.
_ADDED_COLUMNS = (
    ("devices", "key_hash", "TEXT NOT NULL DEFAULT ''"),
    ("devices", "identity_refusals", "INTEGER NOT NULL DEFAULT 0"),
    ("devices", "last_refusal_ms", "INTEGER"),
    ("tasks", "problem", "TEXT NOT NULL DEFAULT ''"),
)
_DEVICE_COLS = ("serial, model, inn, firmware, first_seen_ms, last_exchange_ms, key_hash, identity_refusals,"
                " last_refusal_ms")


def _private_file(path: Path) -> None:
    """Create ``path`` (and its directory) private to the user: the file 0600, a new directory 0700;
    an existing file and its SQLite companions are set to 0600."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"),
              path.with_name(path.name + "-journal")):
        if p.exists():
            os.chmod(p, 0o600)


class TechServer:
    """The modelled technological server. Times are passed in (``now_ms``) or come from ``clock``."""

    def __init__(self, path: str | Path = ":memory:", root_certs_pem: bytes = b"", *,
                 clock: Callable[[], int] = wall_ms, cert_job_delay_ms: int = 0) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            _private_file(Path(self.path))     # SQLite gives the WAL and -shm files the same mode
        self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL" if self.path != ":memory:" else "PRAGMA journal_mode=MEMORY")
        self.db.execute("PRAGMA synchronous=FULL")
        self.lock = threading.RLock()
        self.clock = clock
        self.cert_job_delay_ms = int(cert_job_delay_ms)
        self.root_certs = pem_to_der_list(root_certs_pem)
        if root_certs_pem.strip() and not self.root_certs:
            raise ValueError("root_certs_pem holds no PEM certificate")
        with self.lock:
            self.db.executescript(_SCHEMA)
            for table, column, decl in _ADDED_COLUMNS:
                if column not in {r[1] for r in self._q(f"PRAGMA table_info({table})")}:
                    self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")

    # ------------------------------------------------------------ helpers
    def close(self) -> None:
        with self.lock:
            self.db.close()

    def _now(self, now_ms: int | None) -> int:
        return int(self.clock() if now_ms is None else now_ms)

    def _tx(self) -> _Tx:
        return _Tx(self)

    def _q(self, sql: str, args: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        return self.db.execute(sql, tuple(args)).fetchall()

    def _device_row(self, serial: str) -> tuple[Any, ...]:
        rows = self._q(f"SELECT {_DEVICE_COLS} FROM devices WHERE serial=?", (serial,))
        if not rows:
            raise UnknownDevice(f"unknown device {serial!r}")
        return rows[0]

    def _touch(self, serial: str, now_ms: int) -> None:
        self.db.execute("UPDATE devices SET last_exchange_ms=max(last_exchange_ms, ?) WHERE serial=?",
                        (now_ms, serial))

    def _insert_task(self, serial: str, items: list[SettingItem], now_ms: int, origin: str) -> int:
        cur = self.db.execute(
            "INSERT INTO tasks (serial, kind, state, created_ms, items, origin) VALUES (?, 'settings', 'queued', ?, ?, ?)",
            (serial, now_ms, json.dumps([i.to_json() for i in items], ensure_ascii=False), origin))
        return int(cur.lastrowid or 0)

    @staticmethod
    def _task_items(text: Any) -> tuple[SettingItem, ...]:
        """A task's stored items; ``ValueError`` naming the damage when they do not parse."""
        try:
            data = json.loads(text)
        except (TypeError, ValueError):
            raise ValueError("данные задачи повреждены: не JSON") from None
        if not isinstance(data, list) or not data:
            raise ValueError("данные задачи повреждены: нет списка настроек")
        try:
            return tuple(SettingItem.from_json(d) for d in data)
        except ValueError as exc:
            raise ValueError(f"данные задачи повреждены: {exc}") from None

    @classmethod
    def _task(cls, r: tuple[Any, ...]) -> Task:
        problem = r[10]
        try:
            items = cls._task_items(r[5])
        except ValueError as exc:
            items, problem = (), problem or str(exc)
        return Task(r[0], r[1], r[2], r[3], r[4], items, r[6], r[7], r[8], r[9], problem)

    _TASK_COLS = "id, serial, kind, state, created_ms, items, result_code, sent_ms, done_ms, origin, problem"

    # ------------------------------------------------------------ the KKT's exchange
    def hello(self, serial: str, model: str, inn: str, firmware: str, now_ms: int,
              device_key: str) -> tuple[int, bool]:
        """A session starts: register or update the device. Returns (session_id, settings_waiting).

        ``device_key`` must be the key the serial registered with (a new serial, or one
        registered before keys existed, registers this one); otherwise ``IdentityRefused``
        and nothing about the device changes but its count of refusals.
        """
        if not isinstance(serial, str) or not SERIAL_RE.fullmatch(serial):
            raise TechServerError(f"serial number: 1-32 letters, digits or '-', not {str(serial)[:40]!r}")
        for name, value in (("model", model), ("firmware", firmware)):
            if not isinstance(value, str) or len(value) > HELLO_TEXT_MAX:
                raise TechServerError(f"{name}: at most {HELLO_TEXT_MAX} characters")
        if not isinstance(inn, str) or not re.fullmatch(r"\d{1,12}", inn):
            raise TechServerError("INN: 1-12 digits")
        if not isinstance(device_key, str) or not DEVICE_KEY_RE.fullmatch(device_key):
            raise IdentityRefused("device key missing or malformed")
        digest = key_hash(device_key)
        with self.lock:
            with self._tx():
                known = self._q("SELECT inn, key_hash FROM devices WHERE serial=?", (serial,))
                mismatch = bool(known and known[0][1] and not hmac.compare_digest(known[0][1], digest))
                if mismatch:
                    self.db.execute("UPDATE devices SET identity_refusals=identity_refusals+1, last_refusal_ms=?"
                                    " WHERE serial=?", (now_ms, serial))
                else:
                    session_id, waiting = self._hello(serial, model, inn, firmware, now_ms, digest, known)
            if mismatch:   # committed: the refusal is counted on the device's page
                raise IdentityRefused(f"device {serial}: the device key does not match the registered one")
        return session_id, waiting

    def _hello(self, serial: str, model: str, inn: str, firmware: str, now_ms: int, digest: str,
               known: list[tuple[Any, ...]]) -> tuple[int, bool]:
        if known:
            self.db.execute("UPDATE devices SET model=?, inn=?, firmware=?, key_hash=? WHERE serial=?",
                            (model, inn, firmware, digest, serial))
        else:
            self.db.execute("INSERT INTO devices (serial, model, inn, firmware, first_seen_ms, last_exchange_ms,"
                            " key_hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (serial, model, inn, firmware, now_ms, now_ms, digest))
        if not known or known[0][0] != inn:
            for (token,) in self._q("SELECT token FROM inn_tokens WHERE inn=?", (inn,)):
                self._insert_task(serial, [SettingItem("token", token)], now_ms, f"token for INN {inn}")
        self._touch(serial, now_ms)
        cur = self.db.execute("INSERT INTO sessions (serial, started_ms) VALUES (?, ?)", (serial, now_ms))
        return int(cur.lastrowid or 0), self._settings_waiting(serial)

    def forget_identity(self, serial: str) -> None:
        """«Забыть ключ ККТ»: the next HELLO for this serial registers its key afresh."""
        with self.lock, self._tx():
            self._device_row(serial)
            self.db.execute("UPDATE devices SET key_hash='' WHERE serial=?", (serial,))

    def log_next_seq(self, serial: str) -> int:
        """One past the highest record seq the server holds for the device (1 when none)."""
        with self.lock:
            row = self._q("SELECT max(m) FROM (SELECT max(seq) AS m FROM log_records WHERE serial=?"
                          " UNION ALL SELECT max(seq) FROM log_conflicts WHERE serial=?)", (serial, serial))
        return int(row[0][0] or 0) + 1

    def _settings_waiting(self, serial: str) -> bool:
        return bool(self._q("SELECT 1 FROM tasks WHERE serial=? AND state IN ('queued', 'sent') LIMIT 1", (serial,)))

    def settings_waiting(self, serial: str) -> bool:
        with self.lock:
            return self._settings_waiting(serial)

    def store_records(self, serial: str, records: Iterable[Any], now_ms: int) -> StoreResult:
        """Store log records (dicts or objects with seq, time_ms, code, text) once each.

        ``stored`` lists every seq of the batch that the server now holds with exactly the
        text sent — in ``log_records``, or in ``log_conflicts`` when the seq already held
        another text — so the KKT may delete exactly those. A record out of range refuses the
        whole batch (``BadRecord``) and nothing of it is stored.
        """
        recs = [validate_record(r if isinstance(r, dict) else
                                {"seq": r.seq, "time_ms": r.time_ms, "code": r.code, "text": r.text})
                for r in records]
        stored: list[int] = []
        dups = conflicts = 0
        with self.lock, self._tx():
            self._device_row(serial)
            for r in recs:
                row = (serial, r["seq"], r["time_ms"], r["code"], r["text"], now_ms)
                cur = self.db.execute("INSERT OR IGNORE INTO log_records (serial, seq, time_ms, code, text,"
                                      " received_ms) VALUES (?, ?, ?, ?, ?, ?)", row)
                if cur.rowcount == 0:
                    held = self._q("SELECT text FROM log_records WHERE serial=? AND seq=?", (serial, r["seq"]))
                    if held[0][0] == r["text"]:
                        dups += 1
                    else:
                        cur = self.db.execute("INSERT OR IGNORE INTO log_conflicts (serial, seq, time_ms, code,"
                                              " text, received_ms) VALUES (?, ?, ?, ?, ?, ?)", row)
                        if cur.rowcount:
                            conflicts += 1
                        else:
                            dups += 1
                stored.append(r["seq"])
            self._touch(serial, now_ms)
        return StoreResult(stored, dups, conflicts)

    def conflicts(self, serial: str) -> list[StoredRecord]:
        """Records that came under a seq already holding another text, by seq and arrival."""
        with self.lock:
            rows = self._q("SELECT serial, seq, time_ms, code, text, received_ms FROM log_conflicts WHERE serial=?"
                           " ORDER BY seq, received_ms, rowid", (serial,))
        return [StoredRecord(*r) for r in rows]

    def next_settings(self, serial: str, now_ms: int | None = None) -> Task | None:
        """The oldest queued or sent task for the device, marked ``sent``; None when nothing waits.

        A task whose stored items are damaged is marked ``failed`` with the reason on the way
        (its problem shows on «Серверы»), and the next one is looked at.
        """
        now = self._now(now_ms)
        with self.lock, self._tx():
            while True:
                rows = self._q(f"SELECT {self._TASK_COLS} FROM tasks WHERE serial=? AND state IN ('queued', 'sent')"
                               " ORDER BY id LIMIT 1", (serial,))
                if not rows:
                    return None
                task_id = rows[0][0]
                try:
                    self._task_items(rows[0][5])
                except ValueError as exc:
                    self.db.execute("UPDATE tasks SET state='failed', done_ms=?, problem=? WHERE id=?",
                                    (now, str(exc), task_id))
                    continue
                self.db.execute("UPDATE tasks SET state='sent', sent_ms=? WHERE id=?", (now, task_id))
                row = self._q(f"SELECT {self._TASK_COLS} FROM tasks WHERE id=?", (task_id,))[0]
                return self._task(row)

    def settings_result(self, serial: str, task_id: int, applied: bool, code: int, now_ms: int) -> Task:
        """The KKT applied a task (or could not: ``code`` is its error, e.g. 650 or 652). Idempotent."""
        with self.lock, self._tx():
            rows = self._q(f"SELECT {self._TASK_COLS} FROM tasks WHERE id=? AND serial=?", (task_id, serial))
            if not rows:
                raise UnknownTask(f"no task {task_id} for device {serial!r}")
            task = self._task(rows[0])
            if task.state in ("queued", "sent"):
                # Done: the device has the token (or will never take it), so it is kept masked from now on.
                masked = [SettingItem(i.kind, mask_token(str(i.value))) if i.kind == "token" else i
                          for i in task.items]
                self.db.execute("UPDATE tasks SET state=?, result_code=?, done_ms=?, items=? WHERE id=?",
                                ("applied" if applied else "failed", int(code), now_ms,
                                 json.dumps([i.to_json() for i in masked], ensure_ascii=False), task_id))
            self._touch(serial, now_ms)
            row = self._q(f"SELECT {self._TASK_COLS} FROM tasks WHERE id=?", (task_id,))[0]
        return self._task(row)

    # ------------------------------------------------------------ «Общие», «Серверы»
    def request_and_apply_certs(self, serial: str, now_ms: int | None = None) -> int:
        """«Запросить и применить на сервере»: prepare the root certificates; returns the job id."""
        now = self._now(now_ms)
        if not self.root_certs:
            raise TechServerError("на сервере нет корневых сертификатов")
        with self.lock, self._tx():
            self._device_row(serial)
            certs = json.dumps([base64.b64encode(d).decode("ascii") for d in self.root_certs])
            cur = self.db.execute("INSERT INTO cert_jobs (serial, created_ms, due_ms, certs) VALUES (?, ?, ?, ?)",
                                  (serial, now, now + self.cert_job_delay_ms, certs))
            return int(cur.lastrowid or 0)

    def cert_jobs(self, serial: str) -> list[CertJob]:
        with self.lock:
            rows = self._q("SELECT id, serial, created_ms, due_ms, certs FROM cert_jobs WHERE serial=? ORDER BY id",
                           (serial,))
        return [CertJob(r[0], r[1], r[2], r[3], len(json.loads(r[4]))) for r in rows]

    def cert_job(self, job_id: int) -> CertJob:
        with self.lock:
            rows = self._q("SELECT id, serial, created_ms, due_ms, certs FROM cert_jobs WHERE id=?", (job_id,))
        if not rows:
            raise TechServerError(f"no certificate job {job_id}")
        r = rows[0]
        return CertJob(r[0], r[1], r[2], r[3], len(json.loads(r[4])))

    def insert_cert(self, serial: str, now_ms: int | None = None) -> int:
        """«Вставить сертификат»: add the prepared certificates to the draft. Returns how many were added."""
        now = self._now(now_ms)
        with self.lock, self._tx():
            self._device_row(serial)
            rows = self._q("SELECT certs FROM cert_jobs WHERE serial=? AND due_ms<=? ORDER BY id DESC LIMIT 1",
                           (serial, now))
            if not rows:
                if self._q("SELECT 1 FROM cert_jobs WHERE serial=?", (serial,)):
                    raise TechServerError("задача подготовки сертификатов ещё не завершена")
                raise TechServerError("сертификаты не подготовлены: нажмите «Запросить и применить на сервере»"
                                      " на вкладке «Общие»")
            added = 0
            for b64 in json.loads(rows[0][0]):
                der = base64.b64decode(b64)
                added += self._draft_put(serial, SettingItem("cert", der))
            return added

    def _draft_put(self, serial: str, item: SettingItem) -> int:
        if item.kind == "cert":
            assert isinstance(item.value, bytes)
            slot = "cert:" + hashlib.sha256(item.value).hexdigest()[:16]
        elif item.kind == "option":
            slot = "option:" + str(item.value).split("=", 1)[0]
        else:
            slot = item.kind
        pos = self._q("SELECT coalesce(max(pos), 0) + 1 FROM draft_items WHERE serial=?", (serial,))[0][0]
        existing = self._q("SELECT pos FROM draft_items WHERE serial=? AND slot=?", (serial, slot))
        if existing:
            pos = existing[0][0]
        cur = self.db.execute("INSERT OR REPLACE INTO draft_items (serial, slot, item, pos) VALUES (?, ?, ?, ?)",
                              (serial, slot, json.dumps(item.to_json(), ensure_ascii=False), pos))
        return 0 if existing else int(cur.rowcount > 0)

    def set_setting(self, serial: str, kind: str, value: str | bytes | int) -> SettingItem:
        """Put one setting into the device's draft (replacing a value of the same kind or option number)."""
        item = validate_setting(kind, value)
        with self.lock, self._tx():
            self._device_row(serial)
            self._draft_put(serial, item)
        return item

    def clear_draft(self, serial: str) -> None:
        with self.lock, self._tx():
            self.db.execute("DELETE FROM draft_items WHERE serial=?", (serial,))

    def draft_items(self, serial: str) -> list[SettingItem]:
        """The draft with real values (for the exchange; never show it to people as is)."""
        with self.lock:
            rows = self._q("SELECT item FROM draft_items WHERE serial=? ORDER BY pos", (serial,))
        return [SettingItem.from_json(json.loads(r[0])) for r in rows]

    def draft(self, serial: str) -> list[dict[str, Any]]:
        """The draft as people may see it (token masked)."""
        return [i.listing() for i in self.draft_items(serial)]

    def send_all_settings(self, serial: str, now_ms: int | None = None) -> int:
        """«Сохранить и отправить все настройки»: the draft becomes one queued task. Returns its id."""
        now = self._now(now_ms)
        with self.lock, self._tx():
            self._device_row(serial)
            rows = self._q("SELECT item FROM draft_items WHERE serial=? ORDER BY pos", (serial,))
            if not rows:
                raise TechServerError("нет настроек для отправки")
            items = [SettingItem.from_json(json.loads(r[0])) for r in rows]
            task_id = self._insert_task(serial, items, now, "Сохранить и отправить все настройки")
            self.db.execute("DELETE FROM draft_items WHERE serial=?", (serial,))
        return task_id

    def queue_token_for_inn(self, inn: str, token: str, now_ms: int | None = None) -> list[int]:
        """«Токен для всех ККТ ИНН»: a task with the token for every device of the INN (and later ones)."""
        now = self._now(now_ms)
        if not re.fullmatch(r"\d{10}|\d{12}", inn or ""):
            raise TechServerError("ИНН: 10 или 12 цифр")
        item = validate_setting("token", token)
        with self.lock, self._tx():
            self.db.execute("INSERT OR REPLACE INTO inn_tokens (inn, token, created_ms) VALUES (?, ?, ?)",
                            (inn, item.value, now))
            serials = [r[0] for r in self._q("SELECT serial FROM devices WHERE inn=? ORDER BY serial", (inn,))]
            return [self._insert_task(s, [item], now, f"token for INN {inn}") for s in serials]

    def inn_tokens(self) -> list[dict[str, Any]]:
        with self.lock:
            rows = self._q("SELECT inn, token, created_ms FROM inn_tokens ORDER BY inn")
        return [{"inn": r[0], "token": mask_token(r[1]), "created_ms": r[2], "created_msk": msk_text(r[2])}
                for r in rows]

    # ------------------------------------------------------------ listings
    def devices(self) -> list[Device]:
        with self.lock:
            rows = self._q(f"SELECT {_DEVICE_COLS} FROM devices ORDER BY serial")
        return [Device(*r) for r in rows]

    def device(self, serial: str) -> Device:
        with self.lock:
            return Device(*self._device_row(serial))

    def records(self, serial: str, code: int | None = None, date_from: date | str | None = None,
                date_to: date | str | None = None) -> list[StoredRecord]:
        """The device's records by seq; dates (inclusive) are Moscow dates of the record's own time."""
        sql = "SELECT serial, seq, time_ms, code, text, received_ms FROM log_records WHERE serial=?"
        args: list[Any] = [serial]
        if code is not None:
            sql += " AND code=?"
            args.append(int(code))
        if date_from:
            sql += " AND time_ms>=?"
            args.append(_day_start_ms(date_from))
        if date_to:
            sql += " AND time_ms<?"
            d = date.fromisoformat(date_to) if isinstance(date_to, str) else date_to
            args.append(_day_start_ms(d + timedelta(days=1)))
        with self.lock:
            rows = self._q(sql + " ORDER BY seq", args)
        return [StoredRecord(*r) for r in rows]

    def record_codes(self, serial: str) -> list[int]:
        with self.lock:
            return [r[0] for r in self._q("SELECT DISTINCT code FROM log_records WHERE serial=? ORDER BY code",
                                          (serial,))]

    def tasks(self, serial: str) -> list[Task]:
        with self.lock:
            rows = self._q(f"SELECT {self._TASK_COLS} FROM tasks WHERE serial=? ORDER BY id", (serial,))
        return [self._task(r) for r in rows]

    def task(self, task_id: int) -> Task:
        with self.lock:
            rows = self._q(f"SELECT {self._TASK_COLS} FROM tasks WHERE id=?", (task_id,))
        if not rows:
            raise UnknownTask(f"no task {task_id}")
        return self._task(rows[0])

    def session_count(self, serial: str | None = None) -> int:
        with self.lock:
            if serial is None:
                return int(self._q("SELECT count(*) FROM sessions")[0][0])
            return int(self._q("SELECT count(*) FROM sessions WHERE serial=?", (serial,))[0][0])


class _Tx:
    """BEGIN IMMEDIATE … COMMIT (ROLLBACK on an exception) on the model's connection."""

    def __init__(self, model: TechServer) -> None:
        self.db = model.db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


def validate_setting(kind: str, value: str | bytes | int) -> SettingItem:
    """Check one setting value; returns it in its wire form or raises ``TechServerError``."""
    if kind not in SETTING_KINDS:
        raise TechServerError(f"неизвестная настройка {kind!r}")
    if kind == "cert":
        if isinstance(value, str):
            try:
                value = value.encode("ascii")
            except UnicodeEncodeError:
                raise TechServerError("сертификат: PEM пишется только латиницей (ASCII)") from None
        if not isinstance(value, bytes):
            raise TechServerError("сертификат: ожидались байты DER или PEM")
        if len(value) > 16000:
            raise TechServerError("сертификат: больше 16000 байт")
        # Parsed as the device parses it: one CA certificate, PEM or DER, or it is refused here.
        try:
            certs = parse_certificates(value)
        except TlsError as exc:
            raise TechServerError(f"сертификат: {exc}") from None
        if len(certs) != 1:
            raise TechServerError("сертификат: нужен ровно один сертификат")
        return SettingItem("cert", certs[0].public_bytes(serialization.Encoding.DER))
    text = str(value).strip()
    if kind == "token":
        if not TOKEN_RE.match(text):
            raise TechServerError("токен: 8–2048 символов A-Z a-z 0-9 . _ ~ + / = -")
    elif kind == "gismt_host":
        if not HOST_RE.match(text):
            raise TechServerError(f"имя хоста ГИС МТ недопустимо: {text!r}")
    elif kind == "sale_ban":
        if text not in SALE_BAN_VALUES:
            raise TechServerError(f"ЗАПРЕТ ПРОДАЖ: {' или '.join(SALE_BAN_VALUES)}")
    elif kind == "poll_period":
        if not re.fullmatch(r"[0-9]{1,5}", text) or not POLL_MIN <= int(text) <= POLL_MAX:
            raise TechServerError(f"ПЕРИОД ОПРОСА: целое число минут {POLL_MIN}–{POLL_MAX}")
        text = str(int(text))
    elif kind == "option":
        m = re.fullmatch(r"(\d{1,3})\s*=\s*(\d{1,5})", text)
        if not m:
            raise TechServerError("опция: «номер=значение», например 92=1")
        num, val = int(m.group(1)), int(m.group(2))
        if num in KNOWN_OPTIONS and val > KNOWN_OPTIONS[num]:
            raise TechServerError(f"опция {num}: значение 0–{KNOWN_OPTIONS[num]}")
        text = f"{num}={val}"
    return SettingItem(kind, text)
