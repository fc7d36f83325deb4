"""Driving the menu by pressing keys, as a person would (to be replaced by ``emulator.fronts.operator``).

``goto``, ``goto_main`` and ``press_many`` press the device's own keys; they
hold no state of the device and decide nothing for it. They live apart from
the device core so that they can go once every caller uses the cashier driver
``emulator.fronts.operator.Operator``.
"""

from __future__ import annotations

from emulator.devices.kkt.state import DeviceCore
from firmware_menu.keypad import Key
from firmware_menu.tree import Node


class CashierWalk(DeviceCore):
    def press(self, key: str | Key) -> None:
        raise NotImplementedError   # ``KktDevice.press``

    def press_many(self, keys: str) -> None:
        """Keys separated by spaces: ``"2 4 8 ПИ"``; a run of digits is typed digit by digit."""
        for token in keys.split():
            if token.isdigit() and token != "00":
                for d in token:
                    self.press(d)
            else:
                self.press(token)

    def goto(self, label: str) -> None:
        """Walk the menu to the item labelled ``label`` by pressing keys, as a person would."""
        self._to_main()
        if label in self.menu.context.values():
            cid = self.menu.context_id(label)
            path = self.menu.context_owner(cid)
            self._walk(path)
            self.press(Key.IT)          # into the owner menu
            self.press(Key.D00)
            target = self.context_items.index(cid)
            for _ in range(target):
                self.press(Key.PLUS)
            return
        self._walk(self.menu.find_path(label))

    def goto_main(self) -> None:
        """Back to the main menu by pressing keys (С, РЕЖ), as a person would."""
        self._to_main()

    def _to_main(self) -> None:
        for _ in range(10):
            if self.mode == "main" and self.nav.at_main:
                return
            if self.mode.startswith("cash_") and self.mode != "cash_ready":
                self.press(Key.C)
            elif self.mode == "cash_ready":
                if self.receipt is not None and self.receipt.positions:
                    raise RuntimeError("a receipt is open: close or cancel it before leaving cash mode")
                self.press(Key.REZH)
            elif self.mode in ("message", "edit", "options", "option_edit", "context", "scan_token", "z_confirm",
                               "settings_prompt"):
                self.press(Key.C)
            elif self.mode == "menu":
                self.press(Key.REZH)
            elif self.mode == "main":
                self.nav.reset()
                self._render()
            else:
                raise RuntimeError(f"cannot leave mode {self.mode} now")
        if not (self.mode == "main" and self.nav.at_main):
            raise RuntimeError(f"stuck in mode {self.mode}")

    def _walk(self, path: list[Node]) -> None:
        nodes = self.menu.main
        for depth, node in enumerate(path):
            idx = [n.id for n in nodes].index(node.id)
            cur = self.nav.stack[-1][1]
            for _ in range((idx - cur) % len(nodes)):
                self.press(Key.PLUS)
            if depth < len(path) - 1:
                self.press(Key.IT)
                nodes = node.items
