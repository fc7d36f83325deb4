"""What ``kkt-emu fd decode`` shows: a document, a container or a whole session message, as a tree.

``dump(data)`` recognises the input by its first bytes:

* a session signature (OFD or ОИСМ) → a whole session message: session
  header, container header (its CRC recomputed), document, ФПС trailer;
* a little-endian length equal to the input's → a bare container;
* anything else → one document STLV;

and gives a plain dict (the ``--json`` form); ``render(d)`` gives the text
lines. Text that is all hexadecimal digits (whitespace allowed) is read as
hex when it is not a document itself. Every layer is checked; bad input
raises ``FfdError`` naming the offset in the input as given.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any

from emulator.rules.ffdtags import spec
from emulator.wire.ffd.container import HEADER_SIZE as CONTAINER_HEADER
from emulator.wire.ffd.container import Container, container_crc, decode_container, split_payload
from emulator.wire.ffd.document import DOC_TYPES, Document
from emulator.wire.ffd.envelope import open_message
from emulator.wire.ffd.session import (
    CRC_HEADER,
    CRC_HEADER_BODY,
    FLAG_CONTAINER,
    FLAG_RESPONSE_EXPECTED,
    HEADER_SIZE,
    SIGNATURES,
    SessionMessage,
)
from emulator.wire.ffd.tlv import Field
from emulator.wire.ffd.values import FfdError

MAX_INPUT = 1 << 20
_HEX = re.compile(rb"[0-9a-fA-F\s]+")


def _value(v: Any) -> Any:
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).hex()
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(v, Decimal):
        return str(v)
    return v


def tree(fields: tuple[Field, ...]) -> list[dict[str, Any]]:
    out = []
    for tag, value in fields:
        s = spec(tag)
        node: dict[str, Any] = {"tag": tag, "name": s.name if s else "?", "fns": s.fns if s else None}
        if isinstance(value, tuple):
            node["fields"] = tree(value)
        else:
            node["value"] = _value(value)
        out.append(node)
    return out


def _flags(flags: int) -> str:
    mode = {0: "no CRC", CRC_HEADER: "CRC of the header", CRC_HEADER_BODY: "CRC of header and body"}.get(
        flags & 3, "CRC mode 3")
    words = [w for bit, w in ((FLAG_CONTAINER, "container"), (FLAG_RESPONSE_EXPECTED, "response expected"))
             if flags & bit]
    return ", ".join([*words, mode])


def _session(m: SessionMessage) -> dict[str, Any]:
    return {"signature": m.signature.hex(), "peer": m.peer, "s_version": m.s_version.hex(),
            "pa_version": m.pa_version.hex(), "fn_number": m.fn_number, "body_length": len(m.body),
            "flags": f"0x{m.flags:04x}", "flags_meaning": _flags(m.flags), "crc": f"0x{m.crc:04x}"}


def _container(c: Container, raw: bytes) -> dict[str, Any]:
    return {"length": len(raw), "crc": f"0x{int.from_bytes(raw[2:4], 'little'):04x}",
            "crc_computed": f"0x{container_crc(raw):04x}", "message_type": f"0x{c.message_type:02x}",
            "doc_type": c.doc_type, "protocol_version": c.protocol_version, "service1": c.service1.hex(),
            "fn_number": c.fn_number, "fd_number": c.fd_number, "service2": c.service2.hex()}


def _document(raw: bytes, base: int) -> dict[str, Any]:
    try:
        doc = Document.decode(raw)
    except FfdError as exc:
        raise FfdError(base + exc.offset, exc.text) from None
    return {"doc_type": doc.doc_type, "name": DOC_TYPES.get(doc.doc_type, "?"), "length": len(raw) - 4,
            "fields": tree(doc.fields)}


def _dump_binary(data: bytes) -> dict[str, Any]:
    if len(data) >= 4 and data[:4] in SIGNATURES:
        opened = open_message(data)
        return {"kind": "session message", "session": _session(opened.session),
                "container": _container(opened.container, opened.session.body),
                "document": _document(opened.document, HEADER_SIZE + CONTAINER_HEADER),
                "trailer": opened.trailer.hex()}
    if len(data) >= CONTAINER_HEADER and int.from_bytes(data[:2], "little") == len(data):
        c = decode_container(data)
        doc, trailer = split_payload(c.payload)
        return {"kind": "container", "container": _container(c, data),
                "document": _document(doc, CONTAINER_HEADER), "trailer": trailer.hex()}
    return {"kind": "document", "document": _document(data, 0)}


def dump(data: bytes) -> dict[str, Any]:
    if len(data) > MAX_INPUT:
        raise FfdError(MAX_INPUT, f"input of {len(data)} bytes, at most {MAX_INPUT}")
    if not data:
        raise FfdError(0, "empty input")
    try:
        return _dump_binary(data)
    except FfdError:
        if not _HEX.fullmatch(data):
            raise
        digits = re.sub(rb"\s+", b"", data)
        if len(digits) % 2:
            raise FfdError(len(data), "hex text with an odd number of digits") from None
        return _dump_binary(bytes.fromhex(digits.decode("ascii")))


def _lines(nodes: list[dict[str, Any]], depth: int) -> list[str]:
    out = []
    for n in nodes:
        head = f"{'  ' * depth}{n['tag']} {n['name']}"
        if "fields" in n:
            out.append(head)
            out.extend(_lines(n["fields"], depth + 1))
        else:
            out.append(f"{head} = {json.dumps(n['value'], ensure_ascii=False)}")
    return out


def render(d: dict[str, Any]) -> list[str]:
    out = []
    if "session" in d:
        s = d["session"]
        out.append(f"session   signature {s['signature']} ({s['peer']}), S {s['s_version']}, P/A {s['pa_version']}, "
                   f"ФН {s['fn_number']}, body {s['body_length']}, flags {s['flags']} ({s['flags_meaning']}), "
                   f"CRC {s['crc']}")
    if "container" in d:
        c = d["container"]
        ok = "ok" if c["crc"] == c["crc_computed"] else "MISMATCH"
        out.append(f"container length {c['length']}, CRC {c['crc']} (recomputed {c['crc_computed']}, {ok}), "
                   f"message type {c['message_type']}, document {c['doc_type']}, version {c['protocol_version']}, "
                   f"ФН {c['fn_number']}, ФД {c['fd_number']}, service {c['service1']} / {c['service2']}")
    doc = d["document"]
    out.append(f"document  {doc['doc_type']} «{doc['name']}», {doc['length']} bytes")
    out.extend(_lines(doc["fields"], 1))
    if "trailer" in d:
        out.append(f"trailer   {d['trailer'] or '(none)'}")
    return out
