"""The one cashier driver: a person at the till, pressing the device's keys.

``Operator(device, settle)`` drives a ``KktDevice`` only through what a person
has — the keypad (``press``), the PC keyboard (``type_text``), the scanner
(``scan``) — and reads only the device's public state (mode, display,
receipt). Everything else is built from those: walking the menu to a label,
entering cash mode with the password, opening and closing the shift, selling
a marked good and answering the warning-mode question, setting a setting
through its menu item. The scenario runner, the tests, the benchmarks and the
consoles all use it, so there is one way of driving the device and one list
of the modes a cashier passes through.

``settle`` is how time passes while the device waits (a GIS MT answer, a
deadline): ``clock.run_while(device.waiting, ...)`` on the simulated network,
the real-time driver on the real one. The steps that start something the
cashier waits for (a sale, «СТАТУС ГИС МТ», opening the shift) call it; the
walking steps do not.

A step that cannot do what it says raises ``OperatorError`` naming the
device's mode and display; the key sequences are exactly those a person would
press, so a trace of the device's key events reads as a cashier's session.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emulator.devices.kkt.device import DOC_KINDS, DOC_TITLES, KktDevice
from emulator.rules.syntax import mask_token
from firmware_menu.keypad import Key
from firmware_menu.tree import Node

# Screens a cashier leaves with С (a message, a question, an editor, the scan screen...).
_LEAVE_WITH_C = ("message", "edit", "options", "option_edit", "context", "scan_token", "z_confirm",
                 "settings_prompt", "cash_refused", "cash_password", "cash_open_shift", "cash_doctype",
                 "cash_need_price", "cash_cancel_confirm", "cash_confirm")
# Screens that show a result the cashier puts away (С) before the next operation.
_DISMISSED = ("message", "cash_refused")


class OperatorError(Exception):
    """A step could not do what it says; the message names the device's mode and display."""


def price_keys(kop: int) -> str:
    """An amount in kopecks as the cashier types it: ``12300`` -> ``123``, ``12345`` -> ``123.45``."""
    rub, k = divmod(int(kop), 100)
    return f"{rub}" if k == 0 else f"{rub}.{k:02d}"


def _no_wait() -> None:
    return None


