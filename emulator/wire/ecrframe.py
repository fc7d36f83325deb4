"""Frames of the driver ↔ KKT serial link (MODELLED).

The vendor's binary protocol between its driver service and a Mercury KKT is
not public. This is the emulator's own framing, one frame per message, over a
serial byte stream (a pseudo-terminal)::

    +-------+---------+------+---------+--------+---------+--------------+---------+
    | magic | version | kind | link    | seq    | length  | payload      | crc16   |
    | "EC"  | u8 = 1  | u8   | u32 BE  | u16 BE | u16 BE  | length bytes | u16 BE  |
    +-------+---------+------+---------+--------+---------+--------------+---------+
    crc16 = CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) over every byte before it
    header 12 bytes + payload 0..MAX_PAYLOAD bytes + crc 2 bytes

    kind  name     direction        payload (UTF-8 JSON)
    ----  -------  ---------------  ------------------------------------------------
      1   REQUEST  driver -> KKT    {"command": str, "args": {...}}
      2   ANSWER   KKT -> driver    the command's answer object ({"result": 0, ...})
      3   NAK      KKT -> driver    (empty) a frame was dropped (CRC, length): resend
      4   ERROR    KKT -> driver    {"code": str, "text": str}: the request was not run

``link`` is a number the driver picks at random when it opens the port and
``seq`` counts its requests; an answer carries both of its request. The KKT
keeps the last answer of each link: a request that repeats the link, seq and
payload of the one just answered (the driver's resend after a lost answer)
gets that answer again without running the command twice.

The layout is defined with ``construct`` (``FrameStruct``: ``Body`` with its ``Checksum``); the hot
path (``build_frame``, ``parse_frame``, the reader) handles the same bytes with one ``struct`` format,
and the tests and the fuzz target check both give and take the same frames.

``FrameReader`` cuts a byte stream into frames: it buffers a partial frame,
skips garbage up to the next magic, and drops a frame whose CRC, version,
kind or length is wrong by skipping only its magic and scanning on, so a
corrupt length field cannot swallow the good frames behind it. It never
raises and never buffers more than one largest frame.
"""

from __future__ import annotations

import _json
import json
import struct
from binascii import crc_hqx
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from construct import (
    Bytes,
    Checksum,
    ChecksumError,
    Const,
    ConstructError,
    Enum,
    GreedyBytes,
    Int8ub,
    Int16ub,
    Int32ub,
    Prefixed,
    RawCopy,
    Struct,
)

