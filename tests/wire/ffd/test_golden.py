"""Golden vectors V1 and V2 of the fiscal wire formats: decode, then re-encode byte for byte."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest

from emulator.wire.ffd.document import Document
from emulator.wire.ffd.tlv import FfdError, decode_fields, encode_fields

V1 = bytes.fromhex("e8030c008fe0a8a2a5e22c20aca8e021" "fc030400" "78563412")
V2_FILE = Path(__file__).parent / "v2_message.bin"
V2_SHA256 = "f5525d1b66b64eb2b9c8b5539a10aa0d7ef1101f17e7241b40521926ccc00a05"
V2_DOC_AT = 0x3E
V2_DOC_LEN = 4 + 390


def v2() -> bytes:
    data = V2_FILE.read_bytes()
    assert len(data) == 466
    assert hashlib.sha256(data).hexdigest() == V2_SHA256
    return data


def v2_document_bytes() -> bytes:
    return v2()[V2_DOC_AT:V2_DOC_AT + V2_DOC_LEN]


def test_v1_decodes_to_the_string_and_the_number() -> None:
    assert decode_fields(V1) == ((1000, "Привет, мир!"), (1020, 0x12345678))


def test_v1_re_encodes_byte_for_byte() -> None:
    assert encode_fields(decode_fields(V1)) == V1
    assert encode_fields([(1000, "Привет, мир!"), (1020, 0x12345678)]) == V1


def test_v2_file_is_the_reference_message() -> None:
    data = v2()
    assert data[:4] == bytes.fromhex("2a08410a")
    assert data[V2_DOC_AT:V2_DOC_AT + 4] == bytes.fromhex("0b008601")   # tag 11, length 390


def test_v2_document_decodes_to_the_reference_table() -> None:
    doc = Document.decode(v2_document_bytes())
    assert doc.doc_type == 11
    assert [t for t, _ in doc.fields] == [
        1041, 1037, 1018, 1040, 1012, 1077, 1056, 1002, 1001, 1109, 1110, 1108, 1062, 1101,
        1013, 1048, 1009, 1017, 1060, 1117, 1021, 1046, 1189, 1209, 1188, 1187, 1203, 1221, 1207]
    assert doc.get(1041) == "9999078900005488"
    assert doc.get(1037) == "0000000005008570"          # fixed 20, the 4 padding spaces dropped
    assert doc.get(1018) == "7702203276"
    assert doc.get(1017) == "7704358518"
    assert doc.get(1040) == 1
    assert doc.get(1012) == dt.datetime(2017, 3, 3, 11, 38, 0)
    assert doc.get(1077) == bytes.fromhex("2104aa107541")
    assert doc.get(1056) is False and doc.get(1109) is True and doc.get(1207) is True
    assert doc.get(1062) == 6 and doc.get(1101) == 1 and doc.get(1189) == 2 and doc.get(1209) == 2
    assert doc.get(1013) == "000000000002"
    assert doc.get(1048) == "ООО РАПКАТ-центр "         # a max-length string keeps its trailing space
    assert doc.get(1021) == "Шеннон К. "
    assert doc.get(1009) == "111141 г.Москва, ул. Кусковская д.20А офис В-202"
    assert doc.get(1187) == "111141 г.Москва, ул. Кусковская\r\nд.20А офис В-202"
    assert doc.get(1188) == "2.0"
    assert doc.get(1203) == "771234567890"


def test_v2_document_re_encodes_byte_for_byte() -> None:
    raw = v2_document_bytes()
    doc = Document.decode(raw)
    assert doc.encode() == raw
    assert Document(doc.doc_type, doc.fields).encode() == raw
    assert encode_fields(decode_fields(raw)) == raw


def test_v2_document_renders_with_fns_names() -> None:
    js = Document.decode(v2_document_bytes()).to_json()
    assert js["code"] == 11
    assert js["fiscalDriveNumber"] == "9999078900005488"
    assert js["fiscalDocumentNumber"] == 1
    assert js["dateTime"] == "2017-03-03T11:38:00"
    assert js["fiscalSign"] == "2104aa107541"
    assert js["kktRegId"] == "0000000005008570"
    assert js["user"] == "ООО РАПКАТ-центр "
    assert js["retailPlace"].endswith("Кусковская\r\nд.20А офис В-202")


def test_v2_document_with_the_trailer_is_refused_naming_its_offset() -> None:
    data = v2()[V2_DOC_AT:V2_DOC_AT + V2_DOC_LEN + 10]
    with pytest.raises(FfdError) as exc:
        Document.decode(data)
    assert exc.value.offset == V2_DOC_LEN
