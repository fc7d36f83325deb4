"""serve's serial section: checked before anything starts (one line naming the key), the ports with their
fixed links, the COM map the driver resolves names with, and everything gone after stop."""

from __future__ import annotations

import os

import pytest

from emulator.fronts.serialports import SerialFronts, check_serial_config
from emulator.net.serialport import SerialDeviceLink, SerialLinkError


def test_defaults_and_a_full_section():
    assert check_serial_config(None, "c.yaml") == {}
    conf = check_serial_config({"device_port": "com4", "scanner_suffix": "CRLF", "scanner_prefix": "]d2",
                                "ports": {"com5": "/dev/ttyUSB0"}}, "c.yaml")
    assert conf == {"device_port": "COM4", "scanner": True, "scanner_prefix": "]d2", "scanner_suffix": "\r\n",
                    "ports": {"COM5": "/dev/ttyUSB0"}}
    assert check_serial_config(conf, "again") == conf


@pytest.mark.parametrize(("section", "says"), [
    ([1], "a mapping"),
    ({"speed": 9600}, "unknown keys ['speed']"),
    ({"device_port": "/dev/pts/1"}, "serial.device_port"),
    ({"scanner": "yes"}, "serial.scanner"),
    ({"scanner_suffix": "NONE"}, "scanner suffix"),
    ({"ports": {"COM3": "/dev/x"}}, "not a free COM name"),
    ({"ports": {"COM5": "ttyUSB0"}}, "serial.ports.COM5"),
])
def test_bad_sections_are_one_line_naming_the_key(section, says):
    with pytest.raises(ValueError) as e:
        check_serial_config(section, "c.yaml")
    assert says in str(e.value) and "\n" not in str(e.value)


def test_ports_links_and_the_com_map(tmp_path):
    fronts = SerialFronts({"device_port": "COM9", "ports": {"COM5": "/dev/null"}}, tmp_path / "serial")
    fronts.start(lambda c, a: {"result": 0, "c": c}, lambda code: None)
    try:
        assert os.readlink(tmp_path / "serial" / "COM9") == fronts.device.path
        assert os.readlink(tmp_path / "serial" / "scanner") == fronts.scanner.path
        assert fronts.ports.resolve("com9") == fronts.device.path
        with SerialDeviceLink("COM9", ports=fronts.ports, timeout_s=3) as link:
            assert link.call("GetStatus", {}) == {"result": 0, "c": "GetStatus"}
        assert any("COM9" in line for line in fronts.banner())
    finally:
        fronts.stop()
    assert not (tmp_path / "serial" / "COM9").exists() and not (tmp_path / "serial" / "scanner").exists()
    with pytest.raises(SerialLinkError):
        SerialDeviceLink(str(tmp_path / "serial" / "COM9"))
