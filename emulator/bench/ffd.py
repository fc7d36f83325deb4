"""``kkt-emu bench``: the FFD codec on a typical receipt, as ratios against a ``struct`` baseline.

The receipt: a «Кассовый чек» (type 3) of 10 items, 4 of them marked (each
marked item with its code 2000, the code 1163 with a GS1.М 1305, the industry
requisite 1260 with 1262–1265 as permit mode fills it, 2106 and 2102), the
usual header and totals: about 1.4 KB and 150 TLVs.

Figures, measured in the same run, rounds alternating so that drift cancels
out, the best round of each counting:

- ``ffd_decode_ratio``: ``Document.decode`` (the codec: the ``TlvRecords``
  construct, the tag table, the value types, every check) ÷ a hand-written
  ``struct`` decoder producing the same Python value (target ≤ 3).
- ``ffd_encode_ratio``: ``Document.encode`` ÷ a hand-written ``struct``
  encoder producing the same bytes (target ≤ 3).
- ``ffd_declarative_framing_ratio`` and ``ffd_declarative_compiled_framing_ratio``:
  only the framing of the receipt's TLVs with the declarative schema
  ``GreedyRange(Struct(tag, length, Bytes(this.length)))``, interpreted and
  compiled, ÷ a ``struct`` loop: why the codec's framing is its own
  construct class (see ``wire/ffd/tlv.py``). The compiled schema is only
  measured here, on the bench's own bytes; the codec never parses input with
  a compiled schema.

The baselines are checked to give the codec's results (the same fields, the
same bytes) before anything is timed.
"""

from __future__ import annotations

import datetime as dt
import struct
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from construct import Bytes, GreedyRange, Int16ul, Struct, this

from emulator.rules.ffdtags import TAGS
from emulator.wire.ffd.document import Document
from emulator.wire.ffd.tlv import Field

DECODE_TARGET = 3.0
ENCODE_TARGET = 3.0
ITEMS = 10
MARKED = 4

_HEAD = struct.Struct("<HH")
_U32 = struct.Struct("<I")
_EPOCH = dt.datetime(1970, 1, 1)


def typical_receipt(items: int = ITEMS, marked: int = MARKED) -> Document:
    """A receipt of ``items`` positions, the first ``marked`` of them marked."""
    positions: list[Field] = []
    total = 0
    for i in range(items):
        price = 8990 + 1000 * i
        quantity = Decimal("1.000") if i % 3 else Decimal("2")
        cost = int(price * quantity)
        total += cost
        item: list[Field] = [
            (1030, f"Товар номер {i + 1} упаковка"), (1079, price), (1023, quantity), (2108, 0),
            (1043, cost), (1199, 1), (1212, 33 if i < marked else 1), (1214, 4),
        ]
        if i < marked:
            serial = f"5ABC{i:03d}xyz{i:02d}"
            item += [
                (1163, ((1305, f"04600439931256{serial}"),)),
                (2000, f"0104600439931256215{serial}\x1d93dGVz"),
                (1260, ((1262, "030"), (1263, "21.11.2023"), (1264, "1944"),
                        (1265, f"UUID=2ce10bdb-6510-4d37-be04-dd473b98c7{i:02d}&Time=16926917020{i:02d}"))),
                (2106, 15), (2102, 0),
            ]
        positions.append((1059, tuple(item)))
    fields: list[Field] = [
        (1048, "ООО \"Ромашка\""), (1018, "7702203276"), (1009, "г. Москва, ул. Тверская, д. 1"),
        (1187, "Магазин №1"), (1037, "0000000005008570"), (1041, "9999078900005488"),
        (1012, dt.datetime(2024, 3, 1, 12, 30, 5)), (1021, "Кассир Иванова"), (1203, "771234567890"),
        (1054, 1), (1055, 1), (1209, 4), (1038, 12), (1042, 37),
        *positions,
        (1020, total), (1031, total), (1081, 0), (1215, 0), (1216, 0), (1217, 0), (2107, False),
        (1040, 123), (1077, bytes.fromhex("3104aa107541")),
    ]
    return Document(3, tuple(fields))


# --- the hand-written struct baseline ----------------------------------------------

def baseline_decode(data: bytes) -> Document:
    """The document STLV ``data`` decoded with ``struct`` and the tag table only."""
    tag, length = _HEAD.unpack_from(data, 0)
    return Document(tag, _baseline_level(data, 4, 4 + length))


def _baseline_level(data: bytes, at: int, end: int) -> tuple[Field, ...]:
    out: list[Field] = []
    unpack = _HEAD.unpack_from
    while at < end:
        tag, length = unpack(data, at)
        first = at + 4
        raw = data[first:first + length]
        s = TAGS.get(tag)
        kind = s.type if s is not None else "bytes"
        value: Any
        if kind == "stlv":
            value = _baseline_level(data, first, first + length)
        elif kind == "string":
            value = raw.decode("cp866")
            if s is not None and s.fixed_len is not None:
                value = value.rstrip(" ")
        elif kind in ("byte", "vln"):
            value = int.from_bytes(raw, "little")
        elif kind == "bool":
            value = raw == b"\x01"
        elif kind == "u32":
            value = _U32.unpack(raw)[0]
        elif kind == "fvln":
            value = Decimal(int.from_bytes(raw[1:], "little")).scaleb(-raw[0])
        elif kind == "unixtime":
            value = _EPOCH + dt.timedelta(seconds=_U32.unpack(raw)[0])
        else:
            value = raw
        out.append((tag, value))
        at = first + length
    return tuple(out)


