"""Frames of the KKT ↔ technological-server exchange (MODELLED).

The vendor does not publish how a Mercury KKT talks to its technological
server (rd.incotexkkm.ru). This is the emulator's own binary protocol, one
frame per message, over a TCP stream (optionally TLS)::

    +-------+---------+------+---------+----------+--------------+---------+
    | magic | version | type | seq     | length   | payload      | crc32   |
    | "KT"  | u8 = 1  | u8   | u32 BE  | u16 BE   | length bytes | u32 BE  |
    +-------+---------+------+---------+----------+--------------+---------+
    crc32 = zlib.crc32 over every byte before it (magic .. payload)
    header 10 bytes + payload 0..65535 bytes + crc 4 bytes

Strings are UTF-8 with a u16 big-endian byte count (``PascalString(Int16ub)``).

    type  name             direction       payload
    ----  ---------------  --------------  -------------------------------------------------
      1   HELLO            KKT -> server   serial, model, inn, firmware, device_key: str;
                                           device_time_ms u64; pending_records u32
      2   HELLO_ACK        server -> KKT   session_id u32; server_time_ms u64; settings_waiting u8 (0/1);
                                           log_next_seq u32 (one past the highest record seq held)
      3   LOG_RECORDS      KKT -> server   records: u16 count x {seq u32, time_ms u64, code u16, text str}
      4   LOG_ACK          server -> KKT   stored: u16 count x u32 seq; duplicates u16
      5   GET_SETTINGS     KKT -> server   (empty)
      6   SETTINGS         server -> KKT   task_id u32 (0 = nothing to apply);
                                           items: u16 count x {kind u8, value}
      7   SETTINGS_RESULT  KKT -> server   task_id u32; applied u8 (0/1); code u16 (0 or a device error code)
      8   BYE              either          (empty)
      9   ERROR            server -> KKT   code u16; text str

    SETTINGS item kinds: cert=1 (value: u16 byte count + DER bytes), token=2, gismt_host=3,
    option=4 (value "92=1"), poll_period=5 (minutes, decimal), sale_ban=6 («ВКЛЮЧЕН» /
    «ПРЕДУПРЕЖДЕНИЕ»); every value but cert is a str.

A reply carries the ``seq`` of the request it answers. ``LOG_ACK.stored`` lists
every seq of the request that the server now holds with the text sent (stored
by this request or already before, or kept as a conflict), so the KKT may mark
exactly those; the KKT ignores a seq it did not send in that request.
``device_key`` is the device's secret (32-128 characters ``A-Z a-z 0-9 _ -``):
the server registers it with the serial at the first HELLO and refuses a HELLO
with another one (``ERR_IDENTITY``).

``FrameReader`` cuts a byte stream into frames: it buffers partial frames,
skips garbage up to the next magic, drops a frame whose CRC or length is wrong
(and resynchronises), and reports every drop instead of raising.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from construct import (
    Bytes,
    Checksum,
    ChecksumError,
    Const,
    ConstructError,
    Container,
    Enum,
    Error,
    Flag,
    GreedyBytes,
    Int8ub,
    Int16ub,
    Int32ub,
    Int64ub,
    ListContainer,
    PascalString,
    Prefixed,
    PrefixedArray,
    RawCopy,
    Struct,
    Switch,
    Terminated,
    this,
)

MAGIC = b"KT"
VERSION = 1
HEADER_SIZE = 10
CRC_SIZE = 4
MAX_PAYLOAD = 0xFFFF
MAX_FRAME = HEADER_SIZE + MAX_PAYLOAD + CRC_SIZE

MSG_TYPES = {
    "HELLO": 1, "HELLO_ACK": 2, "LOG_RECORDS": 3, "LOG_ACK": 4, "GET_SETTINGS": 5,
    "SETTINGS": 6, "SETTINGS_RESULT": 7, "BYE": 8, "ERROR": 9,
}
ITEM_KINDS = {"cert": 1, "token": 2, "gismt_host": 3, "option": 4, "poll_period": 5, "sale_ban": 6}

# Codes of the server's ERROR frame (MODELLED).
ERR_BAD_FRAME = 1       # CRC, length, version or type wrong
ERR_UNEXPECTED = 2      # a message out of order (anything before HELLO, a server-only message)
ERR_UNKNOWN_TASK = 3    # SETTINGS_RESULT for a task the server does not know for this device
ERR_INTERNAL = 4
ERR_IDLE = 5            # the session was silent for too long, or a frame did not arrive whole in time
ERR_IDENTITY = 6        # HELLO with a device key that is not the one the serial registered with
ERR_BAD_RECORD = 7      # LOG_RECORDS with a record out of range: nothing of the batch is stored
ERR_TOO_MANY = 8        # more frames in one session than the server takes

# ------------------------------------------------------------------ schema
Str = PascalString(Int16ub, "utf8")
MsgType = Enum(Int8ub, **MSG_TYPES)
ItemKind = Enum(Int8ub, **ITEM_KINDS)

LogRecordWire = Struct("seq" / Int32ub, "time_ms" / Int64ub, "code" / Int16ub, "text" / Str)

SettingItem = Struct(
    "kind" / ItemKind,
    "value" / Switch(this.kind, {"cert": Prefixed(Int16ub, GreedyBytes)}, default=Str),
)

Empty = Struct(Terminated)

PAYLOADS = {
    "HELLO": Struct("serial" / Str, "model" / Str, "inn" / Str, "firmware" / Str, "device_key" / Str,
                    "device_time_ms" / Int64ub, "pending_records" / Int32ub, Terminated),
    "HELLO_ACK": Struct("session_id" / Int32ub, "server_time_ms" / Int64ub, "settings_waiting" / Flag,
                        "log_next_seq" / Int32ub, Terminated),
    "LOG_RECORDS": Struct("records" / PrefixedArray(Int16ub, LogRecordWire), Terminated),
    "LOG_ACK": Struct("stored" / PrefixedArray(Int16ub, Int32ub), "duplicates" / Int16ub, Terminated),
    "GET_SETTINGS": Empty,
    "SETTINGS": Struct("task_id" / Int32ub, "items" / PrefixedArray(Int16ub, SettingItem), Terminated),
    "SETTINGS_RESULT": Struct("task_id" / Int32ub, "applied" / Flag, "code" / Int16ub, Terminated),
    "BYE": Empty,
    "ERROR": Struct("code" / Int16ub, "text" / Str, Terminated),
}

Body = Struct(
    "magic" / Const(MAGIC),
    "version" / Const(VERSION, Int8ub),
    "type" / MsgType,
    "seq" / Int32ub,
    "payload" / Prefixed(Int16ub, Switch(this.type, PAYLOADS, default=Error)),
)

FrameStruct = Struct(
    "body" / RawCopy(Body),
    "crc32" / Checksum(Int32ub, zlib.crc32, this.body.data),
)

# The fixed part only, to learn a frame's length before all of it has arrived.
Header = Struct("magic" / Bytes(2), "version" / Int8ub, "type" / Int8ub, "seq" / Int32ub, "length" / Int16ub)


# ------------------------------------------------------------------ Python side
def _plain(value: Any) -> Any:
    """A parsed construct value as plain Python (dict, list, str, int, bool, bytes)."""
    if isinstance(value, Container):
        return {k: _plain(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, ListContainer | list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)  # EnumIntegerString -> str
    return value


@dataclass(frozen=True)
class Frame:
    """One message. ``payload`` holds plain values, as in the table above."""

    type: str
    seq: int = 0
    payload: dict[str, Any] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        return build_frame(self)


def build_frame(frame: Frame) -> bytes:
    if frame.type not in MSG_TYPES:
        raise ValueError(f"unknown message type {frame.type!r}")
    try:
        return FrameStruct.build({"body": {"value": {"type": frame.type, "seq": frame.seq,
                                                     "payload": frame.payload}}})
    except ConstructError as exc:
        raise ValueError(f"cannot build {frame.type}: {exc}") from None


def parse_frame(data: bytes) -> Frame:
    """Parse exactly one whole frame; raises ``ConstructError`` on any fault."""
    c = FrameStruct.parse(data)
    body = c.body.value
    payload = _plain(body.payload)
    return Frame(str(body.type), int(body.seq), payload)


def record_batches(records: Iterable[dict[str, Any]], max_payload: int = MAX_PAYLOAD) -> list[list[dict[str, Any]]]:
    """Split log records (dicts with seq, time_ms, code, text) into LOG_RECORDS payloads that fit a frame."""
    batches: list[list[dict[str, Any]]] = []
    cur: list[dict[str, Any]] = []
    size = 2
    for r in records:
        n = 4 + 8 + 2 + 2 + len(r["text"].encode("utf-8"))
        if 2 + n > max_payload:
            raise ValueError(f"log record {r['seq']} does not fit in one frame")
        if cur and (size + n > max_payload or len(cur) == 0xFFFF):
            batches.append(cur)
            cur, size = [], 2
        cur.append(r)
        size += n
    if cur:
        batches.append(cur)
    return batches


# ------------------------------------------------------------------ stream reader
@dataclass(frozen=True)
class FrameError:
    kind: str      # garbage | crc | length | version | type | overflow
    detail: str
    nbytes: int    # bytes dropped
    seq: int | None = None


class FrameReader:
    """Incremental frame parser for a byte stream. Never raises on bad input.

    Drops are counted in ``stats`` and queued in ``errors`` (``take_errors()``
    empties it). Resynchronisation: after a frame that fails its CRC, only the
    two magic bytes are dropped and the stream is scanned again for ``"KT"``,
    so a corrupt length field cannot swallow the good frames after it. A frame
    whose CRC is good but whose payload does not fit its declared length (or
    whose type is unknown) is dropped whole. The buffer never holds more than
    ``max_buffer`` bytes: a frame that declares more is dropped as a length
    error (and its bytes then skipped as garbage); as at most one incomplete
    frame is ever pending, the overflow guard is a last line of defence.
    """

    def __init__(self, max_buffer: int = 1 << 20) -> None:
        self.max_buffer = max_buffer
        self._buf = bytearray()
        self._events: list[Frame | FrameError] = []
        self.errors: list[FrameError] = []
        self.stats = {"frames": 0, "garbage": 0, "crc": 0, "length": 0, "version": 0, "type": 0, "overflow": 0}

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def take_errors(self) -> list[FrameError]:
        out, self.errors = self.errors, []
        return out

    def _report(self, kind: str, detail: str, nbytes: int, seq: int | None = None) -> None:
        last = self._events[-1] if self._events else None
        if kind == "garbage" and isinstance(last, FrameError) and last.kind == "garbage":
            merged = FrameError(kind, last.detail, last.nbytes + nbytes)  # one report for a run of garbage
            self._events[-1] = merged
            self.errors[-1] = merged
            return
        err = FrameError(kind, detail, nbytes, seq)
        self.stats[kind] += 1
        self.errors.append(err)
        self._events.append(err)

    def feed(self, data: bytes) -> list[Frame]:
        """Whole frames completed by ``data``; drops go to ``errors``/``stats``."""
        return [e for e in self.feed_events(data) if isinstance(e, Frame)]

    def feed_events(self, data: bytes) -> list[Frame | FrameError]:
        """Like ``feed`` but frames and drops interleaved in stream order."""
        self._events = []
        step = max(1, self.max_buffer)
        for i in range(0, len(data), step):
            self._buf += data[i:i + step]
            self._drain()
            if len(self._buf) > self.max_buffer:
                self._report("overflow", f"buffer over {self.max_buffer} bytes dropped", len(self._buf))
                self._buf.clear()
        return self._events

    def _drop(self, n: int) -> None:
        del self._buf[:n]

    def _drain(self) -> None:
        out = self._events
        buf = self._buf
        while True:
            at = buf.find(MAGIC)
            if at < 0:
                keep = 1 if buf[-1:] == MAGIC[:1] else 0
                if len(buf) - keep:
                    self._report("garbage", "bytes without a frame start", len(buf) - keep)
                    self._drop(len(buf) - keep)
                return
            if at:
                self._report("garbage", "bytes before a frame start", at)
                self._drop(at)
            if len(buf) < HEADER_SIZE:
                return
            head = Header.parse(bytes(buf[:HEADER_SIZE]))
            if head.version != VERSION:
                self._report("version", f"version {head.version}", len(MAGIC), head.seq)
                self._drop(len(MAGIC))
                continue
            total = HEADER_SIZE + head.length + CRC_SIZE
            if total > self.max_buffer:
                self._report("length", f"declared length {head.length} over the buffer cap", len(MAGIC), head.seq)
                self._drop(len(MAGIC))
                continue
            if len(buf) < total:
                return
            raw = bytes(buf[:total])
            try:
                frame = parse_frame(raw)
            except ChecksumError:
                self._report("crc", "CRC mismatch", len(MAGIC), head.seq)
                self._drop(len(MAGIC))
                continue
            except ConstructError as exc:
                if zlib.crc32(raw[:-CRC_SIZE]) != int.from_bytes(raw[-CRC_SIZE:], "big"):
                    self._report("crc", "CRC mismatch", len(MAGIC), head.seq)
                    self._drop(len(MAGIC))
                elif head.type not in MSG_TYPES.values():
                    self._report("type", f"unknown message type {head.type}", total, head.seq)
                    self._drop(total)
                else:
                    self._report("length", f"payload does not fit its length {head.length}: "
                                 f"{type(exc).__name__}", total, head.seq)
                    self._drop(total)
                continue
            self._drop(total)
            self.stats["frames"] += 1
            out.append(frame)
