"""The device's state files read back: any damage is one line, the file kept aside, the device up."""

import json
import os
import stat
import time

import pytest

from emulator.base.clock import VirtualClock
from emulator.devices.kkt.device import KktDevice
from emulator.devices.kkt.events import StateFileSetAside
from emulator.devices.kkt.settings import Settings, SettingsStore
from emulator.net.oism import SimOismLink
from emulator.net.simulated import SimulatedNetwork
from emulator.servers.oism.model import OismModel
from emulator.servers.trueapi import TrueApiBackend
from tls_store.lab_ca import LabCA

GOOD_STATE = {"emergency": True, "shift_open": True, "shift_number": 3, "shift_opened_ms": 1000,
              "receipt_counter": 17, "shift_receipts": 4, "tech_result": None,
              "cdn": {"refreshed_at": 5, "hosts": [{"host": "cdn01.crpt.ru", "latency_ms": 40}]}}

DAMAGED_STATE = {
    "truncated": b'{"shift_open": true, "shift_num',
    "not an object": b"[1, 2]",
    "cdn a list": b'{"cdn": [1]}',
    "cdn a string": b'{"cdn": "x"}',
    "hosts of numbers": b'{"cdn": {"refreshed_at": 1, "hosts": [1]}}',
    "hosts without refreshed_at": b'{"cdn": {"hosts": [{"host": "cdn01.crpt.ru"}]}}',
    "counter a string": b'{"receipt_counter": "12"}',
    "counter negative": b'{"receipt_counter": -1}',
    "shift_open a string": b'{"shift_open": "no"}',
    "tech_result short": b'{"tech_result": [1]}',
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
    "deep in a key": b'{"cdn": ' + b"{\"a\": " * 5000 + b"1" + b"}" * 5001,
    "binary": b"\xff\xfe\x00garbage",
    "huge": b'{"x": "' + b"a" * (2 << 20) + b'"}',
}

DAMAGED_SETTINGS = {
    "truncated": b'{"token": "7f0c',
    "a list": b"[]",
    "options a list": b'{"options": [1]}',
    "option a string": b'{"options": {"92": "x"}}',
    "option key not a number": b'{"options": {"x": 1}}',
    "a string": b'"x"',
    "token a number": b'{"token": 5}',
    "poll a float": b'{"poll_period_min": 10.5}',
    "tz out of range": b'{"tz_offset_min": 99999999999}',
    "deep nesting": b'{"options": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "binary": b"\x80\x81",
}


def device(directory):
    clock = VirtualClock(0)
    return KktDevice(clock, SimulatedNetwork(clock, TrueApiBackend()), directory, oism=SimOismLink(OismModel()))


def set_aside_events(d):
    return [e for e in d.events if isinstance(e, StateFileSetAside)]


def test_a_good_state_file_is_taken(tmp_path):
    (tmp_path / "state.json").write_text(json.dumps(GOOD_STATE))
    d = device(tmp_path)
    assert (d.emergency, d.shift_open, d.shift_number, d.receipt_counter) == (True, True, 3, 17)
    assert [h.name for h in d.book.hosts] == ["cdn01.crpt.ru"] and not set_aside_events(d)


@pytest.mark.parametrize("name", list(DAMAGED_STATE))
def test_a_damaged_state_file_is_kept_aside_and_said(tmp_path, name):
    data = DAMAGED_STATE[name]
    (tmp_path / "state.json").write_bytes(data)
    t0 = time.monotonic()
    d = device(tmp_path)
    assert time.monotonic() - t0 < 2.0
    assert (d.shift_open, d.shift_number, d.receipt_counter, d.emergency) == (False, 0, 0, False)
    assert (tmp_path / "state.json.bad").read_bytes() == data            # kept, byte for byte
    [ev] = set_aside_events(d)
    assert (ev.file, ev.kept_as) == ("state.json", "state.json.bad")
    assert "\n" not in ev.text and len(ev.text) < 400 and "receipt counter" in ev.text
    d.save_state()
    assert not set_aside_events(device(tmp_path))       # the file written afresh is taken


@pytest.mark.parametrize("name", list(DAMAGED_SETTINGS))
def test_a_damaged_settings_file_is_kept_aside_and_said(tmp_path, name):
    data = DAMAGED_SETTINGS[name]
    (tmp_path / "settings.json").write_bytes(data)
    d = device(tmp_path)
    assert d.settings == Settings()
    assert (tmp_path / "settings.json.bad").read_bytes() == data
    [ev] = set_aside_events(d)
    assert (ev.file, ev.kept_as) == ("settings.json", "settings.json.bad")
    assert "\n" not in ev.text and "every setting" in ev.text


def test_an_earlier_damaged_file_is_never_overwritten(tmp_path):
    for n, data in enumerate((b"{1", b"{2", b"{3")):
        (tmp_path / "state.json").write_bytes(data)
        [ev] = set_aside_events(device(tmp_path))
        assert ev.kept_as == ("state.json.bad" if n == 0 else f"state.json.bad.{n + 1}")
    assert (tmp_path / "state.json.bad").read_bytes() == b"{1"
    assert (tmp_path / "state.json.bad.3").read_bytes() == b"{3"


def test_the_settings_store_names_what_it_set_aside(tmp_path):
    (tmp_path / "settings.json").write_bytes(b'{"options": [1]}')
    store = SettingsStore(tmp_path)
    assert store.load() == Settings()
    assert store.set_aside is not None and store.set_aside[0] == "settings.json.bad"
    assert "options" in store.set_aside[1]


def assert_private_tree(root) -> list[str]:
    """Every folder under ``root`` 0700, every file 0600; the files' names."""
    seen = []
    for dirpath, _dirnames, filenames in os.walk(root):
        assert stat.S_IMODE(os.stat(dirpath).st_mode) == 0o700, dirpath
        for f in filenames:
            seen.append(f)
            assert stat.S_IMODE(os.stat(os.path.join(dirpath, f)).st_mode) == 0o600, f
    return seen


def test_the_device_directory_and_its_files_are_private(tmp_path):
    root = tmp_path / "dev"
    d = device(root)
    d.save_state()
    d.store.save(d.settings)
    d.tls.load_all(LabCA.create().cert_pem)
    d.power_off()
    seen = assert_private_tree(root)
    assert {"state.json", "settings.json", "gismt_log.sqlite", "slot1.pem"} <= set(seen)


def test_an_older_world_readable_device_directory_is_made_private(tmp_path):
    root = tmp_path / "dev"
    root.mkdir(mode=0o755)
    os.chmod(root, 0o755)
    (root / "gismt_log.sqlite").touch(mode=0o644)
    os.chmod(root / "gismt_log.sqlite", 0o644)
    device(root).power_off()
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(root / "gismt_log.sqlite").st_mode) == 0o600
