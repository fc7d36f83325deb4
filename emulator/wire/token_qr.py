"""The permit-mode token as a QR code.

The Chestny Znak cabinet can give the token as a QR code, and Incotex
recommends reading it with a scanner connected to the KKT instead of typing it
[S002]. ``make_token_qr`` draws such a code (PNG, with ``qrcode``);
``read_token_qr`` plays the scanner: it decodes the image (``pyzbar`` over the
zbar library, Pillow to open the image) and returns the token.

Exactly one QR code must be in the image, and its content must pass the same
plausibility rule as the token setting (``emulator.kkt.settings.TOKEN_RE``).
Error messages never contain the token in full (``mask_token``).
"""

from __future__ import annotations

import io
from pathlib import Path

import qrcode
from PIL import Image, UnidentifiedImageError
from pyzbar import pyzbar

from emulator.base.storage import write_atomic
from emulator.rules.syntax import TOKEN_RE, mask_token


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


def read_token_qr(source: Path | str | bytes) -> str:
    """The token in the one QR code of the image ``source`` (a file path or the image bytes)."""
    try:
        if isinstance(source, bytes | bytearray):
            image = Image.open(io.BytesIO(source))
        else:
            image = Image.open(Path(source))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        what = "the data" if isinstance(source, bytes | bytearray) else f"{Path(source).name}"
        if isinstance(exc, FileNotFoundError):
            raise TokenQrError(f"{what}: no such file") from None
        raise TokenQrError(f"{what} is not an image") from None
    with image:
        found = pyzbar.decode(image.convert("L"), symbols=[pyzbar.ZBarSymbol.QRCODE])
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
