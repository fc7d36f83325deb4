"""The ПРРО (програмний РРО): a software cash register of the tax service's protocol, sans-IO.

Its world is given to it: a ``VirtualClock`` (the only time it reads), a
``TaxLink`` to the fiscal server (the device does no I/O itself) and a state
directory (``PrroStore``, one SQLite file). What a person does is a method:

* settings — ``choose_key(path, password)``, ``read_key()`` (the owner's
  certificate, or the seeds' errors), ``save_key()`` (Set/Save),
  ``update_libraries()``;
* employee cards — ``set_employee(name, key_path, password)`` (the card's own
  key: a cashier whose card holds a key signs with it, whatever the settings
  say — the seeds' trap), ``select_cashier(name)``;
* work — ``open_shift()``, ``receipt(kind, amount)`` (sale, return, cash-in,
  cash-out), ``x_report()``, ``z_report()`` (Z-report and shift closing),
  ``go_offline()``, ``go_online()``, ``resend()``;
* what it shows — ``status_line()``, ``warnings()``, the journal of messages.

Each operation returns an ``Outcome``: ``ok`` and the messages shown, in the
exact texts of ``emulator/data/prro_messages.yaml``. Every message shown is also
a line of the journal (``journal_text()``), the scenario log.

Documents are numbered locally (``ORDERNUM``) through all classes, stored
signed before they are sent, and sent again after a restart (see ``store``).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from emulator.base.clock import VirtualClock
from emulator.devices.prro import answers
from emulator.devices.prro.keys import ALL_LIBRARIES, DEFAULT_LIBRARIES, KeyRead, read_key
from emulator.devices.prro.messages import text
from emulator.devices.prro.offline import OfflineSession
from emulator.devices.prro.store import Doc, PrroStore
from emulator.net.taxlink import JSON, SIGNED, TaxLink, TaxLinkDown
from emulator.rules.prro import (
    HOUR_MS,
    KEY_EXPIRY_WARNING_MS,
    OFFLINE_KEY_MIN_VALIDITY_MS,
    PACKAGE_MAX_DOCUMENTS,
)
from emulator.wire.prro.document import CHECK, ZREP, Document, Item, Payment, ZTotals, local_date_time
from emulator.wire.prro.package import pack

RECEIPT_KINDS = ("sale", "return", "cash_in", "cash_out")
# the device's document kinds -> (element, DOCTYPE, DOCSUBTYPE)
DOC_TYPES: dict[str, tuple[str, int, int | None]] = {
    "sale": (CHECK, 0, 0), "return": (CHECK, 0, 1), "cash_in": (CHECK, 0, 2), "cash_out": (CHECK, 0, 4),
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

    @property
    def text(self) -> str:
        return "; ".join(self.messages)


class PrroDevice:
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

    # ------------------------------------------------------------ the journal
    def _show(self, out: Outcome, message_id: str, **values: object) -> Outcome:
        """Show message ``message_id``; an id starting with ``@`` is a text shown as it is."""
        line = message_id[1:] if message_id.startswith("@") else text(message_id, **values)
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

    # ------------------------------------------------------------ settings: the private-key field
    @property
    def libraries(self) -> list[str]:
        return list(self.store.get("libraries", list(DEFAULT_LIBRARIES)))

    def choose_key(self, path: str, password: str) -> Outcome:
        self.form = {"path": str(path), "password": password, "read": None}
        return Outcome(True)

    def read_key(self) -> Outcome:
        """«Read»: the owner's certificate information, or the seeds' error."""
        out = Outcome(False)
        if not self.form["path"]:
            return self._show(out, "no_key")
        got = read_key(self.form["path"], self.form["password"], now_ms=self.clock.now_ms, libraries=self.libraries)
        self.form["read"] = got
        if got.message is not None:
            return self._show(out, got.message)
        assert got.info is not None
        out.ok = True
        return self._show(out, "key_read", owner=got.info.owner, tax_id=got.info.tax_id,
                          valid_to=_date(got.info.not_after_ms))

    def save_key(self) -> Outcome:
        """Set/Save: only a key that was read well is taken."""
        got: KeyRead | None = self.form["read"]
        if got is None or got.message is not None or got.info is None:
            return self._show_text(Outcome(False), "Read the key first")
        self.store.put("key", {"path": self.form["path"], "password": self.form["password"],
                               "serial": got.info.serial, "owner": got.info.owner,
                               "not_after_ms": got.info.not_after_ms})
        return Outcome(True)

    def set_offline_limits(self, mode: str) -> Outcome:
        """``block`` (default): past 36 h / 168 h the ПРРО makes no document; ``warn``: it warns and goes on,
        and the tax server blocks it when the package comes (MODELLED: a ПРРО program that only warns)."""
        if mode not in ("block", "warn"):
            return self._show_text(Outcome(False), f"offline limits: block or warn, not {mode!r}")
        self.store.put("offline_limits", mode)
        return Outcome(True)

    def update_libraries(self) -> Outcome:
        self.store.put("libraries", list(ALL_LIBRARIES))
        return self._show(Outcome(True), "libraries_update")

    # ------------------------------------------------------------ employee cards
    def employees(self) -> dict[str, Any]:
        return dict(self.store.get("employees", {}))

    def set_employee(self, name: str, key_path: str | None = None, password: str = "") -> Outcome:
        """The card of ``name``, with its own key (``key_path``) or none (the settings' key signs)."""
        cards = self.employees()
        cards[name] = {"path": str(key_path), "password": password} if key_path else {}
        self.store.put("employees", cards)
        return Outcome(True)

    def select_cashier(self, name: str | None) -> Outcome:
        if name is not None and name not in self.employees():
            return self._show_text(Outcome(False), f"No employee {name!r}")
        self.store.put("cashier", name)
        return Outcome(True)

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

    # ------------------------------------------------------------ the link
    def _cmd(self, command: str, signer: KeyRead | None = None, **fields: Any) -> tuple[int, Any]:
        import json
        body = json.dumps({"Command": command, **fields}, ensure_ascii=False).encode("utf-8")
        if signer is not None and signer.signer is not None:
            answer = self.link.post("cmd", signer.signer.sign(body), SIGNED)
        else:
            answer = self.link.post("cmd", body, JSON)
        if answer.status == 200 and answer.body[:1] in (b"{", b"["):
            return 200, json.loads(answer.body)
        return answer.status, answer.body

    # ------------------------------------------------------------ shifts
    @property
    def shift(self) -> dict[str, Any]:
        return dict(self.store.get("shift", {"open": False}))

    def open_shift(self) -> Outcome:
        out = Outcome(False)
        if self.shift.get("open"):
            return self._show(out, "shift_already_opened")
        if self._blocked(out):
            return out
        signer = self._signer(out)
        if signer is None:
            return self._not_signed(out)
        if not self.offline.active:
            try:
                status, _ = self._cmd("Objects", signer)
            except TaxLinkDown:
                return self._show(out, "server_unreachable")
            if status == 204:
                return self._show(out, "no_business_units")
        shift_id = int(self.store.get("shift_seq", 0)) + 1
        doc = self._make("open_shift", signer, shift_id=shift_id)
        return self._deliver(out, doc)

    def x_report(self) -> Outcome:
        """The X-report: the shift's totals, shown, no document sent (a local report)."""
        shift = self.shift
        if not shift.get("open"):
            return self._show(Outcome(False), "shift_not_opened")
        return self._show_text(Outcome(True), "X-report: " + _totals_text(shift["totals"]))

    def z_report(self) -> Outcome:
        """The Z-report and the shift's closing (documents ZREP and 101)."""
        out = Outcome(False)
        shift = self.shift
        if not shift.get("open"):
            return self._show(out, "shift_not_opened")
        signer = self._signer(out)
        if signer is None:
            return self._not_signed(out)
        if not self.offline.active and self.store.count("pending"):
            if not self.resend().ok:
                return self._show(out, "server_unreachable")
        if not shift.get("z_sent"):
            z = self._make("z_report", signer, shift_id=shift["id"], totals=shift["totals"])
            if not self._deliver(out, z).ok:
                return out
        close = self._make("close_shift", signer, shift_id=shift["id"])
        done = self._deliver(out, close)
        if done.ok:
            self._show_text(done, "Z-report: " + _totals_text(shift["totals"]))
        return done

    # ------------------------------------------------------------ receipts
    def receipt(self, kind: str, amount_kop: int, *, items: list[tuple[str, int]] | None = None) -> Outcome:
        """A sale, a return (of the last sale sent), a cash-in or a cash-out of ``amount_kop``."""
        out = Outcome(False)
        if kind not in RECEIPT_KINDS:
            raise ValueError(f"unknown receipt kind {kind!r}")
        if not 0 < amount_kop < 10_000_000_000:
            return self._show_text(out, "The amount must be above 0.00")
        shift = self.shift
        if not shift.get("open"):
            return self._show(out, "shift_not_opened")
        if self._blocked(out):
            return out
        retnum = None
        if kind == "return":
            sale = self.store.last("sale", "sent") or self.store.last("sale", "offline")
            if sale is None:
                return self._show_text(out, "No sale to return")
            retnum = sale.fiscal_num
        signer = self._signer(out)
        if signer is None:
            return self._not_signed(out)
        doc = self._make(kind, signer, shift_id=shift["id"], amount=amount_kop,
                         items=items or [("Товар", amount_kop)], retnum=retnum)
        return self._deliver(out, doc)

    # ------------------------------------------------------------ making and sending documents
    def _make(self, kind: str, signer: KeyRead, *, shift_id: int, amount: int = 0,
              items: list[tuple[str, int]] | None = None, totals: dict[str, int] | None = None,
              retnum: str | None = None) -> Doc:
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
            goods = kind in ("sale", "return")
            document = Document(
                kind=doc_kind, doctype=doctype, docsubtype=subtype, uid=uid, tin=self.identity.tin,
                ipn=self.identity.ipn, orgnm=self.identity.org, pointnm=self.identity.point,
                pointaddr=self.identity.address, date=date, time=hms, ordernum=local,
                cashdesknum=self.identity.desk_num, cashregisternum=self.identity.fiscal_num,
                cashier=signer.info.owner, orderretnum=retnum,
                items=tuple(Item(name=n, price=p) for n, p in (items or ())) if goods else (),
                payments=(Payment(sum=amount),) if goods else (),
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

    # ------------------------------------------------------------ offline
    def go_offline(self) -> Outcome:
        out = Outcome(False)
        if self.offline.active:
            return self._show_text(out, "Already offline")
        key = self._signer(out)
        if key is None or key.info is None:
            return out
        if key.info.not_after_ms - self.clock.now_ms < OFFLINE_KEY_MIN_VALIDITY_MS:
            return self._show(out, "offline_refused_key")
        problem = self.offline.begin(self.clock.now_ms)
        if problem:
            return self._show(out, problem)
        self._make("offline_begin", key, shift_id=self.shift.get("id", 0) or 0)
        out.ok = True
        return self._show(out, "offline")

    def go_online(self) -> Outcome:
        """End the session (103) and send its documents in packages of at most 100."""
        out = Outcome(False)
        if not self.offline.active:
            return self._show_text(out, "Already online")
        key = self._signer(out)
        if key is None:
            return out
        self._make("offline_end", key, shift_id=self.shift.get("id", 0) or 0)
        self.offline.end()
        return self.send_packages(out, key)

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

    def _blocked(self, out: Outcome) -> bool:
        if self.offline.active:
            limit = self.offline.limit_problem(self.clock.now_ms)
            if limit == "offline_limit_reached":
                self._show(out, limit)
                # MODELLED setting: a ПРРО that only warns leaves the blocking to the tax server.
                return bool(self.store.get("offline_limits", "block") == "block")
            if limit == "offline_limit_warning":
                self._show(out, limit, left=_hm(self.offline.left_ms(self.clock.now_ms)))
        return False

    # ------------------------------------------------------------ what the user sees
    def status_line(self) -> str:
        now = self.clock.now_ms
        if self.offline.active:
            if self.offline.limit_problem(now) == "offline_limit_reached":
                return f"{text('blocked')}: {text('offline_limit_reached')}"
            return (f"{text('offline')} {_hm(self.offline.session_ms(now))} of 36h, "
                    f"{_hm(self.offline.month_ms(now))} of 168h this month")
        key = self._signing_key()
        if key is None:
            return f"{text('blocked')}: {text('no_key')}"
        got = read_key(key["path"], key["password"], now_ms=now, libraries=self.libraries)
        if got.message is not None:
            return f"{text('blocked')}: {text(got.message)}"
        return text("online")

    def warnings(self) -> list[str]:
        """A warning for each key (settings, cards) that expires within 14 days."""
        now = self.clock.now_ms
        seen: set[str] = set()
        out: list[str] = []
        keys = [self.store.get("key")] + [c for c in self.employees().values() if c.get("path")]
        for key in keys:
            if not key or key["path"] in seen:
                continue
            seen.add(key["path"])
            got = read_key(key["path"], key.get("password", ""), now_ms=now, libraries=self.libraries)
            if got.info is not None and got.message is None and got.info.not_after_ms - now <= KEY_EXPIRY_WARNING_MS:
                days = max(0, (got.info.not_after_ms - now) // DAY_MS)
                out.append(text("key_expires_soon", days=days))
        return out

    def check_warnings(self) -> Outcome:
        out = Outcome(True)
        for line in self.warnings():
            self._show_text(out, line)
        return out

    def state(self) -> dict[str, Any]:
        """The state as the CLI shows it (no password, key ids shortened)."""
        key = self.store.get("key")
        return {"identity": self.identity.as_json(), "status": self.status_line(),
                "key": None if not key else {"file": Path(key["path"]).name, "owner": key["owner"],
                                             "valid_to": _date(key["not_after_ms"])},
                "employees": {n: (Path(c["path"]).name if c.get("path") else None) for n, c in self.employees().items()},
                "cashier": self.cashier, "shift": {k: v for k, v in self.shift.items() if k != "opened_by"},
                "documents": {s: self.store.count(s) for s in ("pending", "offline", "sent", "refused")},
                "libraries": self.libraries}

    def close(self) -> None:
        self.store.close()


DOC_LABELS = {"sale": "Sale", "return": "Return", "cash_in": "Cash-in", "cash_out": "Cash-out",
              "open_shift": "Shift opened", "close_shift": "Shift closed", "z_report": "Z-report",
              "offline_begin": "Offline session begun (102)", "offline_end": "Offline session ended (103)"}


def _doc_line(doc: Doc) -> str:
    label = DOC_LABELS[doc.kind]
    return f"{label} {_money(doc.amount)}" if doc.kind in RECEIPT_KINDS else label


def _zero_totals() -> dict[str, int]:
    return {"sale": 0, "return": 0, "cash_in": 0, "cash_out": 0, "count": 0}


def _money(kop: int) -> str:
    return f"{kop // 100}.{kop % 100:02d}"


def _totals_text(t: dict[str, int]) -> str:
    return (f"sales {_money(t.get('sale', 0))}, returns {_money(t.get('return', 0))}, "
            f"cash-in {_money(t.get('cash_in', 0))}, cash-out {_money(t.get('cash_out', 0))}, "
            f"receipts {t.get('count', 0)}")


def _hms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _date(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%d.%m.%Y")


def _hm(ms: int) -> str:
    m = max(0, ms) // 60_000
    return f"{m // 60}h{m % 60:02d}m"
