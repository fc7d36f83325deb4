"""The device's TLS store and QR token scanning, through the device's own inputs."""

import pytest

from emulator.base.clock import VirtualClock
from emulator.devices.kkt.device import KktDevice
from emulator.fronts.operator import Operator
from emulator.net.oism import SimOismLink
from emulator.net.simulated import SimulatedNetwork
from emulator.servers.oism.model import OismModel
from emulator.servers.trueapi import TrueApiBackend
from emulator.wire.token_qr import make_token_qr
from tls_store import TlsError
from tls_store.lab_ca import LabCA

TOKEN = "7f0c0d6e-3b1a-4c53-9a8e-5d2f0e9b1c42"


def device(tmp_path):
    clock = VirtualClock(1_768_456_800_000)
    return KktDevice(clock, SimulatedNetwork(clock, TrueApiBackend()), tmp_path / "dev", oism=SimOismLink(OismModel()))


def test_certificates_fill_the_slots_then_650_and_survive_a_restart(tmp_path):
    dev = device(tmp_path)
    cas = [LabCA.create(common_name=f"root {i}") for i in range(dev.tls.capacity + 1)]
    for ca in cas[:-1]:
        dev.load_certificate(ca.cert_pem)
    assert dev.tls.describe() == f"СЕРТИФИКАТЫ: {dev.tls.capacity}/{dev.tls.capacity}"
    with pytest.raises(TlsError) as err:
        dev.load_certificate(cas[-1].cert_pem)
    assert err.value.code == 650 and dev.last_error == 650
    assert dev.display.text.startswith("650 Нет места для")
    with pytest.raises(TlsError) as bad:
        dev.load_certificate(b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    assert bad.value.code == 652
    dev.power_off()
    again = device(tmp_path)
    assert len(again.tls.slots()) == again.tls.capacity
    assert again.tls_context() is not None


def test_no_roots_with_host_checks_on_is_651_and_option_92_lifts_it(tmp_path):
    dev = device(tmp_path)
    with pytest.raises(TlsError) as err:
        dev.tls_context()
    assert err.value.code == 651
    dev.settings.options[92] = 1
    ctx = dev.tls_context()
    assert not ctx.check_hostname


def test_token_read_from_a_qr_image(tmp_path):
    dev = device(tmp_path)
    png = tmp_path / "token.png"
    make_token_qr(TOKEN, png)
    Operator(dev).goto("СКАНИРОВ.ТОКЕН")
    dev.press("ИТ")
    dev.scan_image(png)
    assert dev.settings.token == TOKEN
    assert dev.display.text == "ТОКЕН СОХРАНЕН\n7f0c…1c42"
    assert all(TOKEN not in e.text for e in dev.events)


def test_a_picture_without_a_token_is_refused_and_keeps_the_old_token(tmp_path):
    from PIL import Image

    dev = device(tmp_path)
    dev.settings.token = TOKEN
    blank = tmp_path / "blank.png"
    Image.new("RGB", (64, 64), "white").save(blank)
    Operator(dev).goto("СКАНИРОВ.ТОКЕН")
    dev.press("ИТ")
    dev.scan_image(blank)
    assert dev.display.text == "749 Ошибка настроек\nГИС МТ\nQR НЕ РАСПОЗНАН"
    assert dev.settings.token == TOKEN and dev.beeps
    dev.scan_image(b"not an image at all")
    assert dev.settings.token == TOKEN and dev.mode == "message"
