"""``fiscal_agrees`` finds what disagrees: a QR image of other text, a document the OFD lacks, a changed 2106."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from emulator.devices.kkt.fiscal import PRINTS_DIR
from emulator.devices.printer.image import qr_png
from emulator.fronts.operator import Operator
from emulator.scenario.runner import fiscal_disagreements
from emulator.servers.trueapi import TrueApiBackend
from emulator.world.root import World

TOKEN = "7f0c0d6e-3b1a-4c53-9a8e-5d2f0e9b1c42"
CODE = "010469999010001021Shop01ok\x1d93Tl01"


def _sold(tmp_path: Path) -> tuple[World, Operator]:
    backend = TrueApiBackend(seed=1)
    backend.add_token("prod", TOKEN)
    from emulator.servers.trueapi.catalogue import Catalogue

    for entry in Catalogue.shop():
        backend.add_code(entry)
    world = World.build("simulated", 1_768_456_800_000, backend, drive_secret=b"x" * 32)
    device = world.new_device(tmp_path)
    device.settings.token = TOKEN
    op = Operator(device, lambda: world.settle(lambda: device.waiting or bool(device.fiscal and device.fiscal.busy),
                                                60_000))
    op.status_check()
    op.press("С")
    op.open_shift()
    op.sell(CODE, 10000)
    op.sell_free(500)
    op.close_receipt()
    op.settle()
    return world, op


def test_a_fresh_receipt_agrees_and_each_tampering_is_found(tmp_path: Path) -> None:
    world, op = _sold(tmp_path)
    try:
        device = op.device
        assert device.fiscal is not None and world.fiscal is not None
        receipt = device.receipts[-1]
        assert receipt.positions[0].tag1265 and receipt.positions[0].tag2106 == 15
        assert fiscal_disagreements(device.fiscal, world.fiscal.ofd, receipt) == []

        png = tmp_path / PRINTS_DIR / f"{device.fiscal.drive.last_fd}.png"
        good = png.read_bytes()
        png.write_bytes(qr_png("t=20260101T0000&s=1.00&fn=1&i=1&fp=1&n=1"))
        assert any("QR image" in p for p in fiscal_disagreements(device.fiscal, world.fiscal.ofd, receipt))
        png.write_bytes(good)

        other = dataclasses.replace(receipt, positions=[dataclasses.replace(receipt.positions[0], tag2106=7),
                                                        receipt.positions[1]])
        assert any("item 1" in p for p in fiscal_disagreements(device.fiscal, world.fiscal.ofd, other))

        world.fiscal.ofd.documents.pop()
        assert any("the OFD holds" in p for p in fiscal_disagreements(device.fiscal, world.fiscal.ofd, receipt))
    finally:
        world.close()
