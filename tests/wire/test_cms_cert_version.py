"""An embedded certificate whose version field is not one X.509 knows is a ``SignatureError`` (the
cryptography library raises ``InvalidVersion``, which is not a ``ValueError``)."""

import pytest

from emulator.base.clock import VirtualClock
from emulator.rules.prro import Role
from emulator.servers.ca.model import CertificationAuthority
from emulator.wire import cms


def test_a_certificate_of_an_unknown_version_is_a_signature_error() -> None:
    ca = CertificationAuthority(VirtualClock(1_780_000_000_000), seed=b"version")
    signer = cms.load_container(ca.issue("Касир", "1234567890", Role.CASHIER, days=5, password="p")[1], "p",
                                name="k.pfx")
    signed = signer.sign(b"<CHECK/>")
    v3 = b"\xa0\x03\x02\x01\x02"                 # [0] EXPLICIT INTEGER 2: X.509 v3
    assert signed.count(v3) == 1
    for version in (b"\x01", b"\x05"):           # v2 (cryptography refuses it) and no version at all
        with pytest.raises(cms.SignatureError, match="bad embedded certificate"):
            cms.verify(signed.replace(v3, v3[:-1] + version))
