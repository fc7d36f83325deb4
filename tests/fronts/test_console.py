"""serve's console on a simulated world: any line is survived, image problems are device messages,
live changes reach the model, tables instead of reprs."""

import time

import pytest

from emulator.fronts.console import Console
from emulator.world.live import LiveWorld
from emulator.world.root import World
from emulator.world.spec import make_backend
from tests.fronts.garbage_images import GARBAGE

TOKEN = "7f0c0d6e-3b1a-4c53-9a8e-5d2f0e9b1c42"


def console(tmp_path=None):
    backend = make_backend(0, {"tokens": {"prod": [TOKEN]}})
    world = World.build("simulated", 1_768_456_800_000, backend)
    device = world.new_device(tmp_path / "dev" if tmp_path is not None else None)
    device.settings.token = TOKEN
    out: list[str] = []
    con = Console(device, out.append, lambda: world.settle(lambda: device.waiting, 15_000), lambda: None,
                  live=LiveWorld(world, out.append))
    return con, out, world


def test_scan_image_without_a_file_name_is_a_message(tmp_path):
    con, out, _ = console(tmp_path)
    con.command("scan-image")
    assert out[-1] == "? scan-image takes one file name: scan-image token.png"
    assert con.internal_errors == 0


@pytest.mark.parametrize("name", list(GARBAGE))
def test_garbage_pictures_on_the_token_screen_are_qr_not_recognised(tmp_path, name):
    con, out, _ = console(tmp_path)
    picture = tmp_path / name
    picture.write_bytes(GARBAGE[name]())
    con.command("goto СКАНИРОВ.ТОКЕН")
    con.command("press ИТ")
    start = time.monotonic()
    con.command(f"scan-image {picture}")
    assert time.monotonic() - start < 2.0
    assert con.internal_errors == 0, out
    assert "QR НЕ РАСПОЗНАН" in con.device.display.text
    assert con.device.settings.token == TOKEN      # the old token stays


def test_scan_image_of_a_folder_and_of_a_fifo_does_not_block(tmp_path):
    import os

    con, out, _ = console(tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    con.command("goto СКАНИРОВ.ТОКЕН")
    con.command("press ИТ")
    for path in (tmp_path, fifo, tmp_path / "missing.png"):
        con.command(f"scan-image {path}")
        assert "QR НЕ РАСПОЗНАН" in con.device.display.text
    assert con.internal_errors == 0


def test_host_changes_reach_the_model_and_bad_ones_change_nothing(tmp_path):
    con, out, world = console(tmp_path)
    host = world.backend.host("cdn01.crpt.ru")
    con.command("host cdn01.crpt.ru down")
    assert host.faults.down and "[control] cdn01.crpt.ru: down=on (from the console)" in out[-2]
    con.command("host cdn01.crpt.ru plan 500 5000 refuse repeat")
    assert host.faults.items == [500, "5000", "refuse"] and host.faults.repeat
    con.command('host cdn01.crpt.ru {"latency_ms": 7, "plan": ["bogus"]}')
    assert out[-1].startswith("? plan[0]: bad fault-plan item 'bogus'") and host.faults.latency_ms != 7
    con.command("host cdn01.crpt.ru tls expired")       # no TLS on the simulated network
    assert out[-1].startswith("? tls: TLS faults need the real network") and host.faults.tls_fault is None
    con.command("host cdn01.crpt.ru emergency on")
    assert host.emergency
    con.command("token add prod 11111111-2222-4333-8444-555555555555")
    assert "11111111-2222-4333-8444-555555555555" in world.backend.contours["prod"].tokens
    assert "1111…5555" in out[-1] and "11111111-2222" not in out[-1]
    con.command('code {"code": "0104600000000017215Good1<GS>93abcd", "groupIds": [8]}')
    assert world.backend.catalogue.get("0104600000000017215Good1\x1d93abcd") is not None
    assert con.internal_errors == 0


def test_cdn_and_log_are_tables_and_a_down_host_shows_down(tmp_path):
    con, out, world = console(tmp_path)
    con.command("host cdn01.crpt.ru down")
    con.command("goto СТАТУС ГИС МТ")
    con.command("press ИТ")
    out.clear()
    con.command("cdn")
    lines = out[-1].splitlines()
    assert lines[0].split() == ["#", "host", "latency", "ms", "device", "errors", "late", "server"]
    assert set(lines[1]) <= {"-", " "}
    row = next(line for line in lines if "cdn01.crpt.ru" in line)
    assert row.endswith("down") and "{" not in out[-1]
    con.command("log")
    assert out[-1].splitlines()[0].split()[:4] == ["#", "time", "(MSK)", "code"]
    assert "748" in out[-1] and "{" not in out[-1]
