"""The store simulation includes the fiscal half: every receipt a document, delivered, every marked position an ОИСМ exchange."""

from emulator.bench.days import BenchConfig, run


def test_two_days_make_every_document_and_deliver_it() -> None:
    r = run(BenchConfig(days=2, receipts=12, marked=2))
    assert r["receipts_closed"] == 24
    # the registration report, then per day: shift opened, 12 receipts, shift closed
    assert r["fiscal_documents"] == 1 + 2 * (1 + 12 + 1)
    assert r["ofd_acknowledged"] == r["fiscal_documents"] and r["ofd_pending"] == 0
    assert r["oism_requests"] == r["marked_positions"] == 48


def test_the_fiscal_split_is_measured_in_the_same_run() -> None:
    r = run(BenchConfig(days=1, receipts=20, marked=2, sample_every=3))
    # every exchange counted: each document to the OFD, each marked position's 81, each receipt's 82
    assert r["fiscal_exchanges"] == r["fiscal_documents"] + r["oism_requests"] + r["receipts_closed"]
    assert 0 < r["device_only_wall_s"] < r["wall_s"]
    assert r["fiscal_wall_s"] == round(r["wall_s"] - r["device_only_wall_s"], 3)
    # the codec is measured against the struct baseline on the same documents (checked equal inside)
    assert r["codec_us_per_exchange"] > 0 and r["struct_floor_us_per_exchange"] > 0
    assert r["struct_floor_s"] > 0
    assert r["fiscal_budget_us_per_exchange"] == round((5.0 - r["device_only_wall_s"]) / r["fiscal_exchanges"] * 1e6, 1)


def test_without_the_fiscal_half_nothing_fiscal_is_reported() -> None:
    r = run(BenchConfig(days=1, receipts=5, marked=1, fiscal=False))
    assert "fiscal_documents" not in r and "fiscal_exchanges" not in r and r["receipts_closed"] == 5
