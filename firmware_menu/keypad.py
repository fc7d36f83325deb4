"""The keypad of the Mercury cash registers.

Keys known from public keyboard walkthroughs of the Mercury 115Ф/130Ф/180Ф/185Ф:
the digits, ``00``, ИТ (total / enter), ПИ (subtotal / price entry), ВЗ (document
type / return), С (clear / back), РЕЖ (mode), ``+`` (next value), X (multiply)
and КОД (goods code). The decimal point, ``-`` (previous item) and ↑ (paper
feed) are modelled: the real keyboard has keys for them but their use in these
menus is not public.
"""

from __future__ import annotations

import enum


class Key(enum.StrEnum):
    D0 = "0"
    D1 = "1"
    D2 = "2"
    D3 = "3"
    D4 = "4"
    D5 = "5"
    D6 = "6"
    D7 = "7"
    D8 = "8"
    D9 = "9"
    D00 = "00"
    IT = "ИТ"
    PI = "ПИ"
    VZ = "ВЗ"
    C = "С"
    REZH = "РЕЖ"
    PLUS = "+"
    X = "X"
    KOD = "КОД"
    POINT = "."       # modelled
    MINUS = "-"       # modelled
    FEED = "↑"        # modelled

    @property
    def is_digit(self) -> bool:
        return self.value.isdigit()

    @property
    def modelled(self) -> bool:
        return self in (Key.POINT, Key.MINUS, Key.FEED)


# Latin look-alikes people type in scenarios ("C" for "С", "X"/"Х").
_ALIASES = {"C": Key.C, "Х": Key.X, "x": Key.X, "IT": Key.IT, "PI": Key.PI, "VZ": Key.VZ,
            "REZH": Key.REZH, "KOD": Key.KOD, "FEED": Key.FEED}


def parse_key(name: str) -> Key:
    name = name.strip()
    try:
        return Key(name)
    except ValueError:
        pass
    if name in _ALIASES:
        return _ALIASES[name]
    raise ValueError(f"no key {name!r}; keys are: {', '.join(k.value for k in Key)}")
