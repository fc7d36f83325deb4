"""The mock ОИСМ's document handling: 81 → 83 and 82 → 84 over the session framing (MODELLED).

``OismServer(model).exchange(message, now_ms) -> ServerAnswer`` is the
sans-IO entry of both fronts (the device's ``SimFiscalLink`` and ``tcp.py``).
The message must carry the ОИСМ signature (``DD 80 CA A1``, [3P]); the answer
goes back with the ОИСМ signature and S version (``82 A2``), the request's
P/A version, ФН number and container ФД number:

    request                                       answer
    --------------------------------------------  ------------------------------------------
    81 «Запрос о коде маркировки»                  83 «Ответ на запрос»:
       2000 КМ, 2001 request number,                 2001 (echoed), 2000 (echoed),
       2003 planned status                           2106 = ``OismModel.check(КМ)``,
                                                     2109 = 1 (status correct) when bit 3 of
                                                     2106 is set, else 2; 2105 = 0
    81 without a КМ                                83 with 2105 = 1 (request format wrong), 2106 = 0
    82 «Уведомление о реализации»                  84 «Квитанция на уведомление»:
       2002 notification number, the items           2002 (echoed), 2111 = 0 (accepted),
                                                     2006 = 0
    plan ``reject``                               83 with 2105 = 1 and the ОИСМ bits (2, 3) of
                                                  2106 clear / 84 with 2111 = 1, 2006 = 1
    any other document type, or bytes that do     no answer (the connection is closed)
    not decode

The tag values are FFD 1.2's (permit-mode-api §13.3); which answer a
situation gets is the emulator's. Faults: ``faults`` (``FiscalFaults``), as
at the mock OFD. The in-process answerer (``OismModel.check`` through
``emulator.net.oism.SimOismLink``) keeps serving the simulated world.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from emulator.net.ofdlink import FiscalFaults, ServerAnswer
from emulator.servers.oism.model import OismModel
from emulator.wire.ffd.document import Document
from emulator.wire.ffd.envelope import Opened, int_field, num, open_message, wrap_document
from emulator.wire.ffd.session import OISM_SIGNATURE, SessionMessage
from emulator.wire.ffd.values import FfdError

OISM_BITS = 0b1100            # 2106 bits 2 and 3: the ОИСМ answered, the status is correct


@dataclass(frozen=True)
class Exchanged:
    received_ms: int
    fn_number: str
    doc_type: int             # 81 or 82
    request: bytes            # the request document STLV
    answer: bytes             # the answer document STLV


@dataclass
class OismServer:
    model: OismModel = field(default_factory=OismModel)
    faults: FiscalFaults = field(default_factory=FiscalFaults)
    log: list[Exchanged] = field(default_factory=list)
    max_log: int = 10_000
    stats: dict[str, int] = field(default_factory=lambda: {"requests": 0, "notifications": 0, "bad": 0})

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def exchange(self, message: bytes | SessionMessage, now_ms: int) -> ServerAnswer:
        return self.faults.answer(now_ms, lambda reject: self.receive(message, now_ms, reject))

    exchange_message = exchange

    def receive(self, message: bytes | SessionMessage, now_ms: int, reject: bool = False) -> bytes | None:
        try:
            opened = open_message(message)
            if opened.session.signature != OISM_SIGNATURE:
                raise FfdError(0, "not an ОИСМ session signature")
            doc = Document.decode(opened.document)
        except FfdError:
            with self._lock:
                self.stats["bad"] += 1
            return None
        if doc.doc_type == 81:
            answer = self._answer_request(doc, reject)
            kind = "requests"
        elif doc.doc_type == 82:
            answer = self._answer_notification(doc, reject)
            kind = "notifications"
        else:
            with self._lock:
                self.stats["bad"] += 1
            return None
        encoded = answer.encode()
        with self._lock:
            self.stats[kind] += 1
            if len(self.log) >= self.max_log:
                del self.log[: self.max_log // 10]
            self.log.append(Exchanged(now_ms, opened.session.fn_number, doc.doc_type, opened.document, encoded))
        return _reply(opened, encoded)

    def _answer_request(self, doc: Document, reject: bool) -> Document:
        code = doc.get(2000)
        number = num(doc.get(2001), 0) or 0
        fields = [int_field(2001, number, 4)]
        if not isinstance(code, str) or not code:
            return Document(83, (*fields, (2106, 0), int_field(2105, 1, 1)))
        value = self.model.check(code)
        if reject:
            return Document(83, (*fields, (2000, code), (2106, value & ~OISM_BITS), int_field(2105, 1, 1)))
        status = 1 if value & 0b1000 else 2
        return Document(83, (*fields, (2000, code), (2106, value), int_field(2109, status, 1),
                             int_field(2105, 0, 1)))

    def _answer_notification(self, doc: Document, reject: bool) -> Document:
        number = num(doc.get(2002), 0) or 0
        bad = 1 if reject else 0
        return Document(84, (int_field(2002, number, 4), int_field(2111, bad, 1), int_field(2006, bad, 1)))


def _reply(opened: Opened, document: bytes) -> bytes:
    s, c = opened.session, opened.container
    return wrap_document(document, fn_number=s.fn_number, fd_number=c.fd_number, peer="oism",
                         pa_version=s.pa_version)
