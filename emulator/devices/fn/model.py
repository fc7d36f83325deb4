"""The fiscal drive (ФН), modelled: states, counters, signs, limits, the OFD queue.

States (``FiscalDrive.state``)::

    setting --register--> fiscal --close--> closed --last ack--> archive
                          (shifts, receipts,    (only acknowledgements:
                           status reports)       the queue drains)

The third-party drive model has a READY state between SETTING and FISCAL
(a drive ready for fiscalisation); here "setting" covers it: the
registration report is the first document either way.

Documents and what the drive adds to the caller's fields (the caller must not
send these tags: ``FnError`` 09)::

    type  method          1040 1012 1041 1077 1209  1038 shift  1042 receipt
    1     register         ✓    ✓    ✓    ✓    ✓
    2     open_shift       ✓    ✓    ✓    ✓    ✓      ✓ (new)
    3/31  receipt          ✓    ✓    ✓    ✓    ✓      ✓          ✓ (in shift)
    5     close_shift      ✓    ✓    ✓    ✓    ✓      ✓
    21    status_report    ✓    ✓    ✓    ✓    ✓
    6     close            ✓    ✓    ✓    ✓    ✓

1040 ФД number (U32, contiguous from 1), 1012 date-time (UNIXTIME in the
device's local time: ``tz_offset_min``, Moscow +180 by default), 1041 ФН
number, 1077 ФПД, 1209 FFD version 4 (= 1.2), 1038 shift number, 1042
receipt number in the shift.

Fiscal signs are MODELLED (``signs``): HMAC-SHA256 under the drive's own
secret, not a real ФН's sign.

Limits on the time passed in (``now_ms``, virtual-clock milliseconds; codes
of the [3P] table read as hexadecimal, see ``errors``), checked in this order:

* 02 — a document the state does not allow;
* 07 — a time earlier than the last document's;
* 05 — past the drive's expiry (``expires_ms``; by default 15 months after
  the registration, calendar months in local time — a 15-month drive):
  only ``close_shift`` and ``close`` are still taken;
* 15 — the oldest document not yet acknowledged by the OFD is 30 days old:
  new documents refused, again except ``close_shift`` and ``close``
  (the drive can always be wound down; its queue still drains);
* 16 — a receipt 24 h or more after its shift opened (the shift can still
  be closed);
* 09 — fields that are not (tag, value) pairs or do not encode, a tag the
  drive fills, a receipt type other than 3 / 31;
* 10 — a document over its type's size limit (the codec's ``DOC_MAX_LEN``, [3P]).

A refused document changes nothing (neither the archive nor the counters).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.devices.fn import signs
from emulator.devices.fn.archive import ARCHIVE_FILE, MAX_ACK_BYTES, Archive, Meta, Row, set_aside
from emulator.devices.fn.errors import (
    BAD_PARAMETERS,
    EXPIRED,
    SHIFT_OVER_24H,
    TLV_TOO_LARGE,
    UNSENT_TOO_OLD,
    WRONG_STATE,
    WRONG_TIME,
    DamagedArchive,
    FnError,
)
from emulator.devices.fn.signs import fiscal_sign_of, fpd_of, local_datetime, unsigned_bytes
from emulator.wire.ffd.document import DOC_MAX_LEN, Document, document_stlv
from emulator.wire.ffd.tlv import FfdError, Field, encode_fields

__all__ = ["ARCHIVE_FILE", "DamagedArchive", "FiscalDrive", "FnError", "Signed", "add_months", "fiscal_sign_of"]
add_months = signs.add_months

FFD_VERSION_12 = 4
DAY_MS = 86_400_000
SHIFT_LIMIT_MS = DAY_MS                 # 24 h
UNSENT_LIMIT_MS = 30 * DAY_MS           # 30 days
LIFETIME_MONTHS = 15
U32_MAX = 0xFFFFFFFF

DRIVE_TAGS = frozenset({1040, 1012, 1041, 1077, 1209, 1038, 1042})
SHIFT_TYPES = frozenset({2, 3, 31, 5})
RECEIPT_TYPES = frozenset({3, 31})
SIGN_TLV_LEN = 4 + 6                    # the 1077 TLV added after signing


@dataclass(frozen=True)
class Signed:
    """A document as the drive archived it: its 1040, 1012, 1041, 1077 included."""

    document: Document
    fd_number: int
    fiscal_sign: int        # the printed ФП: bytes 2..5 of 1077, big-endian
    when_ms: int


class FiscalDrive:
    """The modelled ФН over its archive file (``path``; ``None`` keeps it in memory).

    A new file is created (private, 0600) with ``fn_number`` and ``secret`` (random when ``None``);
    an existing one is reopened: it must belong to ``fn_number`` (and ``secret``, when given).
    A damaged or foreign file is renamed to ``<name>.bad`` and ``DamagedArchive`` (code 03, with
    ``kept_as``) says so; a new drive can then be made on the same path. ``readonly`` opens an
    existing file for the tools: no write, nothing renamed, ``fn_number`` may be ``None``.
    """

    def __init__(self, path: Path | None, fn_number: str | None, secret: bytes | None = None, *,
                 tz_offset_min: int = 180, expires_ms: int | None = None,
                 lifetime_months: int = LIFETIME_MONTHS, readonly: bool = False) -> None:
        self.lock = threading.RLock()
        self.lifetime_months = int(lifetime_months)
        try:
            self._archive = Archive(path, readonly=readonly)
        except DamagedArchive as exc:
            if readonly or path is None or not Path(path).exists():
                raise
            bad = set_aside(Path(path))
            raise DamagedArchive(f"{exc.text}; kept as {bad.name}", kept_as=bad.name) from None
        arch = self._archive
        if arch.meta is None:
            if fn_number is None or not (len(fn_number) == 16 and fn_number.isdigit() and fn_number.isascii()):
                arch.close()
                raise FnError(BAD_PARAMETERS, f"ФН number must be 16 digits, not {fn_number!r}")
            if not -720 <= tz_offset_min <= 840:
                arch.close()
                raise FnError(BAD_PARAMETERS, f"time zone offset {tz_offset_min} min out of range")
            if secret is not None and len(secret) < 16:
                arch.close()
                raise FnError(BAD_PARAMETERS, "the drive's secret must be at least 16 bytes")
            arch.create(Meta(fn_number, secret if secret is not None else os.urandom(32), int(tz_offset_min),
                             expires_ms))
        else:
            meta = arch.meta
            if fn_number is not None and fn_number != meta.fn_number:
                arch.close()
                raise FnError(BAD_PARAMETERS, f"the archive belongs to ФН {meta.fn_number}, not {fn_number}")
            if secret is not None and not hmac.compare_digest(secret, meta.secret):
                arch.close()
                raise FnError(BAD_PARAMETERS, "the secret given is not this drive's")
        self._signed: list[Signed] = []
        self._data: list[bytes] = []
        try:
            for row in arch.rows:
                self._take(row)
        except DamagedArchive as exc:
            arch.close()
            if readonly or path is None:
                raise
            bad = set_aside(Path(path))
            raise DamagedArchive(f"{exc.text}; kept as {bad.name}", kept_as=bad.name) from None

    # ------------------------------------------------------------ loading
    def _take(self, row: Row) -> None:
        """One archived row checked (decodes, numbers agree, the sign is this drive's) and taken."""
        name = self._archive.path.name if self._archive.path else ":memory:"
        try:
            doc = Document.decode(row.data)
        except FfdError as exc:
            raise DamagedArchive(f"archive {name}: document {row.fd} does not decode ({exc})") from None
        fpd = doc.get(1077)
        if doc.doc_type != row.doc_type or doc.get(1040) != row.fd or not isinstance(fpd, bytes) or len(fpd) != 6:
            raise DamagedArchive(f"archive {name}: document {row.fd} does not match its row")
        if not hmac.compare_digest(fpd, fpd_of(self.secret, unsigned_bytes(doc))) \
                or fiscal_sign_of(fpd) != row.fiscal_sign:
            raise DamagedArchive(f"archive {name}: document {row.fd} fails its fiscal sign check")
        self._signed.append(Signed(doc, row.fd, row.fiscal_sign, row.when_ms))
        self._data.append(row.data)

    # ------------------------------------------------------------ what it holds
    @property
    def fn_number(self) -> str:
        assert self._archive.meta is not None
        return self._archive.meta.fn_number

    @property
    def secret(self) -> bytes:
        """The drive's signing key: for this process only, never shown (see ``secret_hint``)."""
        assert self._archive.meta is not None
        return self._archive.meta.secret

    @property
    def secret_hint(self) -> str:
        """A short fingerprint of the secret, safe to show."""
        return hashlib.sha256(self.secret).hexdigest()[:8]

    @property
    def tz_offset_min(self) -> int:
        assert self._archive.meta is not None
        return self._archive.meta.tz_offset_min

    @property
    def expires_ms(self) -> int | None:
        assert self._archive.meta is not None
        return self._archive.meta.expires_ms

    @property
    def path(self) -> Path | None:
        return self._archive.path

    def _last(self) -> Row | None:
        rows = self._archive.rows
        return rows[-1] if rows else None

    @property
    def state(self) -> str:
        last = self._last()
        if last is None:
            return "setting"
        if last.state == "closed" and self._archive.oldest_pending() is None:
            return "archive"
        return last.state

    @property
    def last_fd(self) -> int:
        return len(self._archive.rows)

    @property
    def shift_open(self) -> bool:
        last = self._last()
        return bool(last and last.shift_open)

    @property
    def shift_number(self) -> int:
        last = self._last()
        return last.shift_number if last else 0

    @property
    def receipts_in_shift(self) -> int:
        last = self._last()
        return last.receipts_in_shift if last else 0

    @property
    def shift_open_ms(self) -> int | None:
        last = self._last()
        return last.shift_open_ms if last else None

    def documents(self) -> list[Signed]:
        with self.lock:
            return list(self._signed)

    def document(self, fd_number: int) -> Signed:
        with self.lock:
            if not 1 <= fd_number <= len(self._signed):
                raise FnError(BAD_PARAMETERS, f"no document {fd_number} (the drive holds 1..{len(self._signed)})")
            return self._signed[fd_number - 1]

    def document_bytes(self, fd_number: int) -> bytes:
        """The archived document STLV, byte for byte (what goes to the OFD)."""
        self.document(fd_number)
        return self._data[fd_number - 1]

    def pending(self) -> list[Signed]:
        """Documents not yet acknowledged by the OFD, oldest first."""
        with self.lock:
            return [self._signed[r.fd - 1] for r in self._archive.rows if not r.delivered]

    def delivered(self, fd_number: int) -> bool:
        self.document(fd_number)
        return self._archive.rows[fd_number - 1].delivered

    def acknowledgement(self, fd_number: int) -> bytes | None:
        self.document(fd_number)
        return self._archive.rows[fd_number - 1].ack

    def integrity_check(self) -> str:
        return self._archive.integrity_check()

    def close_archive(self) -> None:
        """Close the SQLite file (the drive object is not used after this)."""
        self._archive.close()

    # ------------------------------------------------------------ documents
    def register(self, now_ms: int, fields: tuple[Field, ...]) -> Signed:
        """The registration report (type 1): setting → fiscal; sets the expiry when not given."""
        return self._make(1, now_ms, fields)

    def open_shift(self, now_ms: int, fields: tuple[Field, ...]) -> Signed:
        return self._make(2, now_ms, fields)

    def close_shift(self, now_ms: int, fields: tuple[Field, ...]) -> Signed:
        return self._make(5, now_ms, fields)

    def receipt(self, now_ms: int, fields: tuple[Field, ...], *, doc_type: int = 3) -> Signed:
        """A receipt (3) or correction receipt (31) in the open shift."""
        if doc_type not in RECEIPT_TYPES:
            raise FnError(BAD_PARAMETERS, f"a receipt is type 3 or 31, not {doc_type!r}")
        return self._make(doc_type, now_ms, fields)

    def status_report(self, now_ms: int, fields: tuple[Field, ...]) -> Signed:
        """The report on the current state of settlements (type 21)."""
        return self._make(21, now_ms, fields)

    def close(self, now_ms: int, fields: tuple[Field, ...]) -> Signed:
        """The report on closing the fiscal drive (type 6): fiscal → closed (the shift must be closed)."""
        return self._make(6, now_ms, fields)

    def acknowledge(self, fd_number: int, ack: bytes, now_ms: int) -> None:
        """The OFD acknowledged document ``fd_number``: it leaves the queue (a repeat changes nothing)."""
        with self.lock:
            if self._archive.readonly:
                raise FnError(WRONG_STATE, "the archive is open for reading only")
            if not _is_int(fd_number) or not 1 <= fd_number <= self.last_fd:
                raise FnError(BAD_PARAMETERS, f"no document {fd_number!r} to acknowledge")
            if not isinstance(ack, bytes | bytearray) or len(ack) > MAX_ACK_BYTES:
                raise FnError(BAD_PARAMETERS, f"an acknowledgement is bytes, at most {MAX_ACK_BYTES}")
            self._archive.acknowledge(fd_number, bytes(ack), int(now_ms))

    # ------------------------------------------------------------ the rules
    def _state_allows(self, doc_type: int) -> str | None:
        """None when the state allows ``doc_type``, else why not."""
        state = self.state
        if self._archive.readonly:
            return "the archive is open for reading only"
        if doc_type == 1:
            return None if state == "setting" else f"already registered (state {state})"
        if state != "fiscal":
            return f"state {state}: no documents but registration" if state == "setting" \
                else f"state {state}: the drive takes no more documents"
        if doc_type == 2 and self.shift_open:
            return "the shift is already open"
        if doc_type in (3, 31, 5) and not self.shift_open:
            return "no shift is open"
        if doc_type == 6 and self.shift_open:
            return "close the shift before closing the drive"
        return None

    def _check(self, doc_type: int, now_ms: int) -> None:
        why = self._state_allows(doc_type)
        if why is not None:
            raise FnError(WRONG_STATE, why)
        if not _is_int(now_ms) or not 0 <= now_ms // 1000 + self.tz_offset_min * 60 <= U32_MAX:
            raise FnError(WRONG_TIME, f"time {now_ms!r} ms out of range")
        last = self._last()
        if last is not None and now_ms < last.when_ms:
            raise FnError(WRONG_TIME, f"time goes back: {now_ms} ms before document {last.fd} ({last.when_ms} ms)")
        winding_down = doc_type in (5, 6)
        if not winding_down and self.expires_ms is not None and now_ms >= self.expires_ms:
            raise FnError(EXPIRED, f"the drive expired at {local_datetime(self.expires_ms, self.tz_offset_min)}")
        if not winding_down:
            oldest = self._archive.oldest_pending()
            if oldest is not None and now_ms - oldest.when_ms >= UNSENT_LIMIT_MS:
                raise FnError(UNSENT_TOO_OLD, f"document {oldest.fd} unacknowledged by the OFD for 30 days")
        if doc_type in RECEIPT_TYPES:
            opened = self.shift_open_ms
            if opened is not None and now_ms - opened >= SHIFT_LIMIT_MS:
                raise FnError(SHIFT_OVER_24H, f"shift {self.shift_number} open for 24 h: close it")

    def _make(self, doc_type: int, now_ms: int, fields: Iterable[Field]) -> Signed:
        with self.lock:
            self._check(doc_type, now_ms)
            caller = _fields(fields)
            fd = self.last_fd + 1
            shift_open, shift_number, receipts = self.shift_open, self.shift_number, self.receipts_in_shift
            shift_open_ms = self.shift_open_ms
            if doc_type == 2:
                shift_open, shift_number, receipts, shift_open_ms = True, shift_number + 1, 0, now_ms
            elif doc_type in RECEIPT_TYPES:
                receipts += 1
            elif doc_type == 5:
                shift_open, shift_open_ms = False, None
            own: list[Field] = [(1040, fd), (1012, local_datetime(now_ms, self.tz_offset_min))]
            own_tail: list[Field] = [(1041, self.fn_number), (1209, FFD_VERSION_12)]
            if doc_type in SHIFT_TYPES:
                own_tail.append((1038, shift_number))
            if doc_type in RECEIPT_TYPES:
                own_tail.append((1042, receipts))
            try:    # each part encoded once; a document is the concatenation of its fields' TLVs
                own_b, tail_b, caller_b = encode_fields(own), encode_fields(own_tail), encode_fields(caller)
            except (FfdError, ValueError, TypeError) as exc:    # FfdError is the codec's; the rest, belt and braces
                raise FnError(BAD_PARAMETERS, f"fields do not encode: {exc}") from None
            size, limit = len(own_b) + len(tail_b) + len(caller_b) + SIGN_TLV_LEN, DOC_MAX_LEN[doc_type]
            if size > limit:
                raise FnError(TLV_TOO_LARGE, f"document type {doc_type} of {size} bytes, at most {limit}")
            fpd = fpd_of(self.secret, document_stlv(doc_type, own_b + tail_b + caller_b))
            data = document_stlv(doc_type, own_b + encode_fields(((1077, fpd),)) + tail_b + caller_b)
            state = {1: "fiscal", 6: "closed"}.get(doc_type, "fiscal")
            expiry = None
            if doc_type == 1 and self.expires_ms is None:
                expiry = signs.add_months(now_ms, self.lifetime_months, self.tz_offset_min)
            sign = fiscal_sign_of(fpd)
            self._archive.append(Row(fd, doc_type, now_ms, sign, data, state, shift_number, receipts,
                                     shift_open, shift_open_ms), expires_ms=expiry)
            # the document as it reads back from the archive (strings unpadded), as after a reopen
            signed = Signed(Document.decode(data), fd, sign, now_ms)
            self._signed.append(signed)
            self._data.append(data)
            return signed


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _fields(fields: Iterable[Field]) -> tuple[Field, ...]:
    try:
        items = tuple(fields)
    except TypeError:
        raise FnError(BAD_PARAMETERS, "fields must be (tag, value) pairs") from None
    for f in items:
        if not (isinstance(f, tuple) and len(f) == 2 and _is_int(f[0])):
            raise FnError(BAD_PARAMETERS, f"not a (tag, value) pair: {f!r:.60}")
        if f[0] in DRIVE_TAGS:
            raise FnError(BAD_PARAMETERS, f"tag {f[0]} is filled by the drive")
    return items


def archive_path(state_dir: Path) -> Path:
    """Where a device's drive keeps its archive in the state directory."""
    return Path(state_dir) / ARCHIVE_FILE
