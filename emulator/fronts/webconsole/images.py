"""A picture shown to the console's scanner: the marking code in a DataMatrix or a QR code.

The picture is opened as the token QR reader opens it (``emulator.wire.token_qr``:
a bounded read, PNG/JPEG/GIF/BMP only, at most 16 million pixels), then read
with zbar (QR codes) and libdmtx (DataMatrix, ``pylibdmtx``: a picture larger
than ``DMTX_SIDE`` pixels is scaled down first and the search is bounded by
``DMTX_TIMEOUT_MS``). The code is returned as the scanner sends it: GS as the
byte 0x1D (a GS1 DataMatrix's FNC1 separators, which libdmtx gives as GS).
"""

from __future__ import annotations

from PIL import Image
from pylibdmtx import pylibdmtx
from pyzbar import pyzbar

from emulator.wire.token_qr import TokenQrError, open_image

DMTX_SIDE = 1200
DMTX_TIMEOUT_MS = 3000


class ImageError(ValueError):
    """No single code could be read from the picture: one line saying why."""


def read_code(data: bytes) -> str:
    try:
        gray = open_image(data)
    except TokenQrError as exc:
        raise ImageError(exc.message) from None
    try:
        found = [s.data for s in pyzbar.decode(gray, symbols=[pyzbar.ZBarSymbol.QRCODE])]
        if not found:
            small = gray
            if max(gray.size) > DMTX_SIDE:
                small = gray.copy()
                small.thumbnail((DMTX_SIDE, DMTX_SIDE), Image.Resampling.LANCZOS)
            found = [s.data for s in pylibdmtx.decode(small, timeout=DMTX_TIMEOUT_MS, max_count=2)]
    except Exception:                          # the decoders refusing the picture
        raise ImageError("картинку не удалось разобрать") from None
    finally:
        gray.close()
    if not found:
        raise ImageError("на картинке нет кода QR или DataMatrix")
    if len(set(found)) > 1:
        raise ImageError(f"на картинке {len(found)} кода, нужен один")
    try:
        text = found[0].decode("utf-8")
    except UnicodeDecodeError:
        raise ImageError("код на картинке не текст") from None
    if not text.strip() or len(text) > 4096:
        raise ImageError("код на картинке пуст или слишком длинный")
    return text
