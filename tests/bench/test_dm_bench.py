"""The Device Manager benchmark: /dm/execute through the whole stack against a bare starlette endpoint."""

from emulator.bench.dm import run_dm


def test_the_dm_benchmark_reports_requests_against_bare_http():
    r = run_dm(quick=True)
    assert set(r) == {"dm_receipts_per_s", "dm_bare_http_per_s", "dm_bare_http_ratio"}
    assert r["dm_receipts_per_s"] > 0 and r["dm_bare_http_per_s"] > 0
    # the DM's request is the bare round trip plus the envelope, the receipt, the ПРРО, the tax server and the database: never cheaper
    assert r["dm_bare_http_ratio"] > 1
