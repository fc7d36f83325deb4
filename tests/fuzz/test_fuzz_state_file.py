"""Fuzz target: the device's state files (state.json, settings.json) as read back at power-on.

Whatever bytes are in the files, the device starts: a file it cannot take is
kept aside byte for byte and said in one event, never an exception."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from emulator.base.clock import VirtualClock
from emulator.devices.kkt.device import KktDevice
from emulator.devices.kkt.events import StateFileSetAside
from emulator.net.oism import SimOismLink
from emulator.net.simulated import SimulatedNetwork
from emulator.servers.oism.model import OismModel
from emulator.servers.trueapi import TrueApiBackend
from tests.fuzz.budget import fuzz

KEYS = ["emergency", "shift_open", "shift_number", "shift_opened_ms", "receipt_counter", "shift_receipts",
        "tech_result", "cdn", "hosts", "host", "latency_ms", "refreshed_at", "token", "options", "92",
        "sale_ban", "poll_period_min", "tz_offset_min", "gismt_host"]
SCALARS = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=20) \
    | st.sampled_from(["ВКЛЮЧЕН", "ПРЕДУПРЕЖДЕНИЕ", "cdn01.crpt.ru"])
DOCS = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), inner, max_size=5), max_leaves=30)
CONTENT = st.one_of(DOCS.map(lambda d: json.dumps(d).encode()),
                    st.binary(max_size=200),
                    DOCS.map(lambda d: json.dumps(d).encode()[: max(1, len(json.dumps(d)) // 2)]))


@fuzz("state_file")
@given(state=st.none() | CONTENT, settings=st.none() | CONTENT)
def test_the_device_starts_on_any_state_files(state: bytes | None, settings: bytes | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        for name, data in (("state.json", state), ("settings.json", settings)):
            if data is not None:
                (d / name).write_bytes(data)
        clock = VirtualClock(0)
        t0 = time.monotonic()
        dev = KktDevice(clock, SimulatedNetwork(clock, TrueApiBackend()), d, oism=SimOismLink(OismModel()))
        assert time.monotonic() - t0 < 2.0
        for ev in dev.events:
            if isinstance(ev, StateFileSetAside):
                assert (d / ev.kept_as).read_bytes() == (state if ev.file == "state.json" else settings)
                assert "\n" not in ev.text
        dev.screen()
        dev.save_state()
        dev.power_off()
