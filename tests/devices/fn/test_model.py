"""The modelled fiscal drive: states, counters, requisites, signs, limits and their [3P] codes, the archive."""

from __future__ import annotations

import hashlib
import hmac
import os
import sqlite3
import stat
from datetime import datetime

import pytest

from emulator.devices.fn import errors
from emulator.devices.fn.archive import ARCHIVE_FILE, set_aside
from emulator.devices.fn.errors import DamagedArchive
from emulator.devices.fn.model import (
    DAY_MS,
    FiscalDrive,
    FnError,
    add_months,
    fiscal_sign_of,
)
from emulator.wire.ffd.document import Document

FN = "9999078900005488"
T0 = 1_700_000_000_000          # 2023-11-14 22:13:20 UTC = 2023-11-15 01:13:20 in Moscow
HOUR = 3_600_000
REG = ((1037, "0000000005008570    "), (1018, "7702203276  "))
SALE = ((1020, 12345),)


def new(tmp_path, **kw):
    return FiscalDrive(tmp_path / ARCHIVE_FILE, FN, **kw)


def registered(tmp_path, **kw):
    d = new(tmp_path, **kw)
    d.register(T0, REG)
    d.open_shift(T0 + 1000, ())
    return d


def code_of(call, *args, **kw) -> int:
    with pytest.raises(FnError) as exc:
        call(*args, **kw)
    return exc.value.code


def test_requisites_the_drive_fills_and_counters(tmp_path):
    d = new(tmp_path)
    assert d.state == "setting" and d.last_fd == 0 and not d.shift_open
    reg = d.register(T0, REG)
    assert d.state == "fiscal"
    doc = reg.document
    assert doc.doc_type == 1 and doc.get(1040) == 1 and reg.fd_number == 1
    assert doc.get(1041) == FN and doc.get(1209) == 4
    assert doc.get(1012) == datetime(2023, 11, 15, 1, 13, 20)         # Moscow local time, whole seconds
    assert doc.get(1038) is None and doc.get(1042) is None
    assert doc.get(1037) == REG[0][1].rstrip()          # as it reads back: the codec pads and unpads
    d.open_shift(T0 + HOUR, ())
    r1 = d.receipt(T0 + HOUR + 1, SALE)
    r2 = d.receipt(T0 + HOUR + 2, SALE, doc_type=31)
    assert (r1.document.get(1038), r1.document.get(1042)) == (1, 1)
    assert (r2.document.doc_type, r2.document.get(1042)) == (31, 2)
    assert (d.shift_number, d.receipts_in_shift, d.last_fd) == (1, 2, 4)
    close = d.close_shift(T0 + 2 * HOUR, ())
    assert close.document.get(1038) == 1 and not d.shift_open
    d.open_shift(T0 + 3 * HOUR, ())
    r3 = d.receipt(T0 + 3 * HOUR + 1, SALE)
    assert (r3.document.get(1038), r3.document.get(1042)) == (2, 1)
    status = d.status_report(T0 + 3 * HOUR + 2, ())
    assert status.document.doc_type == 21 and status.document.get(1038) is None
    assert [s.fd_number for s in d.documents()] == list(range(1, 9))


def test_other_time_zone(tmp_path):
    d = FiscalDrive(tmp_path / "z.sqlite", FN, tz_offset_min=0)
    assert d.register(T0, REG).document.get(1012) == datetime(2023, 11, 14, 22, 13, 20)


def test_fiscal_sign_is_the_drives_hmac_and_bytes_2_to_5_big_endian(tmp_path):
    secret = bytes(range(32))
    d = new(tmp_path, secret=secret)
    s = d.register(T0, REG)
    fpd = s.document.get(1077)
    unsigned = Document(1, tuple(f for f in s.document.fields if f[0] != 1077)).encode()
    assert fpd == hmac.new(secret, unsigned, hashlib.sha256).digest()[:6]
    assert s.fiscal_sign == int.from_bytes(fpd[2:6], "big") == fiscal_sign_of(fpd)
    assert fiscal_sign_of(bytes.fromhex("2104aa107541")) == 0xAA107541
    # another drive (another secret) signs the same content differently
    other = FiscalDrive(tmp_path / "other.sqlite", FN, secret=bytes(32))
    assert other.register(T0, REG).document.get(1077) != fpd
    # the archived bytes are the document, byte for byte
    assert d.document_bytes(1) == s.document.encode()
    assert Document.decode(d.document_bytes(1)) == s.document


