"""The ПРРО's state in one SQLite file: settings, employee cards, the shift, the documents.

Every change is one SQLite transaction (write-ahead log, ``synchronous=FULL``:
committed means on disk), so a process killed at any instant leaves either the
old state or the new one. A document is written (``pending``, with its signed bytes) *before* it
is sent and marked ``sent`` with its fiscal number after the answer; a pending
document found at start-up is sent again with the same bytes, which the tax
server takes as the same document (it is idempotent by the document's local
number and UID) — nothing is lost and nothing doubles.

The password of a key is kept in the file (as the ПРРО keeps it to sign without
asking); the file is private (0600) and nothing shows a password.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.base.storage import private_file

DB_NAME = "prro.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS docs (
    id INTEGER PRIMARY KEY,
    local_num INTEGER NOT NULL,
    uid TEXT NOT NULL,
    kind TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    amount INTEGER NOT NULL DEFAULT 0,
    shift_id INTEGER,
    signer TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    fiscal_num TEXT NOT NULL DEFAULT '',
    offline INTEGER NOT NULL DEFAULT 0,
    signed BLOB,
    error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS docs_state ON docs(state);
"""

# Document states: pending (signed, to be sent online), offline (signed in an
# offline session, to go in a package), sent (the server gave a fiscal number),
# refused (the server said no: kept, never sent again), unsigned (could not be signed).
STATES = ("pending", "offline", "sent", "refused", "unsigned")


@dataclass(frozen=True)
class Doc:
    id: int                 # the device's own document counter (a refused document's local number is reused)
    local_num: int
    uid: str
    kind: str
    time_ms: int
    amount: int
    shift_id: int | None
    signer: str
    state: str
    fiscal_num: str
    offline: bool
    signed: bytes | None
    error: str


class PrroStore:
    """The state file, opened once; ``memory=True`` keeps it in memory (benchmarks). Usable from any thread
    (the Device Manager's HTTP workers): its callers run one at a time (the DM's ``world_lock``)."""

    def __init__(self, directory: Path | None) -> None:
        if directory is None:
            self.db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        else:
            path = private_file(Path(directory) / DB_NAME)
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)
        self._in_tx = False

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def tx(self) -> Iterator[None]:
        """One atomic change (nested calls join the outer one)."""
        if self._in_tx:
            yield
            return
        self.db.execute("BEGIN IMMEDIATE")
        self._in_tx = True
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")
        finally:
            self._in_tx = False

    # ------------------------------------------------------------ key-value
    def get(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM kv WHERE key=?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def put(self, key: str, value: Any) -> None:
        with self.tx():
            self.db.execute("INSERT OR REPLACE INTO kv(key, value) VALUES(?, ?)",
                            (key, json.dumps(value, ensure_ascii=False, sort_keys=True)))

    # ------------------------------------------------------------ documents
    def add_doc(self, doc: Doc) -> None:
        with self.tx():
            self.db.execute(
                "INSERT INTO docs(id, local_num, uid, kind, time_ms, amount, shift_id, signer, state, fiscal_num,"
                " offline, signed, error) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (doc.id, doc.local_num, doc.uid, doc.kind, doc.time_ms, doc.amount, doc.shift_id, doc.signer, doc.state,
                 doc.fiscal_num, int(doc.offline), doc.signed, doc.error))

    def mark(self, doc_id: int, state: str, *, fiscal_num: str | None = None, error: str | None = None) -> None:
        assert state in STATES
        with self.tx():
            self.db.execute("UPDATE docs SET state=?, fiscal_num=COALESCE(?, fiscal_num), error=COALESCE(?, error)"
                            " WHERE id=?", (state, fiscal_num, error, doc_id))

    def docs(self, state: str | None = None, *, limit: int | None = None) -> list[Doc]:
        sql = "SELECT * FROM docs" + (" WHERE state=?" if state else "") + " ORDER BY id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        rows = self.db.execute(sql, (state,) if state else ()).fetchall()
        return [_doc(r) for r in rows]

    def docs_after(self, doc_id: int) -> list[Doc]:
        """The documents made after document ``doc_id`` (the device's counter), oldest first."""
        rows = self.db.execute("SELECT * FROM docs WHERE id>? ORDER BY id", (doc_id,)).fetchall()
        return [_doc(r) for r in rows]

    def doc(self, doc_id: int) -> Doc | None:
        row = self.db.execute("SELECT * FROM docs WHERE id=?", (doc_id,)).fetchone()
        return None if row is None else _doc(row)

    def count(self, state: str) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM docs WHERE state=?", (state,)).fetchone()[0])

    def last(self, kind: str, state: str = "sent") -> Doc | None:
        row = self.db.execute("SELECT * FROM docs WHERE kind=? AND state=? ORDER BY id DESC LIMIT 1",
                              (kind, state)).fetchone()
        return None if row is None else _doc(row)


def _doc(r: tuple[Any, ...]) -> Doc:
    return Doc(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], bool(r[10]), r[11], r[12])
