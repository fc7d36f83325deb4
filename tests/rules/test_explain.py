"""Plain-Russian explanations of the KKT's permit-mode log records."""

import io
import json

import pytest

from emulator.devices.kkt.logbook import NO_EXPIRY, LogRecord
from emulator.rules.explain import explain, main_explain, rub

# The two blocks exactly as printed in the vendor's permit-mode instruction: tabs,
# the UUIDs broken by a line wrap ("- "), the lost digit of the second UUID and
# the trailing tabs included.
VENDOR_758 = (
    "ГИС МТ\t758\t[9812]\n"
    "\t\tНайден:Да,Нанесен:Да,Крипто:Да,Продан:Нет,Заблокирован:Нет,В обороте:Да,Серая зона:Нет\n"
    "Цена:24800 Макс:14000 Мин:12900, ГоденДо:07-02-2106 09:28:15, 2106:15, ВремяОбработки:523мс, "
    "UUID=4ac3d96d- df56-4d56-8d97-a22006848d48&Time=1712141750370\t\t"
)
VENDOR_754 = (
    "ГИС МТ\t754\t[5735]\n"
    "\t\tНайден:Да,Нанесен:Да,Крипто:Да,Продан:Да,Заблокирован:Нет,В обороте:Нет,Серая зона:Нет\n"
    "Цена:16000 Макс:16000 Мин:12900, ГоденДо:07-02-2106 09:28:15, 2106:15, ВремяОбработки:437мс, "
    "UUID=abc95c24-283b- 4783-868d-d605fcb4cf6&Time=1712095349413\t\t"
)
# The vendor's own explanation of the 758 example, its **bold** marks removed.
VENDOR_758_EXPLANATION = "Товар добавляли в чековый буфер с ценой (248р) выше МРЦ (140р)."


def test_vendor_758_gives_the_vendors_explanation():
    [e] = explain(VENDOR_758)
    assert e.code == 758
    assert e.error_text == "Продажа товара по цене ниже или выше максимальной розничной цены"
    assert e.summary == VENDOR_758_EXPLANATION
    assert e.summary.rstrip(".") == "Товар добавляли в чековый буфер с ценой (248р) выше МРЦ (140р)"
    assert e.source == "ГИС МТ" and e.seq == 9812
    f = e.fields
    assert (f["Цена"], f["Макс"], f["Мин"], f["2106"], f["ВремяОбработки"]) == (24800, 14000, 12900, 15, 523)
    assert f["UUID"] == "4ac3d96d-df56-4d56-8d97-a22006848d48" and f["uuid_ok"] is True  # the wrap rejoined
    assert f["Time"] == 1712141750370
    assert f["no_expiry"] is True
    assert f["flags"] == {"Найден": True, "Нанесен": True, "Крипто": True, "Продан": False, "Заблокирован": False,
                          "В обороте": True, "Серая зона": False}
    assert e.problems == []
    text = e.text()
    assert "03.04.2024 13:55:50.370 МСК" in text
    assert "reqId 4ac3d96d-df56-4d56-8d97-a22006848d48" in text
    assert "523 мс" in text
    assert "без даты" in text
    assert e.record.endswith("UUID=4ac3d96d-df56-4d56-8d97-a22006848d48&Time=1712141750370")


def test_vendor_754_is_withdrawn_and_its_broken_uuid_is_reported():
    [e] = explain(VENDOR_754)
    assert e.code == 754 and e.error_text == "Код выведен из оборота"
    assert e.summary == ("Код маркировки выведен из оборота: по данным ГИС МТ товар с этим кодом уже продан "
                         "(Продан:Да, В обороте:Нет), продать его ещё раз нельзя.")
    assert e.fields["UUID"] == "abc95c24-283b-4783-868d-d605fcb4cf6"
    assert e.fields["uuid_ok"] is False
    assert len(e.problems) == 1 and "11" in e.problems[0] and "12" in e.problems[0]
    text = e.text()
    assert "Цена (160р) равна МРЦ (160р)" in text
    assert "03.04.2024 01:02:29.413 МСК" in text  # 22:02:29 UTC on 02.04
    assert "Внимание: UUID" in text


def test_both_blocks_with_the_vendors_prose_around_them():
    pasted = ("Ошибка «758 Продажа товара по цене ниже или выше максимальной розничной цены» в отчете на "
              "технологическом сервере:\n\n" + VENDOR_758 + "\n\nТовар добавляли в чековый буфер с ценой "
              "(**248р**) выше МРЦ (**140р**).\n\nПример разбора ошибки 754.\n\n" + VENDOR_754 + "\n")
    e758, e754 = explain(pasted)
    assert e758.summary == VENDOR_758_EXPLANATION and e754.code == 754
    assert "Пример" not in e758.record


def test_tabs_as_spaces_and_lines_broken_inside_values():
    pasted = ("ГИС МТ 758 [9812]\n  Найден:Да,Нанесен:Да,Крипто:Да,Продан:Нет,Заблокирован:Нет,В\nобороте:Да,"
              "Серая зона:Нет\r\nЦена:24800 Макс:14000 Мин:12900, ГоденДо:07-02-2106 09:28:15, 2106:15, "
              "ВремяОбработки:523мс, UUID=4ac3d96d-\ndf56-4d56-8d97-a22006848d48&Time=171214\n1750370")
    [e] = explain(pasted)
    assert e.summary == VENDOR_758_EXPLANATION
    assert e.fields["UUID"] == "4ac3d96d-df56-4d56-8d97-a22006848d48" and e.fields["Time"] == 1712141750370
    assert e.fields["flags"]["В обороте"] is True and e.problems == []


