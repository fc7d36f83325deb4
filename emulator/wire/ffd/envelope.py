"""A document in its envelope: session message → container → document STLV (+ ФПС trailer).

``wrap_document(document, peer=…, fn_number=…, fd_number=…)`` builds the whole
message a KKT (or a server answering it) sends; ``open_message(data)`` takes
one apart and checks every layer (session header and CRC, container length
and CRC, the document STLV's own length), raising ``FfdError`` with the
offset counted in the whole message::

    +----------------+------------------+---------------------+-----------+
    | session header | container header | document STLV       | ФПС       |
    | 30 bytes       | 32 bytes         | 4 + LEN bytes       | trailer   |
    +----------------+------------------+---------------------+-----------+
    offset 0         30                 62

``num(value)`` reads an integer field whichever way the tag table knows its
tag (an ``int`` for a typed tag, little-endian ``bytes`` for a tag it does not
know); ``int_field(tag, value, size)`` writes one the same way, so that the
peers' documents do not depend on which tags the table holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from emulator.rules.ffdtags import spec
from emulator.wire.ffd.container import HEADER_SIZE as CONTAINER_HEADER
from emulator.wire.ffd.container import Container, decode_container, encode_container, split_payload
from emulator.wire.ffd.session import (
    DEFAULT_FLAGS,
    FFD12_PA_VERSION,
    HEADER_SIZE,
    OFD_S_VERSION,
    OFD_SIGNATURE,
    OISM_S_VERSION,
    OISM_SIGNATURE,
    SessionMessage,
    decode_message,
    encode_message,
)
from emulator.wire.ffd.tlv import Field
from emulator.wire.ffd.values import FfdError

PEERS = {"ofd": (OFD_SIGNATURE, OFD_S_VERSION), "oism": (OISM_SIGNATURE, OISM_S_VERSION)}


@dataclass(frozen=True)
class Opened:
    session: SessionMessage
    container: Container
    document: bytes            # the document STLV
    trailer: bytes             # the ФПС trailer after it (may be empty)

    @property
    def doc_type(self) -> int:
        return self.container.doc_type


def wrap_document(document: bytes, *, fn_number: str, fd_number: int, peer: str = "ofd", trailer: bytes = b"",
                  pa_version: bytes = FFD12_PA_VERSION, flags: int = DEFAULT_FLAGS,
                  service1: bytes = bytes(2), service2: bytes = bytes(12)) -> bytes:
    """The whole session message carrying ``document`` (an encoded document STLV)."""
    if peer not in PEERS:
        raise FfdError(0, f"unknown peer {peer!r}")
    if len(document) < 4:
        raise FfdError(HEADER_SIZE + CONTAINER_HEADER, "a document STLV is at least 4 bytes")
    doc_type = int.from_bytes(document[:2], "little")
    if doc_type > 0xFF:
        raise FfdError(HEADER_SIZE + CONTAINER_HEADER, f"document type {doc_type} does not fit the container")
    body = encode_container(Container(doc_type=doc_type, service1=service1, fn_number=fn_number,
                                      fd_number=fd_number, service2=service2, payload=document + trailer))
    signature, s_version = PEERS[peer]
    return encode_message(SessionMessage(signature, s_version, pa_version, fn_number, flags, body))


def open_message(data: bytes | SessionMessage) -> Opened:
    """Every layer of one whole message checked; ``FfdError`` with the offset in the message."""
    m = data if isinstance(data, SessionMessage) else decode_message(data)
    try:
        c = decode_container(m.body)
        doc, trailer = split_payload(c.payload)
    except FfdError as exc:
        raise FfdError(HEADER_SIZE + exc.offset, exc.text) from None
    doc_type = int.from_bytes(doc[:2], "little")
    if doc_type != c.doc_type:
        raise FfdError(HEADER_SIZE + CONTAINER_HEADER,
                       f"document type {doc_type} but the container says {c.doc_type}")
    return Opened(m, c, doc, trailer)


def int_field(tag: int, value: int, size: int) -> Field:
    """``(tag, value)`` as the tag table types it: an int, or ``size`` LE bytes for a tag it does not know."""
    return (tag, value) if spec(tag) is not None else (tag, value.to_bytes(size, "little"))


def num(value: Any, default: int | None = None) -> int | None:
    """An integer field's value, typed (int) or raw (LE bytes); ``default`` for None or anything else."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, (bytes, bytearray)) and len(value) <= 8:
        return int.from_bytes(value, "little")
    return default
