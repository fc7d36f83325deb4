"""The scanner reading a pack's DataMatrix picture in cash mode (``scan_image``): the code made by
``kkt-emu code-image`` sells as a scanned one; pictures with no code, two codes or no image are device
messages that leave the receipt as it was and never show or log the code."""

from __future__ import annotations

import io

from PIL import Image

from emulator.wire.datamatrix import make_code_image
from emulator.wire.ffd.document import Document
from emulator.world.root import World
from emulator.world.spec import make_backend

TOKEN = "7f0c0d6e-3b1a-4c53-9a8e-5d2f0e9b1c42"
CODE = "010469999010001021Shop01ok\x1d93Tl01"


def till(tmp_path):
    from emulator.fronts.operator import Operator

    world = World.build("simulated", 1_768_456_800_000, make_backend(0, {"tokens": {"prod": [TOKEN]}}),
                        drive_secret=b"x" * 32)
    device = world.new_device(tmp_path / "dev")
    device.settings.token = TOKEN
    op = Operator(device, lambda: world.settle(lambda: device.waiting or bool(device.fiscal and device.fiscal.busy),
                                                60_000))
    op.status_check()
    op.open_shift()
    return world, device, op


def test_a_code_image_sells_the_marked_item(tmp_path):
    world, device, op = till(tmp_path)
    try:
        png = tmp_path / "code.png"
        make_code_image(CODE, png)
        op.press_text("150")
        device.scan_image(png)
        op.settle()
        position = device.receipt.positions[-1]
        assert (position.marking, position.price, position.gismt) == (CODE, 15000, "allowed")
        op.close_receipt()
        assert device.receipt is None
        op.settle()
        fiscal = device.fiscal
        doc = Document.decode(fiscal.drive.document_bytes(fiscal.drive.last_fd))
        items = [dict(i) for i in doc.all(1059)]
        assert doc.doc_type == 3 and len(items) == 1 and items[0][2000] and items[0][1212] == 33
    finally:
        world.close()


def test_pictures_without_one_code_are_device_messages(tmp_path):
    world, device, op = till(tmp_path)
    try:
        one = Image.open(io.BytesIO(make_code_image(CODE))).convert("L")
        two = Image.new("L", (one.width * 2 + 40, one.height), 255)
        two.paste(one, (0, 0))
        two.paste(one, (one.width + 40, 0))
        blank = Image.new("L", (200, 200), 255)
        for image, line in ((blank, "НЕТ КОДА НА ФОТО"), (two, "НЕСКОЛЬКО КОДОВ"), (None, "ФАЙЛ НЕ ЧИТАЕТСЯ")):
            data = b"GIF89a broken"
            if image is not None:
                buf = io.BytesIO()
                image.save(buf, format="PNG")
                data = buf.getvalue()
            records = len(device.logbook.records)
            device.scan_image(data)
            assert device.display.text == f"КМ НЕ РАСПОЗНАН\n{line}"
            assert device.receipt is None or not device.receipt.positions
            assert len(device.logbook.records) == records
            op.dismiss()
            assert device.mode == "cash_ready"
        assert all("Shop01ok" not in e.text for e in device.events if "refused" in e.text)
    finally:
        world.close()
