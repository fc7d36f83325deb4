"""The ESC/POS parser on what python-escpos sends and on hand-made commands."""

from __future__ import annotations

import io

import pytest
from escpos.printer import Dummy
from PIL import Image

from emulator.wire.escpos.parser import (
    Barcode,
    Cut,
    DrawerPulse,
    Dropped,
    EscPosParser,
    Feed,
    Init,
    LineFeed,
    QRCode,
    Raster,
    StatusRequest,
    Style,
    Text,
)


def events(data: bytes, chunk: int | None = None) -> list:
    p = EscPosParser()
    if chunk is None:
        return p.feed(data)
    out = []
    for i in range(0, len(data), chunk):
        out += p.feed(data[i:i + chunk])
    return out


def merged_text(evs: list) -> str:
    return "".join(e.text if isinstance(e, Text) else "\n" if isinstance(e, LineFeed) else "" for e in evs)


def sample() -> bytes:
    p = Dummy(profile="TM-T88V")
    p.hw("INIT")
    p.charcode("CP1251")
    p.set(align="center", bold=True, double_width=True, double_height=True)
    p.textln("ТОВ «Ґава» — їжа")
    p.set(align="left", bold=False, normal_textsize=True, underline=1)
    p.textln("Сума 12.50")
    p._hw_barcode("4820000000000", "EAN13", function_type="A")
    p._hw_barcode("{BAB-12", "CODE128", function_type="B", check=False)
    p.qr("https://cabinet.tax.gov.ua/cashregs/check?id=1", native=True, size=5, ec=1)
    logo = Image.new("1", (64, 16), 1)
    logo.paste(0, (0, 0, 8, 16))
    p.image(logo)
    p.cut()
    p.cashdraw(2)
    return bytes(p.output)


def test_python_escpos_receipt_parses_into_its_parts():
    evs = events(sample())
    assert isinstance(evs[0], Init)
    assert merged_text(evs).startswith("ТОВ «Ґава» — їжа\nСума 12.50\n")
    first = next(e for e in evs if isinstance(e, Text))
    assert first.style == Style(bold=True, width=2, height=2, align=1)
    under = next(e for e in evs if isinstance(e, Text) and e.text.startswith("Сума"))
    assert under.style.underline == 1 and not under.style.bold and under.style.width == 1
    bcs = [e for e in evs if isinstance(e, Barcode)]
    assert [(b.kind, b.data) for b in bcs] == [("EAN13", "4820000000000"), ("CODE128", "AB-12")]
    assert bcs[0].height == 64 and bcs[0].module == 3 and bcs[0].hri == 2
    (qr,) = [e for e in evs if isinstance(e, QRCode)]
    assert qr.data == "https://cabinet.tax.gov.ua/cashregs/check?id=1" and qr.module == 5 and qr.ec == "M"
    (img,) = [e for e in evs if isinstance(e, Raster)]
    assert (img.width, img.height) == (64, 16)
    assert img.bits[0] == 0xFF and img.bits[1] == 0x00          # the black first 8 columns
    assert Cut(partial=False) in evs and Feed(lines=6) in evs
    assert DrawerPulse(2, 100, 100) in evs
    assert not [e for e in evs if isinstance(e, Dropped)]


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64])
def test_any_chunking_gives_the_same_events(chunk):
    whole = events(sample())
    cut = events(sample(), chunk)
    assert merged_text(cut) == merged_text(whole)
    assert [e for e in cut if not isinstance(e, Text)] == [e for e in whole if not isinstance(e, Text)]


def test_status_requests_and_realtime_pulse():
    evs = events(b"\x10\x04\x01\x10\x04\x04\x1dr\x01\x10\x14\x01\x00\x05")
    assert evs == [StatusRequest("DLE EOT", 1), StatusRequest("DLE EOT", 4), StatusRequest("GS r", 1),
                   DrawerPulse(2, 500, 500)]


