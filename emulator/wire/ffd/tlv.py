"""TLV and STLV, the framing of every FFD requisite, as ``construct`` schemas.

Layout (all integers little-endian)::

    TLV   := TAG:u16 | LEN:u16 | VALUE[LEN]
    STLV  := TAG:u16 | LEN:u16 | TLV TLV ...        (LEN = bytes of the nested TLVs)

=======  ======  ==============================================================
offset   size    field
=======  ======  ==============================================================
0        2       tag: the requisite number (a document STLV: the document type)
2        2       length of the value in bytes (0..65535)
4        LEN     value: by the tag's type (``values.py``); an STLV holds TLVs
=======  ======  ==============================================================

Golden vector V1 (fiscal-wire-formats §1, VERIFIED): the content of an STLV
with 1000 = «Привет, мир!» (CP866) and 1020 = 0x12345678 (VLN)::

    e8 03 0c 00 8f e0 a8 a2 a5 e2 2c 20 ac a8 e0 21   tag 1000, len 12, text
    fc 03 04 00 78 56 34 12                           tag 1020, len 4, VLN

In Python a field is ``(tag, value)``; the value of an STLV is a tuple of
fields; a tag the table (``rules/ffdtags.py``) does not know is raw ``bytes``.

Decoding untrusted input is bounded and total: the input is at most
``MAX_INPUT`` bytes, every length is checked against the bytes that remain,
STLVs nest at most ``MAX_DEPTH`` levels, an STLV's length is checked against
its tag's limit, and every problem is an ``FfdError`` naming the byte offset in
the outermost input (never another exception). The schemas here are never
compiled: untrusted input is parsed only by the interpreted ``construct``
schema.

Why ``TlvRecords`` is its own ``Construct`` class rather than
``GreedyRange(Struct(tag, length, Bytes(this.length)))``: measured on a
typical receipt (``emulator/bench/ffd.py``), the declarative schema frames
TLVs about 100 times slower than a ``struct`` loop (some 20 µs a TLV), and
compiling it does not help; a receipt has some 150 TLVs, and the device, the
drive and the OFD each handle every document. ``TlvRecords`` is a ``construct``
subclass (it composes with ``Struct``, ``Prefixed`` … as any construct)
whose parse and build handle one whole run of TLVs; ``TlvHeader`` declares
the header and serves single headers.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Any

from construct import Construct, Int16ul, SizeofError, Struct, stream_read_entire, stream_write

from emulator.rules.ffdtags import TAGS, TagSpec
from emulator.wire.ffd.values import DECODERS, ENCODERS, FfdError

__all__ = [
    "MAX_DEPTH", "MAX_INPUT", "MAX_VALUE", "TLV_RECORDS", "Field", "FfdError", "TlvHeader", "TlvRecords",
    "decode_fields", "encode_fields", "header",
]

Field = tuple[int, Any]
Record = tuple[int, int, bytes]       # (tag, offset of the TLV in the run, raw value)

HEADER = 4
MAX_VALUE = 0xFFFF                    # the largest LEN a TLV can carry
MAX_INPUT = HEADER + MAX_VALUE        # one whole STLV at most
MAX_DEPTH = 4                         # document → 1059 item → 1260/1163/2007 → one more

TlvHeader = Struct("tag" / Int16ul, "length" / Int16ul)
_HEAD = struct.Struct("<HH")


def header(tag: int, length: int) -> bytes:
    """The 4 header bytes of a TLV."""
    return bytes(TlvHeader.build({"tag": tag, "length": length}))


def split_records(data: bytes) -> list[Record]:
    """The TLVs of ``data`` as (tag, offset, raw value); ``FfdError`` at the
    offset of a header that is cut short or a length past the end."""
    out: list[Record] = []
    unpack = _HEAD.unpack_from
    end = len(data)
    at = 0
    while at < end:
        if end - at < HEADER:
            raise FfdError(at, f"truncated TLV header: {end - at} byte(s) left, 4 needed")
        tag, length = unpack(data, at)
        first = at + HEADER
        if length > end - first:
            raise FfdError(at, f"tag {tag}: length {length} but only {end - first} byte(s) left")
        out.append((tag, at, data[first:first + length]))
        at = first + length
    return out


def join_records(records: Iterable[tuple[int, bytes]]) -> bytes:
    """The TLV bytes of (tag, raw value) pairs (each checked by the caller)."""
    pack = _HEAD.pack
    return b"".join(pack(tag, len(raw)) + raw for tag, raw in records)


class TlvRecords(Construct):  # type: ignore[misc]
    """A run of TLVs to the end of the (sub)stream.

    Parses to a list of ``(tag, offset, raw value)`` (offset of the TLV within
    the run); builds from ``(tag, raw value)`` pairs. Values are not
    interpreted here (``decode_fields`` does that with the tag table).
    """

    def _parse(self, stream: Any, context: Any, path: str) -> list[Record]:
        return split_records(stream_read_entire(stream, path))

    def _build(self, obj: Any, stream: Any, context: Any, path: str) -> Any:
        data = join_records(obj)
        stream_write(stream, data, len(data), path)
        return obj

    def _sizeof(self, context: Any, path: str) -> int:
        raise SizeofError("a run of TLVs has no fixed size", path=path)


TLV_RECORDS = TlvRecords()

# The table by tag, with each scalar tag's value codec looked up once.
_SPECS: dict[int, TagSpec] = dict(TAGS)
_DECODE = {t: (s, DECODERS[s.type]) for t, s in _SPECS.items() if s.type != "stlv"}
_ENCODE = {t: (s, ENCODERS[s.type]) for t, s in _SPECS.items() if s.type != "stlv"}


# --- decoding --------------------------------------------------------------------

def _level(data: bytes, base: int, depth: int) -> tuple[Field, ...]:
    """The fields of the run ``data`` that starts at ``base`` in the outermost input."""
    try:
        records: list[Record] = TLV_RECORDS.parse(data) if data else []
    except FfdError as exc:
        raise exc.shifted(base) from None
    fields: list[Field] = []
    for tag, at, value in records:
        codec = _DECODE.get(tag)
        if codec is not None:
            try:
                fields.append((tag, codec[1](codec[0], value)))
            except FfdError as exc:
                raise exc.shifted(base + at + HEADER) from None
            continue
        s = _SPECS.get(tag)
        if s is None:
            fields.append((tag, value))
            continue
        if s.max_len is not None and len(value) > s.max_len:
            raise FfdError(base + at, f"tag {tag}: an STLV of {len(value)} bytes, at most {s.max_len}")
        if depth >= MAX_DEPTH:
            raise FfdError(base + at, f"tag {tag}: STLVs nested deeper than {MAX_DEPTH} levels")
        fields.append((tag, _level(value, base + at + HEADER, depth + 1)))
    return tuple(fields)


def decode_fields(data: bytes) -> tuple[Field, ...]:
    """The TLVs of ``data`` (a sequence of TLVs, e.g. the content of an STLV or
    one whole STLV) as ``(tag, value)`` fields; ``FfdError`` for bad input."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise FfdError(0, f"bytes expected, not {type(data).__name__}")
    data = bytes(data)
    if len(data) > MAX_INPUT:
        raise FfdError(MAX_INPUT, f"input of {len(data)} bytes, at most {MAX_INPUT}")
    return _level(data, 0, 0)


