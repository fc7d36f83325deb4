"""The printer: the marked-item signs, the print form of a receipt, and a QR image that reads back."""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal

import pytest
from PIL import Image
from pyzbar.pyzbar import decode

from emulator.devices.printer.form import mark_sign, parse_qr_text, print_form, qr_text
from emulator.devices.printer.image import qr_png
from emulator.wire.ffd.document import Document

KM = "0104600000000017215Good1\x1d93abcd"


def receipt(tag2106: int = 15) -> Document:
    item = ((1030, "МАРКИР.ТОВАР 1"), (1079, 18900), (1023, Decimal(1)), (1043, 18900), (2000, KM),
            (2106, tag2106), (1260, ((1262, "030"), (1263, "21.11.2023"), (1264, "1944"),
                                     (1265, "UUID=2ce10bdb-6510-4d37-be04-dd473b98c728&Time=1692691702065"))))
    return Document(3, ((1054, 1), (1048, "ООО ЭМУЛЯТОР"), (1018, "7700000000"), (1038, 4), (1042, 9),
                        (1059, item), (1059, ((1030, "ТОВАР 2"), (1079, 4950), (1023, Decimal(1)), (1043, 4950))),
                        (1020, 23850), (1031, 23850), (1081, 0), (1040, 17), (1041, "9999078900000001"),
                        (1012, datetime(2026, 1, 15, 9, 5, 7))))


@pytest.mark.parametrize("value,sign", [(15, "[М+]"), (3, "[М]"), (7, "[М]"), (19, "[М]"), (0, "[М-]"),
                                        (1, "[М-]"), (None, "[М-]"), (10, "[М+]")])
def test_the_marked_item_sign_follows_bits_1_and_3_of_2106(value, sign):
    assert mark_sign(value) == sign


def test_a_receipt_prints_its_items_totals_and_signs():
    out = print_form(Document.decode(receipt(3).encode()), 1234567890)
    text = out.text
    assert "[М] 1. МАРКИР.ТОВАР 1" in out.lines
    assert "2. ТОВАР 2" in out.lines          # an unmarked item has no sign
    assert all(len(line) <= 32 for line in out.lines)
    for want in ("КАССОВЫЙ ЧЕК", "ПРИХОД", "ЧЕК 9", "СМЕНА 4", "=238.50", "9999078900000001", "1234567890"):
        assert want in text
    assert out.fd_number == 17


def test_the_qr_payload_has_the_receipts_fields_and_the_image_reads_back():
    doc = receipt()
    text = qr_text(doc, 1234567890)
    assert text == "t=20260115T0905&s=238.50&fn=9999078900000001&i=17&fp=1234567890&n=1"
    with Image.open(io.BytesIO(qr_png(text))) as image:
        found = decode(image)
    assert [f.data.decode("ascii") for f in found] == [text]
    assert parse_qr_text(found[0].data.decode("ascii")) == {"t": "20260115T0905", "s": "238.50",
                                                           "fn": "9999078900000001", "i": "17",
                                                           "fp": "1234567890", "n": "1"}


def test_a_qr_payload_with_a_field_missing_is_refused():
    with pytest.raises(ValueError, match="expected"):
        parse_qr_text("t=20260115T0905&s=1.00&fn=1&i=1&fp=1")


def test_a_report_prints_without_a_qr_code():
    doc = Document(5, ((1048, "ООО ЭМУЛЯТОР"), (1038, 4), (1040, 20), (1041, "9999078900000001"),
                       (1012, datetime(2026, 1, 15, 21, 0))))
    out = print_form(doc, 99)
    assert out.qr is None and "ОТЧЕТ О ЗАКРЫТИИ СМЕНЫ" in out.text and "[QR-КОД]" not in out.text
