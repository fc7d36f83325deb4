"""Fuzz target: the scenario loader (also `serve --config`'s) on any text.

Any input gives scenarios or a ScenarioError of one-line problems, in bounded time."""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st

from emulator.scenario.model import ScenarioError, load_text
from tests.fuzz.budget import fuzz

PIECES = ["name: x\n", "steps:\n", "  - settle: {}\n", "  - advance: ", "1h\n", "&a ", "*a ", "[", "]", "{", "}",
          "- ", "  ", "\n", ": ", "device: {log_seq: ", "99999999999999999999", "}\n", "start: ", "2026-13-45\n",
          "world: ", "hosts: {cdn01.crpt.ru: {latency_ms: ", "!!binary ", "? ", "|\n", "'", '"', "#", "<<: ",
          "scenarios:\n", "  - sale: {code: x, price: ", "answer: no", "\t", "%YAML 1.1\n", "---\n", "...\n"]
TEXT = st.one_of(st.lists(st.sampled_from(PIECES), max_size=40).map("".join), st.text(max_size=300))


@fuzz("scenario_loader")
@given(text=TEXT)
def test_the_loader_gives_scenarios_or_one_line_problems(text: str) -> None:
    t0 = time.monotonic()
    try:
        load_text(text, "fuzz.yaml")
    except ScenarioError as exc:
        assert exc.problems and all(isinstance(p, str) and "\n" not in p for p in exc.problems)
    assert time.monotonic() - t0 < 2.0
