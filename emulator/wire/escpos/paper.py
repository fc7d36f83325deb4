"""The paper an ESC/POS printer prints on: parser events laid out in lines, and its PNG render.

``Paper.apply(event)`` places what the parser found, as a printer does: text
goes into the current line with its style and wraps at the printable width
(``width_dots``, 512 for an 80 mm head at 180 dpi; font A is 12 x 24 dots,
font B 9 x 17, times the character size); ``LF`` prints the line; barcodes,
QR codes and images stand on their own; a cut ends the document. The paper
keeps the last ``keep`` documents; a document longer than ``max_elements``
is ended without a cut, so memory is bounded whatever arrives.

``render_png(document)`` draws a document as the paper looks: a monospaced font
on the dot grid (DejaVu Sans Mono when installed, Pillow's own font
otherwise), bars from python-barcode's module patterns, QR modules from
qrcode, images dot for dot. A scanner reads the codes off the picture.
``document.text()`` is the same document as plain lines (codes as their data).
"""

from __future__ import annotations

import io
import unicodedata
from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from emulator.wire.escpos.parser import (
    Barcode,
    Cut,
    Event,
    Feed,
    LineFeed,
    QRCode,
    Raster,
    Style,
    Text,
)

WIDTH_DOTS = 512
CELL = {0: (12, 24), 1: (9, 17)}     # font -> (width, height) in dots
LINE_SPACING = 30                      # dots per line (1/6 inch at 180 dpi)
MARGIN = 16
MAX_RENDER_HEIGHT = 30_000             # a taller document is drawn up to here, then marked as cut off
FONT_FILES = ("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
              "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf")


@dataclass(slots=True)
class TextLine:
    runs: list[tuple[str, Style]]
    align: int

    @property
    def text(self) -> str:
        return "".join(t for t, _ in self.runs)

    @property
    def height(self) -> int:
        h = max((CELL[s.font][1] * s.height for _, s in self.runs), default=CELL[0][1])
        return max(h + LINE_SPACING - CELL[0][1], LINE_SPACING)

    def width(self) -> int:
        return sum(CELL[s.font][0] * s.width * len(t) for t, s in self.runs)


@dataclass(slots=True)
class Space:
    dots: int


Element = TextLine | Space | Barcode | QRCode | Raster


