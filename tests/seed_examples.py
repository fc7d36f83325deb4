"""The two worked log examples of the vendor's permit-mode instruction, byte for byte.

The vendor's copy breaks each UUID across a line and its 754 UUID lost one hex
digit; those are artefacts of the copy, not of the format: full UUIDs stand here.
"""

SEED_758 = (
    "ГИС МТ\t758\t[9812]\n"
    "\t\tНайден:Да,Нанесен:Да,Крипто:Да,Продан:Нет,Заблокирован:Нет,В обороте:Да,Серая зона:Нет\n"
    "Цена:24800 Макс:14000 Мин:12900, ГоденДо:07-02-2106 09:28:15, 2106:15, ВремяОбработки:523мс, "
    "UUID=4ac3d96d-df56-4d56-8d97-a22006848d48&Time=1712141750370"
)
SEED_754 = (
    "ГИС МТ\t754\t[5735]\n"
    "\t\tНайден:Да,Нанесен:Да,Крипто:Да,Продан:Да,Заблокирован:Нет,В обороте:Нет,Серая зона:Нет\n"
    "Цена:16000 Макс:16000 Мин:12900, ГоденДо:07-02-2106 09:28:15, 2106:15, ВремяОбработки:437мс, "
    "UUID=abc95c24-283b-4783-868d-d605fcb4cf60&Time=1712095349413"
)
