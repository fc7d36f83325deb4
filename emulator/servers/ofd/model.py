"""The mock OFD's state: received documents, operator acknowledgements, fault plans (MODELLED).

``OfdModel.exchange(message, now_ms) -> ServerAnswer`` is the sans-IO entry
both fronts use (the device's ``SimFiscalLink`` in-process, ``tcp.py`` over
TCP). A message is checked layer by layer (``emulator.wire.ffd.envelope``:
session header with the OFD signature, container length and CRC, the document
STLV); then:

    case                                         stored   answer (document 7)
    -------------------------------------------  -------  -------------------------------
    a new document (ФН, ФД number)               yes      1022 = 0, 1078 = the OFD's sign
    the same document again (same bytes)         no       the same acknowledgement again
    another document under a held ФД number      no       1022 = 3 (conflict)
    the plan says ``reject``                     no       1022 = 2 (document rejected)
    a message that does not decode               no       1022 = 1 (format), when its headers
                                                          name a ФН and ФД; else no answer

The acknowledgement «Подтверждение оператора» is a type-7 document in a
container carrying the acknowledged ФД number: 1012 (the OFD's local time),
1017 (ИНН ОФД), 1041, 1040, 1022 and, when accepted, 1078 ФПО. The response
codes of 1022 are the emulator's own.

**The operator's fiscal sign is this model's own**: HMAC-SHA256 under the
model's key over the ФН number, the ФД number and the document bytes, cut to
16 bytes (the size of 1078 in the tag table). It is not and cannot be a real OFD's sign: that comes from the
OFD's cryptographic module, and a real fiscal drive refuses anything else
(«неверный фискальный признак», reference §5.3). An emulated OFD works with
the emulated ФН only; ``verify_ack`` checks a sign against the key.

Faults (``faults``, ``emulator.net.ofdlink.FiscalFaults``): ``down``, latency
(slow), ``refuse``, ``close``, ``stall``, ``garbage``, ``reject`` per message,
and outages over spans of the virtual clock.

Documents are kept in memory in arrival order (``documents``), each with the
message as received, the document bytes and the acknowledgement sent; the
page and API (``web.py``) list them decoded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import threading
from dataclasses import dataclass, field
from typing import Any

from emulator.net.ofdlink import FiscalFaults, ServerAnswer
from emulator.wire.ffd.container import HEADER_SIZE as CONTAINER_HEADER
from emulator.wire.ffd.container import bcd_to_fn
from emulator.wire.ffd.document import Document
from emulator.wire.ffd.envelope import int_field, num, open_message, wrap_document
from emulator.wire.ffd.session import OFD_SIGNATURE, SessionMessage, decode_message, encode_message
from emulator.wire.ffd.values import FfdError

ACCEPTED, BAD_FORMAT, REJECTED, CONFLICT = 0, 1, 2, 3
RESPONSE_TEXTS = {ACCEPTED: "принят", BAD_FORMAT: "ошибка формата сообщения", REJECTED: "документ отклонён",
                  CONFLICT: "другой документ с этим номером ФД"}
SIGN_SIZE = 16                  # tag 1078 «ФПО» of the tag table
DEFAULT_INN = "7704358518"
MAX_DOCUMENTS = 100_000


@dataclass(frozen=True)
class Received:
    seq: int                   # 1, 2, … in arrival order
    received_ms: int
    fn_number: str
    fd_number: int
    doc_type: int
    document: bytes            # the document STLV as received
    trailer: bytes
    message: bytes             # the whole session message as received
    ack: bytes                 # the acknowledgement message sent

    def decoded(self) -> Document:
        return Document.decode(self.document)


@dataclass
class OfdModel:
    key: bytes = field(default_factory=lambda: os.urandom(32), repr=False)
    inn: str = DEFAULT_INN
    tz_offset_min: int = 180
    max_documents: int = MAX_DOCUMENTS
    faults: FiscalFaults = field(default_factory=FiscalFaults)
    documents: list[Received] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=lambda: {
        "messages": 0, "stored": 0, "duplicates": 0, "conflicts": 0, "rejected": 0, "bad": 0, "full": 0})

    def __post_init__(self) -> None:
        self._index: dict[tuple[str, int], Received] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ the fronts' entry
    def exchange(self, message: bytes | SessionMessage, now_ms: int) -> ServerAnswer:
        return self.faults.answer(now_ms, lambda reject: self.receive(message, now_ms, reject))

    exchange_message = exchange

    # ------------------------------------------------------------------ the document handling
    def sign(self, fn_number: str, fd_number: int, document: bytes) -> bytes:
        mac = hmac.new(self.key, b"ofd-ack\0" + fn_number.encode("ascii") + fd_number.to_bytes(4, "little")
                       + document, hashlib.sha256)
        return mac.digest()[:SIGN_SIZE]

    def verify_ack(self, ack: bytes, document: bytes) -> bool:
        """True when ``ack`` accepts ``document`` with this model's sign."""
        try:
            opened = open_message(ack)
            doc = Document.decode(opened.document)
        except FfdError:
            return False
        sign = doc.get(1078)
        fn, fd = doc.get(1041), num(doc.get(1040))
        return (opened.doc_type == 7 and num(doc.get(1022)) == ACCEPTED and isinstance(sign, bytes)
                and isinstance(fn, str) and fd is not None
                and hmac.compare_digest(sign, self.sign(fn, fd, document)))

    def _ack(self, fn: str, fd: int, code: int, now_ms: int, pa_version: bytes, document: bytes = b"") -> bytes:
        local = dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=now_ms, minutes=self.tz_offset_min)
        fields: list[Any] = [(1012, local.replace(microsecond=0)), (1017, self.inn.ljust(12)), (1041, fn),
                             int_field(1040, fd, 4), int_field(1022, code, 1)]
        if code == ACCEPTED:
            fields.append((1078, self.sign(fn, fd, document)))
        doc = Document(7, tuple(fields)).encode()
        return wrap_document(doc, fn_number=fn, fd_number=fd, peer="ofd", pa_version=pa_version)

    def receive(self, message: bytes | SessionMessage, now_ms: int, reject: bool = False) -> bytes | None:
        """The acknowledgement (or refusal) of one message; None when it names no ФН and ФД to answer."""
        with self._lock:
            self.stats["messages"] += 1
            try:
                m = message if isinstance(message, SessionMessage) else decode_message(message)
            except FfdError:
                self.stats["bad"] += 1
                return None
            raw = message if isinstance(message, bytes) else None
            try:
                if m.signature != OFD_SIGNATURE:
                    raise FfdError(0, "not an OFD session signature")
                opened = open_message(m)
                document = opened.document
                Document.decode(document)
            except FfdError:
                self.stats["bad"] += 1
                fd = _header_fd(m.body)
                return None if fd is None else self._ack(m.fn_number, fd, BAD_FORMAT, now_ms, m.pa_version)
            c = opened.container
            fn, fd = c.fn_number, c.fd_number
            if reject:
                self.stats["rejected"] += 1
                return self._ack(fn, fd, REJECTED, now_ms, m.pa_version)
            held = self._index.get((fn, fd))
            if held is not None:
                if held.document == document:
                    self.stats["duplicates"] += 1
                    return held.ack
                self.stats["conflicts"] += 1
                return self._ack(fn, fd, CONFLICT, now_ms, m.pa_version)
            if len(self.documents) >= self.max_documents:
                self.stats["full"] += 1
                return self._ack(fn, fd, REJECTED, now_ms, m.pa_version)
            ack = self._ack(fn, fd, ACCEPTED, now_ms, m.pa_version, document)
            if raw is None:
                raw = encode_message(m)
            rec = Received(len(self.documents) + 1, now_ms, fn, fd, c.doc_type, document, opened.trailer, raw, ack)
            self.documents.append(rec)
            self._index[(fn, fd)] = rec
            self.stats["stored"] += 1
            return ack

    def received(self, fn_number: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.documents if fn_number is None or r.fn_number == fn_number]


def _header_fd(body: bytes) -> int | None:
    """The ФД number a damaged container still names in its header (bytes 17-19), if it has one."""
    if len(body) < CONTAINER_HEADER:
        return None
    try:
        bcd_to_fn(body[9:17])
    except FfdError:
        return None
    return int.from_bytes(body[17:20], "big")

