"""The permit-mode token as a QR code.

The Chestny Znak cabinet can give the token as a QR code, and Incotex
recommends reading it with a scanner connected to the KKT instead of typing it
[S002]. ``make_token_qr`` draws such a code (PNG, with ``qrcode``);
``read_token_qr`` plays the scanner: it decodes the image (``pyzbar`` over the
zbar library, Pillow to open the image) and returns the token.

Exactly one QR code must be in the image, and its content must pass the same
plausibility rule as the token setting (``emulator.kkt.settings.TOKEN_RE``).
Error messages never contain the token in full (``mask_token``).

The picture is untrusted input (a file a person names at the console): it is
read at most ``MAX_FILE_BYTES``, opened only as one of ``IMAGE_FORMATS`` and
refused above ``MAX_PIXELS`` before it is decoded, so a small file declaring a
huge picture (a decompression bomb) costs neither time nor memory.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import qrcode
from PIL import Image
from pyzbar import pyzbar

from emulator.base.storage import write_atomic
from emulator.rules.syntax import TOKEN_RE, mask_token

IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP")
MAX_FILE_BYTES = 8_000_000
MAX_PIXELS = 16_000_000        # a 4000 x 4000 photo of a screen; zbar reads it in well under a second


class TokenQrError(ValueError):
    """The image cannot give a token; the message is safe to show and log."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


def _check_token(token: str, what: str) -> None:
    if not TOKEN_RE.match(token):
        raise TokenQrError(f"{what} is not a plausible token ({len(token)} characters: {mask_token(token)!r})")


def make_token_qr(token: str, path: Path) -> None:
    """Write ``token`` as a QR code to the PNG file ``path`` (atomically)."""
    _check_token(token, "the text to encode")
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=4, border=4)
    qr.add_data(token.encode("ascii"))
    qr.make(fit=True)
    image = qr.make_image(fill_color="black", back_color="white")
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    write_atomic(Path(path), buf.getvalue())


def open_image(source: Path | str | bytes) -> Image.Image:
    """The decoded picture, or TokenQrError: a bounded read, known formats only, at most ``MAX_PIXELS``."""
    if isinstance(source, bytes | bytearray):
        what, data = "the data", bytes(source)
    else:
        path = Path(source)
        what = path.name or str(path)
        try:
            if not path.is_file():   # a folder, a FIFO or a device would block or never end
                raise TokenQrError(f"{what}: no such file" if not path.exists() else f"{what}: not a file")
            with path.open("rb") as f:
                data = f.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise TokenQrError(f"{what}: cannot read it ({exc.strerror or type(exc).__name__})") from None
    if len(data) > MAX_FILE_BYTES:
        raise TokenQrError(f"{what} is larger than {MAX_FILE_BYTES // 1_000_000} MB")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")        # Pillow's DecompressionBombWarning: the size is checked here
        try:
            image = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
        except Image.DecompressionBombError:
            raise TokenQrError(f"{what}: a picture of billions of pixels (a decompression bomb), not a scan") from None
        except Exception:                      # Pillow's many ways to say "not an image" (DecompressionBombError too)
            raise TokenQrError(f"{what} is not an image ({', '.join(IMAGE_FORMATS)})") from None
        width, height = image.size
        if width * height > MAX_PIXELS or width <= 0 or height <= 0:
            image.close()
            raise TokenQrError(f"{what}: {width}x{height} pixels, more than a scanner's picture "
                               f"(at most {MAX_PIXELS // 1_000_000} million)")
        try:
            image.load()
            return image.convert("L")
        except Exception:                      # damaged data: truncated, bad chunks, bad compression
            raise TokenQrError(f"{what} is a damaged image") from None
        finally:
            image.close()


def read_token_qr(source: Path | str | bytes) -> str:
    """The token in the one QR code of the image ``source`` (a file path or the image bytes).

    Every problem with the picture is a ``TokenQrError``: a missing or unreadable file, one
    larger than ``MAX_FILE_BYTES``, data that is not a PNG, JPEG, GIF or BMP image, a picture
    of more than ``MAX_PIXELS`` (a decompression bomb declares billions), damaged image data.
    """
    gray = open_image(source)
    try:
        found = pyzbar.decode(gray, symbols=[pyzbar.ZBarSymbol.QRCODE])
    except Exception:                          # zbar refusing the picture
        raise TokenQrError("the image cannot be decoded") from None
    finally:
        gray.close()
    if not found:
        raise TokenQrError("no QR code found in the image")
    if len(found) > 1:
        raise TokenQrError(f"{len(found)} QR codes in the image; exactly one expected")
    try:
        text = found[0].data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise TokenQrError("the QR code does not hold text") from None
    _check_token(text, "the QR code's content")
    return text
