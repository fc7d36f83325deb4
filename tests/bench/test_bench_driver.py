"""``run_driver_bench(quick=True)``: the driver API benchmark runs end to end and reports a consistent shape.

Wall-clock figures: their target (≥ 0.5 of a bare starlette endpoint) is reported, not asserted.
"""

from __future__ import annotations

import math

import pytest

from emulator.bench.driver import TARGET, run_driver_bench


@pytest.fixture(scope="module")
def result() -> dict[str, object]:
    return run_driver_bench(quick=True)


def test_figures_and_flag(result: dict[str, object]) -> None:
    assert set(result) == {"driver_bare_per_s", "driver_getstatus_per_s", "driver_addgoods_per_s",
                           "driver_getstatus_ratio", "driver_addgoods_ratio", "driver_ratio_target",
                           "driver_ratio_met"}
    for key in ("driver_bare_per_s", "driver_getstatus_per_s", "driver_addgoods_per_s"):
        value = result[key]
        assert isinstance(value, float) and math.isfinite(value) and value > 0, (key, value)
    bare, status, add = (float(result[k]) for k in ("driver_bare_per_s", "driver_getstatus_per_s",  # type: ignore[arg-type]
                                                    "driver_addgoods_per_s"))
    assert result["driver_getstatus_ratio"] == pytest.approx(status / bare, rel=0.01, abs=0.002)
    assert result["driver_addgoods_ratio"] == pytest.approx(add / bare, rel=0.01, abs=0.002)
    assert result["driver_ratio_target"] == TARGET
    assert result["driver_ratio_met"] == (min(status, add) / bare >= TARGET - 0.002)
