"""``run_ofd(quick=True)``: the OFD loopback bench runs end to end and reports sane figures."""

from emulator.bench.ofd import run_ofd


def test_the_ofd_bench_reports_rates_and_a_ratio():
    r = run_ofd(quick=True)
    assert r["ofd_message_bytes"] > 1000          # the typical receipt: 10 items, 4 marked
    assert r["ofd_docs_per_s"] > 50 and r["ofd_echo_docs_per_s"] > r["ofd_docs_per_s"] / 2
    assert r["ofd_echo_ratio"] == round(r["ofd_echo_docs_per_s"] / r["ofd_docs_per_s"], 2) or \
        abs(r["ofd_echo_ratio"] - r["ofd_echo_docs_per_s"] / r["ofd_docs_per_s"]) < 0.05
