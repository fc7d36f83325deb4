"""The DM's own database: one SQLite file (WAL, ``synchronous=FULL``: committed means on disk).

Tables:

* ``kv`` — settings (JSON values): the DM's ПРРО list and their settings, package-mode settings;
* ``results`` — the answer of every task that carried a ``tag``, keyed ``(device, tag)``: a repeated
  request with that tag gets it back and nothing is done twice; ``state`` ``done`` (a final answer) or
  ``open`` (the task began and its end is not known yet: the collision the next request repairs);
* ``docs`` — the DM's copy of every document the ПРРО fiscalized (receipts, cash in/out, shift opening,
  Z-reports): what reports 10–13, 21, 22 and the print forms read. ``kind`` is ``sale``, ``return``,
  ``cash_in``, ``cash_out``, ``cash_issue`` (task 14), ``open_shift``, ``z_report``; ``shift_no`` the
  shift's number (the Z-report's); ``body`` is JSON: ``receipt`` (``DmReceipt.to_json()``) for 1 / 2 /
  14, ``cash`` (``CashOp.to_json()``) for 3 / 4, ``taxes`` (the tax lines the receipt carried),
  ``cashier``, ``qr``; for a Z-report ``totals`` (what ``totals.shift_totals`` gave) and ``dt_from``;
  ``info``, the task's answer (``info``) as the DM gave it (task 22 gives it again).

A module that needs a table of its own adds it with ``ensure(schema)``. Everything is one transaction
per change (``tx()``), so a kill at any instant leaves the old state or the new one.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.base.storage import private_dir, private_file

DB_NAME = "dm.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    device TEXT NOT NULL, tag TEXT NOT NULL, task INTEGER, state TEXT NOT NULL,
    answer TEXT NOT NULL DEFAULT '{}', at_ms INTEGER NOT NULL,
    PRIMARY KEY (device, tag));
CREATE TABLE IF NOT EXISTS docs (
    id INTEGER PRIMARY KEY, device TEXT NOT NULL, task INTEGER NOT NULL, kind TEXT NOT NULL,
    shift_no INTEGER NOT NULL DEFAULT 0, local_num INTEGER, fiscal_num TEXT NOT NULL DEFAULT '',
    time_ms INTEGER NOT NULL, sum INTEGER NOT NULL DEFAULT 0, offline INTEGER NOT NULL DEFAULT 0,
    tag TEXT NOT NULL DEFAULT '', body TEXT NOT NULL DEFAULT '{}');
CREATE INDEX IF NOT EXISTS docs_device ON docs(device, kind, id);
"""


@dataclass(frozen=True)
class DmDoc:
    id: int
    device: str
    task: int
    kind: str              # sale, return, cash_in, cash_out, cash_issue, open_shift, z_report
    shift_no: int
    local_num: int | None
    fiscal_num: str
    time_ms: int
    sum: int               # kopecks
    offline: bool
    tag: str
    body: dict[str, Any]   # the receipt as the DM read it, its taxes and pays, the report's totals


class DmStore:
    def __init__(self, directory: Path | None) -> None:
        self.lock = threading.RLock()
        if directory is None:
            self.db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        else:
            private_dir(Path(directory))
            path = private_file(Path(directory) / DB_NAME)
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)
        self._depth = 0

    def close(self) -> None:
        with self.lock:
            self.db.close()

    def ensure(self, schema: str) -> None:
        with self.lock:
            self.db.executescript(schema)

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One transaction (nested calls join the outer one)."""
        with self.lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self.db
                finally:
                    self._depth -= 1
                return
            self.db.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            else:
                self.db.execute("COMMIT")
            finally:
                self._depth = 0

    # ------------------------------------------------------------ kv
    def get(self, key: str, default: Any = None) -> Any:
        with self.lock:
            r = self.db.execute("SELECT value FROM kv WHERE key=?", (key,)).fetchone()
        return default if r is None else json.loads(r[0])

    def put(self, key: str, value: Any) -> None:
        with self.tx() as db:
            db.execute("INSERT OR REPLACE INTO kv VALUES (?, ?)", (key, json.dumps(value, ensure_ascii=False)))

    # ------------------------------------------------------------ results by tag
    def result(self, device: str, tag: str) -> tuple[str, dict[str, Any]] | None:
        with self.lock:
            r = self.db.execute("SELECT state, answer FROM results WHERE device=? AND tag=?", (device, tag)).fetchone()
        return None if r is None else (r[0], json.loads(r[1]))

    def open_result(self, device: str, tag: str, task: int | None, now_ms: int) -> None:
        with self.tx() as db:
            db.execute("INSERT OR REPLACE INTO results VALUES (?, ?, ?, 'open', '{}', ?)", (device, tag, task, now_ms))

    def close_result(self, device: str, tag: str, task: int | None, answer: dict[str, Any], now_ms: int) -> None:
        with self.tx() as db:
            db.execute("INSERT OR REPLACE INTO results VALUES (?, ?, ?, 'done', ?, ?)",
                       (device, tag, task, json.dumps(answer, ensure_ascii=False), now_ms))

    def drop_result(self, device: str, tag: str) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM results WHERE device=? AND tag=?", (device, tag))

    def open_results(self, device: str) -> list[tuple[str, int | None]]:
        with self.lock:
            return [(t, k) for t, k in self.db.execute(
                "SELECT tag, task FROM results WHERE device=? AND state='open' ORDER BY at_ms", (device,))]

    # ------------------------------------------------------------ the DM's copy of documents
    def add_doc(self, device: str, task: int, kind: str, *, shift_no: int, local_num: int | None,
                fiscal_num: str, time_ms: int, sum_kop: int, offline: bool, tag: str,
                body: dict[str, Any]) -> int:
        with self.tx() as db:
            cur = db.execute(
                "INSERT INTO docs (device, task, kind, shift_no, local_num, fiscal_num, time_ms, sum, offline, tag, body)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (device, task, kind, shift_no, local_num, fiscal_num, time_ms, sum_kop, int(offline), tag,
                 json.dumps(body, ensure_ascii=False)))
            return int(cur.lastrowid or 0)

    def docs(self, device: str, kinds: tuple[str, ...] | None = None, *, shift_no: int | None = None,
             limit: int | None = None, newest_first: bool = False) -> list[DmDoc]:
        q = "SELECT * FROM docs WHERE device=?"
        args: list[Any] = [device]
        if kinds:
            q += f" AND kind IN ({','.join('?' * len(kinds))})"
            args += list(kinds)
        if shift_no is not None:
            q += " AND shift_no=?"
            args.append(shift_no)
        q += " ORDER BY id DESC" if newest_first else " ORDER BY id"
        if limit is not None:
            q += " LIMIT ?"
            args.append(limit)
        with self.lock:
            rows = self.db.execute(q, args).fetchall()
        return [DmDoc(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], bool(r[9]), r[10], json.loads(r[11]))
                for r in rows]

    def digest(self) -> str:
        """A digest of every table: tests check that a refused request changed nothing."""
        import hashlib
        h = hashlib.sha256()
        with self.lock:
            for (name,) in self.db.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"):
                for r in self.db.execute(f'SELECT * FROM "{name}" ORDER BY 1'):
                    h.update(repr((name, r)).encode())
        return h.hexdigest()
