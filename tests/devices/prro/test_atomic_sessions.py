"""An offline session begins with its 102 and ends with its 103 in one transaction: a crash between leaves neither."""

import pytest

from emulator.devices.prro.core import PrroCore
from emulator.devices.prro.offline import OfflineSession
from emulator.world.prro import PrroWorld


class Crash(Exception):
    pass


@pytest.fixture
def device(tmp_path):
    with PrroWorld(tmp_path, start_ms=1_772_434_800_000) as world:
        world.issue_key("k", owner="Ода", file="Key-6.dat")
        world.register("k", "cashier", delay_ms=0)
        d = world.add_prro("A")
        d.choose_key(str(world.key_files["k"]), "1111")
        assert d.read_key().ok and d.save_key().ok and d.open_shift().ok
        yield d


def test_a_crash_before_102_is_stored_leaves_no_session(device, monkeypatch):
    real = PrroCore._make

    def make(self, kind, *args, **kw):
        if kind == "offline_begin":
            raise Crash
        return real(self, kind, *args, **kw)

    monkeypatch.setattr(PrroCore, "_make", make)
    with pytest.raises(Crash):
        device.go_offline()
    assert not device.offline.active
    monkeypatch.setattr(PrroCore, "_make", real)
    assert device.go_offline().ok and device.receipt("sale", 100).ok and device.go_online().ok


def test_a_crash_after_103_is_stored_but_before_the_session_ends_leaves_no_103(device, monkeypatch):
    assert device.go_offline().ok and device.receipt("sale", 100).ok
    monkeypatch.setattr(OfflineSession, "end", lambda self: (_ for _ in ()).throw(Crash()))
    with pytest.raises(Crash):
        device.go_online()
    assert device.offline.active
    assert not [d for d in device.store.docs() if d.kind == "offline_end"]
    monkeypatch.undo()
    assert device.go_online().ok and device.store.count("offline") == 0