def test_secret_is_private_and_never_shown(tmp_path):
    d = new(tmp_path)
    assert len(d.secret) == 32
    assert d.secret.hex() not in repr(d.documents()) and d.secret.hex() not in d.secret_hint
    assert len(d.secret_hint) == 8
    assert stat.S_IMODE(os.stat(tmp_path / ARCHIVE_FILE).st_mode) == 0o600
    d.register(T0, REG)
    for comp in tmp_path.glob(ARCHIVE_FILE + "-*"):
        assert stat.S_IMODE(os.stat(comp).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path).st_mode) == 0o700


def test_wrong_state_is_02(tmp_path):
    d = new(tmp_path)
    for call in (d.open_shift, d.close_shift, d.status_report, d.close):
        assert code_of(call, T0, ()) == errors.WRONG_STATE == 0x02
    assert code_of(d.receipt, T0, SALE) == 0x02
    d.register(T0, REG)
    assert code_of(d.register, T0, REG) == 0x02
    assert code_of(d.receipt, T0, SALE) == 0x02           # no shift open
    assert code_of(d.close_shift, T0, ()) == 0x02
    d.open_shift(T0, ())
    assert code_of(d.open_shift, T0, ()) == 0x02
    assert code_of(d.close, T0, ()) == 0x02               # the shift must be closed first
    d.close_shift(T0, ())
    d.close(T0, ())
    assert d.state == "closed"
    assert code_of(d.open_shift, T0, ()) == 0x02
    assert code_of(d.status_report, T0, ()) == 0x02
    for s in d.pending():
        d.acknowledge(s.fd_number, b"ok", T0)
    assert d.state == "archive" and d.pending() == []


def test_a_refusal_changes_nothing(tmp_path):
    d = registered(tmp_path)
    before = (d.last_fd, d.shift_number, d.receipts_in_shift, len(d.pending()))
    for bad in (((1040, 9),), ((1077, b"123456"),), ((1012, T0),), ((1020, "twelve"),), (("x", 1),), (5,)):
        assert code_of(d.receipt, T0 + 5000, bad) == errors.BAD_PARAMETERS == 0x09
    assert code_of(d.receipt, T0 + 5000, SALE, doc_type=2) == 0x09
    assert (d.last_fd, d.shift_number, d.receipts_in_shift, len(d.pending())) == before
    d.close_archive()
    again = FiscalDrive(tmp_path / ARCHIVE_FILE, FN)
    assert (again.last_fd, again.shift_number, again.receipts_in_shift, len(again.pending())) == before


def test_tlv_too_large_is_0x10(tmp_path):
    d = registered(tmp_path)
    d.close_shift(T0 + 2000, ())
    big = tuple((1048, "Я" * 200) for _ in range(25))     # about 5 kB: over the 4096 of a shift report
    assert code_of(d.open_shift, T0 + 3000, big) == errors.TLV_TOO_LARGE == 0x10
    assert d.open_shift(T0 + 3000, big[:5]).fd_number == 4     # the same type, in its limit


def test_time_going_back_is_07(tmp_path):
    d = registered(tmp_path)
    assert code_of(d.receipt, T0, SALE) == errors.WRONG_TIME == 0x07
    assert code_of(d.receipt, -5, SALE) == 0x07
    assert d.receipt(T0 + 1000, SALE).fd_number == 3        # the same millisecond is fine


def test_shift_over_24h_is_0x16(tmp_path):
    d = registered(tmp_path)
    opened = T0 + 1000
    d.receipt(opened + DAY_MS - 1, SALE)
    assert code_of(d.receipt, opened + DAY_MS, SALE) == errors.SHIFT_OVER_24H == 0x16
    assert code_of(d.receipt, opened + DAY_MS, SALE, doc_type=31) == 0x16
    d.status_report(opened + DAY_MS, ())                      # reports are still taken
    d.close_shift(opened + DAY_MS + 1, ())
    d.open_shift(opened + DAY_MS + 2, ())
    assert d.receipt(opened + DAY_MS + 3, SALE).document.get(1042) == 1


def test_thirty_days_unacknowledged_is_0x15(tmp_path):
    d = registered(tmp_path)
    d.acknowledge(1, b"ack1", T0 + 10)
    oldest = d.pending()[0]
    assert oldest.fd_number == 2
    limit = oldest.when_ms + 30 * DAY_MS
    d.status_report(limit - 1, ())
    assert code_of(d.status_report, limit, ()) == errors.UNSENT_TOO_OLD == 0x15
    assert code_of(d.open_shift, limit, ()) == 0x02           # the state is checked first
    assert code_of(d.receipt, limit, SALE) == 0x15
    d.close_shift(limit, ())                                  # winding down is still possible
    assert code_of(d.open_shift, limit, ()) == 0x15
    for s in d.pending():
        d.acknowledge(s.fd_number, b"ack", limit + 1)
    assert d.open_shift(limit + 2, ()).document.get(1038) == 2


