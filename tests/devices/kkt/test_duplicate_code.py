"""A marking code already in the open receipt is refused at the scan, before any request (code 790, modelled).

The operator's extra checks forbid the same КМ twice in one receipt (goods sold
in parts excepted; this device does not sell in parts). The vendor's list has
no code for it: the emulator shows «790 КМ УЖЕ В ЧЕКЕ» and logs a record.
"""

from emulator.base import errors as E
from emulator.base.clock import VirtualClock
from emulator.devices.kkt.device import KktDevice
from emulator.net.oism import SimOismLink
from emulator.net.simulated import SimulatedNetwork
from emulator.rules.marking import GS
from emulator.servers.oism.model import OismModel
from emulator.servers.trueapi import TrueApiBackend
from emulator.servers.trueapi.catalogue import CatalogueEntry
from tests.devices.kkt.till import GOOD, START, TOKEN, Till

SAME_UNIT_OTHER_TAIL = f"0104600000000017215Good1{GS}93zzzz"


def till() -> tuple[Till, OismModel]:
    clock = VirtualClock(START)
    backend = TrueApiBackend(seed=0)
    backend.add_token("prod", TOKEN)
    backend.add_code(CatalogueEntry(code=GOOD, groupIds=(8,)))
    oism = OismModel()
    net = SimulatedNetwork(clock, backend)
    dev = KktDevice(clock, net, oism=SimOismLink(oism))
    dev.settings.token = TOKEN
    t = Till(clock, backend, net, dev)
    t.status_check()
    return t, oism


def test_the_second_scan_of_a_code_in_one_receipt_is_refused_before_any_request():
    t, oism = till()
    t.sell(GOOD)
    assert t.positions() == [("allowed", None)]
    checks = t.backend.host("cdn01.crpt.ru").checks
    assert oism.checks == 1 and checks == 1
    for scanned in (GOOD, SAME_UNIT_OTHER_TAIL, GOOD.replace(GS, "<GS>")):
        t.sell(scanned)
        assert t.dev.last_error == E.DUPLICATE_IN_RECEIPT
        assert t.dev.display.text.startswith("790 КМ УЖЕ В ЧЕКЕ"), t.dev.display.text
        assert t.positions() == [("allowed", None)]
    # No ОИСМ request, no codes/check: refused at the scan.
    assert oism.checks == 1 and t.backend.host("cdn01.crpt.ru").checks == checks
    recs = t.dev.logbook.records
    assert [r.code for r in recs] == [790, 790, 790]
    assert recs[0].note == "duplicate КМ in the receipt: refused before any request"
    assert recs[0].text.startswith("ГИС МТ\t790\t[") and "Цена:10000 " in recs[0].text
    assert len(t.dev.beeps) == 3


def test_the_same_code_sells_again_in_the_next_receipt():
    t, oism = till()
    t.sell(GOOD)
    t.dismiss()
    t.dev.press("ИТ")           # the receipt closes
    t.sell(GOOD)
    assert t.positions() == [("allowed", None)] and t.dev.logbook.records == []
    assert oism.checks == 2
