"""A small world for the tax server's tests: a clock, the CA, the server, and a bare till that signs documents."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from dataclasses import dataclass, field

from emulator.base.clock import VirtualClock
from emulator.rules.prro import Role
from emulator.servers.ca.model import CertificationAuthority
from emulator.servers.taxfs.model import Answer, TaxServer
from emulator.wire import cms
from emulator.wire.prro import offline
from emulator.wire.prro.document import (
    CHECK,
    CLOSE_SHIFT,
    KYIV,
    OFFLINE_BEGIN,
    OFFLINE_END,
    OPEN_SHIFT,
    SALE,
    ZREP,
    Document,
    Item,
    Payment,
    Ticket,
    ZTotals,
    local_date_time,
)
from emulator.wire.prro.package import pack

T0 = int(dt.datetime(2026, 12, 1, 9, 0, tzinfo=KYIV).timestamp() * 1000)
FN = "4000002411"
MIN = 60_000

_uids = itertools.count(1)


@dataclass
class World:
    clock: VirtualClock
    ca: CertificationAuthority
    server: TaxServer

    def key(self, owner: str = "Касир Один", role: Role = Role.CASHIER, days: int = 365, register: bool = True,
            delay_ms: int = 0) -> cms.KeySigner:
        issued, data = self.ca.issue(owner, "1234567890", role, days=days, password="p")
        signer = cms.load_container(data, "p", name="key.pfx")
        if register:
            self.server.register_operator(signer.certificate, role, delay_ms=delay_ms)
        return signer

    def till(self, signer: cms.KeySigner, fn: str = FN) -> Till:
        return Till(self, signer, fn)


def make_world(start_ms: int = T0, *, offline_supported: bool = True) -> World:
    clock = VirtualClock(start_ms)
    ca = CertificationAuthority(clock, seed=b"world")
    server = TaxServer(clock, cert_status=lambda cert: ca.status(cms.serial_hex(cert)), trusted=[ca.certificate],
                       seed=b"taxfs-test")
    server.register_prro(FN, offline_supported=offline_supported)
    return World(clock, ca, server)


@dataclass
class Till:
    """Just enough of a ПРРО to drive the server: local numbers, signing, the offline chain."""

    world: World
    signer: cms.KeySigner
    fn: str
    local: int = 1
    sales: int = 0
    sales_count: int = 0
    session_id: int | None = None
    seed: int | None = None
    off_number: int = 1
    prev_hash: str | None = None
    first_after_begin: bool = False
    sent: list[bytes] = field(default_factory=list)

    def document(self, kind: str = CHECK, doctype: int = 0, *, at_ms: int | None = None, **kw: object) -> Document:
        date, time = local_date_time(self.world.clock.now_ms if at_ms is None else at_ms)
        d = dict(kind=kind, doctype=doctype, uid=f"uid-{next(_uids)}", tin="1234567890", orgnm="ФОП Тестовий",
                 pointnm="Крамниця", pointaddr="м. Київ", date=date, time=time, ordernum=self.local,
                 cashdesknum="1", cashregisternum=self.fn, cashier=self.signer.info.owner)
        d.update(kw)
        return Document(**d)  # type: ignore[arg-type]

    def sale(self, price: int = 1000, **kw: object) -> Document:
        return self.document(docsubtype=SALE, items=(Item("Хліб", price),), payments=(Payment(price),), total=price,
                             **kw)

    def z(self, **kw: object) -> Document:
        return self.document(ZREP, z=ZTotals(self.sales, self.sales_count), **kw)

    def send(self, document: Document, *, as_json: bool = False) -> Answer:
        signed = self.signer.sign(document.to_xml())
        self.sent.append(signed)
        answer = self.world.server.request("/fs/doc", signed, as_json=as_json)
        if answer.status == 200 and answer.error_code is None:
            self.local += 1
            if document.is_receipt:
                self.sales += document.total or 0
                self.sales_count += 1
            if document.kind == ZREP:
                self.sales = self.sales_count = 0
            ticket = self.ticket(answer)
            if ticket.offline_session_id:
                self.session_id, self.seed = int(ticket.offline_session_id), int(ticket.offline_seed)
        return answer

    def ticket(self, answer: Answer) -> Ticket:
        content, cert = cms.verify(answer.body)
        assert cert == self.world.server.signer.certificate
        return Ticket.from_xml(content)

    def open(self) -> Answer:
        return self.send(self.document(doctype=OPEN_SHIFT))

    def close(self) -> list[Answer]:
        return [self.send(self.z()), self.send(self.document(doctype=CLOSE_SHIFT))]

    def command(self, name: str, **fields: object) -> Answer:
        body = json.dumps({"Command": name, **fields}).encode()
        return self.world.server.request("/fs/cmd", self.signer.sign(body))

    # --- offline ---

    def offline_doc(self, document: Document) -> bytes:
        """Number and sign one offline document (the chain kept as the reference says)."""
        assert self.session_id is not None and self.seed is not None
        t = document.doctype if document.kind != ZREP else -1
        prev = None
        if document.financial:
            prev = None if self.first_after_begin else self.prev_hash
        elif t == OFFLINE_END:
            prev = self.prev_hash
        control = offline.control_number(self.seed, document.date, document.time, document.ordernum,
                                         document.cashregisternum, document.cashdesknum,
                                         document.total if document.is_receipt else None, prev)
        document = document.with_(offline=True, prevdochash=prev,
                                  ordertaxnum=offline.fiscal_number(self.session_id, self.off_number, control))
        signed = self.signer.sign(document.to_xml())
        self.local += 1
        self.off_number += 1
        if t == OFFLINE_BEGIN:
            self.first_after_begin, self.prev_hash = True, None
        if document.financial:
            self.prev_hash, self.first_after_begin = offline.doc_hash(signed), False
            if document.is_receipt:
                self.sales += document.total or 0
                self.sales_count += 1
            else:
                self.sales = self.sales_count = 0
        return signed

    def begin(self, **kw: object) -> bytes:
        return self.offline_doc(self.document(doctype=OFFLINE_BEGIN, **kw))

    def end(self, **kw: object) -> bytes:
        return self.offline_doc(self.document(doctype=OFFLINE_END, **kw))

    def package(self, docs: list[bytes]) -> Answer:
        answer = self.world.server.request("/fs/pck", self.signer.sign(pack(docs)))
        if answer.status == 200 and answer.body.startswith(b"{"):
            got = answer.json()
            self.session_id, self.seed, self.off_number = int(got["OfflineSessionId"]), int(got["OfflineSeed"]), 1
        return answer
