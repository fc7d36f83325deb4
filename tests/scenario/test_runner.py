"""The scenario format: loading and validation, every step kind, every expectation, JUnit output."""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from emulator.scenario import ScenarioError, load_data, load_text, run_paths, run_scenario
from emulator.scenario.junit import junit_xml, write_junit
from emulator.scenario.model import expand_paths, parse_duration, parse_instant, schema
from emulator.scenario.runner import ScenarioRun

TOKEN = "7f0c0d6e-3b1a-4c53-9a8e-5d2f0e9b1c42"
TOKEN2 = "5b8e2a91-4c7d-4e0f-8a3b-9d6c1e2f7a05"
GOOD = "0104600000000017215Good1\x1d93abcd"
WITHDRAWN = "0104670540176099215NN*cM\x1d93dGVz"      # sandbox case 4 -> 754
START_MS = 1_768_456_800_000                            # 2026-01-15T09:00:00+03:00
SMOKE = Path(__file__).resolve().parents[2] / "scenarios" / "smoke"

BASE: dict[str, Any] = {
    "name": "t",
    "device": {"settings": {"token": TOKEN}},
    "world": {
        "tokens": {"prod": [TOKEN]},
        "hosts": {"cdn01.crpt.ru": {"latency_ms": 100}, "cdn02.crpt.ru": {"latency_ms": 200},
                  "cdn03.crpt.ru": {"latency_ms": 300}},
        "codes": [{"code": GOOD, "groupIds": [8]}],
    },
}


def scenario(steps: list[Any], **top: Any) -> dict[str, Any]:
    sc = copy.deepcopy(BASE)
    sc.update(top)
    sc["steps"] = steps
    return sc


def run(steps: list[Any], **top: Any):  # type: ignore[no-untyped-def]
    return run_scenario(scenario(steps, **top))


def passes(steps: list[Any], **top: Any):  # type: ignore[no-untyped-def]
    r = run(steps, **top)
    assert r.passed, r.failures
    return r


def load_error(data: Any, file: str = "x.yaml") -> str:
    with pytest.raises(ScenarioError) as info:
        load_data(data, file)
    return str(info.value)


# ------------------------------------------------------------------- loading
def test_schema_is_valid_draft_2020_12() -> None:
    import jsonschema

    s = schema()
    assert s["$schema"].endswith("2020-12/schema")
    jsonschema.Draft202012Validator.check_schema(s)


def test_bad_yaml_names_file_and_line() -> None:
    with pytest.raises(ScenarioError) as info:
        load_text("name: t\nsteps: [\n  - press: 'ИТ'\n", "bad.yaml")
    msg = str(info.value)
    assert msg.startswith("bad.yaml: YAML error at line")


def test_empty_and_non_mapping_files() -> None:
    assert "x.yaml: the file is empty" in load_error(None)
    assert "must hold a mapping" in load_error(["a", "b"])


def test_missing_name_and_steps() -> None:
    msg = load_error({"steps": [{"settle": {}}]})
    assert "x.yaml: (top level): 'name' is a required property" in msg
    assert "'steps' is a required property" in load_error({"name": "n"})


def test_unknown_step_kind_names_file_step_and_line() -> None:
    text = "name: t\nsteps:\n  - settle: {}\n  - frobnicate: 1\n"
    with pytest.raises(ScenarioError) as info:
        load_text(text, "s.yaml")
    msg = str(info.value)
    assert "s.yaml: steps[1] (frobnicate, line 4): unknown step kind 'frobnicate'" in msg
    assert "known: " in msg and "sale" in msg


def test_step_shape_errors() -> None:
    msg = load_error({"name": "t", "steps": ["press", {"press": "ИТ", "goto": "ОПЦИИ"}, {}]})
    assert "steps[0] (?): a step must be a one-key mapping" in msg
    assert "steps[1] (press+goto): a step holds exactly one action" in msg
    assert "steps[2] (note): an empty step" in msg


def test_note_alone_or_beside_an_action_is_allowed() -> None:
    [sc] = load_data({"name": "t", "steps": [{"note": "hello"}, {"settle": None, "note": "why"}]})
    assert [s.kind for s in sc.steps] == ["note", "settle"]
    assert sc.steps[1].note == "why"


