"""The container header and its CRC, on golden vector V2."""

import pytest

from emulator.wire.ffd.container import (
    Container,
    container_crc,
    decode_container,
    encode_container,
    split_payload,
)
from emulator.wire.ffd.session import decode_message
from emulator.wire.ffd.tlv import FfdError
from tests.wire.ffd.test_golden import v2

V2 = v2()
BODY = decode_message(V2).body


def test_v2_container_decodes_crc_recomputes_and_reencodes():
    assert int.from_bytes(BODY[2:4], "little") == 0x7825 == container_crc(BODY)
    c = decode_container(BODY)
    assert (c.message_type, c.doc_type, c.protocol_version) == (0xA5, 11, 1)
    assert c.service1 == bytes.fromhex("1009") and c.service2 == bytes.fromhex("84ec4c14c20000010004018a")
    assert c.fn_number == "9999078900005488" and c.fd_number == 1
    doc, trailer = split_payload(c.payload)
    assert len(doc) == 4 + 390 and doc[:2] == b"\x0b\x00"
    assert trailer == bytes.fromhex("8106a55ae10c4d750000")
    assert encode_container(c) == BODY


def test_fd_number_is_big_endian_on_three_bytes():
    raw = encode_container(Container(doc_type=3, fn_number="9999078900005488", fd_number=0x123456,
                                     payload=b"\x03\x00\x00\x00"))
    assert raw[17:20] == b"\x12\x34\x56" and raw[9:17] == bytes.fromhex("9999078900005488")
    assert decode_container(raw).fd_number == 0x123456


@pytest.mark.parametrize("damage, offset", [
    (lambda b: b[:2] + b"\x00\x00" + b[4:], 2),                   # CRC field
    (lambda b: b[:40] + bytes([b[40] ^ 1]) + b[41:], 2),          # a payload byte: CRC
    (lambda b: b[:-1], 0),                                        # length
    (lambda b: b[:10], 10),                                       # truncated header
])
def test_damage_is_refused_naming_the_offset(damage, offset):
    with pytest.raises(FfdError) as e:
        decode_container(damage(BODY))
    assert e.value.offset == offset


def test_bcd_and_ranges_are_checked():
    bad = bytearray(BODY)
    bad[9] = 0xAB
    bad[2:4] = container_crc(bytes(bad)).to_bytes(2, "little")
    with pytest.raises(FfdError) as e:
        decode_container(bytes(bad))
    assert e.value.offset == 9
    with pytest.raises(FfdError):
        encode_container(Container(fd_number=1 << 24))
    with pytest.raises(FfdError):
        encode_container(Container(fn_number="12"))
    with pytest.raises(FfdError):
        split_payload(b"\x03\x00\xff\x00")


def test_v2_whole_message_decodes_and_reencodes_through_the_document_codec():
    from dataclasses import replace

    from emulator.wire.ffd.document import Document
    from emulator.wire.ffd.session import encode_message

    m = decode_message(V2)
    c = decode_container(m.body)
    doc_bytes, trailer = split_payload(c.payload)
    doc = Document.decode(doc_bytes)
    assert doc.doc_type == 11 and doc.get(1041) == "9999078900005488" and doc.get(1040) == 1
    rebuilt = replace(c, payload=doc.encode() + trailer)
    assert encode_message(replace(m, body=encode_container(rebuilt))) == V2
