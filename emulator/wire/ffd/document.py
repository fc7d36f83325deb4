"""A whole fiscal document: the STLV whose tag is the document type.

Layout::

    DOCUMENT := TYPE:u16 LE | LEN:u16 LE | TLV TLV ...     (LEN = bytes of the TLVs)

==========  ==================================================  ==========
type        document                                            max LEN
==========  ==================================================  ==========
1           Отчет о регистрации                                 6144
2           Отчет об открытии смены                             4096
3           Кассовый чек                                        32768
4           Бланк строгой отчетности                            32768
5           Отчет о закрытии смены                              4096
6           Отчет о закрытии фискального накопителя             4096
7           Подтверждение оператора                             512
11          Отчет об изменении параметров регистрации           6144
21          Отчет о текущем состоянии расчетов                  32768
31          Кассовый чек коррекции                              32768
41          Бланк строгой отчетности коррекции                  32768
81          Запрос о коде маркировки                            4096
82          Уведомление о реализации маркированного товара      32768
83          Ответ на запрос                                     512
84          Квитанция на уведомление                            512
==========  ==================================================  ==========

(the maximum sizes are the third-party FFD table of fiscal-wire-formats §4;
they live in ``data/ffd_tags.yaml`` with the other tags). Golden vector V2
carries a document of type 11, 390 bytes of TLVs, at offset 0x3E of the
message.

``to_json()`` renders a document in the FNS JSON form: ``{"code": type,
<fnsName>: value, ...}``; nested STLVs are objects, a repeatable tag (items
1059, 1260) is always a list, another tag met twice becomes a list too;
strings as they are, FVLN as JSON numbers, UNIXTIME as ``YYYY-MM-DDTHH:MM:SS``,
bytes (ФПД, unknown tags) as hex; a tag the table does not know is keyed by its
number.
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from emulator.rules.ffdtags import TAGS
from emulator.wire.ffd.tlv import HEADER, MAX_INPUT, FfdError, Field, TlvHeader, decode_fields, encode_fields

DOC_TYPE_NUMBERS = (1, 2, 3, 4, 5, 6, 7, 11, 21, 31, 41, 81, 82, 83, 84)
DOC_TYPES: Mapping[int, str] = MappingProxyType({n: TAGS[n].name for n in DOC_TYPE_NUMBERS})
DOC_MAX_LEN: Mapping[int, int] = MappingProxyType(
    {n: TAGS[n].max_len or MAX_INPUT - HEADER for n in DOC_TYPE_NUMBERS})

def document_stlv(doc_type: int, body: bytes) -> bytes:
    """The document STLV around fields already encoded (``encode_fields``): the same bytes as
    ``Document(doc_type, fields).encode()``, for a writer that encodes its parts once."""
    if doc_type not in DOC_TYPES:
        raise FfdError(0, f"unknown document type {doc_type}")
    if len(body) > DOC_MAX_LEN[doc_type]:
        raise FfdError(2, f"document type {doc_type}: length {len(body)}, at most {DOC_MAX_LEN[doc_type]}")
    return struct.pack("<HH", doc_type, len(body)) + body


@dataclass(frozen=True)
class Document:
    doc_type: int
    fields: tuple[Field, ...]

    @classmethod
    def decode(cls, data: bytes) -> Document:
        """The document in ``data``: exactly one document STLV, nothing after it."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise FfdError(0, f"bytes expected, not {type(data).__name__}")
        data = bytes(data)
        if len(data) < HEADER:
            raise FfdError(0, f"truncated document header: {len(data)} byte(s), 4 needed")
        if len(data) > MAX_INPUT:
            raise FfdError(MAX_INPUT, f"input of {len(data)} bytes, at most {MAX_INPUT}")
        head = TlvHeader.parse(data[:HEADER])
        doc_type, length = int(head.tag), int(head.length)
        if doc_type not in DOC_TYPES:
            raise FfdError(0, f"unknown document type {doc_type}")
        limit = DOC_MAX_LEN[doc_type]
        if length > limit:
            raise FfdError(2, f"document type {doc_type}: length {length}, at most {limit}")
        if length > len(data) - HEADER:
            raise FfdError(2, f"document type {doc_type}: length {length} but only {len(data) - HEADER} byte(s) left")
        if length < len(data) - HEADER:
            raise FfdError(HEADER + length, f"{len(data) - HEADER - length} byte(s) after the document")
        ((_, fields),) = decode_fields(data)
        return cls(doc_type, fields)

    def encode(self) -> bytes:
        """The document STLV; ``FfdError`` for a field the table refuses."""
        if self.doc_type not in DOC_TYPES:
            raise FfdError(0, f"unknown document type {self.doc_type}")
        return encode_fields(((self.doc_type, self.fields),))

    def get(self, tag: int, default: Any = None) -> Any:
        """The first top-level value of ``tag``, or ``default``."""
        for t, v in self.fields:
            if t == tag:
                return v
        return default

    def all(self, tag: int) -> list[Any]:
        """Every top-level value of ``tag`` in order (e.g. the 1059 items)."""
        return [v for t, v in self.fields if t == tag]

    @property
    def name(self) -> str:
        return DOC_TYPES.get(self.doc_type, f"документ {self.doc_type}")

    def to_json(self) -> dict[str, Any]:
        """The document in the FNS JSON form (see the module docstring)."""
        out: dict[str, Any] = {"code": self.doc_type}
        out.update(fields_to_json(self.fields))
        return out


def _json_value(value: Any) -> Any:
    if isinstance(value, tuple):
        return fields_to_json(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S")
    return value


def fields_to_json(fields: tuple[Field, ...]) -> dict[str, Any]:
    """Fields as a JSON object keyed by FNS names (unknown tags by number)."""
    seen: dict[str, list[Any]] = {}
    listed: set[str] = set()
    for tag, value in fields:
        s = TAGS.get(tag)
        key = s.fns if s is not None else str(tag)
        if s is not None and s.repeat:
            listed.add(key)
        seen.setdefault(key, []).append(_json_value(value))
    return {k: (vs if k in listed or len(vs) > 1 else vs[0]) for k, vs in seen.items()}
