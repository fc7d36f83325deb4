"""One answer to "is the device in cash mode?" (``KktDevice.in_cash_mode``), and no tech session there.

A message shown at the till («СМЕНА ОТКРЫТА», «ЧЕК ЗАКРЫТ», an error) is mode
``message`` returning to a cash mode: still cash mode. Neither the poll timer
nor a session asked for by hand (the serve console's ``exchange``) opens a
session there; outside cash mode both do.
"""

import pytest

from emulator.devices.kkt.events import TechNote
from emulator.devices.kkt.modes import Mode
from emulator.fronts.operator import Operator
from tests.devices.kkt.test_techexchange import MIN, settle, world


def _open_cash_mode(dev):
    Operator(dev).goto("КАССОВЫЙ РЕЖИМ")
    for k in ("ИТ", "0", "ИТ"):
        dev.press(k)


def shift_opened(dev):
    _open_cash_mode(dev)
    dev.press("3")                      # «СМЕНА ОТКРЫТА»


def receipt_closed(dev):
    shift_opened(dev)
    dev.press("С")
    Operator(dev).press_many("1 0 ПИ")
    dev.press("ИТ")                     # «ЧЕК ЗАКРЫТ»


def error_at_the_till(dev):
    shift_opened(dev)
    dev.press("С")
    dev.press("ПИ")                     # no amount: an error message over cash_ready


@pytest.mark.parametrize("screen", [shift_opened, receipt_closed, error_at_the_till])
def test_a_message_over_cash_mode_is_cash_mode_and_opens_no_session(tmp_path, screen):
    clock, model, link, dev = world(tmp_path)
    dev.tech.schedule()
    screen(dev)
    assert dev.mode == "message" and dev.return_mode == Mode.CASH_READY
    assert dev.in_cash_mode
    # The poll timer: skipped.
    clock.advance(10 * MIN)
    settle(clock, dev)
    assert dev.mode == "message"
    assert dev.tech.stats.sessions == 0 and dev.tech.stats.deferred == 1
    assert any(isinstance(e, TechNote) and e.text == "session skipped: the device is in cash mode"
               for e in dev.events)
    # A session asked for by hand: refused.
    assert dev.tech.start("console") is False
    assert dev.tech.stats.sessions == 0


def test_outside_cash_mode_both_open_a_session(tmp_path):
    clock, model, link, dev = world(tmp_path)
    dev.tech.schedule()
    shift_opened(dev)
    dev.press("С")
    dev.press("РЕЖ")                    # out of cash mode
    assert dev.mode == "main" and not dev.in_cash_mode
    clock.advance(10 * MIN)
    settle(clock, dev)
    assert dev.tech.stats.sessions == 1 and dev.tech.stats.deferred == 0
    assert dev.tech.start("console") is True
    settle(clock, dev)
    assert dev.tech.stats.sessions == 2 and dev.tech.stats.failed == 0


def test_a_message_outside_cash_mode_is_not_cash_mode(tmp_path):
    clock, model, link, dev = world(tmp_path)
    Operator(dev).goto("ИМЯ ХОСТА")
    dev.press("ИТ")
    dev.press("С")
    dev.type_text("not a host!")
    dev.press("ИТ")                     # «НЕВЕРНОЕ ЗНАЧЕНИЕ» over the menu
    assert dev.mode == "message" and not dev.in_cash_mode
    assert dev.tech.start("console") is True


def test_every_cash_mode_is_cash_mode() -> None:
    from emulator.devices.kkt.modes import in_cash_mode

    for mode in Mode:
        assert in_cash_mode(mode, Mode.MAIN, Mode.MAIN) is mode.value.startswith("cash_")
    assert in_cash_mode(Mode.SETTINGS_PROMPT, Mode.MAIN, Mode.CASH_READY)
    assert not in_cash_mode(Mode.MESSAGE, Mode.MENU, Mode.CASH_READY)
