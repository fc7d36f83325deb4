"""``run_net(quick=True)``: the real-network bench runs end to end and reports sane figures.

Only the shape is checked (keys, types, positive finite numbers): the figures are
wall-clock measurements, so their targets are reported, never asserted here.
"""

from __future__ import annotations

import math

import pytest

from emulator.bench.net import DEVICE_OVERHEAD_TARGET, THROUGHPUT_TARGET, run_net

FLOATS = (
    "net_device_check_ms", "net_bare_httpx_check_ms", "net_device_check_p90_ms", "net_bare_httpx_check_p90_ms",
    "net_device_overhead_ratio", "net_device_overhead_target",
    "mock_checks_per_s", "bare_starlette_per_s", "mock_throughput_ratio", "mock_throughput_target",
    "mock_serial_check_ms", "bare_starlette_serial_ms", "net_wall_s",
)
INTS = ("net_positions", "net_device_checks", "throughput_requests", "throughput_concurrency",
        "throughput_rounds", "throughput_answer_bytes")
BOOLS = ("net_device_overhead_met", "mock_throughput_met")


@pytest.fixture(scope="module")
def result() -> dict[str, object]:
    return run_net(quick=True)


def test_keys_are_exactly_the_documented_ones(result: dict[str, object]) -> None:
    assert set(result) == set(FLOATS) | set(INTS) | set(BOOLS)


@pytest.mark.parametrize("key", FLOATS)
def test_figures_are_positive_finite_floats(result: dict[str, object], key: str) -> None:
    value = result[key]
    assert isinstance(value, float), (key, value)
    assert math.isfinite(value) and value > 0, (key, value)


@pytest.mark.parametrize("key", INTS)
def test_counts_are_positive_ints(result: dict[str, object], key: str) -> None:
    value = result[key]
    assert isinstance(value, int) and not isinstance(value, bool), (key, value)
    assert value > 0, (key, value)


@pytest.mark.parametrize("key", BOOLS)
def test_flags_are_bools(result: dict[str, object], key: str) -> None:
    assert isinstance(result[key], bool)


def test_flags_and_ratios_agree_with_the_figures(result: dict[str, object]) -> None:
    # Consistency of the report, not a timing assertion.
    assert result["net_device_overhead_target"] == DEVICE_OVERHEAD_TARGET
    assert result["mock_throughput_target"] == THROUGHPUT_TARGET
    dev, bare = result["net_device_check_ms"], result["net_bare_httpx_check_ms"]
    assert isinstance(dev, float) and isinstance(bare, float)
    assert result["net_device_overhead_ratio"] == pytest.approx(dev / bare, rel=0.01, abs=0.001)
    mock, star = result["mock_checks_per_s"], result["bare_starlette_per_s"]
    assert isinstance(mock, float) and isinstance(star, float)
    assert result["mock_throughput_ratio"] == pytest.approx(mock / star, rel=0.01, abs=0.001)
    dev_ratio, mock_ratio = result["net_device_overhead_ratio"], result["mock_throughput_ratio"]
    assert isinstance(dev_ratio, float) and isinstance(mock_ratio, float)
    assert result["net_device_overhead_met"] == (dev_ratio <= DEVICE_OVERHEAD_TARGET)
    assert result["mock_throughput_met"] == (mock_ratio >= THROUGHPUT_TARGET)


def test_every_measured_position_was_checked_by_the_device(result: dict[str, object]) -> None:
    positions, checks = result["net_positions"], result["net_device_checks"]
    assert isinstance(positions, int) and isinstance(checks, int)
    assert positions % 10 == 0          # whole receipts of 10
    assert checks >= positions          # warm-up receipts are checked too