class Operator:
    def __init__(self, device: KktDevice, settle: Callable[[], object] | None = None) -> None:
        self.device = device
        self.settle = settle or _no_wait

    def where(self) -> str:
        d = self.device
        return f"mode {d.mode!r}, display {d.display.text!r}"

    # -------------------------------------------------------------- the keys
    def press(self, *keys: str | Key) -> None:
        for k in keys:
            self.device.press(k)

    def press_many(self, keys: str) -> None:
        """Keys separated by spaces: ``"2 4 8 ПИ"``; a run of digits is typed digit by digit (``00`` is a key)."""
        for token in keys.split():
            if token.isdigit() and token != "00":
                for digit in token:
                    self.device.press(digit)
            else:
                self.device.press(token)

    def press_text(self, text: str) -> None:
        """Each character as a key (digits and the point of an amount or a password)."""
        for ch in text:
            self.device.press(ch)

    def type_text(self, text: str) -> None:
        self.device.type_text(text)

    def scan(self, data: str, wait: bool = True) -> None:
        self.device.scan(data)
        if wait:
            self.settle()

    # ------------------------------------------------------------ the menu
    def dismiss(self) -> None:
        """Put away a message (С), as a cashier does before the next operation."""
        d = self.device
        for _ in range(5):
            if d.mode not in _DISMISSED:
                return
            d.press(Key.C)

    def goto_main(self) -> None:
        """Back to the main menu (С out of screens, РЕЖ out of menus and an empty cash mode)."""
        d = self.device
        for _ in range(12):
            if d.mode == "main" and d.nav.at_main:
                return
            if d.mode == "cash_ready":
                if d.receipt is not None and d.receipt.positions:
                    raise OperatorError("a receipt is open: close or cancel it before leaving cash mode")
                d.press(Key.REZH)
            elif d.mode in _LEAVE_WITH_C:
                d.press(Key.C)
            elif d.mode == "menu":
                d.press(Key.REZH)
            else:
                break
        if not (d.mode == "main" and d.nav.at_main):
            raise OperatorError(f"cannot get back to the main menu from {self.where()}")

    def goto(self, label: str) -> None:
        """Walk the menu to the item labelled ``label`` (a context-menu item too) by pressing keys."""
        d = self.device
        self.goto_main()
        menu = d.menu
        if label in menu.context.values():
            cid = menu.context_id(label)
            self._walk(menu.context_owner(cid))
            d.press(Key.IT)          # into the owner menu
            d.press(Key.D00)
            for _ in range(d.context_items.index(cid)):
                d.press(Key.PLUS)
            return
        self._walk(menu.find_path(label))

    def _walk(self, path: list[Node]) -> None:
        d = self.device
        nodes = d.menu.main
        for depth, node in enumerate(path):
            idx = [n.id for n in nodes].index(node.id)
            cur = d.nav.stack[-1][1]
            for _ in range((idx - cur) % len(nodes)):
                d.press(Key.PLUS)
            if depth < len(path) - 1:
                d.press(Key.IT)
                nodes = node.items

    def set_setting(self, node: Node, wanted: Any) -> None:
        """Set a setting through its menu item: walk there, open it, choose or type the value, ИТ."""
        d = self.device
        self.goto(node.label)
        d.press(Key.IT)
        if d.mode != "edit":
            raise OperatorError(f"{node.label!r} did not open for editing ({self.where()})")
        if node.type == "choice":
            for _ in range(len(node.values)):
                if d.display.content[1] == wanted:
                    break
                d.press(Key.PLUS)
            d.press(Key.IT)
        else:
            if d.buffer:
                d.press(Key.C)
            d.type_text(str(wanted))
            d.press(Key.IT)
            self.settle()       # a token entered is checked with cdn/info at once: wait for the answer
        if getattr(d.settings, node.setting or "") != wanted:
            shown = mask_token(str(wanted)) if node.type == "secret" else wanted
            raise OperatorError(f"the device did not take {node.setting} = {shown!r} ({self.where()})")
        self.goto_main()

    def set_option(self, number: int, value: int) -> None:
        d = self.device
        self.goto("ОПЦИИ")
        d.press(Key.IT)
        self.press_text(str(number))
        d.press(Key.IT)
        if d.mode != "option_edit":
            raise OperatorError(f"option {number} did not open ({self.where()})")
        self.press_text(str(value))
        d.press(Key.IT)
        if d.settings.options.get(number) != value:
            raise OperatorError(f"the device did not take option {number} = {value} ({self.where()})")
        self.goto_main()

    def run_context(self, item: str) -> None:
        """A context-menu item by its id (``status``, ``emergency_on``, ``scan_token``, ...): walk there, ИТ."""
        d = self.device
        self.goto(d.menu.context[item])
        d.press(Key.IT)

    def status_check(self) -> None:
        """«СТАТУС ГИС МТ»: the list refreshed and ranked; the answer stays on the display."""
        self.run_context("status")
        self.settle()

    def emergency(self, on: bool) -> None:
        self.run_context("emergency_on" if on else "emergency_off")

    # ------------------------------------------------------------ cash mode
    def has_positions(self) -> bool:
        """A receipt is open once something is in it (a refused first position leaves an empty one)."""
        r = self.device.receipt
        return r is not None and bool(r.positions)

    def enter_cash(self) -> None:
        """Into cash mode (the password is option 2); the shift may still need opening."""
        d = self.device
        self.dismiss()
        if d.mode == "cash_ready":
            return
        self.goto("КАССОВЫЙ РЕЖИМ")
        d.press(Key.IT)
        self.press_text(str(d.settings.options.get(2, 0)))
        d.press(Key.IT)
        if d.mode not in ("cash_ready", "cash_open_shift"):
            raise OperatorError(f"cash mode did not open ({self.where()})")

    def open_shift(self) -> None:
        d = self.device
        self.dismiss()
        if d.mode == "cash_ready" and d.shift_open:
            return
        self.enter_cash()
        if d.mode == "cash_open_shift":
            d.press(Key.D3)
        self.settle()
        self.dismiss()
        if d.mode != "cash_ready" or not d.shift_open:
            raise OperatorError(f"the shift did not open ({self.where()})")

    def at_till(self, what: str) -> KktDevice:
        """The device ready for the next position (a message put away first), or OperatorError."""
        self.dismiss()
        d = self.device
        if d.mode != "cash_ready":
            raise OperatorError(f"{what} needs cash mode (cash_ready) but the device is in {self.where()}; "
                                "open the shift or enter cash mode first")
        return d

    def sell(self, code: str, price: int | None = None, answer: str = "none") -> None:
        """An amount (if any) and a scanned code; ``answer`` to the warning-mode question: sell, refuse, none."""
        d = self.at_till("sale")
        if price:
            self.press_text(price_keys(price))
        d.scan(code)
        self.settle()
        if d.mode == "cash_confirm" and answer != "none":
            d.press(Key.D3 if answer == "sell" else Key.C)

    def sell_free(self, price: int) -> None:
        """A position without a marking code: the amount, then ПИ."""
        d = self.at_till("sale_free")
        self.press_text(price_keys(price))
        d.press(Key.PI)

    def doc_type(self, kind: str) -> None:
        """The document type of the next receipt (ВЗ, then + until it shows, ИТ)."""
        d = self.at_till("doc_type")
        if self.has_positions():
            raise OperatorError("the document type cannot change while a receipt is open")
        d.press(Key.VZ)
        if d.mode != "cash_doctype":
            raise OperatorError(f"ВЗ did not open the document type ({self.where()})")
        title = d.msgs[DOC_TITLES[kind]]
        for _ in range(len(DOC_KINDS)):
            if d.display.content[1] == title:
                break
            d.press(Key.PLUS)
        d.press(Key.IT)
        if d.doc_kind != kind:
            raise OperatorError(f"the document type is {d.doc_kind!r}, not {kind!r} ({self.where()})")

    def close_receipt(self) -> None:
        d = self.at_till("close_receipt")
        if not self.has_positions():
            raise OperatorError("no receipt is open (or it has no positions)")
        d.press(Key.IT)
        if d.receipt is not None:
            raise OperatorError(f"the receipt did not close ({self.where()})")

    def cancel_receipt(self) -> None:
        d = self.at_till("cancel_receipt")
        if d.receipt is None:
            raise OperatorError("no receipt is open")
        if d.buffer:
            d.press(Key.C)
        d.press(Key.C)
        d.press(Key.D3)
        if d.receipt is not None:
            raise OperatorError(f"the receipt was not cancelled ({self.where()})")

    def leave_cash(self) -> None:
        d = self.device
        self.dismiss()
        if d.mode == "cash_ready":
            if self.has_positions():
                raise OperatorError("a receipt is open: close or cancel it before leaving cash mode")
            d.press(Key.REZH)
        if d.in_cash_mode:
            raise OperatorError(f"still in cash mode ({self.where()})")

    def close_shift(self) -> None:
        """The Z report: «ОТЧЕТЫ С ГАШЕНИЕМ», ИТ, 3."""
        d = self.device
        self.dismiss()
        if not d.shift_open:
            raise OperatorError("no shift is open")
        if self.has_positions():
            raise OperatorError("a receipt is open: close or cancel it before closing the shift")
        self.goto("ОТЧЕТЫ С ГАШЕНИЕМ")
        d.press(Key.IT)
        if d.mode != "z_confirm":
            raise OperatorError(f"the Z report did not ask for confirmation ({self.where()})")
        d.press(Key.D3)
        self.dismiss()
        if d.shift_open:
            raise OperatorError(f"the shift is still open ({self.where()})")