def baseline_encode(doc: Document) -> bytes:
    """The document STLV of ``doc`` built with ``struct`` and the tag table only."""
    return _baseline_fields(((doc.doc_type, doc.fields),))


def _baseline_fields(fields: tuple[Field, ...]) -> bytes:
    parts: list[bytes] = []
    pack = _HEAD.pack
    for tag, value in fields:
        s = TAGS.get(tag)
        kind = s.type if s is not None else "bytes"
        if kind == "stlv":
            raw = _baseline_fields(value)
        elif kind == "string":
            raw = value.encode("cp866")
            if s is not None and s.fixed_len is not None:
                raw = raw.ljust(s.fixed_len, b" ")
        elif kind == "byte":
            raw = bytes((value,))
        elif kind == "bool":
            raw = b"\x01" if value else b"\x00"
        elif kind == "u32":
            raw = _U32.pack(value)
        elif kind == "vln":
            raw = value.to_bytes((value.bit_length() + 7) // 8, "little")
        elif kind == "fvln":
            _, digits, exponent = value.as_tuple()
            mantissa = int("".join(map(str, digits)))
            raw = bytes((-exponent,)) + mantissa.to_bytes((mantissa.bit_length() + 7) // 8, "little")
        elif kind == "unixtime":
            raw = _U32.pack((value - _EPOCH) // dt.timedelta(seconds=1))
        else:
            raw = bytes(value)
        parts.append(pack(tag, len(raw)) + raw)
    return b"".join(parts)


# --- framing only: the declarative schema against a struct loop ---------------------

_DECLARATIVE = GreedyRange(Struct("tag" / Int16ul, "length" / Int16ul, "value" / Bytes(this.length)))


def _stlv_runs(data: bytes) -> list[bytes]:
    """Every run of TLVs in the document (its content and each nested STLV's)."""
    runs: list[bytes] = []

    def walk(at: int, end: int) -> None:
        runs.append(data[at:end])
        while at < end:
            tag, length = _HEAD.unpack_from(data, at)
            s = TAGS.get(tag)
            if s is not None and s.type == "stlv":
                walk(at + 4, at + 4 + length)
            at += 4 + length

    walk(4, len(data))
    return runs


def _struct_framing(runs: list[bytes]) -> int:
    n = 0
    unpack = _HEAD.unpack_from
    for run in runs:
        at = 0
        while at < len(run):
            _, length = unpack(run, at)
            n += 1
            at += 4 + length
    return n


def _best_us(fn: Callable[[], object], repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat * 1e6


def _alternate(pairs: dict[str, tuple[Callable[[], object], int]], rounds: int) -> dict[str, float]:
    """The best of ``rounds`` rounds of each function (µs a call), the functions
    taking turns within each round; each entry is (function, calls a round)."""
    best = {k: float("inf") for k in pairs}
    for _ in range(rounds):
        for key, (fn, repeat) in pairs.items():
            best[key] = min(best[key], _best_us(fn, repeat))
    return best


def run_ffd(quick: bool = False) -> dict[str, Any]:
    """The codec figures (see the module docstring)."""
    doc = typical_receipt()
    raw = doc.encode()
    # The baselines must do the same work: same fields decoded, same bytes built.
    if baseline_decode(raw) != Document.decode(raw) or baseline_encode(doc) != raw:
        raise AssertionError("the struct baseline disagrees with the codec")
    runs = _stlv_runs(raw)
    compiled = _DECLARATIVE.compile()
    tlvs = _struct_framing(runs)
    if sum(len(_DECLARATIVE.parse(r)) for r in runs) != tlvs or sum(len(compiled.parse(r)) for r in runs) != tlvs:
        raise AssertionError("the declarative schema disagrees with the struct framing")
    n, rounds = (20, 2) if quick else (200, 5)
    slow = max(1, n // 20)       # the declarative schema is ~100x slower: fewer calls
    t = _alternate({
        "decode": (lambda: Document.decode(raw), n),
        "baseline_decode": (lambda: baseline_decode(raw), n),
        "encode": (doc.encode, n),
        "baseline_encode": (lambda: baseline_encode(doc), n),
        "framing_struct": (lambda: _struct_framing(runs), n),
        "framing_declarative": (lambda: [_DECLARATIVE.parse(r) for r in runs], slow),
        "framing_compiled": (lambda: [compiled.parse(r) for r in runs], slow),
    }, rounds)
    decode_ratio = t["decode"] / t["baseline_decode"]
    encode_ratio = t["encode"] / t["baseline_encode"]
    return {
        "ffd_receipt_bytes": len(raw),
        "ffd_receipt_tlvs": tlvs,
        "ffd_decode_us": round(t["decode"], 1),
        "ffd_baseline_decode_us": round(t["baseline_decode"], 1),
        "ffd_decode_ratio": round(decode_ratio, 2),
        "ffd_decode_met": decode_ratio <= DECODE_TARGET,
        "ffd_encode_us": round(t["encode"], 1),
        "ffd_baseline_encode_us": round(t["baseline_encode"], 1),
        "ffd_encode_ratio": round(encode_ratio, 2),
        "ffd_encode_met": encode_ratio <= ENCODE_TARGET,
        "ffd_declarative_framing_ratio": round(t["framing_declarative"] / t["framing_struct"], 1),
        "ffd_declarative_compiled_framing_ratio": round(t["framing_compiled"] / t["framing_struct"], 1),
    }
