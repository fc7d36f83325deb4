"""The cashier's barcode scanner on a pseudo-terminal, in the common serial-emulation mode.

A scanner set to serial emulation (RS-232 or USB-COM) sends each code as its
bytes followed by a suffix, by default CR (0x0D), optionally after a prefix;
the GS separator of a GS1 code arrives as the byte 0x1D. ``ScannerPort``
holds the master of a pty and hands each complete code to ``feed`` (the
device's scanner input); whatever writes to ``path`` plays the scanner
(``printf '0104...\\r' > /dev/pts/N``, pyserial, a test).

Bytes are taken as Latin-1 (one character a byte: the device's own parser
refuses what is not a code). A configured prefix is stripped where it is
present; line ends other than the suffix around a code are dropped (a scanner
sending CR LF to a port set to CR); a line longer than ``MAX_LINE`` without
the suffix is dropped whole (up to its suffix), logged without its content.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from emulator.net.serialport import PtyService

log = logging.getLogger("kkt_emu.scanner")

MAX_LINE = 1024
AFFIX_NAMES = {"CR": "\r", "LF": "\n", "CRLF": "\r\n", "TAB": "\t", "NONE": ""}


def parse_affix(text: str, what: str) -> str:
    """A prefix or suffix as configured: a name (CR, LF, CRLF, TAB, NONE) or the literal characters."""
    value = AFFIX_NAMES.get(text.strip().upper(), text)
    if len(value) > 8 or any(ord(c) > 0x7E for c in value):
        raise ValueError(f"scanner {what} {text[:20]!r}: at most 8 ASCII characters, or CR, LF, CRLF, TAB, NONE")
    if what == "suffix" and not value:
        raise ValueError("scanner suffix: a scanner ends each code with something (CR by default)")
    return value


class ScannerPort(PtyService):
    name = "scanner"

    def __init__(self, feed: Callable[[str], None], prefix: str = "", suffix: str = "\r") -> None:
        super().__init__()
        if not suffix:
            raise ValueError("the scanner's suffix is empty")
        self.feed = feed
        self.prefix = prefix.encode("latin-1")
        self.suffix = suffix.encode("latin-1")
        self._buf = bytearray()
        self._discarding = False    # inside an overlong line: drop up to its suffix
        self.stats = {"codes": 0, "dropped": 0}

    def on_bytes(self, data: bytes) -> None:
        self._buf += data
        while True:
            at = self._buf.find(self.suffix)
            if at < 0:
                break
            line = bytes(self._buf[:at])
            del self._buf[:at + len(self.suffix)]
            if self._discarding:
                self._discarding = False
                continue
            self._line(line)
        if len(self._buf) > MAX_LINE:
            if not self._discarding:
                log.warning("scanner: over %d bytes without the suffix %r: the line is dropped", MAX_LINE,
                            self.suffix.decode("latin-1").encode("unicode_escape").decode())
                self.stats["dropped"] += 1
            self._discarding = True
            keep = len(self.suffix) - 1     # a suffix may be split across reads
            del self._buf[:len(self._buf) - keep]

    def _line(self, line: bytes) -> None:
        line = line.strip(b"\r\n")
        if self.prefix and line.startswith(self.prefix):
            line = line[len(self.prefix):]
        if not line:
            return
        if len(line) > MAX_LINE:
            log.warning("scanner: a code of %d bytes dropped (at most %d)", len(line), MAX_LINE)
            self.stats["dropped"] += 1
            return
        self.stats["codes"] += 1
        self.feed(line.decode("latin-1"))
