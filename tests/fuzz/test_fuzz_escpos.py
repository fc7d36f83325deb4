"""Fuzz target: the ESC/POS parser, the printer session on it, and the paper render.

Whatever bytes arrive, in whatever chunks: nothing raises out of the parser or
the printer; the parser never holds more than one command's payload cap; the
events do not depend on how the stream was cut (text merged by style); the
paper stays within its bounds; time per case is bounded. The seeds are real
python-escpos receipts, pieces of them, and command headers with wild lengths.
"""

from __future__ import annotations

import time

from escpos.printer import Dummy
from hypothesis import given
from hypothesis import strategies as st

from emulator.base.clock import VirtualClock
from emulator.servers.escpos.model import PrinterModel
from emulator.wire.escpos.paper import MAX_RENDER_HEIGHT, Paper, render
from emulator.wire.escpos.parser import EscPosParser, Text
from tests.fuzz.budget import fuzz

BOUND_S = 2.0
CAP = 4096


def _receipts() -> list[bytes]:
    out = []
    for i in range(3):
        p = Dummy(profile="TM-T88V")
        p.charcode("CP1251" if i else "CP866")
        p.set(align=("left", "center", "right")[i], bold=bool(i), double_height=i == 2, normal_textsize=i != 2)
        p.textln(f"Рядок {i} «Ґ» {'x' * 30 * i}")
        p._hw_barcode("4820000000000", "EAN13", function_type="A")
        p._hw_barcode("{BAB-1", "CODE128", function_type="B", check=False)
        p.qr(f"https://example.invalid/{i}", native=True, size=3 + i)
        p.cut(mode="PART" if i else "FULL")
        p.cashdraw(2 if i else 5)
        out.append(bytes(p.output))
    return out


RECEIPTS = _receipts()
heads = st.sampled_from([b"\x1b", b"\x1d", b"\x10", b"\x1c", b"\x1dv0", b"\x1d(k", b"\x1d(L", b"\x1d8L",
                         b"\x1dk", b"\x1b*", b"\x1b&", b"\x1bD", b"\x10\x04", b"\x10\x14", b"\x1dV", b"\x1bp"])
commands = st.builds(lambda h, a: h + a, heads, st.binary(max_size=12))
pieces = st.one_of(
    st.binary(max_size=200),
    commands,
    st.builds(lambda r, i, j: r[min(i, j) % len(r):max(i, j) % len(r) + 1], st.sampled_from(RECEIPTS),
              st.integers(0, 10 ** 4), st.integers(0, 10 ** 4)),
    st.builds(lambda r, i, b: r[:i % len(r)] + bytes([b]) + r[i % len(r) + 1:], st.sampled_from(RECEIPTS),
              st.integers(0, 10 ** 4), st.integers(0, 255)),
)
streams = st.lists(pieces, max_size=12).map(b"".join)
cuts = st.lists(st.integers(1, 600), min_size=1, max_size=8)


def _normal(events: list) -> list:
    out: list = []
    for e in events:
        if isinstance(e, Text) and out and isinstance(out[-1], Text) and out[-1].style == e.style:
            out[-1] = Text(out[-1].text + e.text, e.style)
        else:
            out.append(e)
    return out


def _chunked(data: bytes, sizes: list[int]):
    i, k = 0, 0
    while i < len(data):
        n = sizes[k % len(sizes)]
        yield data[i:i + n]
        i, k = i + n, k + 1


@fuzz("escpos", examples=10_000)
@given(streams, cuts)
def test_parser_any_bytes_in_any_chunks(data, sizes):
    t = time.process_time()
    whole = EscPosParser(max_payload=CAP)
    expected = whole.feed(data)
    parser = EscPosParser(max_payload=CAP)
    got: list = []
    for chunk in _chunked(data, sizes):
        got += parser.feed(chunk)
        assert parser.buffered <= CAP + 8
    assert _normal(got) == _normal(expected)
    assert parser.buffered == whole.buffered
    paper = Paper(keep=5, max_elements=200)
    for e in got:
        paper.apply(e)
    assert len(paper.documents) <= 5 and len(paper.current.elements) < 200
    assert time.process_time() - t < BOUND_S


@fuzz("escpos_printer")
@given(streams, cuts, st.sampled_from([None, "paper_out", "cover_open", "paper_lines"]))
def test_printer_session_answers_any_bytes(data, sizes, fault):
    t = time.process_time()
    model = PrinterModel(VirtualClock(0), keep=5)
    if fault == "paper_lines":
        model.set_fault("paper_lines", 1)
    elif fault:
        model.set_fault(fault, True)
    session = model.session()
    replies = b"".join(session.receive(chunk) for chunk in _chunked(data, sizes))
    assert len(replies) <= data.count(b"\x10\x04") + data.count(b"\x1dr")
    if fault and fault != "paper_lines":
        model.set_fault(fault, False)
    elif fault:
        model.set_fault("paper_lines", None)
        model.set_fault("paper_out", False)
    assert model.held == 0 and len(model.documents) <= 5
    assert time.process_time() - t < BOUND_S


@fuzz("escpos_render")
@given(streams)
def test_render_any_document(data):
    t = time.process_time()
    paper = Paper(max_elements=200)
    for e in EscPosParser(max_payload=CAP).feed(data):
        paper.apply(e)
    for doc in [*paper.documents, paper.current]:
        img = render(doc)
        assert img.width == 512 + 32 and img.height <= 2 * MAX_RENDER_HEIGHT + 64
    assert time.process_time() - t < BOUND_S * 2