def test_expiry_is_05_and_defaults_to_15_months(tmp_path):
    d = new(tmp_path)
    d.register(T0, REG)
    assert d.expires_ms == add_months(T0, 15, 180)
    assert datetime.utcfromtimestamp(d.expires_ms / 1000).strftime("%Y-%m-%d %H:%M") == "2025-02-14 22:13"
    assert add_months(1706659200000, 1, 0) == 1709164800000     # 31 January 2024 → 29 February 2024
    d.close_archive()
    d = FiscalDrive(tmp_path / ARCHIVE_FILE, FN)
    assert d.expires_ms == add_months(T0, 15, 180)            # kept in the archive
    e = FiscalDrive(tmp_path / "e.sqlite", FN, expires_ms=T0 + 10 * DAY_MS)
    e.register(T0, REG)
    e.open_shift(T0 + 1, ())
    for d2 in e.pending():
        e.acknowledge(d2.fd_number, b"a", T0 + 2)
    assert code_of(e.receipt, T0 + 10 * DAY_MS, SALE) == errors.EXPIRED == 0x05
    assert code_of(e.status_report, T0 + 10 * DAY_MS, ()) == 0x05
    e.close_shift(T0 + 10 * DAY_MS, ())
    assert code_of(e.open_shift, T0 + 10 * DAY_MS, ()) == 0x05
    e.close(T0 + 10 * DAY_MS + 1, ())
    assert e.state == "closed"


def test_error_labels_read_the_table_as_hex():
    e = FnError(errors.SHIFT_OVER_24H, "shift 3 open for 24 h")
    assert e.label == "16" and "[3P]" in str(e) and "shift longer than 24 h" in str(e)
    assert FnError(errors.TLV_TOO_LARGE, "x").label == "10"
    assert FnError(errors.UNSENT_TOO_OLD, "x").meaning == "message-wait resource exhausted"
    assert len({errors.WRONG_STATE, errors.EXPIRED, errors.BAD_PARAMETERS, errors.TLV_TOO_LARGE,
                errors.UNSENT_TOO_OLD, errors.SHIFT_OVER_24H, errors.WRONG_TIME}) == 7


def test_queue_and_acknowledgements_survive_reopening(tmp_path):
    d = registered(tmp_path)
    d.receipt(T0 + 2000, SALE)
    d.acknowledge(2, b"\x07ack", T0 + 3000)
    d.acknowledge(2, b"other", T0 + 4000)                  # a repeat changes nothing
    assert [s.fd_number for s in d.pending()] == [1, 3]
    assert code_of(d.acknowledge, 4, b"", T0) == 0x09
    assert code_of(d.acknowledge, 0, b"", T0) == 0x09
    assert code_of(d.acknowledge, 1, b"x" * 5000, T0) == 0x09
    d.close_archive()
    again = FiscalDrive(tmp_path / ARCHIVE_FILE, FN)
    assert [s.fd_number for s in again.pending()] == [1, 3]
    assert again.delivered(2) and again.acknowledgement(2) == b"\x07ack"
    assert again.documents() == d.documents()
    assert (again.shift_open, again.shift_number, again.receipts_in_shift) == (True, 1, 1)
    assert again.integrity_check() == "ok"


def test_foreign_number_or_secret_refused_and_file_kept(tmp_path):
    d = registered(tmp_path, secret=b"k" * 32)
    d.close_archive()
    assert code_of(FiscalDrive, tmp_path / ARCHIVE_FILE, "1111111111111111") == 0x09
    assert code_of(FiscalDrive, tmp_path / ARCHIVE_FILE, FN, b"z" * 32) == 0x09
    assert FiscalDrive(tmp_path / ARCHIVE_FILE, FN, b"k" * 32).last_fd == 2
    assert code_of(FiscalDrive, tmp_path / "n.sqlite", "12345") == 0x09


def _damaged(tmp_path, make) -> DamagedArchive:
    path = tmp_path / ARCHIVE_FILE
    make(path)
    before = path.read_bytes()
    with pytest.raises(DamagedArchive) as exc:
        FiscalDrive(path, FN)
    err = exc.value
    assert err.code == errors.DRIVE_ERROR and "\n" not in str(err)
    assert err.kept_as == ARCHIVE_FILE + ".bad"
    assert (tmp_path / err.kept_as).read_bytes() == before      # kept aside as it was
    assert not path.exists()
    fresh = FiscalDrive(path, FN)                             # a new drive can be made on the path
    assert fresh.state == "setting"
    return err


