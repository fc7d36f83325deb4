"""An incremental ESC/POS parser: bytes in, in any chunks, print events out.

``EscPosParser().feed(data)`` returns the events the bytes complete; a command
cut between two chunks waits for the rest. What it understands:

* text in the selected code page (``ESC t n``; CP437 after ``ESC @``), ``LF``,
  ``HT`` (to the next multiple of 8 columns), ``CR`` (ignored);
* text styles: ``ESC !`` (font B, bold, double height/width, underline), ``ESC E``,
  ``ESC G``, ``ESC -``, ``ESC M``, ``GS !`` (1-8 x 1-8), ``GS B`` (white on black),
  ``ESC a`` (left / centre / right);
* feeds ``ESC d n`` (lines) and ``ESC J n`` (dots); cuts ``GS V`` (full / partial,
  with or without a feed) and the old ``ESC i`` / ``ESC m``;
* barcodes ``GS k`` in both forms (the NUL-terminated m 0-6 and the counted
  m 65-79) with ``GS h``/``GS w``/``GS H``/``GS f``; EAN-13 and Code128 are
  named, the rest keep their type number;
* QR codes ``GS ( k`` (model, module size, error level, store, print); other
  2D symbologies are read and skipped;
* raster images ``GS v 0`` (the ``.bmp``-style logo), ``GS ( L`` / ``GS 8 L``
  graphics (store + print) and the column format ``ESC *``;
* the drawer pulse ``ESC p m t1 t2`` and the real-time ``DLE DC4 1 m t``;
* real-time status requests ``DLE EOT n`` and ``GS r n`` (events the printer
  answers from its state), ``ESC @`` (initialise).

Every other byte sequence is accounted for: known commands without a visible
effect are consumed by their length, unknown ``ESC x`` / ``GS x`` pairs and
other control bytes become ``Dropped`` events. The parser never raises on any
input and never holds more than ``max_payload`` bytes of one command: a longer
payload (an image of 4 GB, say) is skipped as it streams past and reported as
``Dropped(reason="oversized")``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

ESC, GS, DLE, FS, LF, CR, HT, NUL = 0x1B, 0x1D, 0x10, 0x1C, 0x0A, 0x0D, 0x09, 0x00
EOT, DC4, ENQ = 0x04, 0x14, 0x05
MAX_PAYLOAD = 1 << 20          # one command's data kept whole (images, QR data): 1 MiB
_TEXT = re.compile(rb"[\x09\x20-\xff]+")
MAX_BARCODE = 255              # NUL-terminated barcode data longer than this is garbage

# ESC t n: the Epson code-page numbers and the Python codecs that decode them.
CODE_PAGES: dict[int, str] = {
    0: "cp437", 2: "cp850", 3: "cp860", 4: "cp863", 5: "cp865", 13: "cp857", 14: "cp737",
    15: "iso8859_7", 16: "cp1252", 17: "cp866", 18: "cp852", 19: "cp858", 33: "cp775",
    34: "cp855", 35: "cp861", 36: "cp862", 37: "cp864", 38: "cp869", 39: "iso8859_2",
    40: "iso8859_15", 45: "cp1250", 46: "cp1251", 47: "cp1253", 48: "cp1254", 49: "cp1255",
    50: "cp1256", 51: "cp1257", 52: "cp1258", 53: "kz1048",
}
# GS k m: the types a DM prints by name; others keep their number ("type-73" is never seen: 73 is CODE128).
BARCODE_TYPES: dict[int, str] = {
    0: "UPC-A", 1: "UPC-E", 2: "EAN13", 3: "EAN8", 4: "CODE39", 5: "ITF", 6: "CODABAR",
    65: "UPC-A", 66: "UPC-E", 67: "EAN13", 68: "EAN8", 69: "CODE39", 70: "ITF", 71: "CODABAR",
    72: "CODE93", 73: "CODE128", 74: "GS1-128",
}


@dataclass(frozen=True, slots=True)
class Style:
    font: int = 0              # 0 = A (12 x 24 dots), 1 = B (9 x 17)
    bold: bool = False
    underline: int = 0         # 0, 1 or 2 dots
    width: int = 1             # 1-8
    height: int = 1            # 1-8
    invert: bool = False
    align: int = 0             # 0 left, 1 centre, 2 right


def _restyle(s: Style, **c: int | bool) -> Style:
    """``s`` with the fields ``c`` changed (what ``dataclasses.replace`` does, a few times faster)."""
    g = c.get
    return Style(int(g("font", s.font)), bool(g("bold", s.bold)), int(g("underline", s.underline)),
                 int(g("width", s.width)), int(g("height", s.height)), bool(g("invert", s.invert)),
                 int(g("align", s.align)))


@dataclass(frozen=True, slots=True)
class Text:
    text: str
    style: Style


@dataclass(frozen=True, slots=True)
class LineFeed:
    pass


@dataclass(frozen=True, slots=True)
class Feed:
    lines: int = 0
    dots: int = 0


@dataclass(frozen=True, slots=True)
class Barcode:
    kind: str                  # "EAN13", "CODE128", … or "type-N"
    data: str
    height: int                # dots
    module: int                # dots per narrow bar
    hri: int                   # 0 none, 1 above, 2 below, 3 both
    align: int


@dataclass(frozen=True, slots=True)
class QRCode:
    data: str
    module: int
    ec: str                    # L, M, Q, H
    align: int


@dataclass(frozen=True, slots=True)
class Raster:
    width: int                 # pixels
    height: int
    bits: bytes                # rows of ceil(width / 8) bytes, MSB first, 1 = black
    align: int


@dataclass(frozen=True, slots=True)
class Cut:
    partial: bool


@dataclass(frozen=True, slots=True)
class DrawerPulse:
    pin: int                   # 2 or 5
    on_ms: int
    off_ms: int


@dataclass(frozen=True, slots=True)
class StatusRequest:
    kind: str                  # "DLE EOT" or "GS r"
    n: int


@dataclass(frozen=True, slots=True)
class Init:
    pass


@dataclass(frozen=True, slots=True)
class Dropped:
    nbytes: int
    reason: str                # "unknown", "oversized", "bad-data"


Event = Text | LineFeed | Feed | Barcode | QRCode | Raster | Cut | DrawerPulse | StatusRequest | Init | Dropped
PRINT_EVENTS = (Text, LineFeed, Feed, Barcode, QRCode, Raster, Cut)

# ESC x commands without a visible effect here: the number of argument bytes after "ESC x".
_ESC_ARGS = {0x20: 1, 0x24: 2, 0x25: 1, 0x26: -1, 0x32: 0, 0x33: 1, 0x3C: 0, 0x3D: 1, 0x3F: 1, 0x44: -2,
             0x4C: 0, 0x53: 0, 0x54: 1, 0x52: 1, 0x56: 1, 0x5C: 2, 0x63: 2, 0x72: 1, 0x74: 1, 0x75: 1,
             0x76: 0, 0x7B: 1, 0x4A: 1, 0x64: 1, 0x4B: 1, 0x46: 0, 0x42: 2, 0x43: 1, 0x4E: 1, 0x4F: 0,
             0x6C: 1}
# GS x commands consumed by length here.
_GS_ARGS = {0x21: 1, 0x24: 2, 0x2A: 2, 0x2F: 1, 0x3A: 0, 0x42: 1, 0x48: 1, 0x49: 1, 0x4C: 2, 0x50: 2,
            0x54: 1, 0x57: 2, 0x5C: 2, 0x5E: 3, 0x61: 1, 0x62: 1, 0x63: 0, 0x66: 1, 0x67: 2, 0x68: 1,
            0x72: 1, 0x77: 1, 0x7A: 1}


@dataclass(slots=True)
class _State:
    style: Style = field(default_factory=Style)
    codec: str = "cp437"
    bc_height: int = 162
    bc_module: int = 3
    bc_hri: int = 0
    qr_module: int = 3
    qr_ec: str = "L"
    qr_data: bytes = b""
    graphic: Raster | None = None


class EscPosParser:
    """See the module docstring. ``stats`` counts events by class name and dropped bytes."""

    def __init__(self, max_payload: int = MAX_PAYLOAD) -> None:
        self.max_payload = max_payload
        self._buf = bytearray()
        self._skip = 0                     # bytes of an oversized payload still to skip
        self.st = _State()
        self.stats: dict[str, int] = {}

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[Event]:
        out: list[Event] = []
        if self._skip:
            n = min(self._skip, len(data))
            self._skip -= n
            data = data[n:]
        self._buf += data
        pos, buf = 0, self._buf
        while pos < len(buf):
            used = self._one(buf, pos, out)
            if used == 0:              # incomplete command: wait for more bytes
                break
            pos += used
            if self._skip:             # an oversized payload: drop what is buffered of it, skip the rest
                n = min(self._skip, len(buf) - pos)
                self._skip -= n
                pos += n
        del buf[:pos]
        for e in out:
            key = type(e).__name__
            self.stats[key] = self.stats.get(key, 0) + 1
        return out

    # -- one command at buf[pos]: the number of bytes used (0 = incomplete)
    def _one(self, buf: bytearray, pos: int, out: list[Event]) -> int:
        b = buf[pos]
        if b >= 0x20 or b == HT:
            match = _TEXT.match(buf, pos)
            assert match is not None
            end = match.end()
            text = bytes(buf[pos:end]).decode(self.st.codec, errors="replace").replace("\t", "    ")
            out.append(Text(text, self.st.style))
            return end - pos
        if b == LF:
            out.append(LineFeed())
            return 1
        if b == CR:
            return 1
        if b == ESC:
            return self._esc(buf, pos, out)
        if b == GS:
            return self._gs(buf, pos, out)
        if b == DLE:
            return self._dle(buf, pos, out)
        if b == FS:
            return self._fs(buf, pos, out)
        out.append(Dropped(1, "unknown"))
        return 1

    def _need(self, buf: bytearray, pos: int, n: int) -> bool:
        return len(buf) - pos >= n

    def _payload(self, buf: bytearray, pos: int, head: int, size: int, out: list[Event]) -> tuple[int, bytes | None]:
        """A command of ``head`` bytes followed by ``size`` bytes of data: (used, data); data None = oversized
        (its bytes skipped as they come), used 0 = wait for more."""
        if size > self.max_payload:
            have = len(buf) - pos - head
            if have < 0:
                return 0, None
            self._skip = size - min(size, have)
            out.append(Dropped(head + size, "oversized"))
            return head + min(size, have), None
        if not self._need(buf, pos, head + size):
            return 0, None
        return head + size, bytes(buf[pos + head:pos + head + size])

    def _esc(self, buf: bytearray, pos: int, out: list[Event]) -> int:
        if not self._need(buf, pos, 2):
            return 0
        c = buf[pos + 1]
        st = self.st
        if c == 0x40:                                   # ESC @
            self.st = _State()
            out.append(Init())
            return 2
        if c in (0x69, 0x6D):                          # ESC i / ESC m: cut
            out.append(Cut(partial=c == 0x6D))
            return 2
        if c == 0x70:                                   # ESC p m t1 t2
            if not self._need(buf, pos, 5):
                return 0
            m = buf[pos + 2]
            out.append(DrawerPulse(5 if m in (1, 49) else 2, buf[pos + 3] * 2, buf[pos + 4] * 2))
            return 5
        if c == 0x2A:                                   # ESC * m nL nH d…
            if not self._need(buf, pos, 5):
                return 0
            m, n = buf[pos + 2], buf[pos + 3] | buf[pos + 4] << 8
            rows = 3 if m in (32, 33) else 1
            used, data = self._payload(buf, pos, 5, n * rows, out)
            if used and data is not None:
                out.append(_column_image(n, rows, data, st.style.align))
            return used
        if c in (0x26, 0x44):                           # ESC & / ESC D: variable, skipped to their end
            return self._variable_esc(buf, pos, c, out)
        if not self._need(buf, pos, 3) and c in (0x21, 0x45, 0x47, 0x2D, 0x4D, 0x61, 0x74, 0x64, 0x4A, 0x7B, 0x56, 0x52,
                                 0x20, 0x33, 0x3D, 0x63, 0x24, 0x42, 0x5C):
            return 0
        if c == 0x21:                                   # ESC ! n
            n = buf[pos + 2]
            st.style = _restyle(st.style, font=n & 1, bold=bool(n & 8), height=2 if n & 0x10 else 1,
                               width=2 if n & 0x20 else 1, underline=1 if n & 0x80 else 0)
            return 3
        if c in (0x45, 0x47):                           # ESC E n / ESC G n
            st.style = _restyle(st.style, bold=bool(buf[pos + 2] & 1))
            return 3
        if c == 0x2D:                                   # ESC - n
            n = buf[pos + 2]
            st.style = _restyle(st.style, underline={0: 0, 1: 1, 2: 2, 48: 0, 49: 1, 50: 2}.get(n, 0))
            return 3
        if c == 0x4D:                                   # ESC M n
            st.style = _restyle(st.style, font=1 if buf[pos + 2] in (1, 49) else 0)
            return 3
        if c == 0x61:                                   # ESC a n
            n = buf[pos + 2]
            st.style = _restyle(st.style, align={0: 0, 1: 1, 2: 2, 48: 0, 49: 1, 50: 2}.get(n, 0))
            return 3
        if c == 0x74:                                   # ESC t n
            n = buf[pos + 2]
            if n in CODE_PAGES:
                st.codec = CODE_PAGES[n]
            else:
                out.append(Dropped(3, "bad-data"))
            return 3
        if c == 0x64:                                   # ESC d n
            out.append(Feed(lines=buf[pos + 2]))
            return 3
        if c == 0x4A:                                   # ESC J n
            out.append(Feed(dots=buf[pos + 2]))
            return 3
        if c in _ESC_ARGS and _ESC_ARGS[c] >= 0:
            n = 2 + _ESC_ARGS[c]
            return n if self._need(buf, pos, n) else 0
        out.append(Dropped(2, "unknown"))
        return 2

    def _variable_esc(self, buf: bytearray, pos: int, c: int, out: list[Event]) -> int:
        if c == 0x44:                                   # ESC D n1 … NUL (tab stops, at most 32)
            end = buf.find(b"\x00", pos + 2, pos + 2 + 33)
            if end < 0:
                if len(buf) - pos < 35:
                    return 0
                out.append(Dropped(2, "bad-data"))
                return 2
            return end + 1 - pos
        # ESC & y c1 c2 [x d1…d(y*x)]…: user-defined characters
        if not self._need(buf, pos, 5):
            return 0
        y, c1, c2 = buf[pos + 2], buf[pos + 3], buf[pos + 4]
        if not (1 <= y <= 3 and 32 <= c1 <= c2 <= 126):
            out.append(Dropped(5, "bad-data"))
            return 5
        p = pos + 5
        for _ in range(c2 - c1 + 1):
            if not self._need(buf, p, 1):
                return 0
            x = buf[p]
            if not self._need(buf, p, 1 + y * x):
                return 0
            p += 1 + y * x
        return p - pos

    def _gs(self, buf: bytearray, pos: int, out: list[Event]) -> int:
        if not self._need(buf, pos, 2):
            return 0
        c = buf[pos + 1]
        st = self.st
        if c == 0x56:                                   # GS V m [n]
            if not self._need(buf, pos, 3):
                return 0
            m = buf[pos + 2]
            if m in (0, 1, 48, 49):
                out.append(Cut(partial=m in (1, 49)))
                return 3
            if m in (65, 66, 97, 98, 103, 104):
                if not self._need(buf, pos, 4):
                    return 0
                if m in (65, 66):
                    out.append(Feed(dots=buf[pos + 3]))
                out.append(Cut(partial=m in (66, 98, 104)))
                return 4
            out.append(Dropped(3, "bad-data"))
            return 3
        if c == 0x6B:                                   # GS k m …
            return self._barcode(buf, pos, out)
        if c == 0x28:                                   # GS ( fn pL pH …
            if not self._need(buf, pos, 5):
                return 0
            fn, size = buf[pos + 2], buf[pos + 3] | buf[pos + 4] << 8
            used, data = self._payload(buf, pos, 5, size, out)
            if used and data is not None:
                if fn == 0x6B:
                    self._two_d(data, out)
                elif fn == 0x4C:
                    self._graphics(data, out)
            return used
        if c == 0x38:                                   # GS 8 L p1 p2 p3 p4 m fn …
            if not self._need(buf, pos, 7):
                return 0
            if buf[pos + 2] != 0x4C:
                out.append(Dropped(3, "bad-data"))
                return 3
            size = int.from_bytes(buf[pos + 3:pos + 7], "little")
            used, data = self._payload(buf, pos, 7, size, out)
            if used and data is not None:
                self._graphics(data, out)
            return used
        if c == 0x76:                                   # GS v 0 m xL xH yL yH d…
            if not self._need(buf, pos, 8):
                return 0
            if buf[pos + 2] != 0x30:
                out.append(Dropped(3, "bad-data"))
                return 3
            xb, y = buf[pos + 4] | buf[pos + 5] << 8, buf[pos + 6] | buf[pos + 7] << 8
            used, data = self._payload(buf, pos, 8, xb * y, out)
            if used and data is not None:
                out.append(Raster(xb * 8, y, data, st.style.align) if xb and y else Dropped(8, "bad-data"))
            return used
        if c not in _GS_ARGS:
            out.append(Dropped(2, "unknown"))
            return 2
        n = 2 + _GS_ARGS[c]
        if not self._need(buf, pos, n):
            return 0
        a = buf[pos + 2] if n > 2 else 0
        if c == 0x21:                                   # GS ! n
            st.style = _restyle(st.style, width=min((a >> 4) + 1, 8), height=min((a & 15) + 1, 8))
        elif c == 0x42:                                 # GS B n
            st.style = _restyle(st.style, invert=bool(a & 1))
        elif c == 0x68:                                 # GS h n
            st.bc_height = max(a, 1)
        elif c == 0x77:                                 # GS w n
            st.bc_module = min(max(a, 1), 6)
        elif c == 0x48:                                 # GS H n
            st.bc_hri = a & 3 if a < 4 else (a - 48) & 3
        elif c == 0x72:                                 # GS r n: status
            out.append(StatusRequest("GS r", a))
        return n

    def _barcode(self, buf: bytearray, pos: int, out: list[Event]) -> int:
        if not self._need(buf, pos, 3):
            return 0
        m = buf[pos + 2]
        st = self.st
        if m <= 6:
            end = buf.find(b"\x00", pos + 3, pos + 3 + MAX_BARCODE + 1)
            if end < 0:
                if len(buf) - pos - 3 <= MAX_BARCODE:
                    return 0
                out.append(Dropped(3, "bad-data"))
                return 3
            raw, used = bytes(buf[pos + 3:end]), end + 1 - pos
        elif 65 <= m <= 79:
            if not self._need(buf, pos, 4):
                return 0
            n = buf[pos + 3]
            if not self._need(buf, pos, 4 + n):
                return 0
            raw, used = bytes(buf[pos + 4:pos + 4 + n]), 4 + n
        else:
            out.append(Dropped(3, "bad-data"))
            return 3
        kind = BARCODE_TYPES.get(m, f"type-{m}")
        data = _code128_text(raw) if kind == "CODE128" else raw.decode("latin-1")
        if data is None or not data:
            out.append(Dropped(used, "bad-data"))
        else:
            out.append(Barcode(kind, data, st.bc_height, st.bc_module, st.bc_hri, st.style.align))
        return used

    def _two_d(self, data: bytes, out: list[Event]) -> None:
        """GS ( k: cn fn [m] data — QR (cn 49) settings, store and print; other symbologies skipped."""
        if len(data) < 2 or data[0] != 49:
            return
        fn, arg = data[1], data[2:]
        st = self.st
        if fn == 67 and arg:                            # module size
            st.qr_module = min(max(arg[0], 1), 16)
        elif fn == 69 and arg:                          # error correction 48-51
            st.qr_ec = "LMQH"[(arg[0] - 48) & 3]
        elif fn == 80 and arg:                          # store: m(48) data
            st.qr_data = bytes(arg[1:])
        elif fn == 81:                                  # print the stored symbol
            if st.qr_data:
                out.append(QRCode(st.qr_data.decode("utf-8", errors="replace"), st.qr_module, st.qr_ec,
                                  st.style.align))
            else:
                out.append(Dropped(0, "bad-data"))

    def _graphics(self, data: bytes, out: list[Event]) -> None:
        """GS ( L / GS 8 L: m fn … — fn 112 stores a raster (a bx by c xL xH yL yH d…), fn 50 prints it."""
        if len(data) < 2:
            return
        fn = data[1]
        st = self.st
        if fn in (112, 0x70) and len(data) >= 10:
            w, h = data[6] | data[7] << 8, data[8] | data[9] << 8
            rowb = (w + 7) // 8
            bits = data[10:10 + rowb * h]
            if w and h and len(bits) == rowb * h:
                st.graphic = Raster(rowb * 8, h, bits, st.style.align)
            else:
                out.append(Dropped(len(data), "bad-data"))
        elif fn in (50, 2):
            if st.graphic is not None:
                out.append(replace(st.graphic, align=st.style.align))
                st.graphic = None

    def _dle(self, buf: bytearray, pos: int, out: list[Event]) -> int:
        if not self._need(buf, pos, 3):
            return 0
        c = buf[pos + 1]
        if c == EOT:                                    # DLE EOT n [a]
            n = buf[pos + 2]
            if n in (7, 8):
                if not self._need(buf, pos, 4):
                    return 0
                out.append(StatusRequest("DLE EOT", n))
                return 4
            out.append(StatusRequest("DLE EOT", n))
            return 3
        if c == ENQ:                                    # DLE ENQ n
            return 3
        if c == DC4:                                    # DLE DC4 fn a b
            if not self._need(buf, pos, 5):
                return 0
            if buf[pos + 2] == 1:
                out.append(DrawerPulse(5 if buf[pos + 3] == 1 else 2, buf[pos + 4] * 100, buf[pos + 4] * 100))
            return 5
        out.append(Dropped(1, "unknown"))
        return 1

    def _fs(self, buf: bytearray, pos: int, out: list[Event]) -> int:
        if not self._need(buf, pos, 2):
            return 0
        c = buf[pos + 1]
        if c in (0x26, 0x2E):                           # FS & / FS . (Kanji mode on / off)
            return 2
        if c in (0x21, 0x2D, 0x43, 0x53, 0x57):         # FS ! n, FS - n, FS C n, FS W n (FS S n1 n2)
            n = 4 if c == 0x53 else 3
            return n if self._need(buf, pos, n) else 0
        if c == 0x70:                                   # FS p n m: print a stored NV logo (none are stored)
            if not self._need(buf, pos, 4):
                return 0
            out.append(Dropped(4, "bad-data"))
            return 4
        out.append(Dropped(2, "unknown"))
        return 2


def _code128_text(raw: bytes) -> str | None:
    """The data of a ``GS k 73`` Code128 symbol: ``{A`` / ``{B`` / ``{C`` select the code set; in set C
    each byte is two digits. None when the bytes make no valid symbol."""
    if len(raw) < 2 or raw[0] != 0x7B or raw[1] not in b"ABC":
        return None
    out, code, i = [], chr(raw[1]), 2
    while i < len(raw):
        b = raw[i]
        if b == 0x7B and i + 1 < len(raw):
            nxt = raw[i + 1]
            if nxt in b"ABC":
                code, i = chr(nxt), i + 2
                continue
            if nxt == 0x7B:
                out.append("{")
                i += 2
                continue
            i += 2                                      # FNC1-4 and shifts: no printable data
            continue
        if code == "C":
            if b > 99:
                return None
            out.append(f"{b:02d}")
        else:
            out.append(chr(b))
        i += 1
    return "".join(out) or None


def _column_image(n: int, rows: int, data: bytes, align: int) -> Raster:
    """ESC * column data (``rows`` bytes of 8 vertical dots per column) as a raster."""
    h = rows * 8
    rowb = (n + 7) // 8
    bits = bytearray(rowb * h)
    for x in range(n):
        for r in range(rows):
            col = data[x * rows + r]
            for k in range(8):
                if col & (0x80 >> k):
                    y = r * 8 + k
                    bits[y * rowb + x // 8] |= 0x80 >> (x % 8)
    return Raster(rowb * 8, h, bytes(bits), align)
