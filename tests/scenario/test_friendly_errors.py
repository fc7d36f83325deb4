"""Scenario errors that say how to fix them: did you mean, YAML's boolean trap, kopecks, indentation."""

from __future__ import annotations

import pytest

from emulator.scenario.model import ScenarioError, load_text

CASES = {
    "misspelt step kind": ("- sael: {code: x, price: 10}", "unknown step kind 'sael' — did you mean 'sale'?"),
    "misspelt key": ("- sale: {code: x, prise: 10}", "unknown key 'prise' — did you mean 'price'?"),
    "price in roubles": ("- sale: {code: x, price: 9.90}", "price is in kopecks, a whole number: 248.50 ₽ is 24850"),
    "answer: no": ("- sale: {code: x, price: 990, answer: no}",
                   'YAML reads an unquoted no/off/false as false: quote the word, e.g. "no"'),
    "expectation as a step": ("- log_codes: [758]", "an expectation: indent it under `- expect:`"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_errors_say_how_to_fix_them(name):
    step, expected = CASES[name]
    with pytest.raises(ScenarioError) as info:
        load_text(f"name: x\nsteps:\n  {step}\n", "s.yaml")
    assert expected in str(info.value), str(info.value)


def test_steps_copied_from_the_readme_table_load_as_shown():
    text = """name: x
steps:
  - open_shift
  - sale_free: {price: 1000}
  - close_receipt
  - doc_type: sale_return
  - settle
  - emergency: "on"
  - advance: "1h30m"
  - press: ["+", "ИТ"]
  - keys: "2 4 8 ПИ"
  - restart
"""
    [sc] = load_text(text, "readme.yaml")
    assert [s.kind for s in sc.steps][:3] == ["open_shift", "sale_free", "close_receipt"]
