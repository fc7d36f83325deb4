"""The ПРРО console's line parser: any line is a step, nothing, or one line of ValueError."""

import time

from hypothesis import given
from hypothesis import strategies as st

from emulator.scenario.prro_console import parse_line
from tests.fuzz.budget import fuzz

WORDS = st.sampled_from(["sale", "advance", "issue_key", "register", "set_key", "open_shift", "cashier",
                         "employee", "fault", "sales", "expect", "x", "=", "key=", "'", '"', "#", "10.00", "-1",
                         "1e9", "name=a", "owner=b", "role=boss", "count=0", "count=5", "delay=zz"])


@fuzz("prro_console")
@given(st.one_of(st.text(max_size=200), st.lists(WORDS, max_size=8).map(" ".join)))
def test_any_line_parses_or_is_one_line_of_error(line):
    t0 = time.process_time()
    try:
        step = parse_line(line)
    except ValueError as exc:
        assert "\n" not in str(exc) and str(exc)
    else:
        assert step is None or step.kind
    assert time.process_time() - t0 < 2.0
