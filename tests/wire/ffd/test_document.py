"""``Document``: decode/encode of a whole document STLV, get/all, the FNS JSON form."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from emulator.bench.ffd import typical_receipt
from emulator.wire.ffd.document import DOC_MAX_LEN, DOC_TYPES, Document
from emulator.wire.ffd.tlv import FfdError, header


def test_document_types_and_their_limits() -> None:
    assert DOC_TYPES[1] == "Отчет о регистрации" and DOC_TYPES[3] == "Кассовый чек"
    assert set(DOC_TYPES) >= {1, 2, 3, 5, 6, 7, 11, 21, 31, 81, 82, 83, 84}
    assert DOC_MAX_LEN[3] == 32768 and DOC_MAX_LEN[7] == 512 and DOC_MAX_LEN[1] == 6144


def test_typical_receipt_round_trips_and_reads() -> None:
    doc = typical_receipt()
    raw = doc.encode()
    back = Document.decode(raw)
    assert back == doc and back.encode() == raw
    items = back.all(1059)
    assert len(items) == 10
    assert sum(1 for item in items if any(t == 1260 for t, _ in item)) == 4
    assert back.get(1020) == sum(dict(item)[1043] for item in items)
    assert back.get(9999, "none") == "none"
    assert back.name == "Кассовый чек"


def test_to_json_uses_fns_names_lists_and_nests() -> None:
    js = typical_receipt().to_json()
    json.dumps(js)                                   # plain JSON values only
    assert js["code"] == 3 and js["fiscalDocumentNumber"] == 123
    assert js["fiscalSign"] == "3104aa107541" and js["dateTime"] == "2024-03-01T12:30:05"
    item = js["items"][0]
    assert item["name"] == "Товар номер 1 упаковка" and item["price"] == 8990 and item["quantity"] == 2
    assert js["items"][1]["quantity"] == 1.0 and item["itemsQuantityMeasure"] == 0
    industry = item["itemsIndustryDetails"]          # repeatable: always a list
    assert industry == [{"idFoiv": "030", "foundationDocDateTime": "21.11.2023", "foundationDocNumber": "1944",
                         "industryPropValue": "UUID=2ce10bdb-6510-4d37-be04-dd473b98c700&Time=1692691702000"}]
    assert item["checkingProdInformationResult"] == 15 and item["productCodeNew"] == {"gs1m": "046004399312565ABC000xyz00"}
    assert "itemsIndustryDetails" not in js["items"][5]


def test_to_json_of_unknown_and_repeated_tags() -> None:
    doc = Document(3, ((9999, b"\x01\x02"), (1021, "А"), (1021, "Б"), (1023, Decimal("0.250"))))
    assert doc.to_json() == {"code": 3, "9999": "0102", "operator": ["А", "Б"], "quantity": 0.25}


@pytest.mark.parametrize(("data", "offset", "words"), [
    (b"\x03\x00", 0, "truncated document header"),
    (header(9, 0), 0, "unknown document type 9"),
    (header(7, 600) + b"\0" * 600, 2, "length 600, at most 512"),
    (header(3, 10) + b"\0" * 4, 2, "length 10 but only 4"),
    (header(3, 0) + b"\0", 4, "1 byte(s) after the document"),
])
def test_bad_documents_name_their_offset(data: bytes, offset: int, words: str) -> None:
    with pytest.raises(FfdError) as exc:
        Document.decode(data)
    assert exc.value.offset == offset and words in exc.value.text


def test_encode_refuses_an_unknown_type_and_a_document_over_its_limit() -> None:
    with pytest.raises(FfdError, match="unknown document type"):
        Document(9, ()).encode()
    with pytest.raises(FfdError, match="at most 512"):
        Document(7, tuple((1030, "x" * 100) for _ in range(6))).encode()


def test_an_empty_document_round_trips() -> None:
    doc = Document(2, ())
    assert doc.encode() == header(2, 0) and Document.decode(header(2, 0)) == doc


def test_decoded_datetimes_are_naive_local_time() -> None:
    when = Document.decode(Document(2, ((1012, dt.datetime(2024, 1, 1, 9, 0)),)).encode()).get(1012)
    assert when == dt.datetime(2024, 1, 1, 9, 0) and when.tzinfo is None


def test_document_stlv_of_encoded_parts_is_the_documents_encoding():
    from emulator.wire.ffd.document import document_stlv
    from emulator.wire.ffd.tlv import encode_fields
    doc = Document(3, ((1040, 7), (1020, 12345), (1037, "0000000005008570"), (1054, 1)))
    parts = [doc.fields[:2], doc.fields[2:3], doc.fields[3:]]
    assert document_stlv(3, b"".join(encode_fields(p) for p in parts)) == doc.encode()
    with pytest.raises(FfdError):
        document_stlv(99, b"")