def test_the_devices_own_records_are_explained():
    rec = LogRecord(seq=9812, time_ms=1712141750370, code=758, flags=(True, True, True, False, False, True, False),
                    price=24850, max_price=14000, min_price=12900, expiry_s=NO_EXPIRY, tag2106=15, elapsed_ms=523,
                    req_id="4ac3d96d-df56-4d56-8d97-a22006848d48", req_timestamp=1712141750370)
    [e] = explain(rec.text)
    assert e.summary == "Товар добавляли в чековый буфер с ценой (248,50р) выше МРЦ (140р)."
    assert e.record == rec.text


def _record(code, flags="Да,Да,Да,Нет,Нет,Да,Нет", price=14000, mx=14000, mn=12900, expiry="07-02-2106 09:28:15",
            tag=15, uuid="4ac3d96d-df56-4d56-8d97-a22006848d48", time="1712141750370"):
    names = ("Найден", "Нанесен", "Крипто", "Продан", "Заблокирован", "В обороте", "Серая зона")
    fl = ",".join(f"{n}:{v}" for n, v in zip(names, flags.split(",")))
    return (f"ГИС МТ\t{code}\t[1]\n\t\t{fl}\nЦена:{price} Макс:{mx} Мин:{mn}, ГоденДо:{expiry}, 2106:{tag}, "
            f"ВремяОбработки:400мс, UUID={uuid}&Time={time}")


@pytest.mark.parametrize("kwargs, summary", [
    ({"price": 12000}, "Товар добавляли в чековый буфер с ценой (120р) ниже МРЦ (140р)."),
    ({"price": 12000, "mx": 0}, "Товар добавляли в чековый буфер с ценой (120р) ниже единой минимальной цены, "
                                "ЕМЦ (129р)."),
    ({"price": 14000, "mn": 15000}, "Товар добавляли в чековый буфер с ценой (140р) ниже единой минимальной "
                                    "цены, ЕМЦ (150р)."),
])
def test_758_variants(kwargs, summary):
    [e] = explain(_record(758, **kwargs))
    assert e.summary == summary


def test_758_below_mentions_mc_and_emc():
    [e] = explain(_record(758, price=12000, mn=12900))
    assert any("МЦ" in d for d in e.details) and any("ЕМЦ (129р)" in d for d in e.details)


@pytest.mark.parametrize("code, flags, words", [
    (751, "Нет,-,-,-,-,-,-", "не найден в ГИС МТ (Найден:Нет)"),
    (752, "Да,Нет,Да,Нет,Нет,Нет,Нет", "нет сведений о его нанесении"),
    (753, "Да,Да,Нет,Нет,Нет,Да,Нет", "криптографическую проверку (Крипто:Нет)"),
    (755, "Да,Да,Да,Нет,Да,Да,Нет", "органа государственной власти (Заблокирован:Да)"),
    (756, "Да,Да,Да,Нет,Нет,Нет,Нет", "не введён в оборот (Продан:Нет, В обороте:Нет, Серая зона:Нет)"),
])
def test_flag_codes(code, flags, words):
    [e] = explain(_record(code, flags=flags))
    assert words in e.summary and e.problems == []


def test_757_with_and_without_date():
    [e] = explain(_record(757, expiry="01-03-2024 00:00:00"))
    assert e.summary == "Срок годности товара истёк: годен до 01-03-2024 00:00:00."
    [e] = explain(_record(757))
    assert "не указана" in e.summary


def test_transport_errors_and_unknown_codes():
    no_answer = _record(748, flags="-,-,-,-,-,-,-", price=0, mx=0, mn=0, tag=0, uuid="", time="")
    [e] = explain(no_answer)
    assert e.summary.startswith("Нет связи с сервером ГИС МТ") and "400 мс" in e.summary
    assert any("нет (признаки «-»)" in d for d in e.details)
    assert any("ждала ответа ГИС МТ 400 мс" in d for d in e.details)
    [e] = explain(_record(655, flags="-,-,-,-,-,-,-"))
    assert e.summary == "Ошибка защищённого соединения (TLS) с ГИС МТ: ошибка проверки сертификата TLS."
    [e] = explain(_record(759))
    assert e.error_text is None and "не описан" in e.summary and e.problems
    [e] = explain(_record(754, flags="Да,Да,Да,Нет,Нет,Да,Нет"))
    assert any("не согласуется" in p for p in e.problems)


def test_nothing_to_explain():
    assert explain("") == []
    assert explain("просто текст без записей 758") == []


def test_rub():
    assert [rub(24800), rub(14000), rub(24850), rub(5), rub(0)] == ["248р", "140р", "248,50р", "0,05р", "0р"]


def test_cli_file_stdin_and_argument(tmp_path, capsys, monkeypatch):
    f = tmp_path / "log.txt"
    f.write_text(VENDOR_758 + "\n\n" + VENDOR_754, "utf-8")
    assert main_explain([str(f)]) == 0
    out = capsys.readouterr().out
    assert VENDOR_758_EXPLANATION in out and "Код выведен из оборота" in out
    monkeypatch.setattr("sys.stdin", io.StringIO(VENDOR_754))
    assert main_explain(["-"]) == 0
    assert "abc95c24" in capsys.readouterr().out
    assert main_explain(["--text", VENDOR_758]) == 0
    assert VENDOR_758_EXPLANATION in capsys.readouterr().out
    assert main_explain(["--json", "--text", VENDOR_758]) == 0
    assert json.loads(capsys.readouterr().out)[0]["summary"] == VENDOR_758_EXPLANATION
    assert main_explain(["--text", "нет записей"]) == 1
    assert "не найдены" in capsys.readouterr().out
