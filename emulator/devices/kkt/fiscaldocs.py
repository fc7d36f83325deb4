"""The fields of the device's fiscal documents (FFD 1.2), built from its receipts and counters.

Sans-IO and pure: a ``Receipt`` (``state.py``) and the device's identity in,
a tuple of ``(tag, value)`` fields out, in the Python value types of
``emulator.wire.ffd`` (``str``, ``int``, ``bool``, ``Decimal``, nested tuples
for an STLV). The fiscal drive adds what only it knows: 1040 (ФД number),
1041 (ФН number), 1012 (date and time), 1077 (ФПД), 1209 (the FFD version)
and its own counters, 1038 (the shift) and 1042 (the receipt in the shift).

A receipt («Кассовый чек», type 3)::

    1054 calculation sign (1 приход, 2 возврат прихода, 3 расход, 4 возврат расхода)
    1055 taxation system, 1048 user, 1018 ИНН, 1037 РН ККТ, 1009/1187 address and place,
    1060 FNS site
    1059 item (repeated):  1030 1079 1023 2108 1043, 1199 VAT rate (6 «НДС не облагается»),
           1212 subject (33 a marked good with a КМ, else 1 «товар»), 1214 4 «полный расчет»
           a marked one also 2000 (the full КМ), 2106 (the ОИСМ result as the device got it)
           and, when GIS MT answered, 1260 = 1262 «030», 1263 «21.11.2023», 1264 «1944»,
           1265 «UUID=<reqId>&Time=<reqTimestamp>» (offline: «…&Inst=<inst>&Ver=<version>»)
    1020 total, 1031 cash, 1081 cashless
    2107 whether a marked item's check was negative (only with marked items)

Which requisites and values are used is MODELLED where the FFD leaves a
choice (1055 = 1 ОСН, 2108 = 0 «штуки», the items' names, the user's name
and address; 1199 = 6 «НДС не облагается» for every item: the device has no
VAT setting); 1212 = 33 «товар, подлежащий маркировке средством
идентификации, имеющим код маркировки» / 1 «товар» and 1214 = 4 «полный
расчет» are FFD 1.2's values for a good sold in full; the permit-mode 1260 is
the guide's.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from emulator.devices.kkt.state import FOIV, Position, Receipt
from emulator.rules.tag2106 import FN_POSITIVE, STATUS_CORRECT

Field = tuple[int, Any]

CALC_SIGN = {"sale": 1, "sale_return": 2, "expense": 3, "expense_return": 4}
PIECE = 0                   # tag 2108: «штуки или единицы»
OSN = 1                     # tag 1055: общая система налогообложения
VAT_NONE = 6                # tag 1199: «НДС не облагается» (MODELLED default: no VAT setting)
GOODS, MARKED_GOODS = 1, 33  # tag 1212: «товар»; «товар … имеющим код маркировки» (ТМ)
FULL_PAYMENT = 4            # tag 1214: «полный расчет»


@dataclass(frozen=True)
class Identity:
    """Who the device is, as its documents say (the registration requisites; MODELLED values)."""
    inn: str = "7700000000"
    serial: str = "00000000000001"
    reg_number: str = "0000000001000001"
    user: str = "ООО ЭМУЛЯТОР"
    address: str = "г.Москва, ул.Тестовая, д.1"
    place: str = "Магазин"
    site: str = "www.nalog.gov.ru"
    ofd_inn: str = "7704358518"
    model: str = "Меркурий-185Ф"

    def header(self) -> tuple[Field, ...]:
        return ((1048, self.user), (1018, self.inn), (1037, self.reg_number), (1009, self.address),
                (1187, self.place), (1060, self.site))


def tag1260(tag1265: str) -> tuple[Field, ...]:
    """The permit-mode industry requisite of an item: ФОИВ 030, ПП №1944 of 21.11.2023, the check's value."""
    return ((1262, FOIV[0]), (1263, FOIV[1]), (1264, FOIV[2]), (1265, tag1265))


def _negative(p: Position) -> bool:
    v = p.tag2106 or 0
    return not (v & FN_POSITIVE and v & STATUS_CORRECT)


def item(p: Position) -> tuple[Field, ...]:
    fields: list[Field] = [(1030, f"ТОВАР {p.number}" if not p.marking else f"МАРКИР.ТОВАР {p.number}"),
                           (1079, p.price), (1023, Decimal(1)), (2108, PIECE), (1043, p.price),
                           (1199, VAT_NONE), (1212, MARKED_GOODS if p.marking else GOODS),
                           (1214, FULL_PAYMENT)]
    if p.marking:
        fields += [(2000, p.marking), (2106, int(p.tag2106 or 0))]
        if p.tag1265:
            fields.append((1260, tag1260(p.tag1265)))
    return tuple(fields)


def receipt_fields(r: Receipt, ident: Identity) -> tuple[Field, ...]:
    """The fields of a closed receipt (``Receipt.state == "closed"``), everything paid in cash."""
    fields: list[Field] = [(1054, CALC_SIGN[r.kind]), (1055, OSN), *ident.header()]
    fields += [(1059, item(p)) for p in r.positions]
    total = r.total
    fields += [(1020, total), (1031, total), (1081, 0)]
    marked = [p for p in r.positions if p.marking]
    if marked:
        fields.append((2107, any(_negative(p) for p in marked)))
    return tuple(fields)


def report_fields(ident: Identity) -> tuple[Field, ...]:
    """A shift report (open: 2, close: 5) or the report on the current state (21)."""
    return ident.header()


def registration_fields(ident: Identity) -> tuple[Field, ...]:
    """The registration report (1): the requisites, the taxation system, the OFD."""
    return (*ident.header(), (1013, ident.serial), (1062, OSN), (1017, ident.ofd_inn),
            (1002, False), (1001, False), (1056, False), (1108, False), (1221, False))
