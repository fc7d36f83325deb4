"""Fuzz target: serve's console lines. Any line is survived: a message, never an exception
(``Console.internal_errors`` stays 0), in bounded time."""

import time

from hypothesis import given
from hypothesis import strategies as st

from tests.fronts.test_console import console
from tests.fuzz.budget import fuzz

VERBS = ["press", "keys", "scan", "scan-image", "type", "goto", "screen", "log", "record", "cdn", "hosts",
         "host", "token", "code", "world", "exchange", "help", "nosuch", ""]
WORDS = ["ИТ", "ПИ", "С", "РЕЖ", "00", "3", "+", "-", "cdn01.crpt.ru", "cdn.crpt.ru", "down", "up", "latency",
         "plan", "repeat", "tls", "expired", "stall", "emergency", "on", "off", "add", "block", "prod", "sandbox",
         "500", "5000", "refuse", "-1", "99999999999999999999", "{", "}", '{"down": true}', '{"plan": [1e400]}',
         '{"codes": [{}]}', "[]", "<GS>", "'", '"', "\\", "/dev/null", ".", "СТАТУС ГИС МТ", "СКАНИРОВ.ТОКЕН"]
lines = st.builds(lambda verb, args: " ".join([verb, *args]), st.sampled_from(VERBS),
                  st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=20)), max_size=5))


@fuzz("console")
@given(st.lists(st.one_of(lines, st.text(max_size=60)), min_size=1, max_size=6))
def test_any_console_line_is_survived(batch):
    con, out, _ = console()
    for line in batch:
        start = time.monotonic()
        con.command(line)
        assert time.monotonic() - start < 20.0     # a command lets the device settle for at most 15 s
        assert con.internal_errors == 0, (line, out[-3:])
