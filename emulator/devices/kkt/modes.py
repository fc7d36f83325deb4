"""The device's modes, and the one answer to "is the device in cash mode?".

``Mode`` is a ``StrEnum``: ``Mode.CASH_READY == "cash_ready"``, so code and
tests that compare ``device.mode`` with a string keep working, and a mode
prints as its value. Which key handler runs in which mode is one table,
``KktDevice.KEYS`` in ``device.py``; the transitions are drawn in that
module's docstring.

Cash mode (``in_cash_mode``) is every ``cash_*`` mode and every screen put up
on top of one: a message (``message`` whose return mode is a cash mode, e.g.
«ЧЕК ЗАКРЫТ», «СМЕНА ОТКРЫТА», an error shown at the till) or a prompt that
returns to one. The technological-server exchange never runs there.
"""

from __future__ import annotations

from enum import StrEnum


class Mode(StrEnum):
    MAIN = "main"
    MENU = "menu"
    EDIT = "edit"
    OPTIONS = "options"
    OPTION_EDIT = "option_edit"
    CONTEXT = "context"
    SCAN_TOKEN = "scan_token"
    STATUS_RUNNING = "status_running"
    MESSAGE = "message"
    SETTINGS_PROMPT = "settings_prompt"
    Z_CONFIRM = "z_confirm"
    CASH_PASSWORD = "cash_password"
    CASH_OPEN_SHIFT = "cash_open_shift"
    CASH_READY = "cash_ready"
    CASH_DOCTYPE = "cash_doctype"
    CASH_NEED_PRICE = "cash_need_price"
    CASH_CHECKING = "cash_checking"
    CASH_REFUSED = "cash_refused"
    CASH_CONFIRM = "cash_confirm"
    CASH_CANCEL_CONFIRM = "cash_cancel_confirm"

    # Diagnostics (``mode {d.mode!r}``) read as they did when modes were plain strings.
    __repr__ = str.__repr__

    @property
    def is_cash(self) -> bool:
        return self.value.startswith("cash_")


def in_cash_mode(mode: Mode, return_mode: Mode, prompt_return: Mode) -> bool:
    """True in every cash mode and on a message or prompt screen that returns to one."""
    if mode is Mode.MESSAGE:
        return return_mode.is_cash
    if mode is Mode.SETTINGS_PROMPT:
        return prompt_return.is_cash
    return mode.is_cash
