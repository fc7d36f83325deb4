"""Fuzz target: CMS SignedData verification. Any bytes, and any mutation of a real signed message, give
the content and certificate or ``SignatureError``, never another exception, in bounded time."""

import time

from hypothesis import given
from hypothesis import strategies as st

from emulator.base.clock import VirtualClock
from emulator.rules.prro import Role
from emulator.servers.ca.model import CertificationAuthority
from emulator.wire import cms
from tests.fuzz.budget import fuzz

_ca = CertificationAuthority(VirtualClock(1_780_000_000_000), seed=b"fuzz")
_signer = cms.load_container(_ca.issue("Фаззер", "1234567890", Role.CASHIER, days=5, password="p")[1], "p",
                             name="k.pfx")
SIGNED = _signer.sign("<CHECK>вміст</CHECK>".encode("cp1251"))


def check(data: bytes) -> None:
    start = time.monotonic()
    try:
        content, cert = cms.verify(data)
    except cms.SignatureError:
        pass
    else:
        assert isinstance(content, bytes) and cms.key_id(cert)
    assert time.monotonic() - start < 2.0


@fuzz("cms")
@given(st.binary(max_size=3000))
def test_any_bytes(data):
    check(data)


@fuzz("cms")
@given(st.lists(st.tuples(st.integers(0, len(SIGNED) - 1), st.integers(0, 255)), min_size=1, max_size=8),
       st.integers(0, len(SIGNED)))
def test_mutations_of_a_signed_message(changes, cut):
    data = bytearray(SIGNED)
    for pos, value in changes:
        data[pos] = value
    check(bytes(data[:cut]) if cut < 40 else bytes(data))


def test_deep_nesting_is_bounded():
    deep = b"\x30\x84\x00\x10\x00\x00" * 2000
    check(deep)
    check(b"\x30\x84\x7f\xff\xff\xff" + b"\x00" * 100)