@dataclass(slots=True)
class Document:
    elements: list[Element] = field(default_factory=list)
    cut: str | None = None             # "full", "partial", or None (ended by the length bound or still open)

    def text_lines(self) -> list[str]:
        out: list[str] = []
        for e in self.elements:
            if isinstance(e, TextLine):
                out.append(e.text)
            elif isinstance(e, Space):
                out.extend([""] * min(e.dots // LINE_SPACING, 100))
            elif isinstance(e, Barcode | QRCode):
                out.append(e.data)
        return out

    def text(self) -> str:
        return "\n".join(self.text_lines())

    @property
    def barcodes(self) -> list[Barcode]:
        return [e for e in self.elements if isinstance(e, Barcode)]

    @property
    def qr_codes(self) -> list[QRCode]:
        return [e for e in self.elements if isinstance(e, QRCode)]

    @property
    def images(self) -> list[Raster]:
        return [e for e in self.elements if isinstance(e, Raster)]

    def lines(self) -> list[TextLine]:
        return [e for e in self.elements if isinstance(e, TextLine)]


class Paper:
    """Lays parser events out on paper (see the module docstring)."""

    def __init__(self, width_dots: int = WIDTH_DOTS, keep: int = 100, max_elements: int = 5000) -> None:
        self.width_dots = width_dots
        self.max_elements = max_elements
        self.documents: deque[Document] = deque(maxlen=keep)
        self.current = Document()
        self._runs: list[tuple[str, Style]] = []
        self._x = 0
        self._align = 0
        self.lines_printed = 0
        self.cuts = 0
        self.ended = 0                     # documents ended so far, by a cut or by the length bound

    def apply(self, e: Event) -> None:
        if isinstance(e, Text):
            self._text(e.text, e.style)
        elif isinstance(e, LineFeed):
            self._flush(blank=True)
        elif isinstance(e, Feed):
            self._flush(blank=False)
            dots = e.lines * LINE_SPACING + e.dots
            if dots:
                self._add(Space(dots))
        elif isinstance(e, Barcode | QRCode | Raster):
            self._flush(blank=False)
            self._add(e)
        elif isinstance(e, Cut):
            self._flush(blank=False)
            self.current.cut = "partial" if e.partial else "full"
            self.cuts += 1
            self._end()

    @property
    def pending_text(self) -> str:
        return "".join(t for t, _ in self._runs)

    def _text(self, text: str, style: Style) -> None:
        if not self._runs:
            self._align = style.align
        cw = CELL[style.font][0] * style.width
        while text:
            room = (self.width_dots - self._x) // cw
            if room <= 0:
                if not self._runs:                  # a character wider than the paper: print it alone
                    room = 1
                else:
                    self._flush(blank=False)
                    self._align = style.align
                    continue
            part, text = text[:room], text[room:]
            if self._runs and self._runs[-1][1] == style:
                self._runs[-1] = (self._runs[-1][0] + part, style)
            else:
                self._runs.append((part, style))
            self._x += cw * len(part)
            if text:
                self._flush(blank=False)
                self._align = style.align

    def _flush(self, blank: bool) -> None:
        if self._runs:
            self._add(TextLine(self._runs, self._align))
        elif blank:
            self._add(TextLine([], 0))
        else:
            return
        self._runs, self._x = [], 0
        self.lines_printed += 1

    def _add(self, el: Element) -> None:
        self.current.elements.append(el)
        if len(self.current.elements) >= self.max_elements:
            self._end()

    def _end(self) -> None:
        self.ended += 1
        self.documents.append(self.current)
        self.current = Document()


# ---------------------------------------------------------------- render
@lru_cache(maxsize=8)
def _font(size: int, bold: bool) -> Any:
    try:   # the basic layout: one glyph a cell, no shaping library to trip over odd characters
        return ImageFont.truetype(FONT_FILES[1 if bold else 0], size, layout_engine=ImageFont.Layout.BASIC)
    except OSError:
        return ImageFont.load_default(size=size)


def _printable(c: str) -> str:
    """What a print head makes of a character: control and unassigned code points print as '?'."""
    return "?" if unicodedata.category(c)[0] == "C" else c


def _run_image(text: str, style: Style) -> Image.Image:
    cw, ch = CELL[style.font]
    img = Image.new("L", (max(cw * len(text), 1), ch), 255)
    draw = ImageDraw.Draw(img)
    font = _font(20 if style.font == 0 else 15, style.bold)
    for i, c in enumerate(text):
        if c != " ":
            draw.text((i * cw, 1), _printable(c), fill=0, font=font)
    if style.underline:
        draw.rectangle((0, ch - style.underline, img.width, ch - 1), fill=0)
    if style.invert:
        img = img.point(lambda v: 255 - v)
    if style.width > 1 or style.height > 1:
        img = img.resize((img.width * style.width, ch * style.height), Image.Resampling.NEAREST)
    return img


def _line_image(line: TextLine, width: int) -> Image.Image:
    img = Image.new("L", (width, line.height), 255)
    w = line.width()
    x = {0: 0, 1: (width - w) // 2, 2: width - w}.get(line.align, 0)
    base = max((CELL[s.font][1] * s.height for _, s in line.runs), default=0)
    for text, style in line.runs:
        run = _run_image(text, style)
        img.paste(run, (max(x, 0), base - run.height))
        x += run.width
    return img


def _modules(kind: str, data: str) -> str | None:
    """The bar pattern ('1' = bar) of an EAN-13 or Code128 symbol, None when the data makes none."""
    import barcode as python_barcode  # python-barcode
    try:
        if kind == "EAN13":
            if not (data.isdigit() and len(data) in (12, 13)):
                return None
            sym = python_barcode.get("ean13", data[:12])
            if len(data) == 13 and sym.get_fullcode() != data:
                return None
        elif kind == "EAN8":
            if not (data.isdigit() and len(data) in (7, 8)):
                return None
            sym = python_barcode.get("ean8", data[:7])
        elif kind == "CODE128":
            sym = python_barcode.get("code128", data)
        elif kind == "CODE39":
            sym = python_barcode.get("code39", data, add_checksum=False)
        else:
            return None
        return "".join(sym.build())
    except Exception:       # python-barcode refuses characters its symbology cannot carry
        return None


def _placeholder(text: str, width: int) -> Image.Image:
    return _line_image(TextLine([(f"[{text}]"[: width // CELL[0][0]], Style())], 1), width)


def _barcode_image(bc: Barcode, width: int) -> Image.Image:
    mods = _modules(bc.kind, bc.data)
    if mods is None:
        return _placeholder(f"{bc.kind} {bc.data[:20]}?", width)
    module = max(1, min(bc.module, (width - 20) // max(len(mods) + 20, 1)))
    quiet = 10 * module
    bw = len(mods) * module + 2 * quiet
    hri = _line_image(TextLine([(bc.data, Style())], 1), width) if bc.hri else None
    h = bc.height + (hri.height * (2 if bc.hri == 3 else 1) if hri else 0) + 8
    img = Image.new("L", (width, h), 255)
    draw = ImageDraw.Draw(img)
    x0 = {0: 0, 1: (width - bw) // 2, 2: width - bw}.get(bc.align, 0) + quiet
    y0 = hri.height + 4 if hri and bc.hri in (1, 3) else 4
    for i, m in enumerate(mods):
        if m == "1":
            draw.rectangle((x0 + i * module, y0, x0 + (i + 1) * module - 1, y0 + bc.height - 1), fill=0)
    if hri and bc.hri in (1, 3):
        img.paste(hri, (0, 0))
    if hri and bc.hri in (2, 3):
        img.paste(hri, (0, y0 + bc.height))
    return img


def _qr_image(q: QRCode, width: int) -> Image.Image:
    import qrcode
    ec = {"L": qrcode.constants.ERROR_CORRECT_L, "M": qrcode.constants.ERROR_CORRECT_M,
          "Q": qrcode.constants.ERROR_CORRECT_Q, "H": qrcode.constants.ERROR_CORRECT_H}[q.ec]
    try:
        code = qrcode.QRCode(error_correction=ec, border=4)
        code.add_data(q.data.encode("utf-8"))
        code.make(fit=True)
        matrix = code.get_matrix()
    except Exception:       # more data than a QR symbol holds at this level
        return _placeholder("QR: too much data", width)
    n = len(matrix)
    module = min(q.module, width // n)
    if module < 1:
        return _placeholder("QR: too large", width)
    side = n * module
    img = Image.new("L", (width, side + 8), 255)
    draw = ImageDraw.Draw(img)
    x0 = {0: 0, 1: (width - side) // 2, 2: width - side}.get(q.align, 0)
    for y, row in enumerate(matrix):
        for x, v in enumerate(row):
            if v:
                draw.rectangle((x0 + x * module, 4 + y * module, x0 + (x + 1) * module - 1,
                                4 + (y + 1) * module - 1), fill=0)
    return img


def _raster_image(r: Raster, width: int) -> Image.Image:
    h = min(r.height, MAX_RENDER_HEIGHT)
    rowb = (r.width + 7) // 8
    dots = Image.frombytes("1", (rowb * 8, h), r.bits[: rowb * h]).convert("L").point(lambda v: 255 - v)
    img = Image.new("L", (width, h), 255)
    x = {0: 0, 1: (width - dots.width) // 2, 2: width - dots.width}.get(r.align, 0)
    img.paste(dots.crop((0, 0, min(dots.width, width), h)), (max(x, 0), 0))
    return img


def render(document: Document, width_dots: int = WIDTH_DOTS) -> Image.Image:
    """The document as a greyscale picture of the paper."""
    parts: list[Image.Image] = []
    total = 0
    for e in document.elements:
        if total > MAX_RENDER_HEIGHT:
            parts.append(_placeholder("cut off", width_dots))
            break
        if isinstance(e, TextLine):
            part = _line_image(e, width_dots)
        elif isinstance(e, Space):
            part = Image.new("L", (width_dots, min(e.dots, MAX_RENDER_HEIGHT)), 255)
        elif isinstance(e, Barcode):
            part = _barcode_image(e, width_dots)
        elif isinstance(e, QRCode):
            part = _qr_image(e, width_dots)
        else:
            part = _raster_image(e, width_dots)
        parts.append(part)
        total += part.height
    height = sum(p.height for p in parts) + 2 * MARGIN
    page = Image.new("L", (width_dots + 2 * MARGIN, height), 255)
    y = MARGIN
    for p in parts:
        page.paste(p, (MARGIN, y))
        y += p.height
    if document.cut:
        ImageDraw.Draw(page).line((0, height - 2, page.width, height - 2), fill=160)
    return page


def png_bytes(page: Image.Image) -> bytes:
    buf = io.BytesIO()
    page.save(buf, "PNG")
    return buf.getvalue()


def pdf_bytes(page: Image.Image, dpi: int = 180) -> bytes:
    """A picture of the paper as a one-page PDF at the head's resolution (Pillow's PDF writer, 1 bit a dot)."""
    buf = io.BytesIO()
    page.convert("1").save(buf, "PDF", resolution=float(dpi))
    return buf.getvalue()


def render_png(document: Document, width_dots: int = WIDTH_DOTS) -> bytes:
    return png_bytes(render(document, width_dots))


def render_pdf(document: Document, width_dots: int = WIDTH_DOTS, dpi: int = 180) -> bytes:
    return pdf_bytes(render(document, width_dots), dpi)