def test_unknown_setting_in_device_settings_and_in_set() -> None:
    msg = load_error({"name": "t", "device": {"settings": {"colour": "red"}}, "steps": [{"settle": {}}]})
    assert "x.yaml: device.settings: unknown setting 'colour'" in msg
    msg = load_error({"name": "t", "steps": [{"set": {"colour": "red"}}]})
    assert "x.yaml: steps[0] (set): unknown setting 'colour'" in msg


def test_bad_setting_values() -> None:
    msg = load_error({"name": "t", "device": {"settings": {"sale_ban": "МОЖЕТ БЫТЬ"}}, "steps": [{"settle": {}}]})
    assert "device.settings: sale_ban: 'МОЖЕТ БЫТЬ' is not one of" in msg
    msg = load_error({"name": "t", "steps": [{"set": {"sale_ban": "НЕТ"}}, {"set": {"option": {93: 1}}}]})
    assert "steps[0] (set): sale_ban: 'НЕТ' is not one of ВКЛЮЧЕН, ПРЕДУПРЕЖДЕНИЕ" in msg
    assert "steps[1] (set): no option 93" in msg


def test_meaning_checks_of_steps() -> None:
    msg = load_error(scenario([{"goto": "НЕТ ТАКОГО"}, {"press": "Q"}, {"keys": "1 2 ZZ"},
                               {"advance": "5 parsecs"}, {"host": {"name": "nohost.ru", "down": True}},
                               {"expect": {"log": [{"fields": {"Нет": "1"}}]}},
                               {"press": 3}, {"sale": {"code": GOOD, "price": 0}}]))
    assert "steps[0]" not in msg      # schema problems first; meaning checks wait for them
    assert "steps[3] (advance): '5 parsecs' is not valid: expected integer milliseconds" in msg
    assert "steps[6] (press): 3 is not valid: expected a key name in quotes" in msg
    assert "steps[7] (sale) price: 0 is less than the minimum of 1" in msg
    # meaning checks run once the schema passes
    msg = load_error(scenario([{"goto": "НЕТ ТАКОГО"}, {"press": "Q"}, {"keys": "1 2 ZZ"},
                               {"host": {"name": "nohost.ru", "down": True}},
                               {"expect": {"log": [{"fields": {"Нет": "1"}}]}}]))
    assert "steps[0] (goto): no menu or context-menu item labelled 'НЕТ ТАКОГО'" in msg
    assert "steps[1] (press): no key 'Q'" in msg
    assert "steps[2] (keys): no key 'ZZ'" in msg
    assert "steps[3] (host): unknown host 'nohost.ru'" in msg
    assert "steps[4] (expect): no log field 'Нет'" in msg


def test_world_and_start_errors() -> None:
    msg = load_error(scenario([{"settle": {}}], start="2026-01-01T09:00:00"))
    assert "start: '2026-01-01T09:00:00' has no UTC offset" in msg
    sc = scenario([{"settle": {}}])
    sc["world"]["codes"] = [{"code": GOOD, "colour": 1}]
    assert "world: codes: unknown key 'colour'" in load_error(sc)
    sc = scenario([{"settle": {}}])
    sc["world"]["hosts"]["bad.example"] = {"latency_ms": 1}
    assert "world: hosts: unknown host 'bad.example'" in load_error(sc)
    sc = scenario([{"settle": {}}])
    sc["world"]["hosts"]["cdn01.crpt.ru"]["plan"] = ["explode"]
    assert "world.hosts.cdn01.crpt.ru.plan[0]" in load_error(sc)


def test_several_scenarios_in_one_file_and_their_errors() -> None:
    text = ("scenarios:\n  - name: a\n    steps:\n      - settle: {}\n"
            "  - name: b\n    steps:\n      - settle: {}\n      - bogus: 1\n")
    with pytest.raises(ScenarioError) as info:
        load_text(text, "many.yaml")
    assert "many.yaml: scenarios[1] steps[1] (bogus, line 8): unknown step kind 'bogus'" in str(info.value)
    good = load_text(text.replace("      - bogus: 1\n", ""), "many.yaml")
    assert [s.name for s in good] == ["a", "b"]
    assert good[1].label == "many.yaml: scenarios[1]"


def test_yaml_details_keys_dates_and_gs() -> None:
    text = ('name: t\nstart: 2026-01-15T09:00:00+03:00\ndevice: {settings: {options: {92: 1}}}\n'
            'steps:\n  - scan: "01046\\x1d93"\n  - emergency: on\n')
    [sc] = load_text(text, "t.yaml")
    assert sc.start_ms == START_MS
    assert sc.device.settings == {"options": {"92": 1}}
    assert sc.steps[0].value == "01046\x1d93"
    assert sc.steps[1].value is True


