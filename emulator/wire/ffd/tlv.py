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
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from construct import Bytes, GreedyRange, Int16ul, Struct, this

from emulator.rules.ffdtags import TAGS, TagSpec
from emulator.wire.ffd.values import FfdError, decode_value, encode_value

__all__ = [
    "MAX_DEPTH", "MAX_INPUT", "MAX_VALUE", "Field", "FfdError", "Tlv", "TlvHeader", "TlvSequence",
    "decode_fields", "encode_fields", "header",
]

Field = tuple[int, Any]

HEADER = 4
MAX_VALUE = 0xFFFF                    # the largest LEN a TLV can carry
MAX_INPUT = HEADER + MAX_VALUE        # one whole STLV at most
MAX_DEPTH = 4                         # document → 1059 item → 1260/1163/2007 → one more

TlvHeader = Struct("tag" / Int16ul, "length" / Int16ul)
Tlv = Struct("tag" / Int16ul, "length" / Int16ul, "value" / Bytes(this.length))
TlvSequence = GreedyRange(Tlv)


def header(tag: int, length: int) -> bytes:
    """The 4 header bytes of a TLV."""
    return bytes(TlvHeader.build({"tag": tag, "length": length}))


# --- decoding --------------------------------------------------------------------

def _stop(data: bytes, at: int, end: int) -> FfdError:
    """Why the TLV at ``at`` cannot be parsed (the sequence parser stopped there)."""
    left = end - at
    if left < HEADER:
        return FfdError(at, f"truncated TLV header: {left} byte(s) left, 4 needed")
    tag = data[at] | data[at + 1] << 8
    length = data[at + 2] | data[at + 3] << 8
    return FfdError(at, f"tag {tag}: length {length} but only {left - HEADER} byte(s) left")


def _level(data: bytes, start: int, end: int, depth: int) -> tuple[Field, ...]:
    items = TlvSequence.parse(data[start:end]) if end > start else []
    fields: list[Field] = []
    at = start
    for item in items:
        tag: int = item.tag
        value: bytes = item.value
        s: TagSpec | None = TAGS.get(tag)
        first = at + HEADER
        if s is None:
            fields.append((tag, value))
        elif s.type == "stlv":
            if s.max_len is not None and len(value) > s.max_len:
                raise FfdError(at, f"tag {tag}: an STLV of {len(value)} bytes, at most {s.max_len}")
            if depth >= MAX_DEPTH:
                raise FfdError(at, f"tag {tag}: STLVs nested deeper than {MAX_DEPTH} levels")
            fields.append((tag, _level(data, first, first + len(value), depth + 1)))
        else:
            try:
                fields.append((tag, decode_value(s, value)))
            except FfdError as exc:
                raise exc.shifted(first) from None
        at = first + len(value)
    if at != end:
        raise _stop(data, at, end)
    return tuple(fields)


def decode_fields(data: bytes, *, _depth: int = 0) -> tuple[Field, ...]:
    """The TLVs of ``data`` (a sequence of TLVs, e.g. the content of an STLV or
    one whole STLV) as ``(tag, value)`` fields; ``FfdError`` for bad input."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise FfdError(0, f"bytes expected, not {type(data).__name__}")
    data = bytes(data)
    if len(data) > MAX_INPUT:
        raise FfdError(MAX_INPUT, f"input of {len(data)} bytes, at most {MAX_INPUT}")
    return _level(data, 0, len(data), _depth)


# --- encoding --------------------------------------------------------------------

def _encode_level(fields: Iterable[Field], base: int, depth: int) -> bytes:
    items: list[dict[str, Any]] = []
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
        s = TAGS.get(tag)
        if s is None:
            if not isinstance(value, (bytes, bytearray, memoryview)):
                raise FfdError(at, f"tag {tag} is not in the tag table: its value must be bytes")
            raw = bytes(value)
        elif s.type == "stlv":
            if depth >= MAX_DEPTH:
                raise FfdError(at, f"tag {tag}: STLVs nested deeper than {MAX_DEPTH} levels")
            if not isinstance(value, (tuple, list)):
                raise FfdError(at, f"tag {tag} ({s.name}): an STLV needs a tuple of fields")
            raw = _encode_level(value, at + HEADER, depth + 1)
            if s.max_len is not None and len(raw) > s.max_len:
                raise FfdError(at, f"tag {tag} ({s.name}): an STLV of {len(raw)} bytes, at most {s.max_len}")
        else:
            try:
                raw = encode_value(s, value)
            except FfdError as exc:
                raise exc.shifted(at) from None
        if len(raw) > MAX_VALUE:
            raise FfdError(at, f"tag {tag}: a value of {len(raw)} bytes, at most {MAX_VALUE}")
        items.append({"tag": tag, "length": len(raw), "value": raw})
        at += HEADER + len(raw)
    return bytes(TlvSequence.build(items))


def encode_fields(fields: Iterable[Field]) -> bytes:
    """The TLV bytes of ``fields``; ``FfdError`` (offset in the output) for a
    value of the wrong type, out of its tag's range or over its size."""
    return _encode_level(fields, 0, 0)
