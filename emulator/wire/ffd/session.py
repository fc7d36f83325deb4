"""The session header of KKT ↔ OFD / ОИСМ messages, CRC-16/CCITT-FALSE, and a stream framer.

A message is the 30-byte session header («заголовок сообщения сеансового
уровня») followed by its body (a container, ``container.py``)::

    offset size field          encoding
    ------ ---- -------------- -----------------------------------------------
       0    4   signature      bytes in order: OFD 2A 08 41 0A, ОИСМ DD 80 CA A1
       4    2   S version      bytes in order: OFD 81 A2, ОИСМ 82 A2
       6    2   P/A version    bytes in order: 01 20 for FFD 1.2 [3P]; 00 01 in V2
       8   16   ФН number      ASCII digits
      24    2   body length    u16 LE
      26    2   flags          u16 LE: bits 0-1 CRC mode (0 none, 1 header,
                               2 header + body), bit 2 container present,
                               bit 4 response expected [3P]
      28    2   CRC            u16 LE, CRC-16/CCITT-FALSE over bytes 0-27 (and
                               the body in mode 2); 0 in mode 0

The layout and the OFD constants are verified on a real KKT dump (golden
vector V2 of the reference, flags 0x14, CRC 0); the flag bits, the session
CRC and the ОИСМ constants are third-party ([3P]).

``SessionFramer`` cuts a byte stream into messages. It accepts the
signatures it is given (both peers by default), never raises on bad input and
reports every drop as a ``FramingError`` in stream order:

* ``garbage``  bytes that start no message (a run of them is one report);
* ``header``   a signature followed by a header that cannot be one (the ФН
  number is not 16 digits, the CRC mode is 3); the signature's first byte is
  dropped and the stream scanned again, so a damaged header never swallows
  the good messages after it;
* ``length``   a body longer than ``max_body`` (dropped the same way);
* ``crc``      a session CRC that does not match (dropped the same way).

The buffer never holds more than one header plus ``max_body`` bytes (input is
taken in slices of that size), so memory is bounded whatever arrives.
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass

from construct import Bytes, Int16ul, Struct

from emulator.wire.ffd.values import FfdError

OFD_SIGNATURE = bytes.fromhex("2a08410a")
OFD_S_VERSION = bytes.fromhex("81a2")
OISM_SIGNATURE = bytes.fromhex("dd80caa1")
OISM_S_VERSION = bytes.fromhex("82a2")
FFD12_PA_VERSION = bytes.fromhex("0120")
SIGNATURES = (OFD_SIGNATURE, OISM_SIGNATURE)

HEADER_SIZE = 30
# Flags [3P]
CRC_NONE, CRC_HEADER, CRC_HEADER_BODY = 0, 1, 2
FLAG_CONTAINER = 0x04
FLAG_RESPONSE_EXPECTED = 0x10
DEFAULT_FLAGS = FLAG_CONTAINER | FLAG_RESPONSE_EXPECTED        # 0x14, as in the dump
# The largest body taken by default: a container header (32) + the largest
# document of the reference's table (32 768) + a ФПС trailer and slack.
MAX_BODY = 32 + 32768 + 64

SessionHeader = Struct(
    "signature" / Bytes(4),
    "s_version" / Bytes(2),
    "pa_version" / Bytes(2),
    "fn_number" / Bytes(16),
    "body_length" / Int16ul,
    "flags" / Int16ul,
    "crc" / Int16ul,
)
# Building only, with the compiled form: the values are our own (checked in ``encode_message``);
# every header read from a peer goes through the interpreted schema or the struct check below.
BUILD_HEADER = SessionHeader.compile()


# The same layout for the framer's hot path: every false start in a stream costs one header
# check, and construct's interpreter is too slow for that (a stream of them must stay linear).
_HEADER_STRUCT = struct.Struct("<4s2s2s16sHHH")
assert _HEADER_STRUCT.size == SessionHeader.sizeof() == HEADER_SIZE


def crc16_ccitt_false(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final XOR (``123456789`` → 0x29B1)."""
    return binascii.crc_hqx(data, crc)


