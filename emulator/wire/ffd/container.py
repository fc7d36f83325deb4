"""The container («контейнер») inside a session message: a 32-byte header and the payload.

Layout (verified on the KKT dump of golden vector V2)::

    offset size field             encoding
    ------ ---- ----------------- ------------------------------------------------
       0    2   container length  u16 LE: header + payload
       2    2   CRC               u16 LE: CRC-16/CCITT-FALSE over bytes 0-1,
                                  bytes 4-31 and the whole payload
       4    1   message type      A5 in the dump
       5    1   document type     the document's STLV tag (11 in the dump)
       6    1   protocol version  01
       7    2   service data 1    10 09 in the dump (meaning not established)
       9    8   ФН number         BCD, 16 digits
      17    3   ФД number         u24 BIG-endian
      20   12   service data 2    meaning not established
      32    …   payload           the document STLV, then the ФПС trailer
                                  (10 bytes in the dump; 8 per a [3P] codec)

``encode_container`` computes the length and the CRC; ``decode_container``
checks both and raises ``FfdError`` naming the offset of the field at fault.
``split_payload`` separates the document STLV from the trailer by the STLV's
own length, so the framing needs no document codec.

The header is *built* with the schema's compiled form (``BUILD_HEADER``: the
values are our own, already range-checked; the 30-day store bench showed the
need, some 30 µs a header) and always *parsed* with the interpreted schema:
untrusted input never meets a compiled one.
"""

from __future__ import annotations

from dataclasses import dataclass

from construct import Bytes, BytesInteger, Int8ul, Int16ul, Struct

from emulator.wire.ffd.session import crc16_ccitt_false
from emulator.wire.ffd.tlv import FfdError

HEADER_SIZE = 32
MESSAGE_TYPE = 0xA5
PROTOCOL_VERSION = 0x01
MAX_FD_NUMBER = 0xFFFFFF

ContainerHeader = Struct(
    "length" / Int16ul,
    "crc" / Int16ul,
    "message_type" / Int8ul,
    "doc_type" / Int8ul,
    "protocol_version" / Int8ul,
    "service1" / Bytes(2),
    "fn_bcd" / Bytes(8),
    "fd_number" / BytesInteger(3),           # big-endian
    "service2" / Bytes(12),
)

BUILD_HEADER = ContainerHeader.compile()    # building only (see the module docstring)


@dataclass(frozen=True)
class Container:
    message_type: int = MESSAGE_TYPE
    doc_type: int = 0
    protocol_version: int = PROTOCOL_VERSION
    service1: bytes = bytes(2)
    fn_number: str = "0" * 16
    fd_number: int = 0
    service2: bytes = bytes(12)
    payload: bytes = b""


def fn_to_bcd(fn: str) -> bytes:
    if len(fn) != 16 or not fn.isascii() or not fn.isdigit():
        raise FfdError(9, f"ФН number must be 16 digits, got {fn!r}")
    return bytes(int(fn[i]) << 4 | int(fn[i + 1]) for i in range(0, 16, 2))


def bcd_to_fn(data: bytes, offset: int = 9) -> str:
    out = []
    for i, b in enumerate(data):
        hi, lo = b >> 4, b & 0xF
        if hi > 9 or lo > 9:
            raise FfdError(offset + i, f"ФН number byte 0x{b:02x} is not BCD")
        out.append(f"{hi}{lo}")
    return "".join(out)


def container_crc(data: bytes) -> int:
    """The container CRC of whole container bytes (its own CRC field, bytes 2-3, left out)."""
    return crc16_ccitt_false(data[4:], crc16_ccitt_false(data[:2]))


def encode_container(c: Container) -> bytes:
    for name, value, lo, hi in (("message_type", c.message_type, 0, 0xFF), ("doc_type", c.doc_type, 0, 0xFF),
                                ("protocol_version", c.protocol_version, 0, 0xFF),
                                ("fd_number", c.fd_number, 0, MAX_FD_NUMBER)):
        if not lo <= value <= hi:
            raise FfdError(0, f"{name} {value} out of range {lo}..{hi}")
    if len(c.service1) != 2 or len(c.service2) != 12:
        raise FfdError(7 if len(c.service1) != 2 else 20, "service data must be 2 and 12 bytes")
    length = HEADER_SIZE + len(c.payload)
    if length > 0xFFFF:
        raise FfdError(0, f"container of {length} bytes does not fit u16")
    head = BUILD_HEADER.build({"length": length, "crc": 0, "message_type": c.message_type,
                                  "doc_type": c.doc_type, "protocol_version": c.protocol_version,
                                  "service1": c.service1, "fn_bcd": fn_to_bcd(c.fn_number),
                                  "fd_number": c.fd_number, "service2": c.service2})
    raw = head + c.payload
    crc = container_crc(raw)
    return raw[:2] + crc.to_bytes(2, "little") + raw[4:]


def decode_container(data: bytes) -> Container:
    """One whole container; ``FfdError`` (offset in ``data``) for a wrong length, CRC or ФН number."""
    data = bytes(data)
    if len(data) < HEADER_SIZE:
        raise FfdError(len(data), f"{len(data)} bytes, a container header is {HEADER_SIZE}")
    h = ContainerHeader.parse(data[:HEADER_SIZE])
    if h.length != len(data):
        raise FfdError(0, f"container length {h.length} but {len(data)} bytes")
    want = container_crc(data)
    if want != h.crc:
        raise FfdError(2, f"container CRC 0x{h.crc:04x}, computed 0x{want:04x}")
    return Container(h.message_type, h.doc_type, h.protocol_version, bytes(h.service1), bcd_to_fn(h.fn_bcd),
                     h.fd_number, bytes(h.service2), data[HEADER_SIZE:])


def split_payload(payload: bytes, base: int = HEADER_SIZE) -> tuple[bytes, bytes]:
    """(document STLV, ФПС trailer) of a container payload; ``FfdError`` when the STLV overruns it."""
    if len(payload) < 4:
        raise FfdError(base + len(payload), f"payload of {len(payload)} bytes holds no document STLV")
    n = 4 + int.from_bytes(payload[2:4], "little")
    if n > len(payload):
        raise FfdError(base + 2, f"document STLV of {n} bytes overruns the payload of {len(payload)}")
    return payload[:n], payload[n:]
