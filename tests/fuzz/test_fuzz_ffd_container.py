"""Fuzz target: the container decoder, the whole-envelope opener and the mock OFD / ОИСМ on any message.

``decode_container`` and ``open_message`` raise nothing but ``FfdError``, with
an offset inside the input; a good container survives a round trip; a single
changed byte of a container is always caught (CRC-16 catches every single-byte
error). The mock OFD and ОИСМ answer any bytes without raising, store nothing
that does not decode, and answer what they store with an acknowledgement.
"""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st

from emulator.servers.ofd.model import OfdModel
from emulator.servers.oism.routes import OismServer
from emulator.wire.ffd.container import Container, decode_container, encode_container
from emulator.wire.ffd.envelope import open_message, wrap_document
from emulator.wire.ffd.values import FfdError
from tests.fuzz.budget import fuzz

BOUND_S = 2.0
fns = st.text("0123456789", min_size=16, max_size=16)
containers = st.builds(Container, st.integers(0, 255), st.integers(0, 255), st.integers(0, 255),
                       st.binary(min_size=2, max_size=2), fns, st.integers(0, 0xFFFFFF),
                       st.binary(min_size=12, max_size=12), st.binary(max_size=60))
documents = st.sampled_from([
    bytes.fromhex("03000c00" "e8030400" "01000000" "fe030000"),      # a receipt with two tags
    bytes.fromhex("51000800" "d0070400" "41424344"),                  # an 81 with a КМ
    bytes.fromhex("52000000"), bytes.fromhex("07000000"),
])
envelopes = st.builds(lambda d, fn, fd, peer, trailer: wrap_document(d, fn_number=fn, fd_number=fd, peer=peer,
                                                                     trailer=trailer),
                      documents, fns, st.integers(0, 0xFFFFFF), st.sampled_from(["ofd", "oism"]),
                      st.binary(max_size=10))


def _mutate(raw: bytes, i: int, b: int) -> bytes:
    i %= len(raw)
    return raw[:i] + bytes([b]) + raw[i + 1:]


@fuzz("ffd_container", examples=10_000)
@given(containers, st.integers(0, 10 ** 6), st.integers(1, 255), st.binary(max_size=80))
def test_containers_round_trip_and_damage_is_caught(c, i, flip, junk):
    raw = encode_container(c)
    assert decode_container(raw) == c
    bad = bytearray(raw)
    bad[i % len(raw)] ^= flip
    try:
        decode_container(bytes(bad))
        raise AssertionError("a changed byte went through")
    except FfdError as exc:
        assert 0 <= exc.offset <= len(raw)
    for data in (junk, raw[:i % (len(raw) + 1)] + junk):
        try:
            decode_container(data)
        except FfdError as exc:
            assert 0 <= exc.offset <= len(data)


@fuzz("ffd_container")
@given(st.one_of(envelopes, st.builds(_mutate, envelopes, st.integers(0, 10 ** 6), st.integers(0, 255)),
                 st.binary(max_size=150)))
def test_servers_answer_any_message_without_raising(data):
    t = time.process_time()
    try:
        opened = open_message(data)
    except FfdError as exc:
        assert 0 <= exc.offset <= len(data)
        opened = None
    ofd, oism = OfdModel(key=b"k" * 32), OismServer()
    reply = ofd.exchange(data, 0).reply
    oism.exchange(data, 0)
    for rec in ofd.documents:
        assert opened is not None and rec.document == opened.document and ofd.verify_ack(rec.ack, rec.document)
    if reply is not None:
        assert open_message(reply).doc_type == 7
    assert time.process_time() - t < BOUND_S
