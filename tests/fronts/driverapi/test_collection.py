"""The request collection in tools/ is what its tool writes, and every request in it is one the driver takes."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import jsonschema

from emulator.fronts.driverapi.openapi import document
from emulator.fronts.driverapi.spec import COMMANDS, check

TOOLS = Path(__file__).resolve().parents[3] / "tools"


def _tool():
    spec = importlib.util.spec_from_file_location("make_driver_collection", TOOLS / "make_driver_collection.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_collection_file_is_up_to_date_and_every_request_passes_the_driver():
    tool = _tool()
    on_disk = (TOOLS / "driver-api.postman_collection.json").read_text(encoding="utf-8")
    assert on_disk == tool.text(), "run: python tools/make_driver_collection.py"
    items = json.loads(on_disk)["item"]
    assert [i["name"] for i in items] == list(COMMANDS)
    schemas = document()["components"]["schemas"]
    for item in items:
        body = json.loads(item["request"]["body"]["raw"])
        name = body["command"]
        check(COMMANDS[name], body)                      # raises FieldError on a field the driver refuses
        jsonschema.validate(body, schemas[name])
        assert item["request"]["url"]["raw"] == "{{driver}}/api.json"