@dataclass(frozen=True)
class SessionMessage:
    signature: bytes
    s_version: bytes
    pa_version: bytes
    fn_number: str
    flags: int
    body: bytes
    crc: int = 0                 # as received (0 when the flags say no CRC); encode_message computes its own

    @property
    def crc_mode(self) -> int:
        return self.flags & 0x3

    @property
    def peer(self) -> str:
        return {OFD_SIGNATURE: "ofd", OISM_SIGNATURE: "oism"}.get(self.signature, "unknown")


class SessionError(FfdError):
    """A message that cannot be built (bad field) or a whole-message decode that failed."""

    def __init__(self, kind: str, detail: str, offset: int = 0) -> None:
        super().__init__(offset, f"session {kind}: {detail}")
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True)
class FramingError:
    """A drop reported by ``SessionFramer``: what, why, how many bytes, where in the stream."""

    kind: str          # garbage | header | length | crc
    detail: str
    nbytes: int
    offset: int


def _check_fn(fn: str) -> None:
    if len(fn) != 16 or not fn.isascii() or not fn.isdigit():
        raise SessionError("fn_number", f"ФН number must be 16 digits, got {fn!r}", 8)


def _session_crc(header28: bytes, body: bytes, mode: int) -> int:
    if mode == CRC_NONE:
        return 0
    crc = crc16_ccitt_false(header28)
    return crc16_ccitt_false(body, crc) if mode == CRC_HEADER_BODY else crc


def encode_message(m: SessionMessage) -> bytes:
    """The message's bytes: header (CRC computed as the flags say) + body."""
    for name, value, size in (("signature", m.signature, 4), ("s_version", m.s_version, 2),
                              ("pa_version", m.pa_version, 2)):
        if len(value) != size:
            raise SessionError(name, f"{name} must be {size} bytes, got {len(value)}")
    _check_fn(m.fn_number)
    if not 0 <= m.flags <= 0xFFFF or m.crc_mode == 3:
        raise SessionError("flags", f"bad flags 0x{m.flags:x}", 26)
    if len(m.body) > 0xFFFF:
        raise SessionError("length", f"body of {len(m.body)} bytes does not fit u16", 24)
    head = BUILD_HEADER.build({"signature": m.signature, "s_version": m.s_version, "pa_version": m.pa_version,
                                "fn_number": m.fn_number.encode("ascii"), "body_length": len(m.body),
                                "flags": m.flags, "crc": 0})
    crc = _session_crc(head[:28], m.body, m.crc_mode)
    return head[:28] + crc.to_bytes(2, "little") + m.body


def _parse_header(raw: bytes, max_body: int) -> tuple[SessionMessage | None, str, str]:
    """(message without body, "", "") or (None, kind, detail) for a header that is no header."""
    signature, s_version, pa_version, fn, body_length, flags, crc = _HEADER_STRUCT.unpack_from(raw)
    if not (fn.isascii() and fn.isdigit()):
        return None, "header", "ФН number is not 16 ASCII digits"
    if flags & 0x3 == 3:
        return None, "header", f"unknown CRC mode in flags 0x{flags:04x}"
    if body_length > max_body:
        return None, "length", f"body length {body_length} over the limit {max_body}"
    return SessionMessage(signature, s_version, pa_version, fn.decode("ascii"), flags, b"", crc), "", ""


def decode_message(data: bytes, max_body: int = 0xFFFF) -> SessionMessage:
    """Exactly one whole message (any signature); ``SessionError`` naming the offset otherwise."""
    if len(data) < HEADER_SIZE:
        raise SessionError("truncated", f"{len(data)} bytes, a session header is {HEADER_SIZE}", len(data))
    m, kind, detail = _parse_header(bytes(data[:HEADER_SIZE]), max_body)
    if m is None:
        raise SessionError(kind, detail, 8 if "ФН" in detail else 24 if kind == "length" else 26)
    n = int.from_bytes(data[24:26], "little")
    if len(data) != HEADER_SIZE + n:
        raise SessionError("length", f"body length {n} but {len(data) - HEADER_SIZE} bytes follow the header", 24)
    body = bytes(data[HEADER_SIZE:])
    want = _session_crc(bytes(data[:28]), body, m.crc_mode)
    if m.crc_mode != CRC_NONE and want != m.crc:
        raise SessionError("crc", f"session CRC 0x{m.crc:04x}, computed 0x{want:04x}", 28)
    return SessionMessage(m.signature, m.s_version, m.pa_version, m.fn_number, m.flags, body, m.crc)


