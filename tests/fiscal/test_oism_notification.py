"""The «Уведомление о реализации» (82) of each receipt with marked items reaches the mock ОИСМ; a refused
one stays queued, is retried, and survives a power cycle."""

from __future__ import annotations

from pathlib import Path

from emulator.devices.kkt.events import OismFailed, OismNote
from emulator.devices.kkt.fiscal import OISM_CURSOR
from emulator.devices.kkt.fiscalqueue import RETRY_FIRST_MS
from emulator.fronts.operator import Operator
from emulator.servers.trueapi import TrueApiBackend
from emulator.servers.trueapi.catalogue import Catalogue
from emulator.wire.ffd.document import Document
from emulator.world.root import World

TOKEN = "7f0c0d6e-3b1a-4c53-9a8e-5d2f0e9b1c42"
CODES = ("010469999010001021Shop01ok\x1d93Tl01", "010469999020001721Shop02ok\x1d93Tl02")


def _world() -> World:
    backend = TrueApiBackend(seed=1)
    backend.add_token("prod", TOKEN)
    for entry in Catalogue.shop():
        backend.add_code(entry)
    return World.build("simulated", 1_768_456_800_000, backend, drive_secret=b"z" * 32)


def _operator(world: World, directory: Path) -> Operator:
    device = world.new_device(directory)
    device.settings.token = TOKEN
    return Operator(device, lambda: world.settle(
        lambda: device.waiting or bool(device.fiscal and device.fiscal.busy), 60_000))


def _sell(op: Operator, *, oism_down_at_close: bool = False, world: World | None = None) -> int:
    op.status_check()
    op.press("С")
    op.open_shift()
    for code in CODES:
        op.sell(code, 10000)
    op.sell_free(500)
    if oism_down_at_close:
        assert world is not None and world.fiscal is not None
        world.fiscal.oism.faults.plan.down = True
    op.close_receipt()
    op.settle()
    assert op.device.fiscal is not None and op.device.fiscal.last is not None
    return op.device.fiscal.last.fd_number


def _notices(world: World) -> list[Document]:
    assert world.fiscal is not None
    return [Document.decode(e.request) for e in world.fiscal.oism.log if e.doc_type == 82]


def test_the_oism_receives_the_notification_with_the_receipts_codes(tmp_path: Path) -> None:
    world = _world()
    try:
        op = _operator(world, tmp_path)
        fd = _sell(op)
        notices = _notices(world)
        assert len(notices) == 1
        n = notices[0]
        assert n.get(2002) == fd and n.get(1040) == fd
        goods = [dict(g) for g in n.all(2007)]
        assert [g[2000] for g in goods] == list(CODES)
        assert all(g[2003] == 1 for g in goods)
        assert [g[2106] for g in goods] == [p.tag2106 for p in op.device.receipts[-1].positions if p.marking]
        unit = op.device.fiscal
        assert unit is not None and unit.notified == 1 and unit.notices_waiting == 0
        assert any(isinstance(e, OismNote) and "accepted (2111 = 0)" in e.text for e in op.device.events)
    finally:
        world.close()


def test_a_refused_notification_is_retried_and_survives_a_power_cycle(tmp_path: Path) -> None:
    world = _world()
    try:
        op = _operator(world, tmp_path)
        assert world.fiscal is not None
        fd = _sell(op, oism_down_at_close=True, world=world)
        unit = op.device.fiscal
        assert unit is not None and unit.notices_waiting == 1 and _notices(world) == []
        assert any(isinstance(e, OismNote) and f"ФД {fd} not accepted" in e.text for e in op.device.events)

        world.device.power_off()
        world.fiscal.oism.faults.plan.down = False
        device = world.new_device(tmp_path)
        world.settle(lambda: bool(device.fiscal and device.fiscal.busy), 60_000)
        assert [n.get(2002) for n in _notices(world)] == [fd]
        assert device.fiscal is not None and device.fiscal.notices_waiting == 0

        world.device.power_off()
        device = world.new_device(tmp_path)           # accepted once: not sent again
        world.settle(lambda: bool(device.fiscal and device.fiscal.busy), 60_000)
        assert len(_notices(world)) == 1
    finally:
        world.close()


def test_a_rejected_notification_is_sent_again_after_the_retry_time(tmp_path: Path) -> None:
    world = _world()
    try:
        op = _operator(world, tmp_path)
        assert world.fiscal is not None
        plan = world.fiscal.oism.faults.plan
        op.status_check()
        op.press("С")
        op.open_shift()
        op.sell(CODES[0], 10000)
        plan.plan(["reject"], False)                  # the next ОИСМ message: 84 with 2111 = 1
        op.close_receipt()
        op.settle()
        unit = op.device.fiscal
        assert unit is not None
        world.advance(RETRY_FIRST_MS - 5000)         # the OFD's acknowledgements do not hurry the retry
        assert unit.notices_waiting == 1 and len(_notices(world)) == 1
        world.advance(6000)
        world.settle(lambda: unit.busy, 60_000)
        tickets = [Document.decode(e.answer) for e in world.fiscal.oism.log if e.doc_type == 82]
        assert [(t.doc_type, t.get(2111)) for t in tickets] == [(84, 1), (84, 0)]
        notes = [e.text for e in op.device.events if isinstance(e, OismNote)]
        assert "2111 = 1 (not accepted); 1 waiting, again in 60 s" in notes[0] and "accepted" in notes[1]
        assert unit.notices_waiting == 0 and len(_notices(world)) == 2
        assert (tmp_path / OISM_CURSOR).stat().st_mode & 0o077 == 0
    finally:
        world.close()


def test_each_failed_oism_check_is_an_oism_trace_event_naming_the_problem(tmp_path: Path) -> None:
    world = _world()
    try:
        op = _operator(world, tmp_path)
        assert world.fiscal is not None
        op.status_check()
        op.press("С")
        op.open_shift()
        world.fiscal.oism.faults.plan.plan(["refuse", "stall", "garbage"], False)
        for code in (CODES[0], CODES[1], "010469999040001121Shop04ok\x1d93Tl04"):
            op.sell(code, 10000)
        op.close_receipt()
        op.settle()
        failed = [e for e in op.device.events if isinstance(e, OismFailed)]
        assert [e.tag2106 for e in failed] == [3, 3, 3]
        assert [p.tag2106 for p in op.device.receipts[-1].positions] == [3, 3, 3]
        texts = [e.render() for e in failed]
        assert all(t.startswith("oism: no ОИСМ answer for 0104699990") for t in texts)
        assert "refused" in texts[0] and "timeout" in texts[1] and "garbage" in texts[2]
        assert op.device.logbook.records == []          # no GIS MT log record of its own
    finally:
        world.close()


def test_a_damaged_cursor_is_set_aside_and_the_archive_notified_again(tmp_path: Path) -> None:
    world = _world()
    try:
        op = _operator(world, tmp_path)
        fd = _sell(op)
        world.device.power_off()
        (tmp_path / OISM_CURSOR).write_bytes(b"{\"fn\": \x00")
        device = world.new_device(tmp_path)
        world.settle(lambda: bool(device.fiscal and device.fiscal.busy), 60_000)
        assert [n.get(2002) for n in _notices(world)] == [fd, fd]      # once more, not lost
        assert (tmp_path / (OISM_CURSOR + ".bad")).read_bytes() == b"{\"fn\": \x00"
        assert device.fiscal is not None and device.fiscal.notices_waiting == 0
    finally:
        world.close()
