"""The ПРРО tasks of ``/dm/execute`` (reference §3.1, §3.7) over ``devices.prro.PrroDevice``."""

from __future__ import annotations

from emulator.fronts.dm.envelope import Answer
from emulator.fronts.dm.manager import Context, prro_task


@prro_task(20, fiscal=False)
def fiscal_number(ctx: Context) -> Answer:
    """Task 20: the ПРРО's fiscal number."""
    return Answer(info={"fisid": ctx.prro.device.identity.fiscal_num})
