"""The device's fiscal half: documents into the drive, on paper, to the OFD; the ОИСМ request.

``FiscalUnit`` is a sub-client of the device (like ``GisMtClient``), a plain
object with narrow inputs: the clock, the fiscal drive (``devices/fn``), the
device's identity, its links (``net/ofdlink``: OFD and ОИСМ) and a place for
the print images. Sans-IO but for writing those images.

Documents (``fiscaldocs`` builds the fields)::

    register()                 1  «Отчет о регистрации» (a new drive, once)
    shift_opened()             2  «Отчет об открытии смены»
    receipt(receipt)           3  «Кассовый чек» (a closed receipt of any document kind)
    shift_closed()             5  «Отчет о закрытии смены» (the Z report)
    status_report()           21  «Отчет о текущем состоянии расчетов» («ОТЧЕТЫ ФН»)

Each signed document is printed (``devices/printer``): its lines are kept in
``printed`` (the last ``KEEP_PRINTED``), and a receipt's QR code is written as
``prints/<ФД>.png`` in the device's directory. A document the drive refuses
(``FnError``) is a ``FiscalRefused`` event and comes back as the error for the
device to show; nothing is printed or sent.

OFD delivery: one document at a time, oldest first, in a session message
(``wire/ffd/envelope``: OFD signature, FFD 1.2 P/A version) holding a
container with the archived document STLV byte for byte and an 8-byte ФПС
trailer of zeros (MODELLED: the message fiscal sign needs the drive's crypto
module). The answer must be a type-7 document (the operator's
acknowledgement) for the same ФН and ФД with 1022 = 0; the whole answer
message is what the drive keeps as the acknowledgement;
then the drive marks the document acknowledged and the next one goes. A new
document starts a delivery at once; after a failure (no answer, refused,
closed, garbage, an answer that is not the acknowledgement) the unit tries
again after ``RETRY_FIRST_MS``, doubling up to ``RETRY_MAX_MS`` (MODELLED).
Meanwhile the queue grows; the drive itself refuses new documents once the
oldest unsent one is 30 days old (its code 15), which the device shows.

ОИСМ (``request(code, deliver)``, the ``OismLink`` shape): a «Запрос о коде
маркировки» (81: 2000 the КМ, 2001 the request number, 2003 = 1 «sold») in
a session message with the ОИСМ signature; the «Ответ на
запрос» (83) gives tag 2106 (its 2106, else 2005 with the ФН bits, else
``FULLY_POSITIVE`` / ``FN_ONLY`` from 2109). A failure of the link (no
answer, refused, closed, garbage) or an answer that is not an 83 is MODELLED
as 2106 = 3 (``FN_ONLY``: the ФН's check positive, no ОИСМ answer; printed
``[М]``), an ``OismFailed`` event, and the sale goes on to GIS MT.

ОИСМ notification (``notify()``): each receipt in the drive with marked items
(1059 with a 2000) gets an «Уведомление о реализации маркированного товара»
(82: 2002 = the receipt's ФД as the notification number, 1040 the receipt's
ФД, one 2007 per marked item with 2000 the КМ, 2003 = 1 «sold» or 3
«returned» for a 1054 = 2 receipt, 2106 as checked; the shape is MODELLED),
one at a time, oldest first, in an ОИСМ session message. The «Квитанция»
(84) must carry the same 2002 and 2111 = 0 («принято»); anything else (no
answer, refused, 2111 ≠ 0, garbage) leaves the receipt queued and the unit
tries again after ``RETRY_FIRST_MS``, doubling up to ``RETRY_MAX_MS``, as
for the OFD. The queue is the drive's archive itself: only the cursor
«every marked receipt up to ФД N is notified» is kept, in ``oism.json`` in
the device's directory (written atomically after each accepted 84), so a
power cut loses no notification (one accepted just before the cut may go
twice). Each outcome is an ``OismNote`` event (trace kind ``oism``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from emulator.base.clock import VirtualClock
from emulator.base.storage import read_json, set_aside, write_json_atomic
from emulator.devices.fn.model import FiscalDrive, FnError, Signed
from emulator.devices.kkt.events import (
    DeviceEvent,
    FiscalDocumentMade,
    FiscalRefused,
    OfdNote,
    OismFailed,
    OismNote,
)
from emulator.devices.kkt.fiscaldocs import Identity, receipt_fields, registration_fields, report_fields
from emulator.devices.kkt.fiscalqueue import Backoff, answer_of, reply_document
from emulator.devices.kkt.state import Receipt
from emulator.devices.printer.form import PrintOut, print_form
from emulator.net.ofdlink import FiscalLink, LinkResult
from emulator.rules.tag2106 import FN_CHECKED, FN_POSITIVE, FULLY_POSITIVE
from emulator.wire.ffd.document import Document
from emulator.wire.ffd.envelope import int_field, num, wrap_document
from emulator.wire.ffd.tlv import FfdError

FN_ONLY = FN_CHECKED | FN_POSITIVE       # 3: the ФН's check positive, no ОИСМ answer
ACK_TYPE = 7
SOLD = 1                                 # tag 2003: «штучный товар реализован»
RETURNED = 3                             # tag 2003: «штучный товар возвращен»
OISM_REQUEST, OISM_ANSWER = 81, 83
OISM_NOTICE, OISM_TICKET = 82, 84
RECEIPT_TYPES = (3, 31)
OISM_CURSOR = "oism.json"
FPS_TRAILER = bytes(8)
KEEP_PRINTED = 50
PRINTS_DIR = "prints"


# What the display says for a drive's refusal (MODELLED wording; the codes are the [3P] table's).
FN_MESSAGES = {0x02: "НЕВЕРНОЕ СОСТ. ФН", 0x05: "СРОК ФН ИСТЕК", 0x07: "ОШИБКА ДАТЫ ФН",
               0x15: "НЕТ СВЯЗИ С ОФД 30 ДН", 0x16: "СМЕНА > 24 ЧАСОВ", 0x10: "ДОКУМЕНТ ВЕЛИК"}


def fn_message(code: int) -> str:
    return FN_MESSAGES.get(code, "ОШИБКА ФН")


def tag2106_of(answer: Document) -> int:
    """Tag 2106 from an «Ответ на запрос» (83)."""
    v = num(answer.get(2106))
    if v is None and num(answer.get(2005)) is not None:
        v = (num(answer.get(2005)) or 0) | FN_ONLY
    if v is None:
        v = FULLY_POSITIVE if num(answer.get(2109), 1) == 1 else FN_ONLY | 4
    return int(v)


class FiscalUnit:
    def __init__(self, clock: VirtualClock, drive: FiscalDrive, ident: Identity, *,
                 ofd: FiscalLink | None = None, oism: FiscalLink | None = None,
                 directory: Path | None = None, emit: Callable[[DeviceEvent], None] | None = None,
                 images: bool = True) -> None:
        self.clock = clock
        self.drive = drive
        self.ident = ident
        self.ofd = ofd
        self.oism_link = oism
        self.directory = directory
        self.images = images and directory is not None
        self.emit: Callable[[DeviceEvent], None] = emit or (lambda ev: None)
        self.printed: list[PrintOut] = []
        self.last: Signed | None = None
        self.sending: int | None = None       # the ФД number in flight to the OFD
        self.retry = Backoff(clock, "ofd retry")
        self.stopped = False
        self.delivered = 0
        self.oism_requests = 0
        self.oism_waiting = 0                 # ОИСМ requests not yet answered
        self._cursor = 1                      # no ФД before it is waiting for the OFD
        self.notifying: int | None = None     # the receipt's ФД whose 82 is in flight to the ОИСМ
        self.notify_retry = Backoff(clock, "oism retry")
        self.notified = 0                     # 82s accepted by the ОИСМ since power-on
        self._notices: list[int] = []         # receipts with marked items not yet notified, oldest first
        self._scanned = self._load_notified()  # every ФД up to it is notified or in ``_notices``

    @property
    def fn_number(self) -> str:
        return self.drive.fn_number

    @property
    def busy(self) -> bool:
        return self.sending is not None or self.notifying is not None

    # ------------------------------------------------------------ documents
    def _made(self, signed: Signed) -> Signed:
        self.last = signed
        out = print_form(signed.document, signed.fiscal_sign)
        self.printed.append(out)
        del self.printed[:-KEEP_PRINTED]
        if out.qr is not None and self.images and self.directory is not None:
            from emulator.devices.printer.image import qr_png

            prints = self.directory / PRINTS_DIR
            prints.mkdir(mode=0o700, exist_ok=True)
            (prints / f"{signed.fd_number}.png").write_bytes(qr_png(out.qr))
        self.emit(FiscalDocumentMade(self.clock.now_ms, signed.document.doc_type, signed.fd_number,
                                      signed.fiscal_sign))
        self.deliver()
        self.notify()
        return signed

    def _make(self, what: str, make: Callable[[int, tuple[Any, ...]], Signed],
              fields: tuple[Any, ...]) -> Signed | FnError:
        """``make(now_ms, fields)`` of the drive, printed and sent; a refusal is an event and the error."""
        try:
            return self._made(make(self.clock.now_ms, fields))
        except FnError as exc:
            self.emit(FiscalRefused(self.clock.now_ms, what, exc.code, exc.text))
            return exc

    def register(self) -> Signed | FnError:
        return self._make("registration", self.drive.register, registration_fields(self.ident))

    def shift_opened(self) -> Signed | FnError:
        return self._make("shift opening", self.drive.open_shift, report_fields(self.ident))

    def shift_closed(self) -> Signed | FnError:
        return self._make("shift closing", self.drive.close_shift, report_fields(self.ident))

    def status_report(self) -> Signed | FnError:
        return self._make("status report", self.drive.status_report, report_fields(self.ident))

    def receipt(self, r: Receipt) -> Signed | FnError:
        """A closed receipt into the drive (its shift opened first if the drive has none open)."""
        if self.drive.state == "fiscal" and not self.drive.shift_open:
            opened = self.shift_opened()
            if isinstance(opened, FnError):
                return opened
        return self._make("receipt", self.drive.receipt, receipt_fields(r, self.ident))

    # ------------------------------------------------------------ the OFD
    def deliver(self) -> None:
        """Send the oldest unacknowledged document, unless one is in flight or there is no link."""
        if self.ofd is None or self.sending is not None or self.stopped:
            return
        fd = self._next_pending()
        if fd is None:
            return
        self.retry.cancel()
        doc = self.drive.document(fd)
        self.sending = doc.fd_number
        message = wrap_document(self.drive.document_bytes(doc.fd_number), fn_number=self.fn_number,
                                fd_number=doc.fd_number, peer="ofd", trailer=FPS_TRAILER)
        self.ofd.send(message, lambda result: self._delivered(doc.fd_number, result))

    def _next_pending(self) -> int | None:
        """The oldest ФД not acknowledged (a cursor over the archive: the queue is in ФД order)."""
        last = self.drive.last_fd
        while self._cursor <= last and self.drive.delivered(self._cursor):
            self._cursor += 1
        return self._cursor if self._cursor <= last else None

    def _delivered(self, fd: int, result: LinkResult) -> None:
        if self.stopped:
            return
        self.sending = None
        problem = self._ack_problem(fd, result)
        if problem is None:
            self.retry.reset()
            self.delivered += 1
            self.emit(OfdNote(self.clock.now_ms, f"ФД {fd} acknowledged"))
            self.deliver()
            return
        waiting = len(self.drive.pending())
        seconds = self.retry.later(self.deliver)
        self.emit(OfdNote(self.clock.now_ms, f"ФД {fd} not delivered: {problem}; "
                                              f"{waiting} waiting, again in {seconds} s"))

    def _ack_problem(self, fd: int, result: LinkResult) -> str | None:
        got = answer_of(result)
        if isinstance(got, str) or result.reply is None:
            return got if isinstance(got, str) else "no answer"
        opened, doc = got
        c = opened.container
        if doc.doc_type != ACK_TYPE:
            return f"answer of type {doc.doc_type}, not the acknowledgement (7)"
        if c.fn_number != self.fn_number or c.fd_number != fd:
            return f"acknowledgement of ФН {c.fn_number} ФД {c.fd_number}, not of ФД {fd}"
        code = num(doc.get(1022), 0)
        if code != 0:
            return f"the OFD answered 1022 = {code} (not accepted)"
        try:
            self.drive.acknowledge(fd, result.reply, self.clock.now_ms)
        except FnError as exc:
            return f"the drive refused the acknowledgement: {exc}"
        return None

    def stop(self) -> None:
        """Power off: nothing in flight reaches the drive any more."""
        self.stopped = True
        self.retry.cancel()
        self.notify_retry.cancel()

    # ------------------------------------------------------------ the ОИСМ
    def request(self, code: str, deliver: Callable[[int], None]) -> None:
        """The ОИСМ check of a marking code (the ``OismLink`` shape): ``deliver(tag2106)``, always once."""
        if self.oism_link is None:
            deliver(FN_ONLY)
            return
        self.oism_requests += 1
        self.oism_waiting += 1
        doc = Document(OISM_REQUEST, ((2000, code), int_field(2001, self.oism_requests, 4),
                                      int_field(2003, SOLD, 1)))
        message = wrap_document(doc.encode(), fn_number=self.fn_number, fd_number=self.oism_requests,
                                peer="oism")
        self.oism_link.send(message, lambda result: self._oism_answer(code, result, deliver))

    def _oism_answer(self, code: str, result: LinkResult, deliver: Callable[[int], None]) -> None:
        if self.stopped:
            return
        self.oism_waiting -= 1
        problem: str | None = None
        value = FN_ONLY
        if result.reply is None:
            problem = f"{result.failure} {result.detail}".strip()
        else:
            try:
                _opened, answer = reply_document(result.reply)
                if answer.doc_type != OISM_ANSWER:
                    problem = f"answer of type {answer.doc_type}, not 83"
                else:
                    value = tag2106_of(answer)
            except (FfdError, ValueError, TypeError) as exc:
                problem = f"garbage answer: {exc}"
        if problem is not None:
            self.emit(OismFailed(self.clock.now_ms, code[:32], problem, FN_ONLY))
        deliver(value)


    # ------------------------------------------------------------ the ОИСМ notification
    def _cursor_path(self) -> Path | None:
        return self.directory / OISM_CURSOR if self.directory is not None else None

    def _load_notified(self) -> int:
        """The cursor of the notification queue.

        A device without one (new, or older than the notification) starts after its last ФД; a
        damaged one is set aside and the whole archive is notified again (some twice, none lost).
        """
        path = self._cursor_path()
        if path is None:
            return self.drive.last_fd
        try:
            data = read_json(path)
        except (OSError, ValueError):
            data = False
        if data is None or (isinstance(data, dict) and data.get("fn") != self.fn_number):
            self._save_notified(self.drive.last_fd)
            return self.drive.last_fd
        through = data.get("notified_through") if isinstance(data, dict) else None
        if isinstance(through, int) and not isinstance(through, bool) and through >= 0:
            return min(through, self.drive.last_fd)
        if path.exists():
            set_aside(path)
        self._save_notified(0)
        return 0

    def _save_notified(self, through: int) -> None:
        path = self._cursor_path()
        if path is not None:
            write_json_atomic(path, {"fn": self.fn_number, "notified_through": through})

    @property
    def notices_waiting(self) -> int:
        self._scan()
        return len(self._notices)

    def _scan(self) -> None:
        while self._scanned < self.drive.last_fd:
            self._scanned += 1
            doc = self.drive.document(self._scanned).document
            if doc.doc_type in RECEIPT_TYPES and any(dict(i).get(2000) for i in doc.all(1059)):
                self._notices.append(self._scanned)

    def notice(self, fd: int) -> Document:
        """The «Уведомление о реализации маркированного товара» (82) of the receipt ФД ``fd``."""
        doc = self.drive.document(fd).document
        status = RETURNED if num(doc.get(1054)) == 2 else SOLD
        goods = [(2007, ((2000, it[2000]), int_field(2003, status, 1), (2106, int(num(it.get(2106), 0) or 0))))
                 for it in (dict(i) for i in doc.all(1059)) if it.get(2000)]
        return Document(OISM_NOTICE, (int_field(2002, fd, 4), (1040, fd), *goods))

    def notify(self) -> None:
        """Send the oldest receipt's notification, unless one is in flight or there is no ОИСМ link."""
        if self.oism_link is None or self.notifying is not None or self.stopped:
            return
        self._scan()
        if not self._notices:
            return
        self.notify_retry.cancel()
        fd = self._notices[0]
        self.notifying = fd
        message = wrap_document(self.notice(fd).encode(), fn_number=self.fn_number, fd_number=fd, peer="oism")
        self.oism_link.send(message, lambda result: self._ticket(fd, result))

    def _ticket(self, fd: int, result: LinkResult) -> None:
        if self.stopped:
            return
        self.notifying = None
        problem = self._ticket_problem(fd, result)
        if problem is None:
            self._notices.pop(0)
            self._save_notified((self._notices[0] - 1) if self._notices else self._scanned)
            self.notify_retry.reset()
            self.notified += 1
            self.emit(OismNote(self.clock.now_ms, f"notification of ФД {fd} accepted (2111 = 0)"))
            self.notify()
            return
        seconds = self.notify_retry.later(self.notify)
        self.emit(OismNote(self.clock.now_ms, f"notification of ФД {fd} not accepted: {problem}; "
                                               f"{len(self._notices)} waiting, again in {seconds} s"))

    def _ticket_problem(self, fd: int, result: LinkResult) -> str | None:
        got = answer_of(result)
        if isinstance(got, str):
            return got
        ticket = got[1]
        if ticket.doc_type != OISM_TICKET:
            return f"answer of type {ticket.doc_type}, not the «Квитанция» (84)"
        if num(ticket.get(2002)) != fd:
            return f"a «Квитанция» for notification {num(ticket.get(2002))}, not {fd}"
        code = num(ticket.get(2111))
        if code != 0:
            return f"the ОИСМ answered 2111 = {code} (not accepted)"
        return None


def status(unit: FiscalUnit | None) -> dict[str, Any]:
    """What the fiscal half holds now (for tools and pages)."""
    if unit is None:
        return {}
    d = unit.drive
    return {"fn": d.fn_number, "state": d.state, "last_fd": d.last_fd, "pending": len(d.pending()),
            "shift_open": d.shift_open, "shift_number": d.shift_number}
