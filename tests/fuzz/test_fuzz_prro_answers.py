"""The ПРРО reading any answer of a tax server: a fiscal number or messages, never another exception, bounded."""

import time

from hypothesis import given
from hypothesis import strategies as st

from emulator.devices.prro.answers import read_doc_answer, read_error, read_package_answer
from emulator.devices.prro.messages import message_table
from tests.fuzz.budget import fuzz

STATUSES = st.sampled_from([200, 204, 400, 401, 403, 404, 415, 416, 500, 503])
BODIES = st.one_of(
    st.binary(max_size=4096),
    st.text(max_size=300).map(lambda t: t.encode("utf-8")),
    st.builds(lambda n, name, text: f"Код помилки: {n} {name}\r\n{text}".encode(),
              st.integers(-20, 99), st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef", max_size=30), st.text(max_size=200)),
    st.builds(lambda n, m: f'{{"ErrorCode": {n}, "ErrorMessage": {m}}}'.encode(),
              st.sampled_from(["12", "4", "\"x\"", "null", "1e999", "[]"]), st.sampled_from(['"a"', "1", "null"])),
    st.just(b"\x30\x82\xff\xff"),
)


@fuzz("prro_answers")
@given(STATUSES, BODIES)
def test_any_answer_gives_a_result_with_known_messages(status, body):
    t0 = time.process_time()
    for got in (read_doc_answer(status, body), read_package_answer(status, body), read_error(status, body)):
        assert isinstance(got.ok, bool)
        for m in got.messages:
            assert m.startswith("@") or m in message_table()
        assert len(got.error_line) <= 300
    assert time.process_time() - t0 < 2.0
