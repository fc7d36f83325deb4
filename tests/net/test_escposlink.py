"""The DM's printer link and print forms against the emulated printer over real TCP."""

from __future__ import annotations

import io
import socket
import time

import pytest
from PIL import Image
from pyzbar.pyzbar import decode

from emulator.net.escposlink import PRINT_TIMEOUT_S, PrinterLink, Receipt, ReceiptError, layout
from emulator.net.printforms import decode_data_uri, print_forms
from emulator.servers.escpos.model import PrinterModel
from emulator.servers.escpos.tcp import PrinterTcp

QR = "https://cabinet.tax.gov.ua/cashregs/check?fn=4000123456&id=1001&sm=45.00"
DM_LINES = {"lines": [
    {"t": "ТОВ «Ґава»", "qr_type": 0, "bold": True, "double": True, "align": "center"},
    {"t": "Кава 1 x 45.00 = 45.00"},
    {"t": "Дякуємо \\nза покупку."},
    {"t": "4820000000000", "qr_type": "1"},
    {"t": "CHK-1001", "qr_type": 2},
    {"t": QR, "qr_type": 100},
]}


def logo_bmp(w: int = 96, h: int = 24) -> bytes:
    img = Image.new("1", (w, h), 1)
    img.paste(0, (0, 0, w // 2, h))
    buf = io.BytesIO()
    img.save(buf, "BMP")
    return buf.getvalue()


@pytest.fixture
def printer():
    model = PrinterModel()
    with PrinterTcp(model) as srv:
        yield model, PrinterLink("127.0.0.1", srv.port, timeout_s=2.0)


def wait(cond, timeout: float = 3.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.01)


def test_receipt_from_dm_data_and_its_errors():
    r = Receipt.from_data(DM_LINES)
    assert [(x.qr_type, x.align) for x in r.lines] == [(0, "center"), (0, "left"), (0, "left"), (1, "left"),
                                                       (2, "left"), (100, "left")]
    assert Receipt.from_data(["a", {"t": "b"}]).lines[1].t == "b"
    for bad, msg in [({"lines": "x"}, "must be a list"), ([{"t": 5}], "'t' must be a string"),
                     ([{"t": "x", "qr_type": 3}], "qr_type must be one of"), ([{"t": "x", "align": "up"}], "align"),
                     ([7], "an object")]:
        with pytest.raises(ReceiptError, match=msg):
            Receipt.from_data(bad)


def test_a_receipt_is_printed_as_laid_out_with_the_drawer_opened_after_it(printer):
    model, link = printer
    res = link.print_receipt(Receipt.from_data(DM_LINES, logo=logo_bmp()), open_drawer=True)
    assert res.outcome == "printed" and res.isprint == 1 and res.sent and res.drawer_opened
    assert res.elapsed_ms < 2000 and res.status is not None and res.status.drawer_open
    (doc,) = model.documents
    assert doc.text_lines()[:4] == ["ТОВ «Ґава»", "Кава 1 x 45.00 = 45.00", "Дякуємо ", "за покупку."]
    assert [(b.kind, b.data) for b in doc.barcodes] == [("EAN13", "4820000000000"), ("CODE128", "CHK-1001")]
    assert [q.data for q in doc.qr_codes] == [QR] and [(i.width, i.height) for i in doc.images] == [(96, 24)]
    assert len(model.drawer_openings) == 1
    scanned = {(s.type, s.data.decode()) for s in decode(Image.open(io.BytesIO(model.png())))}
    assert scanned == {("QRCODE", QR), ("CODE128", "CHK-1001"), ("EAN13", "4820000000000")}


def test_the_print_form_is_the_printed_paper(printer):
    model, link = printer
    receipt = Receipt.from_data(DM_LINES, logo=logo_bmp())
    assert link.print_receipt(receipt).outcome == "printed"
    forms = print_forms(receipt)
    assert set(forms) == {"pf_text", "pf_image", "pf_pdf"}
    mime, png = decode_data_uri(forms["pf_image"])
    assert mime == "image/png" and png == model.png()
    mime, text = decode_data_uri(forms["pf_text"])
    assert mime == "text/plain;charset=windows-1251"
    assert text.decode("cp1251").split("\r\n")[:3] == ["ТОВ «Ґава»", "Кава 1 x 45.00 = 45.00", "Дякуємо"]
    mime, pdf = decode_data_uri(forms["pf_pdf"])
    assert mime == "application/pdf" and pdf.startswith(b"%PDF-")
    assert set(print_forms(receipt, txt=True, img=False, pdf=False)) == {"pf_text"}


def test_text_outside_cp1251_becomes_a_question_mark_in_the_text_form():
    _, text = decode_data_uri(print_forms(Receipt.from_data(["Ціна € 5 ✓"]), img=False, pdf=False)["pf_text"])
    assert text.decode("cp1251").startswith("Ціна € 5 ?")


@pytest.mark.parametrize("fault,outcome", [("paper_out", "paper_out"), ("cover_open", "cover_open")])
def test_a_printer_that_cannot_print_gets_nothing_and_no_drawer_pulse(printer, fault, outcome):
    model, link = printer
    model.set_fault(fault, True)
    res = link.print_receipt(Receipt.from_data(DM_LINES), open_drawer=True)
    assert (res.outcome, res.isprint, res.sent, res.drawer_opened) == (outcome, 0, False, False)
    assert "nothing was sent" in res.message and "\n" not in res.message
    model.set_fault(fault, False)
    assert model.documents == [] and model.drawer_openings == [] and model.held == 0


def test_paper_running_out_during_the_receipt_is_reported_and_the_rest_prints_once_after_reload(printer):
    model, link = printer
    model.set_fault("paper_lines", 2)
    res = link.print_receipt(Receipt.from_data(DM_LINES), open_drawer=True)
    assert (res.outcome, res.isprint, res.sent, res.drawer_opened) == ("paper_out", 0, True, False)
    assert model.documents == []
    model.set_fault("paper_lines", None)
    model.set_fault("paper_out", False)
    (doc,) = model.documents
    assert doc.text_lines()[1] == "Кава 1 x 45.00 = 45.00" and [q.data for q in doc.qr_codes] == [QR]


def test_offline_printer_and_nothing_listening(printer):
    model, link = printer
    model.set_fault("offline", True)
    res = link.print_receipt(Receipt.from_data(DM_LINES))
    assert (res.outcome, res.isprint, res.sent) == ("offline", 0, False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = PrinterLink("127.0.0.1", port).print_receipt(Receipt.from_data(DM_LINES))
    assert res.outcome == "offline" and res.elapsed_ms < 1000


def test_slow_printer_hits_the_deadline(printer):
    model, link = printer
    model.set_fault("slow", 3000)
    t = time.monotonic()
    res = link.print_receipt(Receipt.from_data(DM_LINES))
    assert res.outcome == "timeout" and res.isprint == 0 and "within 2 s" in res.message
    assert 1.9 <= time.monotonic() - t < 2.6


def test_the_dm_five_second_rule_against_a_stalled_printer():
    """A printer whose TCP stack takes the connection but never answers: the link gives up at 5 s."""
    assert PRINT_TIMEOUT_S == 5.0
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)                    # the kernel accepts; nobody ever reads or answers
        link = PrinterLink("127.0.0.1", listener.getsockname()[1])
        t = time.monotonic()
        res = link.print_receipt(Receipt.from_data(DM_LINES))
        took = time.monotonic() - t
    assert res.outcome == "timeout" and res.isprint == 0 and not res.sent
    assert 4.9 <= took < 6.0


def test_bad_receipts_are_refused_before_anything_is_sent(printer):
    model, link = printer
    for lines, msg in [([{"t": "4820000000001", "qr_type": 1}], "check digit"),
                       ([{"t": "Ґ", "qr_type": 2}], "printable ASCII"),
                       ([{"t": "", "qr_type": 100}], "QR code takes")]:
        res = link.print_receipt(Receipt.from_data(lines))
        assert res.outcome == "bad_receipt" and msg in res.message and not res.sent
    res = link.print_receipt(Receipt.from_data(["x"], logo=b"BMnot an image"))
    assert res.outcome == "bad_receipt" and "logo" in res.message
    with pytest.raises(ReceiptError):
        layout(Receipt.from_data(["x"], logo=logo_bmp(600, 10)))
    assert model.stats["bytes"] == 0


def test_status_and_drawer_and_test_print(printer):
    model, link = printer
    model.set_fault("paper_low", True)
    res = link.status()
    assert res.outcome == "printed" and res.status is not None and res.status.paper == "low" and not res.sent
    assert link.open_drawer().drawer_opened and model.drawer_open
    model.set_fault("cover_open", True)
    res = link.status()
    assert res.outcome == "cover_open" and res.status is not None and res.status.cover_open
    model.set_fault("cover_open", False)
    assert link.test_print().outcome == "printed"
    assert model.documents[-1].text_lines()[0] == "Тестовий друк"
