"""The store simulation includes the fiscal half: every receipt a document, delivered, every marked position an ОИСМ exchange."""

from emulator.bench.days import BenchConfig, run


def test_two_days_make_every_document_and_deliver_it() -> None:
    r = run(BenchConfig(days=2, receipts=12, marked=2))
    assert r["receipts_closed"] == 24
    # the registration report, then per day: shift opened, 12 receipts, shift closed
    assert r["fiscal_documents"] == 1 + 2 * (1 + 12 + 1)
    assert r["ofd_acknowledged"] == r["fiscal_documents"] and r["ofd_pending"] == 0
    assert r["oism_requests"] == r["marked_positions"] == 48