class SessionFramer:
    """Incremental framer of a byte stream (see the module docstring). Never raises on bad input."""

    def __init__(self, signatures: tuple[bytes, ...] = SIGNATURES, max_body: int = MAX_BODY) -> None:
        if not signatures or any(len(s) != 4 for s in signatures):
            raise ValueError("signatures must be 4 bytes each")
        self.signatures = tuple(signatures)
        self.max_body = max_body
        self.max_buffer = HEADER_SIZE + max_body
        self._buf = bytearray()
        self._offset = 0             # stream offset of _buf[0]
        self._seen = [-1] * len(self.signatures)       # stream offset of the next start of each signature
        self._scanned = [0] * len(self.signatures)     # searched up to here (stream offset)
        self._events: list[SessionMessage | FramingError] = []
        self.stats = {"messages": 0, "garbage": 0, "header": 0, "length": 0, "crc": 0}

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[SessionMessage | FramingError]:
        """The messages and drops completed by ``data``, in stream order."""
        self._events = []
        step = self.max_buffer
        for i in range(0, len(data), step):
            self._buf += data[i:i + step]
            self._drain()
        return self._events

    def _report(self, kind: str, detail: str, nbytes: int) -> None:
        last = self._events[-1] if self._events else None
        if kind == "garbage" and isinstance(last, FramingError) and last.kind == "garbage" \
                and last.offset + last.nbytes == self._offset:
            self._events[-1] = FramingError(kind, last.detail, last.nbytes + nbytes, last.offset)
        else:
            self.stats[kind] += 1
            self._events.append(FramingError(kind, detail, nbytes, self._offset))

    def _drop(self, n: int) -> None:
        del self._buf[:n]
        self._offset += n

    def _find(self) -> int:
        """Index in the buffer of the first signature, or -1. Each signature's search resumes where
        it last stopped (positions are stream offsets), so a long run of false starts stays linear."""
        best = -1
        for i, sig in enumerate(self.signatures):
            pos = self._seen[i]
            if pos < self._offset:                     # nothing cached, or that start was dropped
                start = max(self._scanned[i] - len(sig) + 1, self._offset)
                rel = self._buf.find(sig, start - self._offset)
                if rel < 0:
                    self._scanned[i] = self._offset + len(self._buf)
                    self._seen[i] = -1
                    continue
                pos = self._seen[i] = self._scanned[i] = self._offset + rel
            best = pos if best < 0 else min(best, pos)
        return best - self._offset if best >= 0 else -1

    def _drain(self) -> None:
        buf = self._buf
        while buf:
            at = self._find()
            if at < 0:
                keep = 0              # a signature may start in the last 3 bytes
                for k in (3, 2, 1):
                    if len(buf) >= k and any(s.startswith(bytes(buf[-k:])) for s in self.signatures):
                        keep = k
                        break
                if len(buf) - keep:
                    self._report("garbage", "bytes without a message start", len(buf) - keep)
                    self._drop(len(buf) - keep)
                return
            if at:
                self._report("garbage", "bytes before a message start", at)
                self._drop(at)
            if len(buf) < HEADER_SIZE:
                return
            m, kind, detail = _parse_header(bytes(buf[:HEADER_SIZE]), self.max_body)
            if m is None:
                self._report(kind, detail, 1)
                self._drop(1)
                continue
            n = int.from_bytes(buf[24:26], "little")
            if len(buf) < HEADER_SIZE + n:
                return
            body = bytes(buf[HEADER_SIZE:HEADER_SIZE + n])
            if m.crc_mode != CRC_NONE and _session_crc(bytes(buf[:28]), body, m.crc_mode) != m.crc:
                self._report("crc", "session CRC mismatch", 1)
                self._drop(1)
                continue
            self._events.append(SessionMessage(m.signature, m.s_version, m.pa_version, m.fn_number,
                                               m.flags, body, m.crc))
            self.stats["messages"] += 1
            self._drop(HEADER_SIZE + n)