def test_code_pages_and_unknown_page():
    assert merged_text(events(b"\x1bt\x11\x8f\xe0\xa8\xa2\xa5\xe2\n")) == "Привет\n"      # CP866
    assert merged_text(events(b"\x1bt\x2e\xcf\xf0\xe8\xe2\xb3\xf2\n")) == "Привіт\n"       # CP1251
    evs = events(b"\x1bt\xfaA")
    assert evs[0] == Dropped(3, "bad-data") and evs[1].text == "A"
    assert merged_text(events(b"\x1bt\x2e\xc0\x1b@\xc0")) == "А└"          # ESC @ goes back to CP437


def test_styles_esc_bang_gs_bang_invert_and_font():
    (t,) = events(b"\x1b!\xb9x")             # font B, bold, double height and width, underline
    assert t.style == Style(font=1, bold=True, underline=1, width=2, height=2)
    (t,) = events(b"\x1d!\x73\x1dB\x01\x1ba\x02x")
    assert t.style == Style(width=8, height=4, invert=True, align=2)


def test_code128_code_sets():
    (b,) = events(b"\x1dkI\x05{C\x0c\x22\x38")     # set C: byte values as pairs of digits
    assert b.data == "123456"
    (b,) = events(b"\x1dkI\x07{BAB{C\x01")
    assert b.data == "AB01"
    (d,) = events(b"\x1dkI\x03ABC")                 # no code set: no symbol
    assert d == Dropped(7, "bad-data")


def test_graphics_store_and_print_and_column_image():
    data = bytes([48, 112, 48, 1, 1, 49, 16, 0, 2, 0]) + b"\xff\x00\x0f\xf0"
    evs = events(b"\x1d(L" + len(data).to_bytes(2, "little") + data + b"\x1d(L\x02\x00\x30\x32")
    assert evs == [Raster(16, 2, b"\xff\x00\x0f\xf0", 0)]
    (col,) = events(b"\x1b*\x00\x02\x00\x80\x01")   # 2 columns, 8 dots high: top dot, then bottom dot
    assert (col.width, col.height) == (8, 8) and col.bits[0] == 0x80 and col.bits[7] == 0x40


def test_cuts_feeds_and_init():
    assert events(b"\x1dV\x00\x1dV\x01\x1dVA\x10\x1bi\x1bd\x03\x1bJ\x05\x1b@") == [
        Cut(False), Cut(True), Feed(dots=16), Cut(False), Cut(False), Feed(lines=3), Feed(dots=5), Init()]


def test_oversized_image_is_skipped_as_it_streams_without_being_kept():
    p = EscPosParser(max_payload=1000)
    head = b"\x1dv0\x00" + (200).to_bytes(2, "little") + (100).to_bytes(2, "little")   # 20,000 bytes of dots
    evs = p.feed(head + b"\xaa" * 5000)
    assert evs == [Dropped(8 + 20_000, "oversized")] and p.buffered == 0
    for _ in range(3):
        assert p.feed(b"\xaa" * 5000) == [] and p.buffered == 0
    assert merged_text(p.feed(b"after\n")) == "after\n"


def test_incomplete_command_waits_and_unknown_bytes_are_dropped():
    p = EscPosParser()
    assert p.feed(b"\x1d(k\x10\x00") == [] and p.buffered == 5
    assert p.feed(b"\x10\x04\x01") == [] and p.buffered == 8     # inside the 2D code's data: no status request
    assert p.feed(b"\x00" * 13) == [] and p.buffered == 0          # the 16 bytes of data complete the command
    evs = events(b"\x1b\x01\x07\x1d\x01A")
    assert evs[:3] == [Dropped(2, "unknown"), Dropped(1, "unknown"), Dropped(2, "unknown")]
    assert evs[3].text == "A"


def test_image_from_a_bmp_file_like_a_logo():
    buf = io.BytesIO()
    Image.new("1", (24, 8), 0).save(buf, "BMP")
    p = Dummy(profile="TM-T88V")
    p.image(Image.open(io.BytesIO(buf.getvalue())))
    (r,) = [e for e in events(bytes(p.output)) if isinstance(e, Raster)]
    assert (r.width, r.height) == (24, 8) and set(r.bits) == {0xFF}
