"""The fiscal drive's archive: one SQLite file (WAL), one transaction per document.

Tables::

    meta        key TEXT PRIMARY KEY, value      format, version, fn_number,
                                                 secret (hex; the file is 0600),
                                                 tz_offset_min, expires_ms
    documents   fd INTEGER PRIMARY KEY           the ФД number, 1, 2, 3 …
                doc_type, when_ms, fiscal_sign   type, virtual-clock time, ФП
                data BLOB                        the document STLV, signed
                state, shift_number,             the drive's state and counters
                receipts_in_shift, shift_open,   *after* this document
                shift_open_ms
                delivered, ack, ack_ms           the OFD queue: 0 = pending;
                                                 the acknowledgement's bytes

A document and the counters it moves are one ``INSERT`` in one transaction,
so after a kill -9 at any moment the file holds the whole document with its
counters or nothing of it; an acknowledgement is one ``UPDATE``. The drive's
state on reopening is the last row's. ``synchronous=FULL`` also keeps a
committed document through a power cut.

Opening checks the file (``quick_check``, the tables, the format marker, the
meta values, ФД numbers contiguous from 1, the row types) and raises
``DamagedArchive`` with one line saying what is wrong; ``set_aside`` renames
the file (and its ``-wal`` / ``-shm`` companions, so that an old log is never
replayed into a new file) under a free ``.bad`` name.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.base.storage import private_file
from emulator.base.storage import set_aside as _set_aside_file
from emulator.devices.fn.errors import DamagedArchive

ARCHIVE_FILE = "fn_archive.sqlite"     # the archive's name in a device's state directory
FORMAT = "kkt-emu fiscal drive archive"
VERSION = 1
MAX_ACK_BYTES = 4096
STATES = ("setting", "fiscal", "closed", "archive")

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value);
CREATE TABLE documents (
    fd INTEGER PRIMARY KEY, doc_type INTEGER NOT NULL, when_ms INTEGER NOT NULL,
    fiscal_sign INTEGER NOT NULL, data BLOB NOT NULL, state TEXT NOT NULL,
    shift_number INTEGER NOT NULL, receipts_in_shift INTEGER NOT NULL,
    shift_open INTEGER NOT NULL, shift_open_ms INTEGER,
    delivered INTEGER NOT NULL DEFAULT 0, ack BLOB, ack_ms INTEGER
);
"""
_COLUMNS = ("fd", "doc_type", "when_ms", "fiscal_sign", "data", "state", "shift_number",
            "receipts_in_shift", "shift_open", "shift_open_ms", "delivered", "ack", "ack_ms")
_META_KEYS = {"format", "version", "fn_number", "secret", "tz_offset_min", "expires_ms"}


@dataclass(frozen=True)
class Row:
    """One archived document with the drive's counters after it."""

    fd: int
    doc_type: int
    when_ms: int
    fiscal_sign: int
    data: bytes
    state: str
    shift_number: int
    receipts_in_shift: int
    shift_open: bool
    shift_open_ms: int | None
    delivered: bool = False
    ack: bytes | None = None
    ack_ms: int | None = None


@dataclass(frozen=True)
class Meta:
    fn_number: str
    secret: bytes
    tz_offset_min: int
    expires_ms: int | None


