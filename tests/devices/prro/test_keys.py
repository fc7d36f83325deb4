"""The private-key field's «Read»: the owner's certificate, or the seeds' errors verbatim."""

from pathlib import Path

import pytest

from emulator.base.clock import VirtualClock
from emulator.devices.prro.device import PrroDevice
from emulator.devices.prro.messages import message_table
from emulator.net.taxlink import LocalTaxLink
from emulator.rules.prro import DAY_MS, Role
from emulator.servers.ca.model import CertificationAuthority
from emulator.servers.taxfs.model import TaxServer

START = 1_772_348_400_000  # 2026-03-01T07:00:00Z


@pytest.fixture
def world(tmp_path):
    clock = VirtualClock(START)
    ca = CertificationAuthority(clock, seed=b"test keys")
    device = PrroDevice(tmp_path / "prro", clock, LocalTaxLink(TaxServer(clock)))
    yield clock, ca, device
    device.close()


def _key(ca, tmp_path: Path, name: str, *, days: int = 365, password: str = "1111") -> Path:
    _, data = ca.issue("Іваненко Іван", "1234567890", Role.CASHIER, days=days, password=password, container=name)
    path = tmp_path / "keys" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    return path


def _read(device, path, password="1111"):
    device.choose_key(str(path), password)
    return device.read_key()


def test_a_good_key_shows_its_owner_and_is_saved(world, tmp_path):
    clock, ca, device = world
    out = _read(device, _key(ca, tmp_path, "Key-6.dat"))
    assert out.ok
    assert out.messages == ["Owner: Іваненко Іван, tax ID 1234567890, valid to 01.03.2027"]
    assert device.save_key().ok
    assert device.state()["key"]["owner"] == "Іваненко Іван"
    assert "1111" not in repr(device.state())


@pytest.mark.parametrize("how", ["damaged", "wrong password"])
def test_a_damaged_file_or_a_wrong_password_is_error_loading_key_certificates(world, tmp_path, how):
    clock, ca, device = world
    path = _key(ca, tmp_path, "key.pfx")
    if how == "damaged":
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    out = _read(device, path, "1111" if how == "damaged" else "2222")
    assert not out.ok
    assert out.messages == ["Error loading key certificates"]
    assert not device.save_key().ok


def test_a_moved_key_file_is_library_not_initialized(world, tmp_path):
    clock, ca, device = world
    path = _key(ca, tmp_path, "Key-6.dat")
    path.rename(tmp_path / "elsewhere.dat")
    assert _read(device, path).messages == ["Library not initialized"]


def test_a_key_of_another_type_needs_the_libraries_updated(world, tmp_path):
    clock, ca, device = world
    path = _key(ca, tmp_path, "new.jks")
    assert _read(device, path).messages == ["Library not initialized"]
    assert device.update_libraries().messages == ["CA cryptographic libraries updated"]
    assert _read(device, path).ok


def test_an_expired_key_reads_as_the_certificate_has_expired(world, tmp_path):
    clock, ca, device = world
    path = _key(ca, tmp_path, "key.pfx", days=10)
    assert _read(device, path).ok
    clock.run_until(START + 11 * DAY_MS)
    assert _read(device, path).messages == ["The certificate has expired"]


def test_warnings_come_14_days_before_a_key_expires(world, tmp_path):
    clock, ca, device = world
    assert _read(device, _key(ca, tmp_path, "key.pfx", days=30)).ok
    device.save_key()
    clock.run_until(START + 15 * DAY_MS)
    assert device.warnings() == []
    clock.run_until(START + 17 * DAY_MS)
    assert device.warnings() == ["The key expires in 13 days: register a new key by form 5-ПРРО"]


def test_the_seed_texts_are_in_the_message_table_verbatim():
    table = message_table()
    verbatim = {m.text for m in table.values() if m.source in ("S000", "S001")}
    assert {"The signer's certificate has been revoked", "The certificate has expired",
            "Error loading key certificates", "Library not initialized", "No available business units",
            "Certificate revoked", "CertStatus: 1", "ShiftAlreadyOpened", "DocumentValidationError",
            "Certificate not found", "Online"} <= verbatim


def test_every_message_id_the_device_uses_is_in_the_table():
    import re
    root = Path(__file__).resolve().parents[3] / "emulator" / "devices" / "prro"
    used = set()
    for path in root.glob("*.py"):
        used |= set(re.findall(r'_show\([^,]+, "([a-z_0-9]+)"', path.read_text("utf-8")))
        used |= set(re.findall(r'return "([a-z_0-9]+)"', path.read_text("utf-8")))
        used |= set(re.findall(r'KeyRead\("([a-z_0-9]+)"', path.read_text("utf-8")))
    assert "offline_no_seed" in used and "key_damaged" in used
    assert used <= set(message_table()), sorted(used - set(message_table()))
