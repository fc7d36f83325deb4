"""``run_serial(quick=True)``: the serial round-trip bench runs over real ptys and reports sane figures."""

from emulator.bench.serial import run_serial


def test_the_serial_bench_reports_round_trips_and_a_ratio():
    r = run_serial(quick=True)
    assert r["serial_frame_bytes"] > 14                   # header + CRC + a JSON request
    assert 0 < r["serial_echo_round_trip_us"] < 50_000 and 0 < r["serial_round_trip_us"] < 100_000
    assert abs(r["serial_echo_ratio"] - r["serial_round_trip_us"] / r["serial_echo_round_trip_us"]) < 0.05
