"""Round trips: any valid fields (every tag of the table, values within its limits)
encode, decode to the same Python value, and encode again to the same bytes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from emulator.rules.ffdtags import TAGS, TagSpec
from emulator.wire.ffd.document import DOC_TYPES, Document
from emulator.wire.ffd.tlv import FfdError, Field, decode_fields, encode_fields
from emulator.wire.ffd.values import EPOCH, U32_MAX

REQUISITES = sorted(t for t in TAGS if t not in DOC_TYPES)
LEAVES = [t for t in REQUISITES if TAGS[t].type != "stlv"]
STLVS = [t for t in REQUISITES if TAGS[t].type == "stlv"]


def cp866(n: int) -> st.SearchStrategy[str]:
    return st.binary(max_size=n).map(lambda b: b.decode("cp866"))


def value_of(s: TagSpec) -> st.SearchStrategy[object]:
    if s.type == "string":
        if s.fixed_len is not None:
            return cp866(s.fixed_len).map(lambda t: t.rstrip(" "))   # the padding is not part of the value
        return cp866(min(s.max_len or 64, 64))
    if s.type == "byte":
        return st.integers(0, 255)
    if s.type == "bool":
        return st.booleans()
    if s.type == "u32":
        return st.integers(0, U32_MAX)
    if s.type == "vln":
        return st.integers(0, 2 ** (8 * min(s.max_len or 8, 8)) - 1)
    if s.type == "fvln":
        room = min((s.max_len or 9) - 1, 8)
        return st.builds(lambda m, p: Decimal(m).scaleb(-p), st.integers(0, 2 ** (8 * room) - 1), st.integers(0, 12))
    if s.type == "unixtime":
        return st.integers(0, U32_MAX).map(lambda sec: EPOCH + dt.timedelta(seconds=sec))
    if s.type == "fpd":
        return st.binary(min_size=s.fixed_len or 6, max_size=s.fixed_len or 6)
    return st.binary(max_size=min(s.max_len or 64, 64))


leaf = st.sampled_from(LEAVES).flatmap(lambda t: st.tuples(st.just(t), value_of(TAGS[t])))
unknown = st.tuples(st.integers(0, 0xFFFF).filter(lambda t: t not in TAGS), st.binary(max_size=20))
fields = st.recursive(
    st.lists(st.one_of(leaf, unknown), max_size=4).map(tuple),
    lambda inner: st.lists(st.one_of(leaf, st.tuples(st.sampled_from(STLVS), inner)), max_size=4).map(tuple),
    max_leaves=12,
)


def _encode_or_skip(fs: tuple[Field, ...]) -> bytes:
    try:
        return encode_fields(fs)
    except FfdError as exc:       # a random nest may outgrow an STLV's size limit or the depth bound
        assume("at most" not in exc.text and "nested deeper" not in exc.text)
        raise


@settings(max_examples=400, deadline=None)
@given(fields)
def test_fields_round_trip(fs: tuple[Field, ...]) -> None:
    raw = _encode_or_skip(fs)
    back = decode_fields(raw)
    assert back == fs
    assert encode_fields(back) == raw


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(sorted(DOC_TYPES)), fields)
def test_documents_round_trip(doc_type: int, fs: tuple[Field, ...]) -> None:
    doc = Document(doc_type, fs)
    try:
        raw = doc.encode()
    except FfdError as exc:
        assume("at most" not in exc.text and "nested deeper" not in exc.text)
        raise
    assert Document.decode(raw) == doc and Document.decode(raw).encode() == raw
