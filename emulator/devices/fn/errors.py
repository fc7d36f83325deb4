"""The fiscal drive's answer codes [3P] and ``FnError``.

THIRD-PARTY: the codes are those of the ФН ↔ ККТ frame table of a course
project's C++ model of a fiscal drive (not the official ФН protocol
document). That table writes its codes as two digits without a radix; its
gaps (no 0A–0F, 13, 18–1F) say they are hexadecimal, and this module reads
them so, everywhere: the table's ``10`` (TLV data too large) is ``0x10`` = 16
and its ``16`` (shift longer than 24 h) is ``0x16`` = 22, so no two situations
share a code. ``FnError.code`` is the integer; ``FnError.label`` and
``str(err)`` show it as the table writes it (``16``).

=====  ==================================  ======================================
table  meaning (the table's)               when the modelled drive answers it
=====  ==================================  ======================================
02     wrong ФН state                      a document the state does not allow
                                           (a receipt with no open shift, a shift
                                           opened twice, anything after closing)
03     ФН error                            the archive file is damaged or foreign
05     ФН lifetime over                    a document after the drive's expiry
                                           (only the closing report is allowed)
07     wrong date/time                     a time earlier than the last document's
09     bad parameters                      fields that do not encode, a requisite
                                           the drive fills itself, a bad doc type
                                           or ФД number
10     TLV data too large                  a document over its type's size limit
15     message-wait resource exhausted     the oldest unacknowledged document is
                                           30 days old: new documents refused
16     shift longer than 24 h              a receipt 24 h after the shift opened
=====  ==================================  ======================================

The other codes of the table are listed in ``CODES`` for the frame codec and
the tools; the model does not produce them.
"""

from __future__ import annotations

WRONG_STATE = 0x02
DRIVE_ERROR = 0x03
EXPIRED = 0x05
WRONG_TIME = 0x07
BAD_PARAMETERS = 0x09
TLV_TOO_LARGE = 0x10
UNSENT_TOO_OLD = 0x15
SHIFT_OVER_24H = 0x16

#: The whole [3P] table: code → meaning as the table gives it (in English, as the reference renders it).
CODES: dict[int, str] = {
    0x01: "bad request / unknown command",
    0x02: "wrong ФН state",
    0x03: "ФН error",
    0x04: "crypto-coprocessor (КС) error",
    0x05: "ФН lifetime over",
    0x06: "archive full",
    0x07: "wrong date/time",
    0x08: "no data",
    0x09: "bad parameters",
    0x10: "TLV data too large",
    0x11: "no transport connection",
    0x12: "КС resource exhausted",
    0x14: "storage resource exhausted",
    0x15: "message-wait resource exhausted",
    0x16: "shift longer than 24 h",
    0x17: "wrong time difference between operations",
    0x20: "OFD message cannot be accepted",
}


def label(code: int) -> str:
    """The code as the [3P] table writes it: two hexadecimal digits (``0x16`` → ``16``)."""
    return f"{code:02X}"


class FnError(Exception):
    """A refusal of the fiscal drive: ``code`` of the [3P] table, ``text`` saying what happened."""

    def __init__(self, code: int, text: str) -> None:
        self.code = int(code)
        self.text = " ".join(str(text).split())
        super().__init__(self.code, self.text)

    @property
    def label(self) -> str:
        return label(self.code)

    @property
    def meaning(self) -> str:
        return CODES.get(self.code, "unknown")

    def __str__(self) -> str:
        return f"ФН {self.label} [3P] ({self.meaning}): {self.text}"


class DamagedArchive(FnError):
    """The archive file is not a drive archive this model can take; ``kept_as`` names the set-aside
    copy when the drive renamed it (``None`` when a reader left it in place)."""

    def __init__(self, text: str, kept_as: str | None = None) -> None:
        super().__init__(DRIVE_ERROR, text)
        self.kept_as = kept_as
