"""The KKT's command processor: driver commands (INECRMAN's, incotex-kkt.md §14) run on the device core."""