MAGIC = b"EC"
VERSION = 1
HEADER_SIZE = 12
CRC_SIZE = 2
MAX_PAYLOAD = 16384
MAX_FRAME = HEADER_SIZE + MAX_PAYLOAD + CRC_SIZE
KINDS = {"REQUEST": 1, "ANSWER": 2, "NAK": 3, "ERROR": 4}


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (the check value of b"123456789" is 0x29B1): ``crc_hqx(data, 0xFFFF)``, which the hot
    path calls directly."""
    return crc_hqx(data, 0xFFFF)


Body = Struct(
    "magic" / Const(MAGIC),
    "version" / Const(VERSION, Int8ub),
    "kind" / Enum(Int8ub, **KINDS),
    "link" / Int32ub,
    "seq" / Int16ub,
    "payload" / Prefixed(Int16ub, GreedyBytes),
)
FrameStruct = Struct(
    "body" / RawCopy(Body),
    "crc16" / Checksum(Int16ub, crc16, lambda ctx: ctx.body.data),
)
# The fixed part alone, as construct defines it: the reader learns a frame's length from it before the
# rest has arrived.
Header = Struct("magic" / Bytes(2), "version" / Int8ub, "kind" / Int8ub, "link" / Int32ub, "seq" / Int16ub,
                "length" / Int16ub)
# The hot path packs and unpacks the same 12 bytes with ``struct`` (a construct parse costs some 30 us a
# frame, a fifth of a pty round trip); tests and the fuzz target check that every frame built or
# parsed here is the one ``FrameStruct`` builds or parses.
_HEAD = struct.Struct(">2sBBIHH")
assert _HEAD.size == Header.sizeof() == HEADER_SIZE
_KIND_NAMES = {v: k for k, v in KINDS.items()}


class FrameFormatError(ValueError):
    """A frame that cannot be built (too large, unknown kind) or a payload that is not a JSON object."""


class Frame(NamedTuple):
    """One frame (immutable; a named tuple: the reader makes one per frame, at a third of a dataclass's cost)."""

    kind: str
    link: int
    seq: int
    payload: bytes = b""

    def to_bytes(self) -> bytes:
        return build_frame(self)

    def json(self) -> dict[str, Any]:
        """The payload as a JSON object; ``FrameFormatError`` if it is not one."""
        try:
            text = self.payload.decode("utf-8")
        except UnicodeDecodeError:
            raise FrameFormatError("the payload is not UTF-8 JSON") from None
        if text[:1] == "{":   # the usual, compact object: one scan (``decode`` also skips whitespace around it)
            try:
                value, end = _SCAN(text, 0)
                if end == len(text):
                    return value   # type: ignore[no-any-return]   # text[0] == "{": a dict
            except (StopIteration, ValueError, RecursionError):
                pass   # the full decode below gives the verdict
        try:
            value = _PARSE.decode(text)
        except (ValueError, RecursionError):
            raise FrameFormatError("the payload is not UTF-8 JSON") from None
        if not isinstance(value, dict):
            raise FrameFormatError("the payload is not a JSON object")
        return value


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))   # one encoder: json.dumps with options makes one a call
_PARSE = json.JSONDecoder()
_SCAN: Callable[[str, int], tuple[Any, int]] = _PARSE.scan_once   # type: ignore[attr-defined]   # raw_decode's own scanner
# ``JSONEncoder.encode`` builds its C encoder anew on every call (a fresh dict for cycle detection); the
# frames' answers are the emulator's own trees, so one encoder without cycle detection is made once (a
# cycle would still fail: RecursionError, as any too-deep value does). Same options, same bytes.
_ENCODE = _json.make_encoder(None, _JSON.default, _json.encode_basestring, None, ":", ",", False, False, True)


def encode_json(value: dict[str, Any]) -> bytes:
    return "".join(_ENCODE(value, 0)).encode("utf-8")


def build_frame(frame: Frame) -> bytes:
    return frame_bytes(frame.kind, frame.link, frame.seq, frame.payload)


def frame_bytes(kind: str, link: int, seq: int, payload: bytes = b"") -> bytes:
    """The bytes of ``Frame(kind, link, seq, payload)`` (without making the object: the hot path)."""
    code = KINDS.get(kind)
    if code is None:
        raise FrameFormatError(f"unknown frame kind {kind!r}")
    if len(payload) > MAX_PAYLOAD:
        raise FrameFormatError(f"payload of {len(payload)} bytes over the {MAX_PAYLOAD}-byte limit")
    if not (0 <= link <= 0xFFFFFFFF and 0 <= seq <= 0xFFFF):
        raise FrameFormatError(f"link {link} or seq {seq} out of range")
    body = _HEAD.pack(MAGIC, VERSION, code, link, seq, len(payload)) + payload
    return body + crc_hqx(body, 0xFFFF).to_bytes(CRC_SIZE, "big")


def request(link: int, seq: int, command: str, args: dict[str, Any]) -> Frame:
    return Frame("REQUEST", link, seq, encode_json({"command": command, "args": args}))


def request_bytes(link: int, seq: int, command: str, args: dict[str, Any]) -> bytes:
    """``request(...).to_bytes()`` without the object."""
    return frame_bytes("REQUEST", link, seq, encode_json({"command": command, "args": args}))


