"""The shared budget and example database of the fuzz targets.

The targets assert their time bounds on the process's CPU time (``time.process_time``, every
thread of the test process): a pathological input that makes a parser work too long fails, a
stall of a loaded machine (the other half of the suite, a browser starting) does not.
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

EXAMPLES_DIR = Path(__file__).parent / "examples"
FUZZ_EXAMPLES = int(os.environ.get("KKT_EMU_FUZZ_EXAMPLES", "300"))


def fuzz(name: str, examples: int | None = None) -> settings:
    """Settings for the fuzz target ``name``: a fixed case budget, no deadline
    (time bounds are asserted by the targets themselves), and the target's
    own directory of found examples in the repository."""
    return settings(
        max_examples=examples if examples is not None else FUZZ_EXAMPLES,
        deadline=None,
        database=DirectoryBasedExampleDatabase(str(EXAMPLES_DIR / name)),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
