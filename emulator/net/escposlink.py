"""The DM's side of a network receipt printer: a receipt as data laid out in ESC/POS and sent over TCP.

The layout is python-escpos's (``Escpos`` with the ``TM-T88V`` profile: an 80 mm
head, 512 dots; text in code page 1251, which holds every Ukrainian letter).
A receipt is a list of lines as the DM's task 5 gives them, ``{t, qr_type}``
with ``qr_type`` 0 text, 1 EAN-13, 2 Code128, 100 QR (reference §3.2), plus an
optional ``.bmp`` logo and a few text styles (``bold``, ``double``, ``align``).
A ``\\n`` written in the text (backslash, n, as the DM's JSON carries it) or a
real newline breaks the line. ``layout()`` is the byte stream; ``PrinterLink``
sends it.

``PrinterLink(host, port).print_receipt(receipt)`` connects, asks the printer's
state (``DLE EOT 1``, and ``DLE EOT 2`` / ``DLE EOT 4`` for the cause when it is
offline), sends nothing to a printer that cannot print, sends the receipt and
its cut, asks the state again (the answer comes after the receipt was handled)
and, when asked to and the receipt printed, pulses the cash drawer. The whole
operation has the DM's print rule as its deadline: 5 s (``PRINT_TIMEOUT_S``).
Every way it can end is a ``PrintResult`` with one of ``OUTCOMES``:

* ``printed`` — ``isprint`` 1;
* ``offline`` — no connection, or it was refused / reset / closed;
* ``paper_out``, ``cover_open`` — the printer said so; when the paper ran out
  during the receipt, ``sent`` is true: the printer keeps the rest and prints
  it when a roll is loaded, so the receipt must not be sent again;
* ``timeout`` — no answer within the deadline (a slow or stalled printer);
  with ``sent`` true the printer has the receipt and may still print it late;
* ``bad_receipt`` — the data make no receipt (an EAN-13 with a wrong check
  digit, a Code128 with characters it cannot carry, a logo that is no image).

Every outcome but ``printed`` has ``isprint`` 0. The link never raises for the
printer's faults. It needs no server code: what it knows of the printer is
the ESC/POS status bytes.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

PRINT_TIMEOUT_S = 5.0
PROFILE = "TM-T88V"
CODEPAGE = "CP1251"
OUTCOMES = ("printed", "offline", "paper_out", "cover_open", "timeout", "bad_receipt")
QR_TYPES = {0: "text", 1: "EAN13", 2: "CODE128", 100: "QR"}
ALIGNS = ("left", "center", "right")
MAX_LINES = 2000
MAX_TEXT = 10_000
MAX_LOGO_BYTES = 1 << 20

DLE_EOT = b"\x10\x04"


class ReceiptError(ValueError):
    """The data make no receipt; the message is one line."""


@dataclass(frozen=True, slots=True)
class PrintLine:
    t: str
    qr_type: int = 0
    bold: bool = False
    double: bool = False
    align: str = "left"


@dataclass(frozen=True, slots=True)
class Receipt:
    lines: tuple[PrintLine, ...]
    logo: bytes | None = None          # a .bmp (or any image Pillow reads), at most 512 dots wide

    @classmethod
    def from_data(cls, data: Mapping[str, Any] | Iterable[Any], logo: bytes | None = None) -> Receipt:
        """A receipt from DM-style data: ``{"lines": [{"t": …, "qr_type": …}, …]}`` or the list itself;
        ``qr_type`` may come as a string of digits. ``ReceiptError`` for anything else."""
        if isinstance(data, Mapping):
            items = data.get("lines")
        else:
            items = data
        if isinstance(items, str | bytes) or not isinstance(items, Iterable):
            raise ReceiptError("receipt: 'lines' must be a list of {t, qr_type}")
        lines: list[PrintLine] = []
        for i, item in enumerate(items):
            if i >= MAX_LINES:
                raise ReceiptError(f"receipt: more than {MAX_LINES} lines")
            if isinstance(item, str):
                item = {"t": item}
            if not isinstance(item, Mapping):
                raise ReceiptError(f"receipt line {i}: an object {{t, qr_type}}, not {type(item).__name__}")
            t = item.get("t", "")
            if not isinstance(t, str) or len(t) > MAX_TEXT:
                raise ReceiptError(f"receipt line {i}: 't' must be a string of at most {MAX_TEXT} characters")
            qt = item.get("qr_type", 0)
            if isinstance(qt, str) and qt.strip().isdigit():
                qt = int(qt)
            if isinstance(qt, bool) or qt not in QR_TYPES:
                raise ReceiptError(f"receipt line {i}: qr_type must be one of 0, 1, 2, 100, not {qt!r}")
            align = item.get("align", "left")
            if align not in ALIGNS:
                raise ReceiptError(f"receipt line {i}: align must be left, center or right")
            lines.append(PrintLine(t, qt, bool(item.get("bold", False)), bool(item.get("double", False)), align))
        return cls(tuple(lines), logo)


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    online: bool
    paper: str                         # "ok", "low", "out"
    cover_open: bool
    drawer_open: bool

    @property
    def cause(self) -> str:
        """The outcome a print would have now."""
        if self.online:
            return "printed"
        if self.cover_open:
            return "cover_open"
        if self.paper == "out":
            return "paper_out"
        return "offline"


@dataclass(frozen=True, slots=True)
class PrintResult:
    outcome: str
    message: str
    elapsed_ms: int
    status: PrinterStatus | None = None
    sent: bool = False                 # the receipt's bytes went to the printer
    drawer_opened: bool = False
    bytes_sent: int = 0

    @property
    def isprint(self) -> int:
        """The DM's ``info.isprint``: 1 printed, 0 not."""
        return 1 if self.outcome == "printed" else 0


