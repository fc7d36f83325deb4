"""Rendering: what the display shows in each mode.

``Screen._render`` is called after every input and every asynchronous
outcome; it reads the state and draws the two display lines. Messages and
prompts (``message``, ``settings_prompt``, ``cash_refused``, ``cash_confirm``)
are put on the display when their mode is entered and are left as they are.
"""

from __future__ import annotations

from emulator.devices.kkt.events import price_text
from emulator.devices.kkt.modes import Mode
from emulator.devices.kkt.state import DeviceCore
from emulator.rules.syntax import mask_token
from firmware_menu.tree import Node

DOC_KINDS = ("sale", "sale_return", "expense", "expense_return")
DOC_TITLES = {"sale": "cash_title", "sale_return": "return_title", "expense": "expense_title",
              "expense_return": "expense_return_title"}


class Screen(DeviceCore):
    def _render(self) -> None:
        now = self.clock.now_ms
        d, m = self.display, self.msgs
        mode = self.mode
        if mode == Mode.MAIN or mode == Mode.MENU:
            node = self.nav.selected
            d.show(node.label, self._value_text(node) if node.kind == "param" else "", now)
        elif mode == Mode.EDIT:
            assert self.edit_node is not None
            node = self.edit_node
            if node.type == "choice":
                value = node.values[self.edit_index]
            elif node.type == "secret":
                value = mask_token(self.buffer) if self.buffer else ""
            else:
                value = self.buffer
            d.show(node.label, value, now)
        elif mode == Mode.OPTIONS:
            d.show(m.get("options_title", "ОПЦИИ"), f"N {self.buffer}", now)
        elif mode == Mode.OPTION_EDIT:
            assert self.option_number is not None
            opt = self.menu.options.get(self.option_number)
            d.show(f"{self.option_number} {opt.label if opt else ''}".strip(), self.buffer or
                   str(self.settings.options.get(self.option_number, 0)), now)
        elif mode == Mode.CONTEXT:
            d.show(self.menu.context[self.context_items[self.context_index]], "", now)
        elif mode == Mode.SCAN_TOKEN:
            d.show(m["scan_token"], "", now)
        elif mode == Mode.CASH_PASSWORD:
            d.show(m["password"], "*" * len(self.buffer), now)
        elif mode == Mode.CASH_OPEN_SHIFT:
            d.show(m["open_shift"], "", now)
        elif mode == Mode.CASH_READY:
            title = m[DOC_TITLES[self.doc_kind]]
            if self.buffer:
                d.show(title, self.buffer, now)
            elif self.receipt and self.receipt.positions:
                d.show(f"{title} {len(self.receipt.positions)}", f"ИТОГ {price_text(self.receipt.total)}", now)
            else:
                d.show(title, "0.00", now)
        elif mode == Mode.CASH_DOCTYPE:
            d.show(m["doc_type"], m[DOC_TITLES[DOC_KINDS[self.edit_index]]], now)
        elif mode == Mode.CASH_NEED_PRICE:
            d.show(m["enter_price"], self.buffer, now)
        elif mode == Mode.CASH_CHECKING:
            d.show(m["checking"], "", now)
        elif mode == Mode.STATUS_RUNNING:
            d.show(m["status_running"], "", now)
        elif mode in (Mode.CASH_REFUSED, Mode.MESSAGE, Mode.SETTINGS_PROMPT, Mode.CASH_CONFIRM):
            pass  # the message was put up when the mode was entered
        elif mode == Mode.CASH_CANCEL_CONFIRM:
            d.show(m["cancel_receipt"], "[3]-ДА", now)
        elif mode == Mode.Z_CONFIRM:
            d.show(m["close_shift"], "[3]-ДА", now)

    def _value_text(self, node: Node) -> str:
        value = getattr(self.settings, node.setting or "", "")
        if node.type == "secret":
            return mask_token(str(value))
        if node.type == "int" and node.unit:
            return f"{value} {node.unit}"
        return str(value)
