#!/usr/bin/env python3
"""Write tools/driver-api.postman_collection.json: an example request of every driver API command.

A Postman (v2.1) collection, which Bruno, Insomnia and Hoppscotch import too:
one POST /api.json per command of ``emulator.fronts.driverapi.spec`` with its
example fields, in the order of a shift (OpenSession first: its test script
keeps the answer's ``sessionKey`` in the collection variable the other
requests send). ``{{driver}}`` is ``http://127.0.0.1:50010`` (the address
``kkt-emu serve`` prints). ``tests/fronts/driverapi/test_collection.py``
checks that the file is what this tool writes and that every request passes
the driver's own field checks.

    python tools/make_driver_collection.py          # rewrite the file
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from emulator.fronts.driverapi.spec import COMMANDS  # noqa: E402

OUT = Path(__file__).resolve().parent / "driver-api.postman_collection.json"
SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"


def body(name: str) -> dict[str, Any]:
    cmd = COMMANDS[name]
    return {"sessionKey": None if cmd.driver else "{{sessionKey}}", "command": name, **cmd.example}


def collection() -> dict[str, Any]:
    items = []
    for name, cmd in COMMANDS.items():
        item: dict[str, Any] = {
            "name": name,
            "request": {
                "method": "POST",
                "header": [{"key": "Content-Type", "value": "application/json; charset=utf-8"}],
                "url": {"raw": "{{driver}}/api.json", "host": ["{{driver}}"], "path": ["api.json"]},
                "body": {"mode": "raw", "raw": json.dumps(body(name), ensure_ascii=False, indent=2)},
                "description": cmd.summary,
            },
        }
        if name == "OpenSession":
            item["event"] = [{"listen": "test", "script": {"type": "text/javascript", "exec": [
                "pm.collectionVariables.set('sessionKey', pm.response.json().sessionKey);"]}}]
        items.append(item)
    return {"info": {"name": "kkt-emu: Mercury driver API (INECRMAN)", "schema": SCHEMA,
                     "description": "Example requests of every command; run OpenSession first."},
            "variable": [{"key": "driver", "value": "http://127.0.0.1:50010"}, {"key": "sessionKey", "value": ""}],
            "item": items}


def text() -> str:
    return json.dumps(collection(), ensure_ascii=False, indent=2) + "\n"


if __name__ == "__main__":
    OUT.write_text(text(), encoding="utf-8")
    print(f"wrote {OUT}")
