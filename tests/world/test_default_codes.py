"""The default world has a happy path: a sellable code for every product group, and the README says what each code does.

``test_the_readme_table_is_what_the_device_does`` sells every code of the
default world (the sandbox codes and the shop codes) through the device and
compares the result with the README's table of codes, row by row.
"""

from pathlib import Path

from emulator.servers.trueapi import TrueApiBackend
from emulator.servers.trueapi.catalogue import Catalogue
from emulator.world.codes_table import GROUPS, readme_table, rows
from emulator.world.spec import make_backend

README = Path(__file__).resolve().parent.parent.parent / "README.md"


def _readme_rows() -> dict[str, str]:
    lines = readme_table(README.read_text("utf-8")).splitlines()[2:]
    return {line.split("|")[2].strip(): line for line in lines}


def test_the_readme_table_is_what_the_device_does():
    promised = _readme_rows()
    found = rows()
    assert sorted(promised) == sorted(f"`{r.code}`" for r in found), "the README lists other codes than the world has"
    wrong = [f"README: {promised[f'`{r.code}`']}\ndevice: {r.markdown()}" for r in found
             if promised[f"`{r.code}`"] != r.markdown()]
    assert not wrong, "rows the device does not keep (run tools/update_codes_table.py):\n" + "\n".join(wrong)


def test_every_product_group_has_a_code_that_sells_out_of_the_box():
    sold = {r.group for r in rows() if r.device == "sold"}
    missing = [f"{g} {name}" for g, name in GROUPS.items() if f"{g} {name}" not in sold]
    assert not missing, f"no sellable default code for {missing}"


def test_the_default_world_holds_the_sandbox_and_the_shop_codes():
    default = {e.code for e in Catalogue.default()}
    assert len(default) == 20 + len(GROUPS)
    assert {e.code for e in make_backend(0, {}).catalogue} == default
    assert {e.code for e in TrueApiBackend().catalogue} == default
    assert {e.code for e in make_backend(0, {"shop_codes": False}).catalogue} == {e.code for e in Catalogue.sandbox()}
    assert {e.code for e in make_backend(0, {"sandbox_codes": False}).catalogue} == {e.code for e in Catalogue.shop()}