# --- encoding --------------------------------------------------------------------

def _encode_level(fields: Iterable[Field], base: int, depth: int) -> bytes:
    records: list[tuple[int, bytes]] = []
    at = base
    try:
        pairs = list(fields)
    except TypeError:
        raise FfdError(base, "the fields must be an iterable of (tag, value) pairs") from None
    for pair in pairs:
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise FfdError(at, f"a field must be a (tag, value) pair, not {pair!r:.60}")
        tag, value = pair
        if isinstance(tag, bool) or not isinstance(tag, int) or not 0 <= tag <= 0xFFFF:
            raise FfdError(at, f"tag {tag!r}: not a number 0..65535")
        codec = _ENCODE.get(tag)
        s = None if codec is not None else _SPECS.get(tag)
        if codec is not None:
            try:
                raw = codec[1](codec[0], value)
            except FfdError as exc:
                raise exc.shifted(at) from None
        elif s is None:
            if not isinstance(value, (bytes, bytearray, memoryview)):
                raise FfdError(at, f"tag {tag} is not in the tag table: its value must be bytes")
            raw = bytes(value)
        else:
            if depth >= MAX_DEPTH:
                raise FfdError(at, f"tag {tag}: STLVs nested deeper than {MAX_DEPTH} levels")
            if not isinstance(value, (tuple, list)):
                raise FfdError(at, f"tag {tag} ({s.name}): an STLV needs a tuple of fields")
            raw = _encode_level(value, at + HEADER, depth + 1)
            if s.max_len is not None and len(raw) > s.max_len:
                raise FfdError(at, f"tag {tag} ({s.name}): an STLV of {len(raw)} bytes, at most {s.max_len}")
        if len(raw) > MAX_VALUE:
            raise FfdError(at, f"tag {tag}: a value of {len(raw)} bytes, at most {MAX_VALUE}")
        records.append((tag, raw))
        at += HEADER + len(raw)
    return bytes(TLV_RECORDS.build(records))


def encode_fields(fields: Iterable[Field]) -> bytes:
    """The TLV bytes of ``fields``; ``FfdError`` (offset in the output) for a
    value of the wrong type, out of its tag's range or over its size."""
    return _encode_level(fields, 0, 0)
