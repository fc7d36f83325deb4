"""The terminal's codes as data: the DM's exact texts, byte for byte, and the ECR JSON code mapping."""

from __future__ import annotations

from emulator.rules.terminal_errors import ecr_code, fill, terminal_tables


def test_the_texts_the_client_produces_are_the_dms_byte_for_byte() -> None:
    t = terminal_tables()
    assert t.named("transaction_not_found").text == 'Транзакцію з id="%s" не знайдено в БД'
    assert t.named("answer_timeout").text == "Error receiving TimeOut: %d ms"
    assert t.named("closed_gracefully").text == "Internal error: Connection Closed Gracefully"
    assert t.named("cannot_connect").text == "Помилка при з'єднанні за вказаною адресою: %s"
    assert t.named("handshake_timeout").text == "Таймаут при перевірці зв'язку з терміналом"
    assert t.named("terminal_error").text == "Помилка терміналу: %s"
    assert t.named("terminal_busy").text == "Помилка терміналу: пристрій зайнятий"
    assert t.by_res(5003).text == "Помилка терміналу: Transaction log is full. Need close batch"
    assert t.by_res(5020, "oschadbank").text == "Повідомлення від банку: Перевищено ліміт трансакці"
    # 1126 writes "COM" with the Cyrillic С and О, as the source does.
    assert "\u0421\u041e\u041c" in t.by_res(1126, "connection").text


def test_every_dm_code_of_the_terminal_tables_is_kept_once_per_table() -> None:
    rows = terminal_tables().dm
    assert len({(r.res, r.group, r.text) for r in rows}) == len(rows) == 38
    assert sorted(r.res for r in rows if r.group == "privatbank") == [5000, 5000]


def test_every_ecr_local_code_maps_to_a_dm_code_with_a_text() -> None:
    t = terminal_tables()
    for n in range(1000, 1009):
        code = ecr_code(str(n))
        assert code.dm == 5000 + n - 1000
        assert t.by_res(code.dm).text.startswith("Помилка терміналу: ")
    assert ecr_code("0051").dm == 5000


def test_fill_puts_values_in_order_and_never_re_expands_them() -> None:
    assert fill('Транзакцію з id="%s" не знайдено в БД', "%s") == 'Транзакцію з id="%s" не знайдено в БД'
    assert fill("Error receiving TimeOut: %d ms", 310000) == "Error receiving TimeOut: 310000 ms"
    assert fill("a %s b %s", "1") == "a 1 b %s"
    assert fill("100% %s", "x") == "100% x"
