"""`kkt-emu serve` and its state directory: damaged files said on the console, everything private."""

import pytest

from emulator.devices.kkt.events import StateFileSetAside
from tests.devices.kkt.test_state_files import assert_private_tree
from tests.test_serve import serve_in_process


@pytest.mark.parametrize("name, data", [("state.json", b'{"shift_open": tr'), ("settings.json", b'{"token": "7f'),
                                        ("settings.json", b'{"options": [1]}'), ("state.json", b'{"cdn": "x"}')])
def test_serve_says_which_damaged_file_it_kept_aside(tmp_path, name, data):
    device_dir = tmp_path / "state" / "device"
    device_dir.mkdir(parents=True)
    (device_dir / name).write_bytes(data)
    serve, out = serve_in_process(tmp_path)
    serve.start()
    try:
        events = [e for e in serve.device.events if isinstance(e, StateFileSetAside)]
    finally:
        serve.shutdown()
    assert [(e.file, e.kept_as) for e in events] == [(name, name + ".bad")]
    line = next(x for x in out.getvalue().splitlines() if "[state]" in x)
    assert f"{name} is damaged" in line and f"kept as {name}.bad" in line and "back to defaults" in line
    assert (device_dir / (name + ".bad")).read_bytes() == data


def test_serve_keeps_its_state_directory_private(tmp_path):
    serve, _ = serve_in_process(tmp_path)
    serve.start()
    serve.shutdown()
    files = assert_private_tree(tmp_path / "state")
    assert {"ca.pem", "ca.key", "settings.json", "gismt_log.sqlite", "slot1.pem"} <= set(files)
