"""``run_ffd(quick=True)``: the codec bench produces its figures (their values are not asserted:
they are wall-clock measurements; the targets are reported by the bench itself)."""

from __future__ import annotations

import math

from emulator.bench.ffd import baseline_decode, baseline_encode, run_ffd, typical_receipt
from emulator.wire.ffd.document import Document

FLOATS = ("ffd_decode_us", "ffd_baseline_decode_us", "ffd_decode_ratio", "ffd_encode_us",
          "ffd_baseline_encode_us", "ffd_encode_ratio", "ffd_declarative_framing_ratio",
          "ffd_declarative_compiled_framing_ratio")


def test_figures_are_produced() -> None:
    result = run_ffd(quick=True)
    assert set(result) == set(FLOATS) | {"ffd_receipt_bytes", "ffd_receipt_tlvs", "ffd_decode_met", "ffd_encode_met"}
    for key in FLOATS:
        assert isinstance(result[key], float) and math.isfinite(result[key]) and result[key] > 0, key
    assert isinstance(result["ffd_decode_met"], bool) and isinstance(result["ffd_encode_met"], bool)
    assert result["ffd_receipt_bytes"] == len(typical_receipt().encode()) and result["ffd_receipt_tlvs"] > 100


def test_the_baseline_does_the_same_work_as_the_codec() -> None:
    doc = typical_receipt()
    raw = doc.encode()
    assert baseline_encode(doc) == raw
    assert baseline_decode(raw) == Document.decode(raw) == doc
