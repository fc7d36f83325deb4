"""Pictures that once crashed the scanner: a tiny GIF declaring 65535 x 65535 pixels (a decompression
bomb), a PNG with damaged compressed data, a PIL ``.im`` file, a small PNG of 100 million pixels."""

import io
import struct
import zlib

from PIL import Image


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_gif() -> bytes:
    size = struct.pack("<HH", 65535, 65535)
    return b"GIF89a" + size + b"\x00\x00\x00" + b",\x00\x00\x00\x00" + size + b"\x00\x02\x02\x44\x01\x00;"


def damaged_png() -> bytes:
    buf = io.BytesIO()
    Image.new("L", (50, 50), 255).save(buf, "PNG")
    good = buf.getvalue()
    i = good.index(b"IDAT")
    return good[:i + 4] + b"\xff" * 20 + good[i + 24:]


def pil_im() -> bytes:
    buf = io.BytesIO()
    Image.new("L", (8, 8)).save(buf, "IM")
    return buf.getvalue()


def huge_png() -> bytes:
    row = b"\x00" + b"\xff" * 10_000
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 10_000, 10_000, 8, 0, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(row * 10_000, 9)) + _chunk(b"IEND", b""))


GARBAGE = {"bomb.gif": bomb_gif, "damaged.png": damaged_png, "pil.im": pil_im, "huge.png": huge_png}
