"""Scenarios: YAML files that drive the emulated device on virtual time and check what it does.

* ``model``  — loading and validation (``data/scenario.schema.json`` plus meaning checks);
* ``runner`` — one world per scenario (clock, True API model, simulated network,
  device directory) and the steps and expectations;
* ``junit``  — JUnit XML for CI.
"""

from emulator.scenario import prro as _prro  # noqa: F401,I001 - registers the ПРРО scenarios (kind: prro)
from emulator.scenario import dm as _dm  # noqa: F401,I001 - registers the Device Manager scenarios (kind: dm)
from emulator.scenario.model import (
           Scenario,
           ScenarioError,
           Step,
           expand_paths,
           load_all,
           load_data,
           load_file,
           load_paths,
           load_text,
)
from emulator.scenario.runner import ScenarioResult, run_paths, run_scenario

__all__ = ["Scenario", "ScenarioError", "ScenarioResult", "Step", "expand_paths", "load_all", "load_data",
           "load_file", "load_paths", "load_text", "run_paths", "run_scenario"]
