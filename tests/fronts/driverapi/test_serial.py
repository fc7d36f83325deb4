"""The driver API over a real pty: the KKT's commands through SerialDeviceLink, and the port's failures as result 5."""

from __future__ import annotations

import pytest

from emulator.fronts.driverapi.app import Driver
from emulator.fronts.ecr import results as R
from emulator.net.serialport import DeviceSerialEndpoint, PortMap, SerialDeviceLink
from tests.fronts.driverapi.rig import CODE, Rig, b64


@pytest.fixture
def wired(tmp_path):
    rig = Rig(tmp_path)
    endpoint = DeviceSerialEndpoint(rig.commands)
    endpoint.start()
    ports = PortMap({"COM3": endpoint.path})
    rig.driver = Driver(lambda name: SerialDeviceLink(name, timeout_s=5, ports=ports))
    yield rig, endpoint
    rig.driver.close_all()
    endpoint.stop()
    rig.close()


def test_a_receipt_over_the_pty(wired):
    rig, endpoint = wired
    rig.shift()
    assert rig.call("OpenCheck", checkType=0)["result"] == 0
    assert rig.call("AddGoods", productName="Хлеб", qty=10000, price=5000)["result"] == 0
    marked = rig.call("AddGoods", productName="Брюки", qty=10000, price=10000, mcInfo={"mc": b64(CODE)})
    assert marked["result"] == 0 and marked["checkedBy"] == "device"
    assert rig.call("CloseCheck", payment={"cash": 15000})["result"] == 0
    assert rig.device.receipts[-1].total == 15000
    assert endpoint.stats["requests"] >= 5


def test_missing_busy_and_unplugged_ports_are_result_5(wired):
    rig, endpoint = wired
    missing = rig.driver.handle({"command": "OpenSession", "portName": "COM4"})
    assert missing["result"] == R.PORT_ERROR and missing["port"] == "port-missing" and "COM4" in missing["description"]
    gone = rig.driver.handle({"command": "OpenSession", "portName": "/dev/pts/no-such-port"})
    assert gone["result"] == R.PORT_ERROR and gone["port"] == "port-missing"
    rig.session()
    busy = rig.driver.handle({"command": "OpenSession", "portName": endpoint.path})   # the same pty by its path
    assert busy["result"] == R.PORT_ERROR and busy["port"] == "port-busy"
    shift_before = rig.device.shift_open
    endpoint.unplug()
    unplugged = rig.call("OpenShift")
    assert unplugged["result"] == R.PORT_ERROR and unplugged["port"] == "unplugged"
    assert rig.device.shift_open == shift_before
    assert rig.call("CloseSession")["result"] == 0
