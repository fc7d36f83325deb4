"""The Mercury driver service's JSON API (INECRMAN, incotex-kkt.md §14) in front of the emulated KKT."""
