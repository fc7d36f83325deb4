"""Marking codes as GS1 DataMatrix pictures, and the scanner reading them.

A pack carries its КМ as a GS1 DataMatrix: the symbol starts with FNC1 (the
GS1 flag) and each variable-length element (the serial ``21``, for example)
ends with FNC1 where another element follows; a scanner sends each separating
FNC1 as the byte GS (0x1D) and the leading one not at all. ``make_code_image``
draws that with libdmtx (through pylibdmtx's bindings): the encoder's FNC1
property maps the input byte 0x1D to the FNC1 codeword (232), and the code is
given a leading 0x1D for the leading FNC1. The 29-character tobacco pack code
has no GS1 elements and is drawn as a plain DataMatrix (no FNC1).

``read_code_image`` plays the scanner: exactly one DataMatrix in the picture
(opened as ``token_qr.open_image`` opens it: bounded size, known formats, no
decompression bombs), decoded with FNC1 reported as 0x1D, the leading one
dropped. Its errors never contain the code.
"""

from __future__ import annotations

import io
import warnings
from ctypes import byref, c_ubyte, cast, string_at
from pathlib import Path

from PIL import Image

from emulator.base.storage import write_atomic
from emulator.rules.marking import GS, MarkingCodeError, parse
from emulator.wire.token_qr import open_image

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)   # pylibdmtx's version check uses distutils' LooseVersion
    from pylibdmtx.wrapper import (
        DmtxPackOrder,
        DmtxProperty,
        DmtxScheme,
        DmtxSymbolSize,
        DmtxUndefined,
        c_ubyte_p,
        dmtxDecodeCreate,
        dmtxDecodeDestroy,
        dmtxDecodeMatrixRegion,
        dmtxDecodeSetProp,
        dmtxEncodeCreate,
        dmtxEncodeDataMatrix,
        dmtxEncodeDestroy,
        dmtxEncodeSetProp,
        dmtxImageCreate,
        dmtxImageDestroy,
        dmtxImageGetProp,
        dmtxMessageDestroy,
        dmtxRegionDestroy,
        dmtxRegionFindNext,
        dmtxTimeAdd,
        dmtxTimeNow,
    )

FNC1 = 0x1D
MODULE_PX = 6              # pixels per module of a drawn code
DECODE_TIMEOUT_MS = 3000   # libdmtx's search of one picture, bounded
MAX_CODE_BYTES = 200


class CodeImageError(ValueError):
    """A picture that gives no single code, or a code that cannot be drawn; safe to show and log."""

    def __init__(self, message: str, kind: str = "file") -> None:
        self.message = message
        self.kind = kind      # file (cannot open the picture) | none | many | unreadable | code (cannot draw)
        super().__init__(message)


def code_symbol_data(code: str) -> tuple[bytes, bool]:
    """The bytes handed to the encoder for ``code`` and whether it is a GS1 symbol (FNC1 mode)."""
    try:
        parsed = parse(code)
    except MarkingCodeError as exc:
        raise CodeImageError(f"not a marking code: {exc}", "code") from None
    data = parsed.raw.encode("ascii")   # parse admits printable ASCII and GS only
    if len(data) > MAX_CODE_BYTES:
        raise CodeImageError(f"a marking code is at most {MAX_CODE_BYTES} characters", "code")
    gs1 = parsed.kind == "gs1"
    return (bytes([FNC1]) + data if gs1 else data), gs1


def make_code_image(code: str, path: Path | None = None, module_px: int = MODULE_PX) -> bytes:
    """The PNG of ``code`` as a (GS1) DataMatrix; written atomically to ``path`` when given."""
    data, gs1 = code_symbol_data(code)
    enc = dmtxEncodeCreate()
    if not enc:
        raise CodeImageError("libdmtx cannot create an encoder", "code")
    try:
        dmtxEncodeSetProp(enc, DmtxProperty.DmtxPropScheme, DmtxScheme.DmtxSchemeAscii)
        dmtxEncodeSetProp(enc, DmtxProperty.DmtxPropSizeRequest, DmtxSymbolSize.DmtxSymbolSquareAuto)
        dmtxEncodeSetProp(enc, DmtxProperty.DmtxPropModuleSize, module_px)
        dmtxEncodeSetProp(enc, DmtxProperty.DmtxPropMarginSize, 2 * module_px)
        if gs1:
            dmtxEncodeSetProp(enc, DmtxProperty.DmtxPropFnc1, FNC1)
        cdata = (c_ubyte * len(data)).from_buffer_copy(data)
        if dmtxEncodeDataMatrix(enc, len(data), cast(cdata, c_ubyte_p)) == 0:
            raise CodeImageError("libdmtx could not encode the code", "code")
        image = enc[0].image
        w, h, bpp = (dmtxImageGetProp(image, p) for p in (DmtxProperty.DmtxPropWidth, DmtxProperty.DmtxPropHeight,
                                                           DmtxProperty.DmtxPropBitsPerPixel))
        pixels = string_at(image[0].pxl, w * h * bpp // 8)
    finally:
        dmtxEncodeDestroy(byref(enc))
    buf = io.BytesIO()
    Image.frombytes("RGB", (w, h), pixels).convert("1").save(buf, format="PNG")
    png = buf.getvalue()
    if path is not None:
        write_atomic(Path(path), png)
    return png


def _decode_all(gray: Image.Image, most: int) -> list[bytes]:
    raw = gray.tobytes()
    pixels = (c_ubyte * len(raw)).from_buffer_copy(raw)   # kept alive while libdmtx reads it
    img = dmtxImageCreate(cast(pixels, c_ubyte_p), gray.width, gray.height, DmtxPackOrder.DmtxPack8bppK)
    if not img:
        raise CodeImageError("the image cannot be decoded", "unreadable")
    found: list[bytes] = []
    try:
        dec = dmtxDecodeCreate(img, 1)
        if not dec:
            raise CodeImageError("the image cannot be decoded", "unreadable")
        try:
            dmtxDecodeSetProp(dec, DmtxProperty.DmtxPropFnc1, FNC1)
            deadline = dmtxTimeAdd(dmtxTimeNow(), DECODE_TIMEOUT_MS)
            while len(found) < most:
                region = dmtxRegionFindNext(dec, byref(deadline))
                if not region:
                    break
                try:
                    msg = dmtxDecodeMatrixRegion(dec, region, DmtxUndefined)
                    if msg:
                        try:
                            found.append(string_at(msg.contents.output, msg.contents.outputIdx))
                        finally:
                            dmtxMessageDestroy(byref(msg))
                finally:
                    dmtxRegionDestroy(byref(region))
        finally:
            dmtxDecodeDestroy(byref(dec))
    finally:
        dmtxImageDestroy(byref(img))
    return found


def read_code_image(source: Path | str | bytes) -> str:
    """The code in the one DataMatrix of the picture ``source`` (a file path or the image bytes),
    as a scanner sends it: GS (0x1D) for each separating FNC1, the leading FNC1 dropped."""
    gray = open_image(source, CodeImageError)
    try:
        found = _decode_all(gray, 2)
    finally:
        gray.close()
    if not found:
        raise CodeImageError("no DataMatrix code found in the image", "none")
    if len(found) > 1:
        raise CodeImageError("more than one DataMatrix code in the image; exactly one expected", "many")
    raw = found[0]
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise CodeImageError("the DataMatrix code does not hold a marking code (bytes beyond ASCII)", "unreadable") from None
    text = text.removeprefix(GS)
    if not text:
        raise CodeImageError("the DataMatrix code is empty", "unreadable")
    return text
