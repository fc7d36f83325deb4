"""The device's log of GIS MT errors and missing answers.

Record text, as the vendor's technological server shows it on «ОТЧЕТЫ» (the two
worked examples of the vendor's instruction are reproduced byte for byte)::

    ГИС МТ<TAB><code><TAB>[<seq>]
    <TAB><TAB>Найден:Да,Нанесен:Да,Крипто:Да,Продан:Нет,Заблокирован:Нет,В обороте:Да,Серая зона:Нет
    Цена:<kop> Макс:<kop> Мин:<kop>, ГоденДо:<dd-mm-yyyy hh:mm:ss>, 2106:<n>, ВремяОбработки:<ms>мс, UUID=<reqId>&Time=<reqTimestamp>

* ``seq`` is the device's own record counter (the vendor's examples show 9812
  and 5735; what the number is on the real device is not public).
* ``ГоденДо`` is the expiry held as a 32-bit Unix time and shown in device
  local time; with no expiry in the answer it is all ones, 0xFFFFFFFF, which
  shows as ``07-02-2106 09:28:15`` in Moscow time.
* MODELLED: for a missing or unusable answer (no flags known) each flag reads
  ``-``, the UUID and Time are empty, and ``ВремяОбработки`` is the time spent
  until the device gave up.

Records are kept in a SQLite file in the device directory (or in memory) with
an ``uploaded`` mark, so that a later exchange with the technological server
can send each record once and a restart loses none.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from emulator.base.storage import private_file

NO_EXPIRY = 0xFFFFFFFF

FLAG_NAMES = ("Найден", "Нанесен", "Крипто", "Продан", "Заблокирован", "В обороте", "Серая зона")


def yes_no(value: bool | None) -> str:
    if value is None:
        return "-"
    return "Да" if value else "Нет"


def local_time_text(unix_s: int, tz_offset_min: int) -> str:
    t = datetime.fromtimestamp(unix_s, tz=UTC) + timedelta(minutes=tz_offset_min)
    return t.strftime("%d-%m-%Y %H:%M:%S")


@dataclass(frozen=True)
class LogRecord:
    seq: int
    time_ms: int            # device time when the record was written
    code: int
    flags: tuple[bool | None, ...]   # in FLAG_NAMES order
    price: int
    max_price: int
    min_price: int
    expiry_s: int           # 32-bit Unix time, NO_EXPIRY when absent
    tag2106: int
    elapsed_ms: int
    req_id: str
    req_timestamp: int | None
    tz_offset_min: int = 180
    note: str = ""          # what happened, for people (not part of the record text)

    @property
    def text(self) -> str:
        head = f"ГИС МТ\t{self.code}\t[{self.seq}]"
        flags = ",".join(f"{n}:{yes_no(v)}" for n, v in zip(FLAG_NAMES, self.flags))
        time_part = "" if self.req_timestamp is None else str(self.req_timestamp)
        tail = (f"Цена:{self.price} Макс:{self.max_price} Мин:{self.min_price}, "
                f"ГоденДо:{local_time_text(self.expiry_s, self.tz_offset_min)}, 2106:{self.tag2106}, "
                f"ВремяОбработки:{self.elapsed_ms}мс, UUID={self.req_id}&Time={time_part}")
        return f"{head}\n\t\t{flags}\n{tail}"

    def field(self, name: str) -> str:
        """One field of the record by its printed name (``Цена``, ``UUID``, ``Найден`` …)."""
        if name in FLAG_NAMES:
            return yes_no(self.flags[FLAG_NAMES.index(name)])
        values = {
            "code": str(self.code), "seq": str(self.seq), "Цена": str(self.price),
            "Макс": str(self.max_price), "Мин": str(self.min_price),
            "ГоденДо": local_time_text(self.expiry_s, self.tz_offset_min), "2106": str(self.tag2106),
            "ВремяОбработки": f"{self.elapsed_ms}мс", "UUID": self.req_id,
            "Time": "" if self.req_timestamp is None else str(self.req_timestamp),
        }
        if name not in values:
            raise KeyError(f"no log field {name!r}")
        return values[name]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS log (
    seq INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, code INTEGER NOT NULL,
    flags TEXT NOT NULL, price INTEGER NOT NULL, max_price INTEGER NOT NULL, min_price INTEGER NOT NULL,
    expiry_s INTEGER NOT NULL, tag2106 INTEGER NOT NULL, elapsed_ms INTEGER NOT NULL,
    req_id TEXT NOT NULL, req_timestamp INTEGER, tz_offset_min INTEGER NOT NULL, note TEXT NOT NULL,
    uploaded INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


def _flags_text(flags: tuple[bool | None, ...]) -> str:
    return "".join("-" if f is None else ("1" if f else "0") for f in flags)


def _flags_parse(text: str) -> tuple[bool | None, ...]:
    return tuple(None if c == "-" else c == "1" for c in text)


class Logbook:
    def __init__(self, directory: Path | None, first_seq: int = 1) -> None:
        path = str(directory / "gismt_log.sqlite") if directory else ":memory:"
        if directory:
            private_file(directory / "gismt_log.sqlite")   # 0600 in a 0700 folder, journals alike
        self.db = sqlite3.connect(path)
        self.db.executescript(_SCHEMA)
        row = self.db.execute("SELECT value FROM meta WHERE key='next_seq'").fetchone()
        top = self.db.execute("SELECT max(seq) FROM log").fetchone()[0]
        # The counter never points at or below a record held: a lost or damaged counter row would
        # otherwise number new records like old ones (and the server would see conflicts).
        above = 1 if top is None else top + 1
        if row is None:
            with self.db:
                self.db.execute("INSERT INTO meta VALUES ('next_seq', ?)", (max(first_seq, above),))
        elif not isinstance(row[0], int) or row[0] < above:
            with self.db:
                self.db.execute("UPDATE meta SET value=? WHERE key='next_seq'", (above,))
        self.records: list[LogRecord] = [self._row(r) for r in self.db.execute(
            "SELECT seq, time_ms, code, flags, price, max_price, min_price, expiry_s, tag2106, elapsed_ms,"
            " req_id, req_timestamp, tz_offset_min, note FROM log ORDER BY seq")]

    @staticmethod
    def _row(r: tuple) -> LogRecord:  # type: ignore[type-arg]
        return LogRecord(r[0], r[1], r[2], _flags_parse(r[3]), r[4], r[5], r[6], r[7], r[8], r[9], r[10],
                         r[11], r[12], r[13])

    @property
    def next_seq(self) -> int:
        return int(self.db.execute("SELECT value FROM meta WHERE key='next_seq'").fetchone()[0])

    def set_next_seq(self, seq: int) -> None:
        with self.db:
            self.db.execute("UPDATE meta SET value=? WHERE key='next_seq'", (seq,))

    def append(self, **fields: object) -> LogRecord:
        seq = self.next_seq
        rec = LogRecord(seq=seq, **fields)  # type: ignore[arg-type]
        with self.db:  # one transaction: the record and the counter move together
            self.db.execute(
                "INSERT INTO log (seq, time_ms, code, flags, price, max_price, min_price, expiry_s, tag2106,"
                " elapsed_ms, req_id, req_timestamp, tz_offset_min, note) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (rec.seq, rec.time_ms, rec.code, _flags_text(rec.flags), rec.price, rec.max_price,
                 rec.min_price, rec.expiry_s, rec.tag2106, rec.elapsed_ms, rec.req_id, rec.req_timestamp,
                 rec.tz_offset_min, rec.note))
            self.db.execute("UPDATE meta SET value=? WHERE key='next_seq'", (seq + 1,))
        self.records.append(rec)
        return rec

    def pending_upload(self) -> list[LogRecord]:
        seqs = {r[0] for r in self.db.execute("SELECT seq FROM log WHERE uploaded=0")}
        return [r for r in self.records if r.seq in seqs]

    def mark_uploaded(self, seqs: list[int]) -> None:
        with self.db:
            self.db.executemany("UPDATE log SET uploaded=1 WHERE seq=?", [(s,) for s in seqs])

    def close(self) -> None:
        self.db.close()