def _lay_out(p: Any, receipt: Receipt, cut: bool = True) -> None:
    """Send ``receipt`` through the python-escpos printer ``p`` (a ``Dummy`` or a ``Network``)."""
    from escpos.exceptions import Error as EscposError
    from PIL import Image, UnidentifiedImageError

    p.hw("INIT")
    p.charcode(CODEPAGE)
    if receipt.logo is not None:
        if len(receipt.logo) > MAX_LOGO_BYTES:
            raise ReceiptError(f"logo: more than {MAX_LOGO_BYTES} bytes")
        try:
            img = Image.open(io.BytesIO(receipt.logo))
            img.load()
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise ReceiptError(f"logo: not an image ({type(exc).__name__})") from None
        if img.width > 512 or img.height > 2000:
            raise ReceiptError(f"logo: {img.width} x {img.height} dots, at most 512 x 2000")
        p.set(align="center")
        p.image(img.convert("RGB"), center=False)
    for i, line in enumerate(receipt.lines):
        p.set(align=line.align, bold=line.bold, normal_textsize=not line.double,
              double_width=line.double, double_height=line.double)
        text = line.t.replace("\\n", "\n")
        try:
            if line.qr_type == 0:
                for part in text.split("\n"):
                    p.textln(part)
            elif line.qr_type == 1:
                if not (text.isdigit() and len(text) in (12, 13)) or (len(text) == 13 and _ean_check(text[:12]) != text[12]):
                    raise ReceiptError(f"receipt line {i}: EAN-13 needs 12 digits or 13 with a valid check digit")
                # python-escpos's public barcode() prints a line to stdout on every call; its hardware path is this
                p._hw_barcode(text, "EAN13", height=80, width=3, pos="BELOW", align_ct=True, function_type="A")
            elif line.qr_type == 2:
                if not text or len(text) > 250 or not all(32 <= ord(c) < 127 for c in text):
                    raise ReceiptError(f"receipt line {i}: Code128 takes 1-250 printable ASCII characters")
                p._hw_barcode("{B" + text, "CODE128", height=80, width=2, pos="BELOW", align_ct=True,
                              function_type="B", check=False)
            else:
                if not text or len(text.encode("utf-8")) > 1000:
                    raise ReceiptError(f"receipt line {i}: a QR code takes 1-1000 bytes")
                p.qr(text, size=6, native=True, ec=1)
        except EscposError as exc:
            raise ReceiptError(f"receipt line {i}: {exc}") from None
    p.set(align="left", bold=False, normal_textsize=True)
    if cut:
        p.cut()


def _ean_check(digits12: str) -> str:
    s = sum(int(d) * (3 if k % 2 else 1) for k, d in enumerate(digits12))
    return str((10 - s % 10) % 10)


def layout(receipt: Receipt, cut: bool = True) -> bytes:
    """The receipt's ESC/POS bytes (``ReceiptError`` when the data make no receipt)."""
    from escpos.printer import Dummy

    p = Dummy(profile=PROFILE)
    _lay_out(p, receipt, cut)
    return bytes(p.output)


def parse_status(online: bytes, offline_cause: bytes, paper: bytes) -> PrinterStatus:
    """The answers to ``DLE EOT 1``, ``DLE EOT 2`` and ``DLE EOT 4`` as a status."""
    b1, b2, b4 = (x[0] if x else 0 for x in (online, offline_cause, paper))
    paper_state = "out" if b4 & 0x60 == 0x60 or b2 & 0x20 else "low" if b4 & 0x0C == 0x0C else "ok"
    return PrinterStatus(online=not b1 & 0x08, paper=paper_state, cover_open=bool(b2 & 0x04),
                         drawer_open=bool(b1 & 0x04))


class _Deadline(Exception):
    pass


