"""The device against a simple reference model, driven by Hypothesis.

The model keeps only what a person at the till would know: which positions
were accepted into the open receipt, which receipts were closed or
cancelled, whether emergency mode is on and how many GIS MT requests are
allowed to have gone out. Invariants after every step:

* no accepted position is lost: the device's receipts hold exactly the
  positions the model accepted, in order, with their prices; a code already
  in the open receipt is refused at the scan (790) without a request;
* the status symbol agrees with the state: «A» exactly in emergency mode, «!»
  only while the last GIS MT exchange failed, «S» only with a usable
  configuration and a ranked list;
* no GIS MT request goes out for returns, in emergency or autonomous mode;
* the full token never appears on the display, in events or log records;
* kept-alive connections never outlive their receipt.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from emulator.base.clock import VirtualClock
from emulator.devices.kkt.device import KktDevice
from emulator.fronts.operator import Operator
from emulator.net.oism import SimOismLink
from emulator.net.simulated import SimulatedNetwork
from emulator.rules.marking import GS
from emulator.servers.oism.model import OismModel
from emulator.servers.trueapi import TrueApiBackend
from emulator.servers.trueapi.catalogue import CatalogueEntry

TOKEN = "7f0c0d6e-3b1a-4c53-9a8e-5d2f0e9b1c42"
START = 1_768_456_800_000
GOOD = [f"010460000000001{i}215Good{i}{GS}93abcd" for i in range(3)]
WITHDRAWN = "0104670540176099215NN*cM" + GS + "93dGVz"      # sandbox case 4 -> 754
EMERGENCY_203 = "0104670540176099215LpGKy" + GS + "93dGVz"  # sandbox case 12 -> 203
SLOW_2S = "0104670540176099215MpGKy" + GS + "93dGVz"        # sandbox case 14 -> 2 s delay
CODES = GOOD + [WITHDRAWN, EMERGENCY_203, SLOW_2S]
FAILURE_CODES = {747, 748, 749, 750, 760, 761, 764, 765, 766, 768, 654, 655, 656, 657, 658}


class DeviceMachine(RuleBasedStateMachine):
    @initialize()
    def boot(self) -> None:
        self.clock = VirtualClock(START)
        self.backend = TrueApiBackend(seed=0)
        self.backend.add_token("prod", TOKEN)
        for c in GOOD:
            self.backend.add_code(CatalogueEntry(code=c, groupIds=(8,)))
        self.net = SimulatedNetwork(self.clock, self.backend)
        self.dev = KktDevice(self.clock, self.net, oism=SimOismLink(OismModel()))
        self.dev.settings.token = TOKEN
        Operator(self.dev).goto("СТАТУС ГИС МТ")
        self.dev.press("ИТ")
        self.settle()
        self.dismiss()
        self.accepted: list[int] = []        # prices in the open receipt
        self.codes_in_receipt: set[str] = set()
        self.closed: list[list[int]] = []
        self.cancelled = 0
        self.emergency = False
        self.kind = "sale"

    # -- helpers ------------------------------------------------------------
    def settle(self) -> None:
        self.clock.run_while(lambda: self.dev.waiting, 60_000)

    def dismiss(self) -> None:
        while self.dev.mode in ("message", "cash_refused"):
            self.dev.press("С")

    def requests(self) -> int:
        return sum(n for host, n in self.net.stats.requests.items() if host != "cdn.crpt.ru")

    def to_cash(self) -> None:
        self.dismiss()
        if not self.dev.mode.startswith("cash_"):
            Operator(self.dev).goto("КАССОВЫЙ РЕЖИМ")
            self.dev.press("ИТ")
            self.dev.press("0")
            self.dev.press("ИТ")
            if self.dev.mode == "cash_open_shift":
                self.dev.press("3")
                self.settle()
                self.dismiss()

    # -- rules ----------------------------------------------------------------
    @rule(code=st.sampled_from(CODES), rub=st.integers(1, 999), ban=st.booleans(), yes=st.booleans())
    def sell_marked(self, code: str, rub: int, ban: bool, yes: bool) -> None:
        self.to_cash()
        self.dev.settings.sale_ban = "ВКЛЮЧЕН" if ban else "ПРЕДУПРЕЖДЕНИЕ"
        before_req, before_beeps = self.requests(), len(self.dev.beeps)
        Operator(self.dev).press_many(" ".join(str(rub)))
        self.dev.scan(code)
        self.settle()
        if code in self.codes_in_receipt:
            assert self.dev.last_error == 790 and self.requests() == before_req
            self.dismiss()
            return
        asked = self.dev.mode == "cash_confirm"
        if asked:
            self.dev.press("3" if yes else "С")
        self.dismiss()
        checked = self.kind == "sale" and not self.emergency
        if not checked:
            assert self.requests() == before_req, "a GIS MT request went out where none may"
        failed = len(self.dev.beeps) > before_beeps
        if code == EMERGENCY_203 and checked:
            # 203 switches emergency mode on, unless a host fault made the request fail first.
            self.emergency = not failed
            self.accepted.append(rub * 100)
            self.codes_in_receipt.add(code)
        elif code == WITHDRAWN and checked and not failed:
            assert self.dev.last_error == 754
            assert asked == (not ban)
            if asked and yes:
                self.accepted.append(rub * 100)
                self.codes_in_receipt.add(code)
        else:
            self.accepted.append(rub * 100)
            self.codes_in_receipt.add(code)

    @rule(rub=st.integers(1, 999))
    def sell_free(self, rub: int) -> None:
        self.to_cash()
        Operator(self.dev).press_many(" ".join(str(rub)) + " ПИ")
        self.dismiss()
        self.accepted.append(rub * 100)

    @precondition(lambda self: self.dev.receipt is not None and self.dev.receipt.positions)
    @rule()
    def close_receipt(self) -> None:
        self.to_cash()
        self.dev.press("ИТ")
        self.dismiss()
        self.closed.append(self.accepted)
        self.accepted = []
        self.codes_in_receipt = set()
        self.kind = "sale"

    @precondition(lambda self: self.dev.receipt is not None)
    @rule()
    def cancel_receipt(self) -> None:
        self.to_cash()
        self.dev.press("С")
        self.dev.press("3")
        self.dismiss()
        self.accepted = []
        self.codes_in_receipt = set()
        self.cancelled += 1
        self.kind = "sale"

    @precondition(lambda self: self.dev.receipt is None or not self.dev.receipt.positions)
    @rule()
    def return_receipt(self) -> None:
        self.to_cash()
        self.dev.press("ВЗ")
        for _ in range(4):
            if self.dev.screen()[1].strip() == "Возврат прихода":
                break
            self.dev.press("+")
        self.dev.press("ИТ")
        assert self.dev.doc_kind == "sale_return"
        self.kind = "sale_return"

    @precondition(lambda self: self.dev.receipt is None or not self.dev.receipt.positions)
    @rule(on=st.booleans())
    def emergency_by_hand(self, on: bool) -> None:
        self.dismiss()
        if self.dev.mode == "cash_ready":
            self.dev.press("РЕЖ")  # an empty receipt ends with leaving cash mode
        Operator(self.dev).goto("ВКЛ АВАРИЙН.РЕЖ" if on else "ВЫКЛ АВАРИЙН.РЕЖ")
        self.dev.press("ИТ")
        self.dismiss()
        self.emergency = on
        self.kind = "sale"

    @rule(ms=st.integers(0, 3_600_000))
    def time_passes(self, ms: int) -> None:
        self.clock.advance(ms)
        self.settle()

    @rule(host=st.sampled_from(["cdn01.crpt.ru", "cdn02.crpt.ru", "cdn03.crpt.ru"]),
          plan=st.lists(st.sampled_from([500, 429, 503, "5000", "refuse", "garbage", 400, "ok"]), max_size=4))
    def host_fault(self, host: str, plan: list) -> None:
        self.backend.host(host).faults.plan(plan)

    # -- invariants -----------------------------------------------------------
    @invariant()
    def no_accepted_position_is_lost(self) -> None:
        closed = [[p.price for p in r.positions] for r in self.dev.receipts if r.state == "closed"]
        assert closed == self.closed
        current = [p.price for p in self.dev.receipt.positions] if self.dev.receipt else []
        assert current == self.accepted
        assert sum(1 for r in self.dev.receipts if r.state == "cancelled") == self.cancelled

    @invariant()
    def status_symbol_agrees_with_state(self) -> None:
        sym = self.dev.status_symbol
        assert (sym == "A") == self.emergency == self.dev.emergency
        if sym == "!":
            assert self.dev.degraded and self.dev.logbook.records
            # The last record of an exchange: a duplicate refused at the scan (790) makes none.
            exchanges = [r for r in self.dev.logbook.records if r.code != 790]
            assert exchanges and exchanges[-1].code in FAILURE_CODES
        if sym == "S":
            assert not self.dev.degraded and self.dev.book.has_list

    @invariant()
    def token_never_in_full(self) -> None:
        assert TOKEN not in self.dev.display.text
        assert all(TOKEN not in e.text for e in self.dev.events)
        assert all(TOKEN not in r.text and TOKEN not in r.note for r in self.dev.logbook.records)

    @invariant()
    def connections_do_not_outlive_their_receipt(self) -> None:
        live = self.net.open_connections()
        if self.dev.receipt is None:
            assert live == []
        else:
            assert all(k.startswith(self.dev.receipt.key + "@") for k in live)


DeviceMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None,
                                           suppress_health_check=[HealthCheck.too_slow])
TestDevice = DeviceMachine.TestCase
