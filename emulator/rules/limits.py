"""Setting limits shared by the device and the technological server, read from the menu table.

«ПЕРИОД ОПРОСА» takes whole minutes in the range its menu item gives
(``firmware_menu/menu.yaml``: 5 to 1440); the device, the server's settings
form and the exchange's timer all take the range from here.
"""

from __future__ import annotations

from firmware_menu.tree import menu_data


def _poll_period_range() -> tuple[int, int]:
    def walk(nodes):  # type: ignore[no-untyped-def]
        for n in nodes:
            if n.setting == "poll_period_min":
                return n
            found = walk(n.items)
            if found is not None:
                return found
        return None

    node = walk(menu_data().main)
    assert node is not None and node.min is not None and node.max is not None, "menu.yaml: no ПЕРИОД ОПРОСА"
    return int(node.min), int(node.max)


POLL_PERIOD_MIN, POLL_PERIOD_MAX = _poll_period_range()