class PrinterLink:
    """Prints, reads the status and opens the drawer of one network printer (see the module docstring)."""

    def __init__(self, host: str, port: int = 9100, timeout_s: float = PRINT_TIMEOUT_S) -> None:
        self.host = host
        self.port = port
        self.timeout_s = timeout_s

    # -- one connection
    def _open(self, deadline: float) -> Any:
        from escpos.printer import Network

        p = Network(self.host, self.port, timeout=max(deadline - time.monotonic(), 0.001), profile=PROFILE)
        p.open()
        return p

    @staticmethod
    def _left(deadline: float) -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise _Deadline()
        return left

    def _query(self, p: Any, n: int, deadline: float) -> bytes:
        p.device.settimeout(self._left(deadline))
        p._raw(DLE_EOT + bytes([n]))
        got = p.device.recv(1)
        if not got:
            raise ConnectionResetError("the printer closed the connection")
        return bytes(got)

    def _status(self, p: Any, deadline: float) -> PrinterStatus:
        b1 = self._query(p, 1, deadline)
        if b1[0] & 0x08:
            return parse_status(b1, self._query(p, 2, deadline), self._query(p, 4, deadline))
        return parse_status(b1, b"\x12", self._query(p, 4, deadline))

    def _run(self, what: str, job: bytes | None, drawer: bool, pin: int = 2) -> PrintResult:
        t0 = time.monotonic()
        deadline = t0 + self.timeout_s
        ms = lambda: int((time.monotonic() - t0) * 1000)  # noqa: E731
        where = f"printer {self.host}:{self.port}"
        sent, status, p = False, None, None
        try:
            from escpos.exceptions import DeviceNotFoundError
            try:
                p = self._open(deadline)
            except DeviceNotFoundError as exc:
                if isinstance(exc.__cause__, TimeoutError) or "timed out" in str(exc):
                    return PrintResult("timeout", f"{where}: no connection within {self.timeout_s:g} s", ms())
                return PrintResult("offline", f"{where} is offline (no connection)", ms())
            status = self._status(p, deadline)
            if not status.online:
                cause = status.cause
                return PrintResult(cause, f"{where}: {_CAUSE_TEXT[cause]}; nothing was sent", ms(), status)
            nbytes = 0
            if job is not None:
                p.device.settimeout(self._left(deadline))
                p.device.sendall(job)
                sent, nbytes = True, len(job)
                status = self._status(p, deadline)
                if not status.online:
                    cause = status.cause
                    return PrintResult(cause, f"{where}: {_CAUSE_TEXT[cause]} during the {what}; the printer keeps "
                                       "the rest and prints it when it is ready", ms(), status, sent=True,
                                       bytes_sent=nbytes)
            opened = False
            if drawer:
                p.device.settimeout(self._left(deadline))
                p.cashdraw(pin)
                status = self._status(p, deadline)
                opened = True
            return PrintResult("printed", f"{where}: {what} done", ms(), status, sent=sent, drawer_opened=opened,
                               bytes_sent=nbytes)
        except (_Deadline, TimeoutError):
            return PrintResult("timeout", f"{where}: no answer within {self.timeout_s:g} s", ms(), status, sent=sent)
        except OSError as exc:
            return PrintResult("offline", f"{where} is offline ({type(exc).__name__})", ms(), status, sent=sent)
        finally:
            if p is not None:
                p.close()

    # -- the DM's printer tasks
    def status(self) -> PrintResult:
        """The printer's state (outcome ``printed`` = ready to print)."""
        return self._run("status request", None, False)

    def print_receipt(self, receipt: Receipt, open_drawer: bool = False) -> PrintResult:
        """Print ``receipt``; with ``open_drawer`` pulse the cash drawer after it printed."""
        start = time.monotonic()
        try:
            job = layout(receipt)
        except ReceiptError as exc:
            return PrintResult("bad_receipt", str(exc), int((time.monotonic() - start) * 1000))
        return self._run("receipt", job, open_drawer)

    def open_drawer(self, pin: int = 2) -> PrintResult:
        return self._run("drawer pulse", None, True, pin)

    def test_print(self) -> PrintResult:
        """The DM's «Тестовий друк»: a short page with each kind of element."""
        return self.print_receipt(TEST_PAGE)


_CAUSE_TEXT = {"offline": "offline", "paper_out": "out of paper", "cover_open": "the cover is open"}

TEST_PAGE = Receipt((
    PrintLine("Тестовий друк", bold=True, double=True, align="center"),
    PrintLine("ESC/POS 80 мм, CP1251: АБВГҐДЕЄЖЗИІЇЙ абвгґдеєжзиіїй"),
    PrintLine("4820000000000", qr_type=1),
    PrintLine("TEST-128", qr_type=2),
    PrintLine("https://example.invalid/test", qr_type=100),
))