def parse_frame(data: bytes) -> Frame:
    """Parse exactly one whole frame; raises ``ConstructError`` on any fault (as ``FrameStruct.parse``)."""
    if len(data) < HEADER_SIZE + CRC_SIZE:
        raise ConstructError(f"{len(data)} bytes are shorter than a frame")
    magic, version, kind, link, seq, length = _HEAD.unpack_from(data)
    if magic != MAGIC or version != VERSION or kind not in _KIND_NAMES:
        raise ConstructError("wrong magic, version or kind")
    if len(data) != HEADER_SIZE + length + CRC_SIZE:
        raise ConstructError(f"{len(data)} bytes do not match the declared length {length}")
    if crc16(data[:-CRC_SIZE]) != int.from_bytes(data[-CRC_SIZE:], "big"):
        raise ChecksumError("CRC mismatch")
    return Frame(_KIND_NAMES[kind], link, seq, bytes(data[HEADER_SIZE:-CRC_SIZE]))


@dataclass(frozen=True)
class FrameDrop:
    kind: str      # garbage | crc | version | kind | length | stalled
    nbytes: int    # bytes dropped
    seq: int | None = None


class FrameReader:
    """Incremental frame parser for a byte stream; never raises on bad input.

    ``feed`` returns frames and drops in stream order; ``stats`` counts them.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.stats = {"frames": 0, "garbage": 0, "crc": 0, "version": 0, "kind": 0, "length": 0, "stalled": 0}

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[Frame | FrameDrop]:
        buf = self._buf
        if not buf and data[:2] == MAGIC and len(data) >= HEADER_SIZE + CRC_SIZE:
            # The usual case, one whole good frame in one read: taken without the buffer (anything else,
            # a bad CRC included, goes the general way below, which gives the same verdict on these bytes).
            _, version, kind, link, seq, length = _HEAD.unpack_from(data)
            end = HEADER_SIZE + length
            if (version == VERSION and kind in _KIND_NAMES and length <= MAX_PAYLOAD and len(data) == end + CRC_SIZE
                    and crc_hqx(data[:end], 0xFFFF) == int.from_bytes(data[end:], "big")):
                self.stats["frames"] += 1
                return [Frame(_KIND_NAMES[kind], link, seq, bytes(data[HEADER_SIZE:end]))]
        out: list[Frame | FrameDrop] = []
        buf += data
        while buf:
            at = buf.find(MAGIC)
            if at < 0:
                keep = 1 if buf[-1:] == MAGIC[:1] else 0
                if len(buf) > keep:
                    self._drop(out, "garbage", len(buf) - keep)
                return out
            if at:
                self._drop(out, "garbage", at)
            if len(buf) < HEADER_SIZE:
                return out
            _, version, kind, link, seq, length = _HEAD.unpack_from(buf)
            why = ("version" if version != VERSION else "kind" if kind not in _KIND_NAMES
                   else "length" if length > MAX_PAYLOAD else None)
            if why:
                self._drop(out, why, len(MAGIC), seq)
                continue
            total = HEADER_SIZE + length + CRC_SIZE
            if len(buf) < total:
                return out
            end = total - CRC_SIZE
            if crc16(bytes(buf[:end])) != int.from_bytes(buf[end:total], "big"):
                self._drop(out, "crc", len(MAGIC), seq)
                continue
            frame = Frame(_KIND_NAMES[kind], link, seq, bytes(buf[HEADER_SIZE:end]))
            del buf[:total]
            self.stats["frames"] += 1
            out.append(frame)
        return out

    def expire(self) -> list[Frame | FrameDrop]:
        """The line went quiet with a partial frame buffered: drop its magic and scan the rest again
        (a damaged length field must not hold the frames behind it until more bytes come)."""
        if not self._buf:
            return []
        out: list[Frame | FrameDrop] = []
        self._drop(out, "stalled", min(len(MAGIC), len(self._buf)))
        return out + self.feed(b"")

    def _drop(self, out: list[Frame | FrameDrop], kind: str, n: int, seq: int | None = None) -> None:
        del self._buf[:n]
        last = out[-1] if out else None
        if kind == "garbage" and isinstance(last, FrameDrop) and last.kind == "garbage":
            out[-1] = FrameDrop(kind, last.nbytes + n)   # one report for a run of garbage
            return
        self.stats[kind] += 1
        out.append(FrameDrop(kind, n, seq))
