"""The ПРРО's core: its identity, outcomes and journal, the signing key, and its documents.

``PrroCore`` makes a document (the XML of the tax service's description, signed,
stored and its effect on the shift applied in one transaction), delivers it
(``/fs/doc``; a refusal gives the local number back and undoes the effect),
sends again what was not answered and sends offline packages (``/fs/pck``, at
most 100 documents each). ``PrroDevice`` (``device``) is what a person uses.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from emulator.base.clock import VirtualClock
from emulator.devices.prro import answers
from emulator.devices.prro.keys import DEFAULT_LIBRARIES, KeyRead, read_key
from emulator.devices.prro.messages import text
from emulator.devices.prro.offline import OfflineSession
from emulator.devices.prro.store import Doc, PrroStore
from emulator.net.taxlink import JSON, SIGNED, TaxLink, TaxLinkDown
from emulator.rules.prro import (
    HOUR_MS,
    PACKAGE_MAX_DOCUMENTS,
)
from emulator.wire.prro.document import CHECK, ZREP, Document, Item, Payment, ZTotals, local_date_time
from emulator.wire.prro.package import pack

RECEIPT_KINDS = ("sale", "return", "cash_in", "cash_out", "cash_issue")
GOODS_KINDS = ("sale", "return", "cash_issue")      # receipts with rows and payments
# the device's document kinds -> (element, DOCTYPE, DOCSUBTYPE)
DOC_TYPES: dict[str, tuple[str, int, int | None]] = {
    "sale": (CHECK, 0, 0), "return": (CHECK, 0, 1), "cash_in": (CHECK, 0, 2), "cash_out": (CHECK, 0, 4),
    "cash_issue": (CHECK, 3, None),
    "open_shift": (CHECK, 100, None), "close_shift": (CHECK, 101, None), "offline_begin": (CHECK, 102, None),
    "offline_end": (CHECK, 103, None), "z_report": (ZREP, 0, None)}
DAY_MS = 24 * HOUR_MS


@dataclass(frozen=True)
class Identity:
    """What registration (form 1-ПРРО) gave the ПРРО: the taxpayer, the point, its numbers."""

    tin: str = "34554362"
    ipn: str = ""
    org: str = "ТОВ «Тестова крамниця»"
    point: str = "Магазин №1"
    address: str = "м. Київ, вул. Хрещатик, 1"
    fiscal_num: str = "4000002411"     # CASHREGISTERNUM, given by the tax service
    desk_num: str = "1"                # CASHDESKNUM, the ПРРО's local number

    def as_json(self) -> dict[str, str]:
        return dict(self.__dict__)


@dataclass
class Outcome:
    ok: bool
    messages: list[str] = field(default_factory=list)
    fiscal_num: str = ""
    local_num: int | None = None
    ids: list[str] = field(default_factory=list)      # the ids of the messages shown (``@`` + text for a raw one)
    tax_code: int | None = None                       # the tax server's error code of a refusal
    tax_line: str = ""                                # the refusal as the server wrote it (one line)

    @property
    def text(self) -> str:
        return "; ".join(self.messages)


class PrroCore:
    """The ПРРО's state and its documents (see the module docstring)."""

    def __init__(self, directory: Path | None, clock: VirtualClock, link: TaxLink, *,
                 identity: Identity | None = None, on_message: Callable[[int, str], None] | None = None) -> None:
        self.clock = clock
        self.link = link
        self.store = PrroStore(directory)
        self.on_message = on_message
        self.journal: list[tuple[int, str]] = []
        if self.store.get("identity") is None:
            with self.store.tx():
                self.store.put("identity", (identity or Identity()).as_json())
                self.store.put("libraries", list(DEFAULT_LIBRARIES))
                self.store.put("next_local", 1)
        self.identity = Identity(**self.store.get("identity"))
        self.form: dict[str, Any] = {"path": "", "password": "", "read": None}   # the settings tab, unsaved
        self.offline = OfflineSession(self.store)

    def _show(self, out: Outcome, message_id: str, **values: object) -> Outcome:
        """Show message ``message_id``; an id starting with ``@`` is a text shown as it is."""
        line = message_id[1:] if message_id.startswith("@") else text(message_id, **values)
        out.ids.append(message_id)
        return self._show_text(out, line)

    def _show_text(self, out: Outcome, line: str) -> Outcome:
        out.messages.append(line)
        self.journal.append((self.clock.now_ms, line))
        if self.on_message is not None:
            self.on_message(self.clock.now_ms, line)
        return out

    def journal_text(self) -> str:
        return "".join(f"{_hms(t)} {line}\n" for t, line in self.journal)

    def shown(self) -> list[str]:
        return [line for _, line in self.journal]

    @property
    def libraries(self) -> list[str]:
        return list(self.store.get("libraries", list(DEFAULT_LIBRARIES)))

    def employees(self) -> dict[str, Any]:
        return dict(self.store.get("employees", {}))

    @property
    def cashier(self) -> str | None:
        return self.store.get("cashier")

    def _signing_key(self) -> dict[str, Any] | None:
        """The cashier's card key when the card holds one, else the settings' key."""
        name = self.cashier
        card = self.employees().get(name, {}) if name else {}
        if card.get("path"):
            return {"path": card["path"], "password": card.get("password", "")}
        key = self.store.get("key")
        return dict(key) if key else None

    def _signer(self, out: Outcome) -> KeyRead | None:
        key = self._signing_key()
        if key is None:
            self._show(out, "no_key")
            return None
        got = read_key(key["path"], key["password"], now_ms=self.clock.now_ms, libraries=self.libraries)
        if got.message is not None:
            self._show(out, got.message)
            return None
        return got

    def _cmd(self, command: str, signer: KeyRead | None = None, **fields: Any) -> tuple[int, Any]:
        body = json.dumps({"Command": command, **fields}, ensure_ascii=False).encode("utf-8")
        if signer is not None and signer.signer is not None:
            answer = self.link.post("cmd", signer.signer.sign(body), SIGNED)
        else:
            answer = self.link.post("cmd", body, JSON)
        if answer.status == 200 and answer.body[:1] in (b"{", b"["):
            return 200, json.loads(answer.body)
        return answer.status, answer.body

    @property
    def shift(self) -> dict[str, Any]:
        return dict(self.store.get("shift", {"open": False}))

    def _make(self, kind: str, signer: KeyRead, *, shift_id: int, amount: int = 0,
              items: list[tuple[str, int]] | list[Item] | None = None, payments: list[Payment] | None = None,
              totals: dict[str, int] | None = None, retnum: str | None = None) -> Doc:
        """The next document, signed, stored and its effect on the shift applied, in one transaction."""
        assert signer.signer is not None and signer.info is not None
        now = self.clock.now_ms
        with self.store.tx():
            local = int(self.store.get("next_local", 1))
            seq = int(self.store.get("doc_seq", 0)) + 1
            uid = str(uuid.UUID(bytes=hashlib.sha256(f"{self.identity.fiscal_num}/{seq}".encode()).digest()[:16],
                                version=4))
            date, hms = local_date_time(now)
            doc_kind, doctype, subtype = DOC_TYPES[kind]
            z = None
            if totals is not None:
                z = ZTotals(sales_sum=totals.get("sale", 0), sales_count=totals.get("sale_count", 0),
                            returns_sum=totals.get("return", 0), returns_count=totals.get("return_count", 0),
                            deposits=totals.get("cash_in", 0), issues=totals.get("cash_out", 0))
            goods = kind in GOODS_KINDS
            rows = tuple(i if isinstance(i, Item) else Item(name=i[0], price=i[1]) for i in (items or ()))
            pays = tuple(payments) if payments is not None else (Payment(sum=amount),)
            document = Document(
                kind=doc_kind, doctype=doctype, docsubtype=subtype, uid=uid, tin=self.identity.tin,
                ipn=self.identity.ipn, orgnm=self.identity.org, pointnm=self.identity.point,
                pointaddr=self.identity.address, date=date, time=hms, ordernum=local,
                cashdesknum=self.identity.desk_num, cashregisternum=self.identity.fiscal_num,
                cashier=signer.info.owner, orderretnum=retnum,
                items=rows if goods else (), payments=pays if goods else (),
                total=amount if kind in RECEIPT_KINDS else None, z=z)
            offline = self.offline.active
            offline_num = ""
            if offline:
                document, offline_num = self.offline.number(document)
            signed = signer.signer.sign(document.to_xml())
            doc = Doc(id=seq, local_num=local, uid=uid, kind=kind, time_ms=now, amount=amount, shift_id=shift_id,
                      signer=signer.info.key_id, state="offline" if offline else "pending",
                      fiscal_num=offline_num, offline=offline, signed=signed, error="")
            self.store.add_doc(doc)
            self.store.put("doc_seq", seq)
            self.store.put("next_local", local + 1)
            if offline:
                self.offline.chain(document, signed)
            self._apply(doc, signer.info.key_id, +1)
        return doc

    def _apply(self, doc: Doc, key_id: str, sign: int) -> None:
        """A document's effect on the shift (``sign`` -1 undoes it when the server refused the document)."""
        shift = self.shift
        if doc.kind == "open_shift":
            if sign > 0:
                self.store.put("shift_seq", doc.shift_id)
                self.store.put("shift", {"open": True, "id": doc.shift_id, "opened_by": key_id,
                                         "opened_ms": doc.time_ms, "totals": _zero_totals()})
            else:
                self.store.put("shift", {"open": False, "id": doc.shift_id})
        elif doc.kind in RECEIPT_KINDS:
            t = shift["totals"]
            t[doc.kind] = t.get(doc.kind, 0) + sign * doc.amount
            t[f"{doc.kind}_count"] = t.get(f"{doc.kind}_count", 0) + sign
            t["count"] = t.get("count", 0) + sign
            self.store.put("shift", shift)
        elif doc.kind == "z_report":
            shift["z_sent"] = sign > 0
            self.store.put("shift", shift)
        elif doc.kind == "close_shift":
            if sign > 0:
                self.store.put("shift", {"open": False, "id": doc.shift_id, "last": shift})
            else:
                self.store.put("shift", shift.get("last", shift))

    def _deliver(self, out: Outcome, doc: Doc) -> Outcome:
        out.local_num = doc.local_num
        if doc.offline:
            out.ok = True
            out.fiscal_num = doc.fiscal_num
            return self._show_text(out, f"{_doc_line(doc)}: offline fiscal number {doc.fiscal_num}")
        try:
            answer = self.link.post("doc", doc.signed or b"", SIGNED)
        except TaxLinkDown:
            return self._show(out, "server_unreachable")
        got = answers.read_doc_answer(answer.status, answer.body)
        out.tax_code, out.tax_line = got.error_code, got.error_line
        if got.ok:
            with self.store.tx():
                self.store.mark(doc.id, "sent", fiscal_num=got.fiscal_num)
                if got.offline_session_id:
                    self.offline.remember_seed(got.offline_session_id, got.offline_seed)
            out.ok = True
            out.fiscal_num = got.fiscal_num
            return self._show_text(out, f"{_doc_line(doc)}: fiscal number {got.fiscal_num}")
        with self.store.tx():
            self.store.mark(doc.id, "refused", error=got.error_line)
            if int(self.store.get("next_local", 1)) == doc.local_num + 1:
                self.store.put("next_local", doc.local_num)     # the server never took this number
            self._apply(doc, doc.signer, -1)
        if got.error_line:
            self._show_text(out, f"{_doc_line(doc)} refused by the tax server: {got.error_line}")
        for message_id in got.messages:
            self._show(out, message_id)
        if doc.kind in RECEIPT_KINDS:
            self._show(out, "not_signed")
        return out

    def _not_signed(self, out: Outcome) -> Outcome:
        return self._show(out, "not_signed")

    def resend(self) -> Outcome:
        """Send again every document stored but not answered (after a restart or a lost answer)."""
        out = Outcome(True)
        for doc in self.store.docs("pending"):
            got = self._deliver(Outcome(False), doc)
            out.messages.extend(got.messages)
            if not got.ok:
                out.ok = False
                break
        return out

    def send_packages(self, out: Outcome, key: KeyRead | None = None) -> Outcome:
        if key is None:
            key = self._signer(out)
            if key is None:
                return out
        assert key.signer is not None
        # A document whose online answer never came goes first, with its own bytes: the server takes it
        # once (the same UID and bytes give the first ticket again), so nothing doubles and nothing is lost.
        if self.store.count("pending") and not self.resend().ok:
            return self._show(out, "server_unreachable")
        while True:
            docs = self.store.docs("offline", limit=PACKAGE_MAX_DOCUMENTS)
            if not docs:
                break
            package = key.signer.sign(pack([d.signed or b"" for d in docs]))
            try:
                answer = self.link.post("pck", package, SIGNED)
            except TaxLinkDown:
                return self._show(out, "server_unreachable")
            got = answers.read_package_answer(answer.status, answer.body)
            if not got.ok:
                for message_id in got.messages:
                    self._show(out, message_id)
                return out
            with self.store.tx():
                for d in docs:
                    self.store.mark(d.id, "sent")
                if got.offline_session_id:
                    self.offline.remember_seed(got.offline_session_id, got.offline_seed)
        out.ok = True
        return self._show(out, "online")

    def close(self) -> None:
        self.store.close()


