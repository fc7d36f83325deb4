"""``kind: dm`` scenarios: the loader's refusals, expectations that can fail, faults, a kill and a restart."""

from __future__ import annotations

import pytest

from emulator.fronts.dm import manager
from emulator.fronts.dm.envelope import Answer
from emulator.fronts.dm.manager import Context
from emulator.scenario import ScenarioError, load_text, run_scenario
from emulator.scenario.dm import subset_problems

HEAD = "kind: dm\nname: t\nstart: '2026-01-15T09:00:00+02:00'\n"


def run(text: str):
    (sc,) = load_text(HEAD + text, "t.yaml")
    return run_scenario(sc)


@pytest.mark.parametrize("text,problem", [
    ("steps: [{fly: 1}]", "unknown DM step 'fly'"),
    ("steps: [{execute: 5}]", "execute takes a request body"),
    ("steps: [{execute: {body: 1}}]", "{body: {...}, query: {...}} or the body itself"),
    ("steps: [{get: /other}]", "get takes a path beginning /dm/"),
    ("steps: [{fault: 5}]", "fault takes a control line"),
    ("steps: [{advance: soon}]", ""),
    ("steps: [kill_dm, {restart: 1}]", "restart takes no argument"),
    ("steps: []", "steps: a non-empty list is required"),
    ("devices: {prro: []}\nsteps: [kill_dm]", "devices.prro: at least one ПРРО"),
    ("devices: {prro: [a], printers: [a]}\nsteps: [kill_dm]", "devices: each name once"),
    ("network: both\nsteps: [kill_dm]", "network: simulated or real"),
    ("colour: red\nsteps: [kill_dm]", "unknown key(s) colour"),
    ("config: {offline_allowed: 0}\nsteps: [kill_dm]", "config: a mapping of offline_allowed"),
    ("config: {vat: true}\nsteps: [kill_dm]", "config: a mapping of offline_allowed"),
])
def test_the_loader_names_each_problem(text: str, problem: str) -> None:
    with pytest.raises(ScenarioError) as err:
        load_text(HEAD + text, "t.yaml")
    assert problem in str(err.value)


def test_an_expectation_that_does_not_hold_fails_the_scenario() -> None:
    got = run("steps:\n  - execute: {fiscal: {task: 20}}\n  - expect: {res: 0, info: {fisid: '1'}}\n")
    assert not got.passed and "info.fisid: expected '1', got '4000002411'" in got.failures[0]
    got = run("steps:\n  - execute: {fiscal: {task: 99}}\n  - expect: {errortxt_of: [1058]}\n")
    assert not got.passed and "errortxt: expected the table's" in got.failures[0]
    got = run("steps:\n  - expect: {res: 0}\n")
    assert not got.passed and "expect before any request" in got.failures[0]


def test_a_bad_fault_line_fails_the_step() -> None:
    got = run("steps:\n  - fault: printer sideways\n")
    assert not got.passed and "error: printer:" in got.failures[0]


def test_subset_compares_types_and_lengths() -> None:
    assert subset_problems({"a": 1}, {"a": 1, "b": 2}) == []
    assert subset_problems({"a": 1}, {"a": "1"}) and subset_problems({"a": True}, {"a": 1})
    assert subset_problems({"a": [1]}, {"a": [1, 2]}) and subset_problems({"a": {"b": 1}}, {"a": 5})
    assert subset_problems({"s": 1.5}, {"s": 1.5}) == [] and subset_problems({"s": 1.5}, {"s": 1.51})


def test_a_tagged_fiscal_task_survives_a_kill_and_a_restart(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def counted(ctx: Context) -> Answer:
        calls.append(1)
        return Answer(info={"n": len(calls)})

    monkeypatch.setitem(manager.TASKS, ("prro", 79), (counted, True))
    text = ("steps:\n  - execute: {tag: T-1, fiscal: {task: 79}}\n  - expect: {res: 0, info: {n: 1}}\n"
            "  - kill_dm\n  - restart\n  - execute: {tag: T-1, fiscal: {task: 79}}\n  - expect: {info: {n: 1}}\n"
            "  - execute: {tag: T-1, type: 0}\n  - expect: {res: 0, info: {n: 1}}\n")
    got = run(text)
    assert got.passed, got.failures
    assert calls == [1]
    calls.clear()
    again = run(text + "  - execute: {tag: T-2, fiscal: {task: 79}}\n  - expect: {info: {n: 2}}\n")
    assert again.passed, again.failures
    assert calls == [1, 1]
    assert "the DM was killed" in got.log_text and "the DM restarted" in got.log_text


def test_the_log_holds_each_request_and_answer_and_replays() -> None:
    text = "steps:\n  - execute: {fiscal: {task: 20}}\n  - advance: 5m\n  - execute: {fiscal: {task: 20}}\n"
    one, two = run(text), run(text)
    assert one.passed and one.log_text == two.log_text
    lines = one.log_text.splitlines()
    assert lines[0].startswith("2026-01-15 07:00:00 → /dm/execute {") and lines[1].startswith("2026-01-15 07:00:00 ← {")
    assert lines[3].startswith("2026-01-15 07:05:00 ← {") and '"dt": "20260115090500"' in lines[3]
