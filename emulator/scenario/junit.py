"""JUnit XML for scenario runs, so CI systems show each scenario as a test case.

One ``testsuite`` («kkt-emu scenarios») with one ``testcase`` per scenario:
``classname`` is the file path as dotted words (``scenarios.cash.no_list_747``),
``name`` the scenario's name, ``time`` its wall time. A failed scenario holds a
``failure`` element (message: the first failure; text: all of them); a file
that could not be loaded is a test case with an ``error`` element. The log
text of each scenario goes into ``system-out``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

from emulator.scenario.model import ScenarioError
from emulator.scenario.runner import ScenarioResult

SUITE_NAME = "kkt-emu scenarios"
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _clean(text: str) -> str:
    """XML 1.0 cannot hold most control characters (the GS of a marking code): escape them."""
    return _XML_BAD.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _classname(file: str) -> str:
    path = file.split(": ", 1)[0]
    p = Path(path)
    parts = list(p.with_suffix("").parts) if p.suffix else list(p.parts)
    return ".".join(x for x in parts if x not in ("", ".", "/")) or "scenario"


def junit_tree(results: Iterable[ScenarioResult], errors: Iterable[ScenarioError] = ()) -> ET.ElementTree:
    results = list(results)
    errors = list(errors)
    failures = sum(1 for r in results if not r.passed)
    total_time = sum(r.wall_s for r in results)
    suites = ET.Element("testsuites", name=SUITE_NAME, tests=str(len(results) + len(errors)),
                        failures=str(failures), errors=str(len(errors)), time=f"{total_time:.3f}")
    suite = ET.SubElement(suites, "testsuite", name=SUITE_NAME, tests=str(len(results) + len(errors)),
                          failures=str(failures), errors=str(len(errors)), skipped="0",
                          time=f"{total_time:.3f}")
    for err in errors:
        case = ET.SubElement(suite, "testcase", classname=_classname(err.file), name=err.file, time="0")
        el = ET.SubElement(case, "error", message=_clean(err.problems[0] if err.problems else "load error"),
                           type="ScenarioError")
        el.text = _clean(str(err))
    for r in results:
        case = ET.SubElement(suite, "testcase", classname=_classname(r.file), name=_clean(r.name), time=f"{r.wall_s:.3f}")
        if not r.passed:
            el = ET.SubElement(case, "failure", message=_clean(r.failures[0] if r.failures else "failed"),
                               type="ScenarioFailure")
            el.text = _clean("\n".join(r.failures))
        props = ET.SubElement(case, "properties")
        ET.SubElement(props, "property", name="file", value=r.file)
        ET.SubElement(props, "property", name="virtual_ms", value=str(r.virtual_ms))
        ET.SubElement(props, "property", name="steps_run", value=str(r.steps_run))
        if r.log_text:
            ET.SubElement(case, "system-out").text = _clean(r.log_text)
    ET.indent(suites)
    return ET.ElementTree(suites)


def junit_xml(results: Iterable[ScenarioResult], errors: Iterable[ScenarioError] = ()) -> str:
    root = junit_tree(results, errors).getroot()
    assert root is not None
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def write_junit(path: str | Path, results: Iterable[ScenarioResult], errors: Iterable[ScenarioError] = ()) -> None:
    path = Path(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    junit_tree(results, errors).write(path, encoding="utf-8", xml_declaration=True)
