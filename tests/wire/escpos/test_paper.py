"""The paper: line layout as a printer wraps it, and the render a scanner can read."""

from __future__ import annotations

import io

from escpos.printer import Dummy
from PIL import Image
from pyzbar.pyzbar import decode

from emulator.wire.escpos.paper import LINE_SPACING, Paper, Space, TextLine, render, render_pdf, render_png
from emulator.wire.escpos.parser import EscPosParser


def paper_of(data: bytes, **kw) -> Paper:
    paper = Paper(**kw)
    for e in EscPosParser().feed(data):
        paper.apply(e)
    return paper


def test_text_wraps_at_the_printable_width_by_character_size():
    p = paper_of(b"A" * 50 + b"\n" + b"\x1d!\x10" + b"B" * 30 + b"\n\x1dV\x00")
    (doc,) = p.documents
    assert doc.text_lines() == ["A" * 42, "A" * 8, "B" * 21, "B" * 9]       # 512 dots: 42 x 12, 21 x 24
    assert doc.cut == "full"
    font_b = paper_of(b"\x1bM\x01" + b"c" * 60 + b"\n\x1dV\x01").documents[0]
    assert font_b.text_lines() == ["c" * 56, "c" * 4] and font_b.cut == "partial"


def test_blank_lines_feeds_and_alignment_taken_at_the_start_of_a_line():
    doc = paper_of(b"\n\x1ba\x01mid\x1ba\x02dle\n\x1bd\x02\x1bJ\x07\x1dV\x00").documents[0]
    lines = doc.lines()
    assert lines[0].runs == [] and lines[1].text == "middle" and lines[1].align == 1
    assert [e.dots for e in doc.elements if isinstance(e, Space)] == [2 * LINE_SPACING, 7]


def test_documents_are_bounded_in_number_and_length():
    p = paper_of(b"x\n\x1dV\x00" * 30, keep=10)
    assert len(p.documents) == 10 and p.cuts == 30
    long = paper_of(b"y\n" * 250, max_elements=100)
    assert len(long.documents) == 2 and all(d.cut is None for d in long.documents)
    assert len(long.current.elements) == 50


def receipt_bytes() -> bytes:
    p = Dummy(profile="TM-T88V")
    p.charcode("CP1251")
    logo = Image.new("1", (120, 40), 1)
    logo.paste(0, (0, 0, 60, 40))
    p.set(align="center")
    p.image(logo)
    p.set(align="center", bold=True, double_height=True, double_width=True)
    p.textln("Кав'ярня «Ґава»")
    p.set(align="left", bold=False, normal_textsize=True)
    p.textln("Кава   1 x 45.00      45.00")
    p._hw_barcode("4820000000000", "EAN13", height=80, function_type="A")
    p._hw_barcode("{BCHK-0042", "CODE128", height=80, width=2, function_type="B", check=False)
    p.qr("https://cabinet.tax.gov.ua/cashregs/check?fn=4000123456&id=77", native=True, size=6, ec=1)
    p.cut()
    return bytes(p.output)


def test_render_is_read_back_by_a_barcode_scanner():
    (doc,) = paper_of(receipt_bytes()).documents
    img = render(doc)
    assert img.width == 512 + 32
    got = {(s.type, s.data.decode()) for s in decode(img)}
    assert ("QRCODE", "https://cabinet.tax.gov.ua/cashregs/check?fn=4000123456&id=77") in got
    assert ("CODE128", "CHK-0042") in got
    assert ("EAN13", "4820000000000") in got


def test_render_draws_the_logo_dot_for_dot_and_text_as_ink():
    (doc,) = paper_of(receipt_bytes()).documents
    img = render(doc)
    # the logo is centred: its left half black, its right half white
    x0 = 16 + (512 - 120) // 2
    assert img.getpixel((x0 + 10, 16 + 20)) == 0 and img.getpixel((x0 + 100, 16 + 20)) == 255
    assert img.crop((16, 16 + 40, 16 + 512, 16 + 40 + 60)).getextrema() == (0, 255)   # the title has ink


def test_png_and_pdf_forms():
    (doc,) = paper_of(receipt_bytes()).documents
    png = render_png(doc)
    assert Image.open(io.BytesIO(png)).format == "PNG"
    pdf = render_pdf(doc)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF") and b"/MediaBox" in pdf


def test_bad_codes_render_as_marked_placeholders_not_errors():
    data = b"\x1dk\x024820000000001\x00" + b"\x1dkI\x03{B\x80" + b"\x1d(k\x03\x001C\x10" + \
        b"\x1d(k" + (3003).to_bytes(2, "little") + b"1P0" + b"z" * 3000 + b"\x1d(k\x03\x001Q0\x1dV\x00"
    (doc,) = paper_of(data).documents
    assert [b.kind for b in doc.barcodes] == ["EAN13", "CODE128"] and len(doc.qr_codes) == 1
    img = render(doc)
    assert decode(img) == []
    assert isinstance(doc.elements[0], type(doc.barcodes[0]))
    assert not any(isinstance(e, TextLine) for e in doc.elements)


def test_control_characters_in_a_barcode_text_or_a_code_page_render_as_question_marks():
    # GS k 0 with a CR in its data (UPC-A of garbage), DEL in CP437 and C1 controls of ISO 8859-7
    data = b"\x1dH\x02\x1dk\x00\r\x00" + b"\x7f\n" + b"\x1bt\x0f\x80\x81\n\x1dV\x00"
    (doc,) = paper_of(data).documents
    assert doc.text_lines() == ["\r", "\x7f", "\x80\x81"]
    assert render(doc).height > 3 * LINE_SPACING