def test_garbage_file_set_aside(tmp_path):
    err = _damaged(tmp_path, lambda p: p.write_bytes(b"not a database at all" * 100))
    assert "SQLite" in str(err)


def test_foreign_sqlite_set_aside(tmp_path):
    def make(p):
        db = sqlite3.connect(p)
        db.execute("CREATE TABLE log (seq INTEGER)")
        db.commit()
        db.close()
    assert "not a fiscal drive archive" in str(_damaged(tmp_path, make))


def _archive_edited(*sql: str):
    """A maker for ``_damaged``: a drive with three documents, then ``sql`` run on its file."""
    def make(p):
        d = FiscalDrive(p, FN)
        d.register(T0, REG)
        d.open_shift(T0 + 1, ())
        d.receipt(T0 + 2, SALE)
        d.close_archive()
        db = sqlite3.connect(p)
        for stmt in sql:
            db.execute(stmt)
        db.commit()
        db.close()
    return make


@pytest.mark.parametrize(("sql", "said"), [
    ("UPDATE documents SET data=CAST(substr(data, 1, length(data) - 1) || x'07' AS BLOB) WHERE fd=2",
     "document 2 fails its"),
    ("UPDATE documents SET data='text, not bytes' WHERE fd=2", "row damaged"),
    ("UPDATE documents SET data=x'ff' || 'é' WHERE fd=2", "row damaged"),
    ("DELETE FROM documents WHERE fd=2", "contiguous"),
    ("UPDATE documents SET data=substr(data, 1, 7) WHERE fd=1", "does not decode"),
    ("UPDATE documents SET fiscal_sign=fiscal_sign + 1 WHERE fd=3", "document 3 fails its"),
    ("UPDATE documents SET doc_type=5 WHERE fd=3", "does not match"),
    ("UPDATE documents SET delivered=7 WHERE fd=3", "row damaged"),
    ("UPDATE meta SET value='xyz' WHERE key='secret'", "secret"),
    ("DELETE FROM meta WHERE key='tz_offset_min'", "meta table"),
    ("UPDATE meta SET value=2 WHERE key='version'", "version 2"),
])
def test_edited_archive_set_aside(tmp_path, sql, said):
    assert said in str(_damaged(tmp_path, _archive_edited(sql)))


def test_readonly_open_changes_nothing(tmp_path):
    d = registered(tmp_path)
    d.close_archive()
    path = tmp_path / ARCHIVE_FILE
    before = path.read_bytes()
    ro = FiscalDrive(path, None, readonly=True)
    assert ro.fn_number == FN and ro.last_fd == 2
    assert code_of(ro.receipt, T0 + 5000, SALE) == 0x02
    assert code_of(ro.acknowledge, 1, b"", T0) == 0x02
    ro.close_archive()
    assert path.read_bytes() == before
    path.write_bytes(b"junk" * 1000)
    with pytest.raises(DamagedArchive) as exc:
        FiscalDrive(path, None, readonly=True)
    assert exc.value.kept_as is None and path.read_bytes() == b"junk" * 1000
    with pytest.raises(DamagedArchive):
        FiscalDrive(tmp_path / "missing.sqlite", None, readonly=True)
    assert not (tmp_path / "missing.sqlite").exists()


def test_in_memory_drive():
    d = FiscalDrive(None, FN)
    d.register(T0, REG)
    assert d.path is None and d.last_fd == 1


def test_set_aside_takes_the_wal_along_and_drops_the_shm(tmp_path):
    """A damaged file's log must never be replayed into the new drive's file of the same name."""
    path = tmp_path / ARCHIVE_FILE
    for suffix, data in (("", b"main"), ("-wal", b"log"), ("-shm", b"index")):
        (tmp_path / (ARCHIVE_FILE + suffix)).write_bytes(data)
    (tmp_path / (ARCHIVE_FILE + ".bad")).write_bytes(b"an earlier one")
    bad = set_aside(path)
    assert bad.name == ARCHIVE_FILE + ".bad.2"
    assert bad.read_bytes() == b"main" and (tmp_path / (bad.name + "-wal")).read_bytes() == b"log"
    assert (tmp_path / (ARCHIVE_FILE + ".bad")).read_bytes() == b"an earlier one"
    assert not any((tmp_path / (ARCHIVE_FILE + s)).exists() for s in ("", "-wal", "-shm"))
