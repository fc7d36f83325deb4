"""Fuzz targets: the ECR JSON framing (``Splitter``) and the emulated terminal behind it.

Whatever bytes arrive, in whatever chunks: the splitter never raises, never buffers more than its cap,
and finds every good message sent between pieces of garbage, in order. Whatever messages the terminal
gets (any method, any string params), it answers with messages or nothing and never raises; its state
stays consistent. Time per case is bounded.
"""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st

from emulator.base.clock import VirtualClock
from emulator.servers.bankterm.model import OPERATIONS, BankTerminal, Close
from emulator.wire.ecrjson import Bad, Message, Splitter, encode
from tests.fuzz.budget import fuzz

BOUND_S = 2.0
CAP = 512
text = st.text(max_size=12)
methods = st.sampled_from(sorted(OPERATIONS | {"PingDevice", "GetTerminalInfo", "GetReceiptInfo", "ServiceMessage",
                                               "X", ""}))
params = st.dictionaries(st.sampled_from(["amount", "merchantId", "rrn", "invoiceNumber", "msgType", "x"]),
                         st.one_of(text, st.sampled_from(["0", "1", "12.50", "0,60", "interrupt", "identify",
                                                          "getLastResult", "getMaskList", "debug"])), max_size=4)
messages = st.builds(Message, methods, params)
noise = st.binary(max_size=60).map(lambda b: b.replace(b"\x00", b""))


@fuzz("ecrjson", examples=10_000)
@given(st.lists(st.tuples(noise, st.one_of(st.none(), messages)), max_size=6),
       st.lists(st.integers(1, 300), min_size=1, max_size=4))
def test_any_bytes_in_any_chunks(pieces, cuts):
    data = b"".join(n + b"\x00" + (encode(m) if m is not None else b"") for n, m in pieces)
    sent = [m for _, m in pieces if m is not None]
    s = Splitter(max_message=CAP)
    t = time.process_time()
    got, i, k = [], 0, 0
    while i < len(data):
        n = cuts[k % len(cuts)]
        for e in s.feed(data[i:i + n]):
            assert isinstance(e, (Message, Bad))
            if isinstance(e, Message):
                got.append(e)
        assert s.buffered <= CAP
        i, k = i + n, k + 1
    assert time.process_time() - t < BOUND_S
    fits = [m for m in sent if len(encode(m)) - 1 <= CAP]
    it = iter(got)
    assert all(any(g == m for g in it) for m in fits)      # every good message that fits, in order


@fuzz("bankterm_model", examples=1_000)
@given(st.lists(st.tuples(messages, st.integers(0, 400_000)), max_size=8),
       st.lists(st.sampled_from(["ok", "lose_answer", "lose_request", "close", "no_host", "log_full"]), max_size=4))
def test_any_messages_to_the_terminal(steps, plan):
    clock = VirtualClock(1_780_000_000_000)
    term = BankTerminal(lambda: clock.now_ms)
    term.faults.plan(plan)
    t = time.process_time()
    for msg, wait in steps:
        for out in term.handle(msg) + term.poll():
            assert isinstance(out, (Message, Close))
            if isinstance(out, Message):
                assert all(isinstance(v, str) for v in out.params.values())
                assert len(encode(out)) < 8_192
        clock.advance(wait)
        term.poll()
        assert term.busy == (term.next_due() is not None)
        assert term.last_stat == 0 or term.busy
    assert time.process_time() - t < BOUND_S
    assert all(txn.status in "1234" for txn in term.batch)
