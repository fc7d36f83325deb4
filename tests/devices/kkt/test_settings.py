import json

import pytest

from emulator.devices.kkt.settings import Settings, SettingsStore
from emulator.rules.syntax import SANDBOX_HOST, mask_token


def test_defaults_and_restore_permit_group_only():
    s = Settings()
    assert s.gismt_host == "cdn.crpt.ru" and s.options[92] == 0 and not s.host_check_off
    s.sale_ban, s.gismt_host, s.token, s.poll_period_min = "ПРЕДУПРЕЖДЕНИЕ", SANDBOX_HOST, "t" * 36, 30
    s.restore_permit_defaults()
    assert (s.sale_ban, s.gismt_host, s.token) == ("ВКЛЮЧЕН", "cdn.crpt.ru", "")
    assert s.poll_period_min == 30


def test_round_trip_through_the_file(tmp_path):
    store = SettingsStore(tmp_path)
    s = Settings(token="12345678-1234-1234-1234-123456789012")
    s.options[92] = 1
    store.save(s)
    again = SettingsStore(tmp_path).load()
    assert again == s and again.host_check_off


@pytest.mark.parametrize("bad", [{"sale_ban": "МОЖЕТ БЫТЬ"}, {"nonsense": 1}, {"poll_period_min": 1},
                                 {"options": {"92": 7}}])
def test_bad_settings_are_refused(bad):
    with pytest.raises(ValueError):
        Settings.from_json(bad)


def test_unreadable_file_is_kept_aside_not_lost(tmp_path):
    (tmp_path / "settings.json").write_text("{broken")
    store = SettingsStore(tmp_path)
    assert store.load() == Settings()
    assert store.set_aside and (tmp_path / "settings.json.bad").read_text() == "{broken"


def test_permit_problem_and_masking():
    assert Settings().permit_problem() == "no token"
    assert Settings(token="short").permit_problem() == "malformed token"
    assert Settings(token="x" * 36, gismt_host="bad host").permit_problem() == "bad host name"
    assert Settings(token="x" * 36).permit_problem() is None
    assert mask_token("12345678-1234-1234-1234-123456789012") == "1234…9012"
    assert mask_token("abc") == "***"
    assert mask_token("abcdefghi") == "a…i"                     # a short token: never most of it
    assert mask_token("abcdefghijklmnop") == "ab…op"
    for n in range(9, 80):
        shown = len(mask_token("x" * n)) - 1
        assert shown <= n // 4 and shown <= 8
    json.dumps(Settings().to_json())
