"""Fuzz targets, one module per parser that sees outside input.

Every target runs in CI with a fixed budget (``FUZZ_EXAMPLES`` cases,
overridable by the environment variable ``KKT_EMU_FUZZ_EXAMPLES``) and keeps
the examples Hypothesis found in ``tests/fuzz/examples/`` (committed), so a
regression once found is replayed first on every later run.
"""
