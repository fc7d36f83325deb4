from firmware_menu.display import PAGE_MS, SCROLL_MS, SCROLL_PAUSE, WIDTH, Display, status_area, wrap
from firmware_menu.keypad import Key, parse_key
from firmware_menu.tree import Navigator, menu_data


def test_wrap_breaks_at_spaces_and_cuts_long_words():
    assert wrap("ЕСТЬ НАСТР. ДЛЯ ОБНОВЛЕНИЯ [3]-ДА") == ["ЕСТЬ НАСТР. ДЛЯ", "ОБНОВЛЕНИЯ [3]-ДА"]
    assert wrap("a" * 45) == ["a" * 20, "a" * 20, "a" * 5]
    assert all(len(line) <= WIDTH for line in wrap("758 Продажа товара по цене ниже или выше максимальной розничной цены"))


def test_long_message_is_paged_two_lines_at_a_time():
    d = Display()
    text = "758 Продажа товара по цене ниже или выше максимальной розничной цены"
    d.message(text, 0)
    pages = d.pages()
    assert pages >= 2
    first = d.lines_at(0)
    second = d.lines_at(PAGE_MS)
    assert first != second
    assert d.lines_at(PAGE_MS * pages) == first  # cycles
    assert " ".join(line.strip() for line in d.content) == text


def test_long_line_scrolls_with_pauses_at_both_ends():
    d = Display()
    host = "markirovka.sandbox.crptech.ru"
    d.show("ИМЯ ХОСТА", host, 0)
    assert d.lines_at(0)[1] == host[:20]
    assert d.lines_at(SCROLL_MS * SCROLL_PAUSE)[1] == host[:20]
    assert d.lines_at(SCROLL_MS * (SCROLL_PAUSE + 1))[1] == host[1:21]
    end = SCROLL_MS * (SCROLL_PAUSE + len(host) - 20)
    assert d.lines_at(end)[1] == host[-20:]
    assert all(len(line) == 20 for line in d.lines_at(end))


def test_same_content_keeps_its_animation_phase():
    d = Display()
    d.show("A", "B" * 30, 0)
    d.show("A", "B" * 30, 5000)
    assert d.since_ms == 0
    d.show("A", "C", 6000)
    assert d.since_ms == 6000


def test_status_area_and_keys():
    assert status_area("13:55", "S") == "13:55 S"
    assert status_area("13:55", "") == "13:55  "
    assert parse_key("ИТ") is Key.IT and parse_key("C") is Key.C and parse_key("00") is Key.D00
    assert Key.POINT.modelled and not Key.IT.modelled


def test_menu_tree_holds_the_vendor_strings_exactly():
    data = menu_data()
    for label in ("ПРОГ. ФН И ОФД", ">НАСТР. ГИС МТ", "ЗАПРЕТ ПРОДАЖ", "ПРОГРАММИРОВАНИЕ", "СЕРВ.ККТ",
                  "ПЕРИОД ОПРОСА"):
        assert data.find_path(label)[-1].label == label
        assert label in data.vendor_labels
    assert list(data.context.values()) == ["УСТ. ПО УМОЛЧ.", "СКАНИРОВ.ТОКЕН", "СТАТУС ГИС МТ",
                                           "ВКЛ АВАРИЙН.РЕЖ", "ВЫКЛ АВАРИЙН.РЕЖ"]
    assert data.find_path("ЗАПРЕТ ПРОДАЖ")[-1].values == ("ВКЛЮЧЕН", "ПРЕДУПРЕЖДЕНИЕ")
    assert [n.label for n in data.find_path(">НАСТР. ГИС МТ")] == ["ПРОГ. ФН И ОФД", ">НАСТР. ГИС МТ"]
    assert data.options[92].vendor
    assert data.messages["settings_pending"] == "ЕСТЬ НАСТР. ДЛЯ ОБНОВЛЕНИЯ [3]-ДА"


def test_navigator_moves_enters_and_backs():
    nav = Navigator(menu_data())
    assert nav.at_main and nav.selected.id == "cash"
    nav.move(-1)
    assert nav.selected.id == menu_data().main[-1].id
    nav.move(+1)
    while nav.selected.id != "fn_ofd":
        nav.move(+1)
    assert nav.enter() and nav.selected.id == "gismt" and nav.parent and nav.parent.id == "fn_ofd"
    assert nav.back() and nav.at_main and not nav.back()
