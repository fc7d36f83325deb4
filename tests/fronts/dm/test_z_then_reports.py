"""The Z-reports task 11 stores are what the consolidated reports 12 and 13 read (not "damaged", 1060)."""

from __future__ import annotations

from emulator.world.dm import DmWorld


def test_a_real_z_report_is_summed_by_tasks_12_and_13() -> None:
    with DmWorld(start_ms=1_767_261_600_000) as w:        # 2026-01-01 12:00 Kyiv
        w.add_prro("kasa")

        def ex(fiscal: dict) -> dict:
            return w.dm.execute("execute", {"device": "kasa", "fiscal": fiscal})

        for day in range(2):
            assert ex({"task": 0})["res"] == 0
            got = ex({"task": 1, "receipt": {"sum": 10 + day, "rows": [
                {"name": "Хліб", "cnt": 1, "price": 10 + day, "taxgrp": 1}], "pays": [{"type": 0, "sum": 10 + day}]}})
            assert got["res"] == 0, got
            z = ex({"task": 11})
            assert z["res"] == 0 and z["info"]["summary"]["calc_p"] == 10.0 + day
            w.clock.advance(86_400_000)
        by_number = ex({"task": 12, "n_from": 1, "n_to": 2})
        by_date = ex({"task": 13, "dt_from": "01.01.2026", "dt_to": "02.01.2026"})
        for rep in (by_number, by_date):
            assert rep["res"] == 0, rep
            assert rep["info"]["summary"]["calc_p"] == 21.0 and rep["info"]["count"] == 2
