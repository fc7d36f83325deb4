"""``kkt-emu code-image`` draws a КМ as a GS1 DataMatrix; the console's ``scan-image`` of that PNG in cash mode
sells the marked item."""

from __future__ import annotations

from emulator.cli import main
from emulator.fronts.console import Console
from emulator.fronts.operator import Operator
from emulator.wire.datamatrix import read_code_image
from emulator.world.root import World
from emulator.world.spec import make_backend

TOKEN = "7f0c0d6e-3b1a-4c53-9a8e-5d2f0e9b1c42"
CODE = "010469999020001721Shop02ok\x1d93Tl02"


def test_code_image_then_console_scan_image_sells_the_marked_item(tmp_path, capsys):
    png = tmp_path / "code.png"
    assert main(["code-image", CODE.replace("\x1d", "<GS>"), "-o", str(png)]) == 0
    assert "GS1 DataMatrix" in capsys.readouterr().out
    assert read_code_image(png) == CODE
    world = World.build("simulated", 1_768_456_800_000, make_backend(0, {"tokens": {"prod": [TOKEN]}}))
    try:
        device = world.new_device(tmp_path / "dev")
        device.settings.token = TOKEN
        settle = lambda: world.settle(lambda: device.waiting, 60_000)  # noqa: E731
        op = Operator(device, settle)
        op.status_check()
        op.open_shift()
        out: list[str] = []
        con = Console(device, out.append, settle, lambda: None)
        con.command("keys 2 0 0")
        con.command(f"scan-image {png}")
        assert con.internal_errors == 0, out
        position = device.receipt.positions[-1]
        assert (position.marking, position.price, position.gismt) == (CODE, 20000, "allowed")
        con.command("press ИТ")
        assert device.receipt is None and device.receipts[-1].positions[-1].marking == CODE
    finally:
        world.close()


def test_code_image_refuses_what_is_not_a_code_and_a_folder(tmp_path, capsys):
    assert main(["code-image", "hello", "-o", str(tmp_path / "x.png")]) == 2
    assert "not a marking code" in capsys.readouterr().err
    assert main(["code-image", CODE, "-o", str(tmp_path)]) == 2
    assert main(["code-image", CODE, "-o", str(tmp_path / "no" / "x.png")]) == 2
    assert not (tmp_path / "x.png").exists()
