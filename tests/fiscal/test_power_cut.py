"""A power cut between the drive's commit and ``state.json``: the device takes the drive's shift."""

from __future__ import annotations

import json
from pathlib import Path

from emulator.fronts.operator import Operator
from emulator.servers.trueapi import TrueApiBackend
from emulator.world.root import World


def _world() -> World:
    return World.build("simulated", 1_768_456_800_000, TrueApiBackend(seed=1), drive_secret=b"y" * 32)


def _state(directory: Path, **changes: object) -> None:
    path = directory / "state.json"
    state = json.loads(path.read_text("utf-8"))
    state.update(changes)
    path.write_text(json.dumps(state), "utf-8")


def test_a_shift_the_drive_opened_but_state_json_missed_is_open_after_the_restart(tmp_path: Path) -> None:
    world = _world()
    try:
        op = Operator(world.new_device(tmp_path))
        op.open_shift()
        world.device.power_off()
        _state(tmp_path, shift_open=False, shift_number=0, shift_opened_ms=None)   # the lost write
        device = world.new_device(tmp_path)
        assert device.shift_open and device.shift_number == 1
        op = Operator(device)
        op.enter_cash()
        op.sell_free(500)
        op.close_receipt()
        assert device.fiscal is not None and device.fiscal.last is not None
        assert device.fiscal.last.document.get(1038) == 1
    finally:
        world.close()


def test_a_shift_the_drive_closed_but_state_json_missed_is_closed_after_the_restart(tmp_path: Path) -> None:
    world = _world()
    try:
        op = Operator(world.new_device(tmp_path))
        op.open_shift()
        op.leave_cash()
        op.close_shift()
        world.device.power_off()
        _state(tmp_path, shift_open=True, shift_opened_ms=1_768_456_800_000)
        device = world.new_device(tmp_path)
        assert not device.shift_open
        Operator(device).open_shift()           # the next shift opens: the drive agrees
        assert device.shift_number == 2
    finally:
        world.close()
