"""Every bundled scenario passes, and replays byte for byte."""

from pathlib import Path

import pytest

from emulator.scenario import expand_paths, load_file, run_scenario
from emulator.scenario.runner import comparable_log

ROOT = Path(__file__).resolve().parent.parent / "scenarios"
SCENARIOS = [(path, i) for path in expand_paths([ROOT]) for i, _ in enumerate(load_file(path))]
# The GIS MT log of each scenario's first run, kept for the coverage check below (which runs after
# the parametrized runs in file order, and runs whatever it does not find here itself).
_LOGS: dict[tuple[Path, int], str] = {}


@pytest.mark.parametrize("path,index", SCENARIOS, ids=[f"{p.relative_to(ROOT)}#{i}" for p, i in SCENARIOS])
def test_bundled_scenario_passes_and_replays_identically(path, index):
    scenario = load_file(path)[index]
    first = run_scenario(scenario)
    assert first.passed, "\n".join(first.failures)
    _LOGS[(path, index)] = first.log_text
    second = run_scenario(load_file(path)[index])
    assert second.passed
    if scenario.network == "real":
        # Over real sockets only the measured times and the answers' timestamps may differ.
        assert comparable_log(second.log_text) == comparable_log(first.log_text)
    else:
        assert second.log_text == first.log_text
        assert second.virtual_ms == first.virtual_ms


def test_the_seed_examples_are_covered():
    texts = {run_scenario(load_file(ROOT / "decisions" / name)[0]).log_text
             for name in ("seed_758_price_above_mrp.yaml", "seed_754_withdrawn.yaml")}
    assert any(t.startswith("ГИС МТ\t758\t[9812]\n") for t in texts)
    assert any(t.startswith("ГИС МТ\t754\t[5735]\n") for t in texts)


def test_every_permit_error_code_is_reached_by_some_bundled_scenario():
    codes: set[int] = set()
    for path, index in SCENARIOS:
        if path.relative_to(ROOT).parts[0] in ("prro", "dm"):
            continue        # the ПРРО's and the DM's scenarios log their journal and requests, not GIS MT records
        log = _LOGS.get((path, index))
        if log is None:
            log = run_scenario(load_file(path)[index]).log_text
        codes |= {int(block.split("\t")[1]) for block in log.split("\n\n") if block}
    wanted = {747, 748, 749, 750, 751, 752, 753, 754, 755, 756, 757, 758, 760, 761, 762, 764, 765, 766, 768}
    assert wanted <= codes, f"never logged: {sorted(wanted - codes)}"
