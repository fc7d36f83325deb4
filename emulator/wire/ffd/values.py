"""FFD value types: how the value bytes of one TLV map to a Python value.

The TLV header (``tlv.py``) gives each value its exact byte length; a value
type only interprets those bytes. All integers are little-endian.

=========  ==================================================  ==================
type       bytes (LEN = the TLV length)                        Python value
=========  ==================================================  ==================
string     CP866, no terminator; ``max_len`` bytes at most;    ``str``
           a fixed-length tag is exactly ``fixed_len`` bytes,
           space-padded on the right (the padding is not part
           of the value: decode strips it, encode adds it); a
           max-length string keeps every byte, trailing
           spaces, CR LF included
byte       1 byte, 0..255                                      ``int``
bool       1 byte, 0 or 1                                      ``bool``
u32        4 bytes, always                                     ``int``
vln        0..``max_len`` bytes (≤ 8), minimal: no trailing    ``int``
           zero byte; 0 is the empty value
fvln       1 byte P (digits after the point), then the         ``decimal.Decimal``
           mantissa M as a VLN; value = M / 10^P; the          (its exponent is -P,
           exponent of the Decimal carries P                   so ``1.500`` stays)
unixtime   u32: seconds since 1970-01-01 00:00 counted in      naive ``datetime``
           the drive's local time (no time zone applied)       (sub-second dropped)
fpd        the document fiscal sign, ``fixed_len`` (6) bytes   ``bytes``
bytes      raw, ``max_len`` at most                            ``bytes``
stlv       nested TLVs (``tlv.py``)                            ``tuple`` of fields
=========  ==================================================  ==================

Golden vectors (fiscal-wire-formats §2): VLN 0x12345678 ↔ ``78 56 34 12``,
0x123456 ↔ ``56 34 12``, 0 ↔ empty; FVLN mantissa 0x123456 point 5 ↔
``05 56 34 12``; U32 0 ↔ ``00 00 00 00``; UNIXTIME ``98 55 b9 58`` ↔
2017-03-03 11:38:00.

``decode_value``/``encode_value`` dispatch on the tag's type and check the
tag's limits; every failure is an ``FfdError`` (offset relative to the value
here; the TLV layer adds the position of the value in the outermost input).
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from emulator.rules.ffdtags import TagSpec

EPOCH = dt.datetime(1970, 1, 1)
U32_MAX = 0xFFFFFFFF
VLN_MAX_BYTES = 8
FVLN_MAX_POINT = 255
# The largest value a UNIXTIME can hold, as a naive datetime.
UNIXTIME_MAX = EPOCH + dt.timedelta(seconds=U32_MAX)

_U32 = struct.Struct("<I")


class FfdError(ValueError):
    """Bad FFD input or a value the encoder refuses.

    ``offset`` is the byte offset in the outermost input where the problem
    is (for the encoder: in the output being built); ``text`` is one line.
    """

    def __init__(self, offset: int, text: str) -> None:
        super().__init__(f"at byte {offset}: {text}")
        self.offset = offset
        self.text = text

    def shifted(self, by: int) -> FfdError:
        """The same error with its offset moved by ``by`` bytes."""
        return FfdError(self.offset + by, self.text)


def _fvln_parts(value: Decimal) -> tuple[int, int]:
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):
        raise ValueError("not a finite number")
    if sign:
        raise ValueError("negative")
    mantissa = int("".join(map(str, digits)) or "0")
    if exponent > 0:
        mantissa *= 10**exponent
        exponent = 0
    return -exponent, mantissa


# --- decoding --------------------------------------------------------------------
# Each decoder gets the value bytes and the tag's spec and returns the value or
# raises FfdError with an offset relative to the value's first byte.

def _limit(spec: TagSpec, data: bytes) -> None:
    if spec.fixed_len is not None and len(data) != spec.fixed_len:
        raise FfdError(0, f"tag {spec.number}: length {len(data)}, the tag has fixed length {spec.fixed_len}")
    if spec.max_len is not None and len(data) > spec.max_len:
        raise FfdError(0, f"tag {spec.number}: length {len(data)} over the maximum {spec.max_len}")


def _dec_string(spec: TagSpec, data: bytes) -> str:
    _limit(spec, data)
    text = data.decode("cp866")  # every byte value is a CP866 character
    if spec.fixed_len is not None:
        text = text.rstrip(" ")
    return text


def _dec_byte(spec: TagSpec, data: bytes) -> int:
    if len(data) != 1:
        raise FfdError(0, f"tag {spec.number}: a byte value must be 1 byte, not {len(data)}")
    return data[0]


def _dec_bool(spec: TagSpec, data: bytes) -> bool:
    if len(data) != 1:
        raise FfdError(0, f"tag {spec.number}: a bool value must be 1 byte, not {len(data)}")
    if data[0] > 1:
        raise FfdError(0, f"tag {spec.number}: a bool value must be 0 or 1, not {data[0]}")
    return data[0] == 1


def _dec_u32(spec: TagSpec, data: bytes) -> int:
    if len(data) != 4:
        raise FfdError(0, f"tag {spec.number}: a U32 value must be 4 bytes, not {len(data)}")
    return int(_U32.unpack(data)[0])


def _vln_check(spec: TagSpec, data: bytes, at: int) -> None:
    limit = min(spec.max_len or VLN_MAX_BYTES, VLN_MAX_BYTES)
    if len(data) - at > limit:
        raise FfdError(at, f"tag {spec.number}: a number of {len(data) - at} bytes, at most {limit}")
    if len(data) > at and data[-1] == 0:
        raise FfdError(len(data) - 1, f"tag {spec.number}: the number is not minimal (a trailing zero byte)")


def _dec_vln(spec: TagSpec, data: bytes) -> int:
    _vln_check(spec, data, 0)
    return int.from_bytes(data, "little")


def _dec_fvln(spec: TagSpec, data: bytes) -> Decimal:
    if not data:
        raise FfdError(0, f"tag {spec.number}: an FVLN value needs its point byte")
    if spec.max_len is not None and len(data) > spec.max_len:
        raise FfdError(0, f"tag {spec.number}: length {len(data)} over the maximum {spec.max_len}")
    _vln_check(spec, data, 1)
    return Decimal(int.from_bytes(data[1:], "little")).scaleb(-data[0])


def _dec_unixtime(spec: TagSpec, data: bytes) -> dt.datetime:
    if len(data) != 4:
        raise FfdError(0, f"tag {spec.number}: a UNIXTIME value must be 4 bytes, not {len(data)}")
    return EPOCH + dt.timedelta(seconds=_U32.unpack(data)[0])


def _dec_bytes(spec: TagSpec, data: bytes) -> bytes:
    _limit(spec, data)
    return bytes(data)


DECODERS: dict[str, Callable[[TagSpec, bytes], Any]] = {
    "string": _dec_string,
    "byte": _dec_byte,
    "bool": _dec_bool,
    "u32": _dec_u32,
    "vln": _dec_vln,
    "fvln": _dec_fvln,
    "unixtime": _dec_unixtime,
    "fpd": _dec_bytes,
    "bytes": _dec_bytes,
}


def decode_value(spec: TagSpec, data: bytes) -> Any:
    """The Python value of ``data`` (one TLV's value bytes) for the tag ``spec``
    (not for STLVs: ``tlv.py`` nests those)."""
    return DECODERS[spec.type](spec, data)


# --- encoding --------------------------------------------------------------------

def _bad(spec: TagSpec, text: str) -> FfdError:
    return FfdError(0, f"tag {spec.number} ({spec.name}): {text}")


def _enc_string(spec: TagSpec, value: Any) -> bytes:
    if not isinstance(value, str):
        raise _bad(spec, f"a string expected, not {type(value).__name__}")
    try:
        data = value.encode("cp866")
    except UnicodeEncodeError as exc:
        raise _bad(spec, f"character {value[exc.start]!r} has no CP866 code") from None
    if spec.fixed_len is not None:
        if len(data) > spec.fixed_len:
            raise _bad(spec, f"{len(data)} bytes, the tag has fixed length {spec.fixed_len}")
        return data.ljust(spec.fixed_len, b" ")
    if spec.max_len is not None and len(data) > spec.max_len:
        raise _bad(spec, f"{len(data)} bytes over the maximum {spec.max_len}")
    return data


def _int_in(spec: TagSpec, value: Any, top: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(spec, f"an integer expected, not {type(value).__name__}")
    if not 0 <= value <= top:
        raise _bad(spec, f"{value} out of range 0..{top}")
    return value


def _enc_byte(spec: TagSpec, value: Any) -> bytes:
    return bytes((_int_in(spec, value, 255),))


def _enc_bool(spec: TagSpec, value: Any) -> bytes:
    if not isinstance(value, bool):
        raise _bad(spec, f"a bool expected, not {type(value).__name__}")
    return b"\x01" if value else b"\x00"


def _enc_u32(spec: TagSpec, value: Any) -> bytes:
    return _U32.pack(_int_in(spec, value, U32_MAX))


def _vln_bytes(spec: TagSpec) -> int:
    return min(spec.max_len or VLN_MAX_BYTES, VLN_MAX_BYTES)


def _enc_vln(spec: TagSpec, value: Any) -> bytes:
    n = _int_in(spec, value, (1 << (8 * _vln_bytes(spec))) - 1)
    return n.to_bytes((n.bit_length() + 7) // 8, "little")


def _enc_fvln(spec: TagSpec, value: Any) -> bytes:
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise _bad(spec, f"a Decimal expected, not {type(value).__name__}")
    try:
        point, mantissa = _fvln_parts(Decimal(value))
    except (ValueError, InvalidOperation) as exc:
        raise _bad(spec, f"{value}: {exc}") from None
    if point > FVLN_MAX_POINT:
        raise _bad(spec, f"{value}: {point} digits after the point, at most {FVLN_MAX_POINT}")
    room = min((spec.max_len or VLN_MAX_BYTES + 1) - 1, VLN_MAX_BYTES)
    size = (mantissa.bit_length() + 7) // 8
    if size > room:
        raise _bad(spec, f"{value}: the mantissa needs {size} bytes, at most {room}")
    return bytes((point,)) + mantissa.to_bytes(size, "little")


def _enc_unixtime(spec: TagSpec, value: Any) -> bytes:
    if not isinstance(value, dt.datetime):
        raise _bad(spec, f"a datetime expected, not {type(value).__name__}")
    if value.tzinfo is not None:
        raise _bad(spec, "a naive datetime (local time of the drive) expected, not an aware one")
    seconds = (value - EPOCH) // dt.timedelta(seconds=1)
    if not 0 <= seconds <= U32_MAX:
        raise _bad(spec, f"{value} out of range {EPOCH}..{UNIXTIME_MAX}")
    return _U32.pack(seconds)


def _enc_bytes(spec: TagSpec, value: Any) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise _bad(spec, f"bytes expected, not {type(value).__name__}")
    data = bytes(value)
    if spec.fixed_len is not None and len(data) != spec.fixed_len:
        raise _bad(spec, f"{len(data)} bytes, the tag has fixed length {spec.fixed_len}")
    if spec.max_len is not None and len(data) > spec.max_len:
        raise _bad(spec, f"{len(data)} bytes over the maximum {spec.max_len}")
    return data


ENCODERS: dict[str, Callable[[TagSpec, Any], bytes]] = {
    "string": _enc_string,
    "byte": _enc_byte,
    "bool": _enc_bool,
    "u32": _enc_u32,
    "vln": _enc_vln,
    "fvln": _enc_fvln,
    "unixtime": _enc_unixtime,
    "fpd": _enc_bytes,
    "bytes": _enc_bytes,
}


def encode_value(spec: TagSpec, value: Any) -> bytes:
    """The value bytes of ``value`` for the tag ``spec``; ``FfdError`` (offset
    0 of the value) when the value is of the wrong type or out of range."""
    return ENCODERS[spec.type](spec, value)
