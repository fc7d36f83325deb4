"""The ПРРО benchmark: every receipt through the ПРРО and the tax server's HTTP front, against a bare round trip."""

from emulator.bench.prro import run_prro


def test_the_prro_benchmark_reports_receipts_against_bare_http():
    r = run_prro(quick=True)
    assert set(r) == {"prro_receipts_per_s", "prro_bare_http_per_s", "prro_bare_http_ratio",
                      "prro_in_process_receipts_per_s"}
    assert r["prro_receipts_per_s"] > 0 and r["prro_in_process_receipts_per_s"] > 0
    # a receipt is a bare round trip plus signing, storing, verifying and OCSP: never cheaper
    assert r["prro_bare_http_ratio"] > 1
