"""Fuzz target: the log explainer (``explain``), on text shaped like records and on any text.

It never raises, finds the header of a record however it was re-spaced or
broken, and takes bounded time per case (the bound is asserted here; the
pathological inputs of ``tests/rules/test_explain_time.py`` are far larger).
"""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st

from emulator.rules.explain import explain
from tests.fuzz.budget import fuzz
from tests.seed_examples import SEED_754, SEED_758

BOUND_S = 2.0
pieces = st.sampled_from(["ГИС МТ", "\t", " ", "\n", "758", "[", "]", "9812", "UUID", "=", "&", "Time", ":",
                          "Найден", "Да", "Нет", "-", "Цена", "Макс", "ВремяОбработки", "мс", "2106", ",", "\u00a0",
                          "\r", "07-02-2106 09:28:15", "4ac3d96d", " " * 300, "1 " * 100])


def _timed(text):
    t = time.process_time()
    out = explain(text)
    assert time.process_time() - t < BOUND_S
    for e in out:
        assert isinstance(e.text(), str) and e.to_json()["code"] == e.code
    return out


@fuzz("explain")
@given(st.lists(st.one_of(pieces, st.text(max_size=20)), max_size=60).map("".join))
def test_record_like_text(text):
    _timed(text)


@fuzz("explain")
@given(st.sampled_from([SEED_758, SEED_754]), st.lists(st.sampled_from([" ", "\t"]), max_size=4),
       st.lists(st.tuples(st.integers(0, 400), st.sampled_from([" ", "  ", "\t", "\n ", "\r\n"])), max_size=6))
def test_a_record_re_spaced_keeps_its_header(record, head_blanks, inserts):
    head, body = record.split("\n", 1)
    source, code, seq = head.split("\t")
    text = "\n" + body
    for at, ws in sorted(inserts, reverse=True):
        at = min(at, len(text))
        if text[at - 1:at] in ("\t", " ", "\n") or text[at:at + 1] in ("\t", " "):
            text = text[:at] + ws + text[at:]          # only widen existing blanks
    text = source + "\t" + "".join(head_blanks) + code + "".join(head_blanks) + "\t" + seq + text
    [e] = _timed(text)
    assert (e.code, e.source, e.seq) == (int(code), "ГИС МТ", int(seq.strip("[]")))