def test_parse_helpers() -> None:
    assert parse_duration("6h") == 21_600_000
    assert parse_duration("1h30m") == 5_400_000
    assert parse_duration("1500ms") == 1500
    assert parse_duration(" 2s ") == 2000
    assert parse_duration(250) == 250
    with pytest.raises(ValueError):
        parse_duration("2 weeks")
    assert parse_instant("2026-01-15T09:00:00+03:00") == START_MS
    assert parse_instant("2024-04-03T13:55:49.847+03:00") == 1712141749847
    assert parse_instant(5) == 5


def test_expand_paths_recurses_and_sorts(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.yaml").write_text("name: z\nsteps: [{settle: {}}]\n", "utf-8")
    (tmp_path / "a.yml").write_text("name: a\nsteps: [{settle: {}}]\n", "utf-8")
    (tmp_path / "notes.txt").write_text("no", "utf-8")
    files = expand_paths([tmp_path])
    assert [f.name for f in files] == ["a.yml", "z.yaml"]
    results = run_paths([tmp_path])
    assert [r.name for r in results] == ["a", "z"] and all(r.passed for r in results)


# --------------------------------------------------------------------- steps
def test_press_keys_goto_and_display() -> None:
    passes([
        {"expect": {"display": ["КАССОВЫЙ РЕЖИМ", ""], "mode": "main"}},
        {"press": ["+", "+", "+", "+"]},
        {"expect": {"display": ["ПРОГ. ФН И ОФД"]}},
        {"keys": "ИТ ИТ"},
        {"expect": {"display": ["РАЗРЕШ.РЕЖИМ", "ВКЛЮЧЕН"], "mode": "menu"}},
        {"goto": "ЗАПРЕТ ПРОДАЖ"},
        {"expect": {"display": ["ЗАПРЕТ ПРОДАЖ", "ВКЛЮЧЕН"]}},
        {"goto": "СТАТУС ГИС МТ"},
        {"expect": {"display": ["СТАТУС ГИС МТ", ""], "mode": "context"}},
    ])


def test_type_and_scan_token() -> None:
    passes([
        {"goto": "ИМЯ ХОСТА"}, {"press": "ИТ"}, {"press": "С"}, {"type": "cdn.example.ru"}, {"press": "ИТ"},
        {"expect": {"settings": {"gismt_host": "cdn.example.ru"}}},
        {"goto": "СКАНИРОВ.ТОКЕН"}, {"press": "ИТ"}, {"scan": TOKEN2},
        {"expect": {"settings": {"token": TOKEN2}, "token_masked": True, "display_contains": "ТОКЕН СОХРАНЕН"}},
    ])


def test_set_every_kind_of_parameter_and_return_to_main() -> None:
    passes([
        {"set": {"sale_ban": "ПРЕДУПРЕЖДЕНИЕ", "on_request_failure": "ЗАПРЕТ", "poll_period_min": 30,
                 "gismt_host": "markirovka.sandbox.crptech.ru", "token": TOKEN2, "option": {92: 1, 2: 7}}},
        {"expect": {"mode": "main", "token_masked": True,
                    "settings": {"sale_ban": "ПРЕДУПРЕЖДЕНИЕ", "on_request_failure": "ЗАПРЕТ",
                                 "poll_period_min": 30, "gismt_host": "markirovka.sandbox.crptech.ru",
                                 "token": TOKEN2, "options": {92: 1, 2: 7}}}},
    ])


def test_set_refused_by_the_device_fails_the_step() -> None:
    r = run([{"set": {"poll_period_min": 3}}, {"settle": {}}])
    assert not r.passed and r.steps_run == 1
    assert "steps[0] (set): the device did not take poll_period_min = 3" in r.failures[0]
    assert "НЕДОПУСТИМОЕ" in r.failures[0]


def test_cash_steps_receipts_and_positions() -> None:
    passes([
        {"status_check": {}},
        {"expect": {"status": "S", "cdn": {"active": "cdn01.crpt.ru", "blocked": [],
                                           "order": ["cdn01.crpt.ru", "cdn02.crpt.ru", "cdn03.crpt.ru"]}}},
        {"open_shift": {}},
        {"expect": {"mode": "cash_ready", "display": ["Приход", "0.00"]}},
        {"sale": {"code": GOOD, "price": 12050}},
        {"sale_free": {"price": 4900}},
        {"expect": {"receipt": "current", "receipts": {"open": True},
                    "positions": [{"gismt": "allowed", "price": 12050, "tag2106": 15},
                                  {"gismt": "none", "price": 4900, "marking": None}],
                    "display": ["Приход 2", "ИТОГ 169.50"]}},
        {"close_receipt": {}},
        {"expect": {"receipts": {"closed": 1, "cancelled": 0, "open": False}, "display_contains": "ЧЕК ЗАКРЫТ\nИТОГ 169.50\nФД 3 ФП",
                    "receipt": "last", "positions": [{"price": 12050}, {"price": 4900}],
                    "connections": {"cdn01.crpt.ru": 2}, "requests": {"cdn01.crpt.ru": 2, "cdn.crpt.ru": 1}}},
        {"sale_free": {"price": 100}},
        {"cancel_receipt": {}},
        {"expect": {"receipts": {"closed": 1, "cancelled": 1}, "display_text": "ЧЕК АННУЛИРОВАН"}},
        {"return_receipt": {}},
        {"expect": {"display": ["Возврат прихода", "0.00"]}},
        {"sale": {"code": WITHDRAWN, "price": 10000}},
        {"close_receipt": {}},
        {"expect": {"positions": [{"gismt": "skipped", "tag1265": None}], "requests": {"cdn01.crpt.ru": 2},
                    "log_count": 0}},
        {"doc_type": "expense"},
        {"expect": {"display": ["Расход", "0.00"]}},
        {"doc_type": "sale"},
        {"leave_cash": {}},
        {"expect": {"mode": "main"}},
        {"close_shift": {}},
        {"expect": {"mode": "main"}},
        {"enter_cash": {}},
        {"expect": {"mode": "cash_open_shift"}},
    ])


def test_sale_answer_sell_refuse_and_none() -> None:
    # Three withdrawn codes: one code twice in a receipt would be refused at the scan (790).
    w2, w3 = "0104670540176099215NN*c2\x1d93dGVz", "0104670540176099215NN*c3\x1d93dGVz"
    world = copy.deepcopy(BASE["world"])
    world["codes"] += [{"code": c, "groupIds": [8], "sold": True, "realizable": False} for c in (w2, w3)]
    warn = {"device": {"settings": {"token": TOKEN, "sale_ban": "ПРЕДУПРЕЖДЕНИЕ"}}, "world": world}
    passes([
        {"status_check": {}}, {"open_shift": {}},
        {"sale": {"code": WITHDRAWN, "price": 10000, "answer": "sell"}},
        {"expect": {"mode": "cash_ready", "positions": [{"gismt": "warned", "error": 754}]}},
        {"sale": {"code": w2, "price": 10000, "answer": "refuse"}},
        {"expect": {"mode": "cash_ready", "positions": [{"gismt": "warned"}]}},
        {"sale": {"code": w3, "price": 10000}},
        {"expect": {"mode": "cash_confirm", "last_error": 754, "display_contains": "ПРОДАТЬ? [3]-ДА"}},
        {"press": "3"},
        {"sale_free": {"price": 100}},
        {"expect": {"positions": [{"gismt": "warned"}, {"gismt": "warned"}, {"gismt": "none"}],
                    "log_codes": [754, 754, 754]}},
    ], **warn)


def test_sale_needs_cash_mode() -> None:
    r = run([{"sale": {"code": GOOD, "price": 100}}])
    assert not r.passed
    assert "steps[0] (sale): sale needs cash mode (cash_ready) but the device is in mode 'main'" in r.failures[0]


def test_a_pending_message_is_dismissed_before_the_next_sale() -> None:
    passes([
        {"status_check": {}}, {"open_shift": {}},
        {"sale": {"code": WITHDRAWN, "price": 10000}},     # hard ban: refused, message stays
        {"expect": {"mode": "cash_refused", "display_contains": "754"}},
        {"sale": {"code": GOOD, "price": 100}},
        {"expect": {"mode": "cash_ready", "positions": [{"gismt": "allowed"}]}},
    ])


def test_emergency_steps_and_status_line() -> None:
    passes([
        {"expect": {"status": " ", "status_line": "09:00  "}},
        {"status_check": {}},
        {"expect": {"status": "S", "status_line": "09:00 S"}},
        {"emergency": "on"},
        {"expect": {"status": "A", "display_text": "АВАРИЙН.РЕЖ ВКЛ"}},
        {"emergency": False},
        {"expect": {"status": "S", "display_text": "АВАРИЙН.РЕЖ ВЫКЛ"}},
    ])


def test_advance_settle_host_and_world_steps() -> None:
    passes([
        {"status_check": {}}, {"open_shift": {}},
        {"host": {"name": "cdn01.crpt.ru", "plan": [503, 503]}},
        {"sale": {"code": GOOD, "price": 100}},
        {"expect": {"log": [{"code": 760}, {"code": 760}, {"code": 768, "note_contains": "blocked"}],
                    "cdn": {"active": "cdn02.crpt.ru", "blocked": ["cdn01.crpt.ru"]}}},
        {"close_receipt": {}},
        {"advance": "16m"},
        {"settle": {}},
        {"expect": {"cdn": {"active": "cdn01.crpt.ru", "blocked": []}, "status_line": "09:16 S"}},
        {"world": {"emergency": {"prod": True}}},
        {"sale": {"code": GOOD, "price": 100}},
        {"expect": {"status": "A", "last_error": 762, "log": [{"code": 762}]}},
        {"close_receipt": {}},
        {"world": {"emergency": {"prod": False}, "codes": [{"code": GOOD, "groupIds": [8], "sold": True,
                                                            "realizable": False}]}},
        {"emergency": "off"},
        {"expect": {"status": "S"}},
    ])


def test_restart_keeps_settings_log_and_counts_but_loses_the_open_receipt() -> None:
    passes([
        {"set": {"sale_ban": "ПРЕДУПРЕЖДЕНИЕ"}},
        {"status_check": {}}, {"open_shift": {}},
        {"sale": {"code": WITHDRAWN, "price": 100, "answer": "sell"}},
        {"close_receipt": {}},
        {"sale_free": {"price": 100}},
        {"expect": {"receipts": {"closed": 1, "open": True}, "log_codes": [754]}},
        {"restart": {}},
        {"expect": {"mode": "main", "receipts": {"closed": 1, "open": False}, "log_codes": [754],
                    "settings": {"sale_ban": "ПРЕДУПРЕЖДЕНИЕ"}}},
        {"open_shift": {}},
        {"expect": {"mode": "cash_ready"}},
    ])


def test_restart_while_a_check_is_in_flight_abandons_it() -> None:
    passes([
        {"status_check": {}}, {"open_shift": {}},
        {"host": {"name": "cdn01.crpt.ru", "plan": [500, 500]}},
        {"keys": "1"}, {"scan": {"code": GOOD, "wait": False}},
        {"expect": {"mode": "cash_checking"}},
        {"restart": {}},
        {"advance": "20m"},
        {"expect": {"mode": "main", "log_codes": [], "requests": {"cdn01.crpt.ru": 2}, "cdn": {"blocked": []},
                    "receipts": {"open": False, "closed": 0}}},
    ])


def test_device_state_from_the_scenario_header() -> None:
    passes([
        {"expect": {"settings": {"sale_ban": "ПРЕДУПРЕЖДЕНИЕ", "options": {92: 1}}}},
        {"status_check": {}}, {"enter_cash": {}},
        {"expect": {"mode": "cash_ready"}},
        {"sale": {"code": GOOD, "price": 100}},
        {"expect": {"positions": [{"tag2106": 7}]}},
    ], device={"settings": {"token": TOKEN, "sale_ban": "ПРЕДУПРЕЖДЕНИЕ", "options": {92: 1}},
               "log_seq": 9812, "oism": {"default": 7}, "shift_open": True})


def test_log_seq_and_log_text_byte_for_byte() -> None:
    sc = scenario([
        {"status_check": {}}, {"open_shift": {}},
        {"sale": {"code": WITHDRAWN, "price": 10000}},
        {"expect": {"log_text": (
            "ГИС МТ\t754\t[5735]\n\t\tНайден:Да,Нанесен:Да,Крипто:Да,Продан:Да,Заблокирован:Нет,В обороте:Нет,"
            "Серая зона:Нет\nЦена:10000 Макс:0 Мин:0, ГоденДо:07-02-2106 09:28:15, 2106:15, "
            "ВремяОбработки:100мс, UUID=4ac3d96d-df56-4d56-8d97-a22006848d48&Time=1712141750370")}},
    ], device={"settings": {"token": TOKEN}, "log_seq": 5735})
    sc["world"]["codes"].append({"code": WITHDRAWN, "groupIds": [8], "sold": True, "realizable": False,
                                 "req_id": "4ac3d96d-df56-4d56-8d97-a22006848d48", "req_timestamp": 1712141750370})
    r = run_scenario(sc)
    assert r.passed, r.failures


# -------------------------------------------------------------- expectations
def test_log_entries_match_in_order_since_the_last_log_check() -> None:
    steps = [
        {"set": {"sale_ban": "ПРЕДУПРЕЖДЕНИЕ"}},
        {"status_check": {}}, {"open_shift": {}},
        {"sale": {"code": WITHDRAWN, "price": 10000, "answer": "refuse"}},
        {"expect": {"log": [{"code": 754, "fields": {"Цена": 10000, "Продан": "Да"}, "text_contains": "[1]"}]}},
        {"sale": {"code": WITHDRAWN, "price": 20000, "answer": "refuse"}},
        {"expect": {"log": [{"code": 754, "fields": {"Цена": "20000"}}], "log_count": 2,
                    "log_all": [{"fields": {"Цена": "10000"}}, {"fields": {"Цена": "20000"}}]}},
    ]
    passes(steps)
    # the first record was consumed by the first `log` check
    bad = copy.deepcopy(steps)
    bad[6] = {"expect": {"log": [{"fields": {"Цена": "10000"}}]}}
    r = run(bad)
    assert not r.passed
    assert "steps[6] (expect) log: entry 1 {'fields': {'Цена': '10000'}} not found in order" in r.failures[0]
    assert "since the last `log` check: [754 " in r.failures[0]


def test_a_failing_expectation_stops_the_scenario_with_a_clear_message() -> None:
    r = run([
        {"expect": {"mode": "main"}},
        {"expect": {"mode": "cash_ready", "beeps": 3, "status": "S", "last_error": 758, "log_codes": [758],
                    "display_text": "nope", "requests": {"cdn.crpt.ru": 1}}},
        {"expect": {"mode": "main"}},
    ])
    assert not r.passed and r.steps_run == 2
    msgs = r.failures
    assert "steps[1] (expect) mode: expected 'cash_ready', got 'main'" in msgs
    assert "steps[1] (expect) beeps: expected 3, got 0 (this power-up: [])" in msgs
    assert "steps[1] (expect) status: expected 'S', got ' '" in msgs
    assert "steps[1] (expect) last_error: expected 758, got None" in msgs
    assert "steps[1] (expect) log_codes: expected [758], got []" in msgs
    assert "steps[1] (expect) display_text: expected 'nope', got 'КАССОВЫЙ РЕЖИМ'" in msgs
    assert "steps[1] (expect) requests: expected {'cdn.crpt.ru': 1}, got {'cdn.crpt.ru': 0}" in msgs


def test_failure_messages_of_the_other_expectations() -> None:
    r = run([{"status_check": {}}, {"open_shift": {}}, {"sale_free": {"price": 100}},
             {"expect": {"display": ["X"], "display_contains": "Y", "status_line": "10:00 S", "log_count": 1,
                         "settings": {"sale_ban": "ПРЕДУПРЕЖДЕНИЕ", "options": {92: 1}, "token": TOKEN2},
                         "receipts": {"closed": 1}, "positions": [{"price": 1}, {}],
                         "connections": {"cdn01.crpt.ru": 5}, "cdn": {"active": "cdn02.crpt.ru"},
                         "log_text": "x", "log": [{"code": 1}], "log_all": [{"code": 1}]}}])
    text = "\n".join(r.failures)
    assert "display: expected ['X'], got ['Приход 1']" in text
    assert "display_contains: 'Y' is not in the display text" in text
    assert "status_line: expected '10:00 S', got '09:00 S'" in text
    assert "log_count: expected 1, got 0: (none)" in text
    assert "settings: sale_ban: expected 'ПРЕДУПРЕЖДЕНИЕ', got 'ВКЛЮЧЕН'; option 92: expected 1, got 0" in text
    assert "token: expected '5b8e…7a05', got '7f0c…1c42'" in text      # tokens stay masked
    assert TOKEN not in text
    assert "receipts: expected {'closed': 1}, got {'closed': 0}" in text
    assert "positions: the open receipt (#1) has 1 positions, expected 2" in text
    assert "connections: expected {'cdn01.crpt.ru': 5}, got {'cdn01.crpt.ru': 1}" in text
    assert "cdn: expected {'active': 'cdn02.crpt.ru'}, got {'active': 'cdn01.crpt.ru'}" in text
    assert "log_text: expected a record, the log is empty" in text
    assert "log: entry 1 {'code': 1} not found in order" in text
    assert "log_all: entry 1 {'code': 1} not found in order among all records" in text


def test_positions_per_key_mismatch_and_no_receipt() -> None:
    r = run([{"expect": {"receipt": "last", "positions": []}}])
    assert "positions: there is no last closed receipt" in r.failures[0]
    r = run([{"status_check": {}}, {"open_shift": {}}, {"sale": {"code": GOOD, "price": 100}},
             {"expect": {"positions": [{"gismt": "failed", "price": 100}]}}])
    assert "positions: the open receipt (#1): position 1 gismt: expected 'failed', got 'allowed'" in r.failures[0]


def test_log_text_mismatch_points_at_the_first_difference() -> None:
    r = run([{"status_check": {}}, {"open_shift": {}}, {"sale": {"code": WITHDRAWN, "price": 10000}},
             {"expect": {"log_text": "ГИС МТ\t754\t[2]"}}])
    assert "log_text: the last record differs from character 12 on" in r.failures[0]


def test_token_masked_catches_a_full_token(monkeypatch: pytest.MonkeyPatch) -> None:
    sc = load_data(scenario([{"expect": {"token_masked": True}}]))[0]
    run_ = ScenarioRun(sc)
    try:
        assert run_.check({"token_masked": True}) == []
        run_.device.display.message(f"oops {TOKEN}", 0)
        assert run_.check({"token_masked": True}) == ["token_masked: the full token 7f0c…1c42 appears in the display"]
    finally:
        run_.close()


def test_step_errors_from_the_device_fail_only_that_scenario() -> None:
    r = run([{"status_check": {}}, {"open_shift": {}}, {"sale_free": {"price": 100}}, {"status_check": {}}])
    assert not r.passed and r.steps_run == 4
    assert r.failures[0] == "steps[3] (status_check): a receipt is open: close or cancel it before leaving cash mode"
    r = run([{"close_receipt": {}}])
    assert "close_receipt needs cash mode" in r.failures[0]
    r = run([{"close_shift": {}}])
    assert "steps[0] (close_shift): no shift is open" in r.failures[0]


# ---------------------------------------------------- determinism, results
def test_same_scenario_same_log_bytes_and_no_temp_dirs_left(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    steps = [{"status_check": {}}, {"open_shift": {}},
             {"host": {"name": "cdn01.crpt.ru", "plan": [500, "stall"]}},
             {"sale": {"code": GOOD, "price": 100}},
             {"sale": {"code": WITHDRAWN, "price": 100}},
             {"sale": {"code": GOOD, "price": 100}}]
    a, b = run(steps, seed=3), run(steps, seed=3)
    assert a.passed and b.passed
    assert a.log_text and a.log_text == b.log_text
    assert a.log_text.count("ГИС МТ\t") >= 3
    assert a.virtual_ms == b.virtual_ms > 0
    assert list(tmp_path.iterdir()) == []


def test_smoke_scenarios_pass() -> None:
    results = run_paths([SMOKE])
    assert len(results) >= 3
    for r in results:
        assert r.passed, (r.name, r.failures)


def test_run_scenario_from_a_file_and_result_fields(tmp_path: Path) -> None:
    f = tmp_path / "one.yaml"
    f.write_text('name: "one"\nstart: 1000\nsteps:\n  - advance: "2s"\n  - note: "x"\n', "utf-8")
    r = run_scenario(f)
    assert (r.name, r.file, r.passed, r.failures, r.steps_run, r.virtual_ms) == ("one", str(f), True, [], 2, 2000)
    assert r.log_text == "" and r.wall_s >= 0


def test_trace_and_verbose_printers() -> None:
    lines: list[str] = []
    run_scenario(scenario([{"status_check": {}}]), trace=lines.append, verbose=lines.append)
    text = "\n".join(lines)
    assert "steps[0] (status_check): {}" in text
    assert "key: ИТ" in text
    assert "net> #1 GET cdn.crpt.ru/api/v4/true-api/cdn/info" in text
    assert "net< #1 HTTP 200" in text


def test_verbose_and_trace_never_print_a_token_in_full() -> None:
    lines: list[str] = []
    steps = [
        {"set": {"token": TOKEN2}},
        {"goto": "СКАНИРОВ.ТОКЕН"}, {"press": "ИТ"}, {"scan": TOKEN},
        {"tech": {"token_for_inn": {"inn": "7701234567", "token": TOKEN2}}},
        {"expect": {"settings": {"token": TOKEN}}},
        {"scan": GOOD},
        {"goto": "ТОКЕН"}, {"press": "ИТ"}, {"type": "9a8b7c6d-1111-2222-3333-444455556666"}, {"press": "ИТ"},
        {"goto": "ИМЯ ХОСТА"}, {"press": ["ИТ", "С"]}, {"type": "markirovka.sandbox.crptech.ru"},
    ]
    sc = scenario(steps, world={**BASE["world"], "techserver": {}})
    run_scenario(sc, trace=lines.append, verbose=lines.append)
    text = "\n".join(lines)
    assert TOKEN not in text and TOKEN2 not in text
    assert "9a8b7c6d-1111-2222-3333-444455556666" not in text     # typed into the token field
    assert "'markirovka.sandbox.crptech.ru'" in text               # a host name is no secret
    assert TOKEN[:4] + "…" + TOKEN[-4:] in text
    assert repr(GOOD) in text                       # a marking code is not a token: shown as it is


def test_a_tls_fault_needs_the_real_network() -> None:
    world = copy.deepcopy(BASE["world"])
    world["hosts"]["cdn01.crpt.ru"]["tls"] = "expired"
    r = run_scenario(scenario([{"status_check": {}}], world=world))
    assert not r.passed and r.steps_run == 0
    assert "needs `network: real`" in r.failures[0]
    r = run_scenario(scenario([{"host": {"name": "cdn02.crpt.ru", "tls": "stall"}}]))
    assert not r.passed and "needs `network: real`" in r.failures[0]


def test_advance_on_the_real_network_lets_a_probe_get_its_real_answer() -> None:
    # The blocked host's probe is due 15 minutes after the block; an `advance` far past it
    # must not skip the probe's 2 s deadline while the real answer is on its way.
    world = copy.deepcopy(BASE["world"])
    world["cdn_hosts"] = {"prod": ["cdn01.crpt.ru", "cdn02.crpt.ru"]}
    del world["hosts"]["cdn03.crpt.ru"]
    steps = [
        {"status_check": {}}, {"open_shift": {}},
        {"host": {"name": "cdn01.crpt.ru", "plan": [503, 503]}},
        {"sale": {"code": GOOD, "price": 100}},
        {"expect": {"cdn": {"active": "cdn02.crpt.ru", "blocked": ["cdn01.crpt.ru"]}}},
        {"advance": "40m"},
        {"expect": {"cdn": {"blocked": []}, "log_codes": [760, 760, 768]}},
    ]
    r = run_scenario(scenario(steps, network="both"))
    assert r.passed, r.failures


# ------------------------------------------------------------------- JUnit
def test_junit_output_parses_back(tmp_path: Path) -> None:
    ok = run([{"settle": {}}], name="good one")
    bad = run([{"expect": {"mode": "menu"}}], name="bad one")
    err = ScenarioError("broken.yaml", ["steps[0] (x): unknown step kind 'x'"])
    path = tmp_path / "out" / "junit.xml"
    write_junit(path, [ok, bad], [err])
    root = ET.parse(path).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(cases) == {"good one", "bad one", "broken.yaml"}
    assert cases["good one"].find("failure") is None
    failure = cases["bad one"].find("failure")
    assert failure is not None and failure.get("message") == "steps[0] (expect) mode: expected 'menu', got 'main'"
    error = cases["broken.yaml"].find("error")
    assert error is not None and "unknown step kind" in (error.get("message") or "")
    assert cases["broken.yaml"].get("classname") == "broken"
    assert cases["good one"].find("system-out") is None          # no log records


def test_junit_escapes_control_characters() -> None:
    r = run([{"expect": {"mode": "menu"}}])
    r.failures = ["code 01\x1d93 failed"]
    r.passed = False
    root = ET.fromstring(junit_xml([r]).encode("utf-8"))
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None and failure.get("message") == "code 01\\x1d93 failed"
