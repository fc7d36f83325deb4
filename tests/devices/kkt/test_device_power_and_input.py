"""The device across power cycles, the main menu's «00», and what inputs may show of a token."""

from __future__ import annotations

import json

from emulator.base.clock import VirtualClock
from emulator.devices.kkt.device import KktDevice
from emulator.fronts.operator import Operator
from emulator.net.oism import SimOismLink
from emulator.net.simulated import SimulatedNetwork
from emulator.rules.marking import GS
from emulator.servers.oism.model import OismModel
from emulator.servers.trueapi import TrueApiBackend

TOKEN = "7f0c0d6e-3b1a-4c53-9a8e-5d2f0e9b1c42"
OTHER = "5b8e2a91-4c7d-4e0f-8a3b-9d6c1e2f7a05"
START = 1_768_456_800_000
GOOD = f"0104600000000017215Good1{GS}93abcd"


class World:
    def __init__(self, tmp_path):
        self.clock = VirtualClock(START)
        self.backend = TrueApiBackend()
        self.backend.add_token("prod", TOKEN)
        self.backend.add_code({"code": GOOD, "groupIds": [8]})
        self.net = SimulatedNetwork(self.clock, self.backend)
        self.dir = tmp_path / "dev"
        self.dev = self.power_on()
        self.dev.settings.token = TOKEN
        self.dev.store.save(self.dev.settings)

    def power_on(self):
        return KktDevice(self.clock, self.net, self.dir, oism=SimOismLink(OismModel()))

    def settle(self):
        self.clock.run_while(lambda: self.dev.waiting, 60_000)

    def restart(self):
        self.dev.power_off()
        self.dev = self.power_on()

    def status_check(self):
        Operator(self.dev).goto("СТАТУС ГИС МТ")
        self.dev.press("ИТ")
        self.settle()
        Operator(self.dev).goto_main()

    def into_cash(self):
        d = self.dev
        Operator(d).goto("КАССОВЫЙ РЕЖИМ")
        for k in ("ИТ", "0", "ИТ"):
            d.press(k)
        if d.mode == "cash_open_shift":
            d.press("3")
        self.settle()
        while d.mode == "message":
            d.press("С")

    def sell(self):
        d = self.dev
        Operator(d).press_many("1 0 0")
        d.scan(GOOD)
        self.settle()
        while d.mode == "message":
            d.press("С")


def test_receipt_numbers_and_the_shift_count_survive_a_power_cut(tmp_path):
    w = World(tmp_path)
    w.status_check()
    w.into_cash()
    for _ in range(2):
        w.sell()
        w.dev.press("ИТ")
        w.dev.press("С")
    assert [r.number for r in w.dev.receipts] == [1, 2]
    w.restart()
    Operator(w.dev).goto("ОТЧЕТЫ БЕЗ ГАШЕНИЯ")
    w.dev.press("ИТ")
    assert w.dev.display.text.endswith("ЧЕКОВ: 2")
    w.dev.press("С")
    Operator(w.dev).goto_main()
    w.into_cash()
    w.sell()
    assert w.dev.receipt is not None and w.dev.receipt.number == 3


def test_a_power_cut_ends_the_open_receipts_connection(tmp_path):
    w = World(tmp_path)
    w.status_check()
    w.into_cash()
    w.sell()                                   # receipt 1 open, its connection kept alive
    opened = dict(w.net.stats.opened)
    w.restart()
    assert w.net.open_connections() == []      # nothing of the dead device stays open
    w.into_cash()
    w.sell()                                   # receipt 1 again (it was never closed): a new connection
    assert sum(w.net.stats.opened.values()) == sum(opened.values()) + 1


def test_a_damaged_state_file_is_set_aside_and_the_device_starts(tmp_path):
    w = World(tmp_path)
    w.status_check()
    w.dev.power_off()
    for damage in ("{not json", json.dumps({"cdn": {"hosts": [{"host": "cdn01.crpt.ru"}], "refreshed_at": None}}),
                   json.dumps([1, 2]), json.dumps({"shift_number": "x"})):
        (w.dir / "state.json").write_text(damage, "utf-8")
        w.dev = w.power_on()
        assert (w.dir / "state.json.bad").read_text("utf-8") == damage
        assert any("state.json is damaged" in e.text for e in w.dev.events)
        assert w.dev.shift_open is False and w.dev.book.hosts == []
        w.dev.power_off()
        (w.dir / "state.json.bad").unlink()


def test_status_check_from_the_main_menus_own_context_menu(tmp_path):
    w = World(tmp_path)
    d = w.dev
    assert d.mode == "main"
    d.press("00")
    assert d.mode == "context" and d.display.text.startswith("СТАТУС ГИС МТ")
    d.press("С")
    assert d.mode == "main"
    d.press("00")
    d.press("ИТ")
    w.settle()
    assert d.display.text.startswith("ГИС МТ: OK")
    d.press("С")
    assert d.mode == "main"


def test_a_token_typed_or_scanned_anywhere_is_masked_in_the_events(tmp_path):
    w = World(tmp_path)
    d = w.dev
    Operator(d).goto("СКАНИРОВ.ТОКЕН")
    d.press("ИТ")
    d.type_text(OTHER)                         # typed on the PC keyboard in the scan screen
    Operator(d).goto_main()
    w.into_cash()
    d.scan(OTHER)                              # a token scanned in cash mode by mistake
    d.press("С")
    d.type_text(TOKEN)                         # the configured token typed where an amount goes
    text = "\n".join(e.text for e in d.events)
    assert OTHER not in text and TOKEN not in text
    assert "5b8e…7a05" in text
