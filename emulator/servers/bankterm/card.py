"""The simulated card and its holder at the emulated terminal, MODELLED.

``Holder.actions`` are consumed one per card transaction (``Purchase``, ``Refund``); when the list is
empty the holder does ``"approve"``. Each action says what the holder and the bank do:

* ``approve``: the card is presented after ``present_ms``, the PIN typed after ``pin_ms`` (asked when the
  amount is at least ``pin_from`` kopecks), the bank approves after the terminal's host time;
* ``decline`` (host code 0005), ``insufficient`` (0051), ``wrong_pin`` (0055, the PIN always asked),
  ``emv_decline`` (the chip refuses: 1002): the same steps, then that answer;
* ``cancel``: the holder presses the cancel key instead of presenting the card (1001);
* ``no_card``: no card comes; the terminal gives up after ``card_timeout_ms`` (300 s) with 1000.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ACTIONS = ("approve", "decline", "insufficient", "wrong_pin", "emv_decline", "cancel", "no_card")
HOST_CODE = {"approve": "0000", "decline": "0005", "insufficient": "0051", "wrong_pin": "0055",
             "emv_decline": "1002"}
CARD_TIMEOUT_MS = 300_000


@dataclass(frozen=True)
class Card:
    pan: str = "4731185610399838"
    holder_name: str = "IVAN PETRENKO"
    expiry: str = "12/29"
    payment_system: str = "VISA"
    issuer: str = "ПРИВАТБАНК"

    @property
    def masked(self) -> str:
        return self.pan[:4] + "X" * (len(self.pan) - 8) + self.pan[-4:]


@dataclass(eq=False)
class Holder:
    card: Card = field(default_factory=Card)
    actions: list[str] = field(default_factory=list)
    present_ms: int = 2_000
    pin_ms: int = 3_000
    pin_from: int = 50_000              # kopecks: a PIN is asked from 500.00 UAH up (MODELLED)
    card_timeout_ms: int = CARD_TIMEOUT_MS

    def plan(self, actions: list[str]) -> None:
        for a in actions:
            if a not in ACTIONS:
                raise ValueError(f"bad holder action {a!r}: one of {', '.join(ACTIONS)}")
        self.actions = list(actions)

    def next_action(self) -> str:
        return self.actions.pop(0) if self.actions else "approve"
