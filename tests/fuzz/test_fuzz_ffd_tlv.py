"""Fuzz targets: the FFD decoders (``decode_fields``, ``Document.decode``).

Whatever bytes arrive: the decoder returns or raises ``FfdError`` naming an
offset inside the input, nothing else escapes; what it accepts re-encodes to
exactly the same bytes; the time per case is bounded. The inputs are random
bytes and mutations of real documents (the V2 golden document, the bench's
typical receipt): bytes changed, cut short, lengths bent.
"""

from __future__ import annotations

import time
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from emulator.bench.ffd import typical_receipt
from emulator.wire.ffd.document import Document
from emulator.wire.ffd.tlv import FfdError, decode_fields, encode_fields
from tests.fuzz.budget import fuzz

BOUND_S = 2.0
V2_DOC = (Path(__file__).parents[1] / "wire" / "ffd" / "v2_message.bin").read_bytes()[0x3E:0x3E + 394]
RECEIPT = typical_receipt(items=3, marked=2).encode()
SEEDS = (V2_DOC, RECEIPT, V2_DOC[4:], RECEIPT[4:])


def _mutate(base: bytes, edits: list[tuple[int, int]], cut: int) -> bytes:
    data = bytearray(base)
    for pos, byte in edits:
        data[pos % len(data)] = byte
    return bytes(data[:cut % (len(data) + 1)]) if cut >= 0 else bytes(data)


mutated = st.builds(_mutate, st.sampled_from(SEEDS),
                    st.lists(st.tuples(st.integers(0, 10 ** 6), st.integers(0, 255)), max_size=4),
                    st.integers(-(10 ** 6), 10 ** 6))
tlv_soup = st.lists(st.tuples(st.sampled_from((1, 3, 11, 1012, 1023, 1037, 1048, 1059, 1077, 1187, 1260,
                                               1262, 1263, 2106, 2107, 1056, 9999)),
                              st.binary(max_size=24)), max_size=12).map(
    lambda items: b"".join(t.to_bytes(2, "little") + len(v).to_bytes(2, "little") + v for t, v in items))
inputs = st.one_of(st.binary(max_size=600), mutated, tlv_soup)
# a right document header (a known type, the length of what follows) around TLVs
documents = st.builds(lambda t, body: t.to_bytes(2, "little") + len(body).to_bytes(2, "little") + body,
                      st.sampled_from((1, 2, 3, 5, 6, 7, 11, 21, 31, 81, 82, 83, 84)),
                      st.one_of(tlv_soup, mutated.map(lambda b: b[4:])))


def _check(decode, encode, data: bytes) -> None:
    t = time.process_time()
    try:
        value = decode(data)
    except FfdError as exc:
        assert 0 <= exc.offset <= len(data), (exc.offset, len(data))
        assert exc.text and "\n" not in exc.text
    else:
        assert encode(value) == data
    assert time.process_time() - t < BOUND_S


@fuzz("ffd_tlv", examples=10_000)
@given(inputs)
def test_decode_fields_refuses_or_round_trips(data: bytes) -> None:
    _check(decode_fields, encode_fields, data)


@fuzz("ffd_document", examples=10_000)
@given(st.one_of(inputs, documents))
def test_document_decode_refuses_or_round_trips(data: bytes) -> None:
    _check(Document.decode, Document.encode, data)