def _companions(path: Path) -> list[Path]:
    return [path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal")]


def set_aside(path: Path) -> Path:
    """Rename a damaged archive to a free ``.bad`` name; its ``-wal`` goes along, ``-shm`` is dropped."""
    bad = _set_aside_file(path)
    for comp in _companions(path):
        if comp.exists():
            if comp.name.endswith("-wal"):
                os.replace(comp, bad.with_name(bad.name + "-wal"))
            else:
                comp.unlink()
    return bad


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class Archive:
    """The SQLite archive; ``path=None`` keeps it in memory (tests, benchmarks).

    ``readonly`` opens an existing file for reading only (the tools): nothing is created or changed.
    """

    def __init__(self, path: Path | None, *, readonly: bool = False) -> None:
        self.path = Path(path) if path is not None else None
        self.readonly = readonly
        self.lock = threading.RLock()
        self.meta: Meta | None = None
        self.rows: list[Row] = []
        self._first_pending = 0                 # rows before this index are all delivered
        if self.path is None:
            self.db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        elif readonly:
            if not self.path.is_file():
                what = "a folder, not a file" if self.path.is_dir() else "no such file"
                raise DamagedArchive(f"archive {self.path.name}: {what}")
            try:
                self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False,
                                          isolation_level=None)
            except sqlite3.Error as exc:
                raise DamagedArchive(f"archive {self.path.name}: cannot open ({exc})") from None
        else:
            if self.path.is_dir():
                raise DamagedArchive(f"archive {self.path.name}: a folder, not a file")
            private_file(self.path)             # SQLite gives the -wal and -shm files the same mode
            for comp in _companions(self.path):
                if comp.exists():
                    os.chmod(comp, 0o600)
            self.db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        # a damaged TEXT value reads back as a str to be checked, never as a decoding exception
        self.db.text_factory = lambda b: b.decode("utf-8", "replace")
        try:
            self._load()
        except DamagedArchive:
            self.db.close()
            raise
        except sqlite3.Error as exc:
            self.db.close()
            raise DamagedArchive(f"archive {self._name}: not a readable SQLite database ({exc})") from None

    @property
    def _name(self) -> str:
        return self.path.name if self.path else ":memory:"

    def _damaged(self, what: str) -> DamagedArchive:
        return DamagedArchive(f"archive {self._name}: {what}")

    def _load(self) -> None:
        self._check()
        if self.path is not None and not self.readonly:    # only once the file is known to be ours (or new)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")

    def _check(self) -> None:
        check = self.db.execute("PRAGMA quick_check").fetchall()
        if check != [("ok",)]:
            raise self._damaged(f"SQLite check failed ({str(check[0][0])[:80]})")
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            if self.readonly:
                raise self._damaged("empty: no fiscal drive archive in it")
            return                              # a new file: ``create`` writes the schema
        if tables != {"meta", "documents"}:
            raise self._damaged("not a fiscal drive archive (foreign tables)")
        cols = tuple(r[1] for r in self.db.execute("PRAGMA table_info(documents)"))
        if cols != _COLUMNS:
            raise self._damaged("not a fiscal drive archive (foreign documents table)")
        meta = dict(self.db.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("format") != FORMAT:
            raise self._damaged("not a fiscal drive archive (no format marker)")
        if meta.get("version") != VERSION:
            raise self._damaged(f"archive version {meta.get('version')!r}, this emulator reads {VERSION}")
        if set(meta) != _META_KEYS:
            raise self._damaged("meta table damaged")
        fn, secret, tz, exp = meta["fn_number"], meta["secret"], meta["tz_offset_min"], meta["expires_ms"]
        if not (isinstance(fn, str) and len(fn) == 16 and fn.isdigit() and fn.isascii()):
            raise self._damaged("meta: ФН number is not 16 digits")
        try:
            key = bytes.fromhex(secret) if isinstance(secret, str) else b""
        except ValueError:
            key = b""
        if len(key) < 16:
            raise self._damaged("meta: the drive's secret is damaged")
        if not _is_int(tz) or not -720 <= tz <= 840:
            raise self._damaged("meta: time zone offset damaged")
        if exp is not None and not _is_int(exp):
            raise self._damaged("meta: expiry damaged")
        self.meta = Meta(fn, key, tz, exp)
        rows = []
        for n, r in enumerate(self.db.execute(f"SELECT {', '.join(_COLUMNS)} FROM documents ORDER BY fd"), 1):
            rows.append(self._row(n, r))
        self.rows = rows

    def _row(self, n: int, r: tuple[Any, ...]) -> Row:
        fd, doc_type, when_ms, sign, data, state, shift, receipts, shift_open, open_ms, delivered, ack, ack_ms = r
        if fd != n:
            raise self._damaged(f"ФД numbers not contiguous: {fd!r} where {n} was expected")
        ints = (doc_type, when_ms, sign, shift, receipts, shift_open, delivered)
        if not all(_is_int(v) for v in ints) or not isinstance(data, bytes) or state not in STATES:
            raise self._damaged(f"document {n}: row damaged")
        if open_ms is not None and not _is_int(open_ms) or ack_ms is not None and not _is_int(ack_ms):
            raise self._damaged(f"document {n}: row damaged")
        if delivered not in (0, 1) or shift_open not in (0, 1) or (ack is not None and not isinstance(ack, bytes)):
            raise self._damaged(f"document {n}: row damaged")
        return Row(fd, doc_type, when_ms, sign, data, state, shift, receipts, bool(shift_open), open_ms,
                   bool(delivered), ack, ack_ms)

    # ------------------------------------------------------------ writing
    def _writable(self) -> None:
        if self.readonly:
            raise self._damaged("opened for reading only")

    def create(self, meta: Meta) -> None:
        """Write the schema and the drive's meta in one transaction (a new, empty file)."""
        self._writable()
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                for stmt in _SCHEMA.split(";"):
                    if stmt.strip():
                        self.db.execute(stmt)
                self.db.executemany("INSERT INTO meta VALUES (?, ?)", [
                    ("format", FORMAT), ("version", VERSION), ("fn_number", meta.fn_number),
                    ("secret", meta.secret.hex()), ("tz_offset_min", meta.tz_offset_min),
                    ("expires_ms", meta.expires_ms)])
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.meta = meta

    def set_expiry(self, expires_ms: int) -> None:
        self._writable()
        with self.lock:
            self.db.execute("UPDATE meta SET value=? WHERE key='expires_ms'", (expires_ms,))
            assert self.meta is not None
            self.meta = Meta(self.meta.fn_number, self.meta.secret, self.meta.tz_offset_min, expires_ms)

    def append(self, row: Row, expires_ms: int | None = None) -> None:
        """Store one document with its counters: all of it or nothing (one transaction).
        ``expires_ms`` is written in the same transaction (the registration report sets it)."""
        self._writable()
        with self.lock:
            if row.fd != len(self.rows) + 1:
                raise ValueError(f"ФД {row.fd} does not follow {len(self.rows)}")
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.execute(
                    f"INSERT INTO documents ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                    (row.fd, row.doc_type, row.when_ms, row.fiscal_sign, row.data, row.state, row.shift_number,
                     row.receipts_in_shift, int(row.shift_open), row.shift_open_ms, 0, None, None))
                if expires_ms is not None:
                    self.db.execute("UPDATE meta SET value=? WHERE key='expires_ms'", (expires_ms,))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.rows.append(row)
            if expires_ms is not None and self.meta is not None:
                self.meta = Meta(self.meta.fn_number, self.meta.secret, self.meta.tz_offset_min, expires_ms)

    def acknowledge(self, fd: int, ack: bytes, now_ms: int) -> bool:
        """Mark document ``fd`` delivered with the acknowledgement's bytes; False when it already was."""
        self._writable()
        with self.lock:
            row = self.rows[fd - 1]
            if row.delivered:
                return False
            self.db.execute("UPDATE documents SET delivered=1, ack=?, ack_ms=? WHERE fd=? AND delivered=0",
                            (bytes(ack), now_ms, fd))
            self.rows[fd - 1] = Row(row.fd, row.doc_type, row.when_ms, row.fiscal_sign, row.data, row.state,
                                    row.shift_number, row.receipts_in_shift, row.shift_open, row.shift_open_ms,
                                    True, bytes(ack), now_ms)
            return True

    def oldest_pending(self) -> Row | None:
        """The first document not yet acknowledged (amortised O(1): acknowledgements only move it on)."""
        with self.lock:
            rows, i = self.rows, self._first_pending
            while i < len(rows) and rows[i].delivered:
                i += 1
            self._first_pending = i
            return rows[i] if i < len(rows) else None

    def integrity_check(self) -> str:
        with self.lock:
            return str(self.db.execute("PRAGMA integrity_check").fetchone()[0])

    def close(self) -> None:
        with self.lock:
            self.db.close()
