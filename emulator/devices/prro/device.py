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

from pathlib import Path
from typing import Any

from emulator.base.clock import Timer
from emulator.devices.prro.core import (  # noqa: F401 - Identity and Outcome are the device's API too
    DAY_MS,
    RECEIPT_KINDS,
    Identity,
    Outcome,
    PrroCore,
    day_text,
    hm_text,
    totals_text,
)
from emulator.devices.prro.keys import ALL_LIBRARIES, KeyRead, read_key
from emulator.devices.prro.messages import text
from emulator.net.taxlink import TaxLinkDown
from emulator.rules.prro import (
    KEY_EXPIRY_WARNING_MS,
    OFFLINE_KEY_MIN_VALIDITY_MS,
)
from emulator.wire.prro.document import Item, Payment


class PrroDevice(PrroCore):
    """The ПРРО as a person uses it (see the module docstring)."""

    _link_timer: Timer | None = None

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
                          valid_to=day_text(got.info.not_after_ms))

    def save_key(self) -> Outcome:
        """Set/Save: only a key that was read well is taken."""
        got: KeyRead | None = self.form["read"]
        if got is None or got.message is not None or got.info is None:
            return self._show(Outcome(False), "read_first")
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

    def set_employee(self, name: str, key_path: str | None = None, password: str = "") -> Outcome:
        """The card of ``name``, with its own key (``key_path``) or none (the settings' key signs)."""
        cards = self.employees()
        cards[name] = {"path": str(key_path), "password": password} if key_path else {}
        self.store.put("employees", cards)
        return Outcome(True)

    def select_cashier(self, name: str | None) -> Outcome:
        if name is not None and name not in self.employees():
            return self._show(Outcome(False), "no_employee", name=name)
        self.store.put("cashier", name)
        return Outcome(True)

    def open_shift(self) -> Outcome:
        out = Outcome(False)
        if self.shift.get("open"):
            return self._show(out, "shift_already_opened")
        if self._blocked(out) or not self._unsent_first(out):
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
        return self._show_text(Outcome(True), "X-report: " + totals_text(shift["totals"]))

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
        if not self._unsent_first(out):
            return out
        if not shift.get("z_sent"):
            z = self._make("z_report", signer, shift_id=shift["id"], totals=shift["totals"])
            if not self._deliver(out, z).ok:
                return out
        close = self._make("close_shift", signer, shift_id=shift["id"])
        out.ok = False                  # the Z-report's success is not the closing's
        done = self._deliver(out, close)
        if done.ok:
            self._show_text(done, "Z-report: " + totals_text(shift["totals"]))
        return done

    def receipt(self, kind: str, amount_kop: int, *, items: list[tuple[str, int]] | list[Item] | None = None,
                payments: list[Payment] | None = None, zero: bool = False) -> Outcome:
        """A sale, a return (of the last sale sent), a cash-in, a cash-out or a cash issue to card holders
        (DOCTYPE 3) of ``amount_kop``; ``items`` the rows (default one row of the whole sum), ``payments`` the
        payment rows (default one cash row); ``zero``: a zero sale or return (no rows, no payments, 0.00)."""
        out = Outcome(False)
        if kind not in RECEIPT_KINDS:
            raise ValueError(f"unknown receipt kind {kind!r}")
        zero = zero and kind in ("sale", "return") and amount_kop == 0
        if not (zero or 0 < amount_kop < 10_000_000_000):
            return self._show(out, "bad_amount")
        shift = self.shift
        if not shift.get("open"):
            return self._show(out, "shift_not_opened")
        if self._blocked(out) or not self._unsent_first(out):
            return out
        retnum = None
        if kind == "return":
            sale = self.store.last("sale", "sent") or self.store.last("sale", "offline")
            if sale is None:
                return self._show(out, "no_sale")
            retnum = sale.fiscal_num
        signer = self._signer(out)
        if signer is None:
            return self._not_signed(out)
        if zero:
            items, payments = [], []
        doc = self._make(kind, signer, shift_id=shift["id"], amount=amount_kop,
                         items=items if items is not None else [("Товар", amount_kop)], payments=payments,
                         retnum=retnum)
        return self._deliver(out, doc)

    def go_offline(self) -> Outcome:
        out = Outcome(False)
        if self.offline.active:
            return self._show(out, "already_offline")
        key = self._signer(out)
        if key is None or key.info is None:
            return out
        if key.info.not_after_ms - self.clock.now_ms < OFFLINE_KEY_MIN_VALIDITY_MS:
            return self._show(out, "offline_refused_key")
        with self.store.tx():       # the session and its 102 together, or neither (a kill between them)
            problem = self.offline.begin(self.clock.now_ms)
            if not problem:
                self._make("offline_begin", key, shift_id=self.shift.get("id", 0) or 0)
        if problem:
            return self._show(out, problem)
        out.ok = True
        return self._show(out, "offline")

    def go_online(self) -> Outcome:
        """End the session (103) and send its documents in packages of at most 100."""
        out = Outcome(False)
        if not self.offline.active:
            if self.store.count("offline"):
                return self.send_packages(out)
            return self._show(out, "already_online")
        key = self._signer(out)
        if key is None:
            return out
        if not self.link_up():
            return self._show(out, "server_unreachable")
        with self.store.tx():       # 103 and the session's end together, or neither
            self._make("offline_end", key, shift_id=self.shift.get("id", 0) or 0)
            self.offline.end()
        return self.send_packages(out, key)

    def link_up(self) -> bool:
        """The connection check: an unsigned ``ServerState`` answered."""
        try:
            status, _ = self._cmd("ServerState")
        except TaxLinkDown:
            return False
        return status == 200

    def check_link(self) -> Outcome:
        """What the ПРРО does while offline, every ``interval`` of ``start_link_checks``: when the server
        answers again it goes online by itself (103, the packages); documents left unsent go out."""
        if not (self.offline.active or self.store.count("offline") or self.store.count("pending")):
            return Outcome(True)
        if not self.link_up():
            return Outcome(False)
        if self.store.count("pending") and not self.resend().ok:
            return Outcome(False)
        return self.go_online() if (self.offline.active or self.store.count("offline")) else Outcome(True)

    def start_link_checks(self, interval_ms: int) -> None:
        """Check the link every ``interval_ms`` of the clock (MODELLED: the description's periodic check)."""
        def tick() -> None:
            self.check_link()
            self._link_timer = self.clock.call_later(interval_ms, tick, "prro link check")
        self.stop_link_checks()
        self._link_timer = self.clock.call_later(interval_ms, tick, "prro link check")

    def close(self) -> None:
        self.stop_link_checks()
        super().close()

    def stop_link_checks(self) -> None:
        timer = self._link_timer
        if timer is not None:
            timer.cancel()
            self._link_timer = None

    def _unsent_first(self, out: Outcome) -> bool:
        """Online, the packages of an ended session go before any new document (False: they cannot)."""
        if self.offline.active or not self.store.count("offline"):
            return True
        return self.send_packages(out).ok

    def _blocked(self, out: Outcome) -> bool:
        if self.offline.active:
            limit = self.offline.limit_problem(self.clock.now_ms)
            if limit == "offline_limit_reached":
                self._show(out, limit)
                # MODELLED setting: a ПРРО that only warns leaves the blocking to the tax server.
                return bool(self.store.get("offline_limits", "block") == "block")
            if limit == "offline_limit_warning":
                self._show(out, limit, left=hm_text(self.offline.left_ms(self.clock.now_ms)))
        return False

    def status_line(self) -> str:
        now = self.clock.now_ms
        if self.offline.active:
            if self.offline.limit_problem(now) == "offline_limit_reached":
                return f"{text('blocked')}: {text('offline_limit_reached')}"
            return (f"{text('offline')} {hm_text(self.offline.session_ms(now))} of 36h, "
                    f"{hm_text(self.offline.month_ms(now))} of 168h this month")
        unsent = self.store.count("offline")
        if unsent:
            return f"{text('online')}, {unsent} offline documents not sent yet"
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
                                             "valid_to": day_text(key["not_after_ms"])},
                "employees": {n: (Path(c["path"]).name if c.get("path") else None) for n, c in self.employees().items()},
                "cashier": self.cashier, "shift": {k: v for k, v in self.shift.items() if k != "opened_by"},
                "documents": {s: self.store.count(s) for s in ("pending", "offline", "sent", "refused")},
                "libraries": self.libraries}
