"""The fiscal-drive (ФН ↔ ККТ) frame, [3P]: third-party layout, not the official ФН protocol.

Taken from a course project's model of a fiscal drive (the reference's §6);
no captured frame exists, so there is no golden vector: the CRC is tested
with the standard check value and the frame with round trips::

    request : 04 | LEN u16 LE | CMD  | DATA[N] | CRC u16 LE
    response: 04 | LEN u16 LE | CODE | DATA[N] | CRC u16 LE      (CODE 00 = OK)

    LEN = 1 + N (the command / answer byte and the data)
    CRC = CRC-16/CCITT-FALSE over LEN .. DATA

``encode_frame(code, data)`` builds either direction; ``decode_frame(raw)``
takes exactly one whole frame and raises ``FnFrameError`` (a ``ValueError``
naming the offset) for a wrong start byte, length or CRC.
"""

from __future__ import annotations

from dataclasses import dataclass

from emulator.wire.ffd.session import crc16_ccitt_false

START = 0x04
OVERHEAD = 1 + 2 + 2             # start, LEN, CRC
MAX_DATA = 0xFFFF - 1


class FnFrameError(ValueError):
    def __init__(self, text: str, offset: int) -> None:
        super().__init__(f"{text} (byte {offset})")
        self.text = text
        self.offset = offset


@dataclass(frozen=True)
class FnFrame:
    code: int                    # the command in a request, the answer code in a response
    data: bytes = b""


def encode_frame(code: int, data: bytes = b"") -> bytes:
    if not 0 <= code <= 0xFF:
        raise FnFrameError(f"code {code} is not a byte", 3)
    if len(data) > MAX_DATA:
        raise FnFrameError(f"{len(data)} data bytes, at most {MAX_DATA}", 4)
    body = (1 + len(data)).to_bytes(2, "little") + bytes([code]) + data
    return bytes([START]) + body + crc16_ccitt_false(body).to_bytes(2, "little")


def decode_frame(raw: bytes) -> FnFrame:
    raw = bytes(raw)
    if len(raw) < OVERHEAD + 1:
        raise FnFrameError(f"{len(raw)} bytes, a frame is at least {OVERHEAD + 1}", len(raw))
    if raw[0] != START:
        raise FnFrameError(f"start byte 0x{raw[0]:02x}, expected 0x{START:02x}", 0)
    n = int.from_bytes(raw[1:3], "little")
    if n < 1 or len(raw) != OVERHEAD + n:
        raise FnFrameError(f"LEN {n} but the frame has {len(raw) - OVERHEAD} bytes of code and data", 1)
    crc = int.from_bytes(raw[-2:], "little")
    want = crc16_ccitt_false(raw[1:-2])
    if crc != want:
        raise FnFrameError(f"CRC 0x{crc:04x}, computed 0x{want:04x}", len(raw) - 2)
    return FnFrame(raw[3], raw[4:-2])
