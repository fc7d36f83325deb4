"""The receipt QR code as a PNG image, made with ``qrcode`` (pure Python PNG writer)."""

from __future__ import annotations

import io

import qrcode
import qrcode.constants


def qr_png(text: str, *, box_size: int = 4, border: int = 4) -> bytes:
    """PNG bytes of a QR code holding ``text`` (error correction M, as receipt printers use)."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size, border=border)
    qr.add_data(text.encode("ascii"))
    qr.make(fit=True)
    out = io.BytesIO()
    qr.make_image().save(out)
    return out.getvalue()
