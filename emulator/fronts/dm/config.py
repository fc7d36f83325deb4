"""The default settings of a ПРРО in the DM (reference §3.3: the Vchasno cabinet's defaults; each ПРРО
may be configured otherwise): tax groups 1–9 and pay types 0–6.

MODELLED: the letters printed beside the rows, and the Ukrainian names of the pay types (the reference
gives their meaning in English).
"""

from __future__ import annotations

from emulator.fronts.dm.manager import PrroConfig, TaxGroup

DEFAULT_TAX_GROUPS = (
    TaxGroup("1", "ПДВ 20%", "А", 2000),
    TaxGroup("2", "Без ПДВ", "Б", 0, vat=False),
    TaxGroup("3", "ПДВ 20% + акциз 5%", "В", 2000, 500),
    TaxGroup("4", "ПДВ 7%", "Г", 700),
    TaxGroup("5", "ПДВ 0%", "Д", 0),
    TaxGroup("6", "Без ПДВ + акциз 5%", "Е", 0, 500, vat=False),
    TaxGroup("7", "Не є об'єктом ПДВ", "Ж", 0, vat=False),
    TaxGroup("8", "ПДВ 20% + ПФ 7.5%", "З", 2000, 750),
    TaxGroup("9", "ПДВ 14%", "И", 1400),
)

DEFAULT_PAY_TYPES = {0: "Готівка", 1: "Безготівкова", 2: "Картка", 3: "Передоплата", 4: "Післяплата",
                     5: "Кредит", 6: "Сертифікат"}
CASH = 0
CARD = 2


def default_config(**changes: object) -> PrroConfig:
    cfg = PrroConfig(tax_groups={g.code: g for g in DEFAULT_TAX_GROUPS}, pay_types=dict(DEFAULT_PAY_TYPES))
    for k, val in changes.items():
        setattr(cfg, k, val)
    return cfg