DOC_LABELS = {"sale": "Sale", "return": "Return", "cash_in": "Cash-in", "cash_out": "Cash-out",
              "cash_issue": "Cash issue",
              "open_shift": "Shift opened", "close_shift": "Shift closed", "z_report": "Z-report",
              "offline_begin": "Offline session begun (102)", "offline_end": "Offline session ended (103)"}


def _doc_line(doc: Doc) -> str:
    label = DOC_LABELS[doc.kind]
    return f"{label} {_money(doc.amount)}" if doc.kind in RECEIPT_KINDS else label


def _zero_totals() -> dict[str, int]:
    return {"sale": 0, "return": 0, "cash_in": 0, "cash_out": 0, "count": 0}


def _money(kop: int) -> str:
    return f"{kop // 100}.{kop % 100:02d}"


def totals_text(t: dict[str, int]) -> str:
    return (f"sales {_money(t.get('sale', 0))}, returns {_money(t.get('return', 0))}, "
            f"cash-in {_money(t.get('cash_in', 0))}, cash-out {_money(t.get('cash_out', 0))}, "
            f"receipts {t.get('count', 0)}")


def _hms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def day_text(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%d.%m.%Y")


def hm_text(ms: int) -> str:
    m = max(0, ms) // 60_000
    return f"{m // 60}h{m % 60:02d}m"
