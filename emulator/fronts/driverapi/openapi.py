"""The OpenAPI 3.1 document of the driver API, made from the command table (``spec.COMMANDS``).

One request schema per command (``command`` a constant, the fields with
their JSON types, ranges and enums; money, quantities and integers may also
be strings of digits, booleans the strings ``"true"``/``"false"``, as the
driver accepts them), one answer schema (``result`` and ``description``,
other fields per command), an example request per command. Served by
``kkt-emu serve`` at ``GET /openapi.json`` of the driver port and checked by
the tests against the requests of the collection in ``tools/``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from emulator.fronts.driverapi.spec import COMMANDS, MONEY_MAX, QTY_MAX, QTY_MIN, F

DIGITS = {"type": "string", "pattern": r"^\s*-?\d{1,19}\s*$"}


def field_schema(spec: F) -> dict[str, Any]:
    k = spec.kind
    schema: dict[str, Any]
    if k in ("money", "qty", "int"):
        lo, hi = {"money": (0, MONEY_MAX), "qty": (QTY_MIN, QTY_MAX)}.get(k, (None, None))
        lo = spec.lo if spec.lo is not None else lo
        hi = spec.hi if spec.hi is not None else hi
        number: dict[str, Any] = {"type": "integer"}
        if lo is not None:
            number["minimum"] = lo
        if hi is not None:
            number["maximum"] = hi
        schema = {"anyOf": [number, DIGITS]}
        schema["description"] = {"money": "kopecks (12345 = 123.45 ₽)",
                                 "qty": "ten-thousandths (10000 = 1)"}.get(k, "integer")
    elif k == "enum":
        schema = {"anyOf": [{"type": "integer", "enum": list(spec.values)},
                            {"type": "string", "enum": [str(v) for v in spec.values]}]}
    elif k == "bool":
        schema = {"anyOf": [{"type": "boolean"}, {"type": "string", "enum": ["true", "false"]}]}
    elif k == "str":
        schema = {"type": "string", "maxLength": spec.max_len}
        if spec.values:
            schema["enum"] = list(spec.values)
        if spec.pattern:
            schema["pattern"] = f"^(?:{spec.pattern})$"
    elif k == "base64":
        schema = {"type": "string", "contentEncoding": "base64", "maxLength": spec.max_len,
                  "description": "Base64 of the marking code (UTF-8, GS as byte 0x1D)"}
    elif k == "datetime":
        schema = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$",
                  "description": "yyyy-MM-ddTHH:mm:ss"}
    elif k == "date":
        schema = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$", "description": "yyyy-MM-dd"}
    elif k == "object":
        schema = object_schema(spec.fields)
    else:
        schema = {"type": "array", "maxItems": spec.max_items, "items": object_schema(spec.fields)}
    if spec.doc:
        schema["description"] = spec.doc
    return {"anyOf": [schema, {"type": "null"}]} if not spec.required else schema


def object_schema(fields: dict[str, F]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": {n: field_schema(f) for n, f in fields.items()}}
    required = [n for n, f in fields.items() if f.required]
    if required:
        out["required"] = required
    return out


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    refs = []
    examples: dict[str, Any] = {}
    for name, cmd in COMMANDS.items():
        body = object_schema(cmd.fields)
        body["properties"] = {"sessionKey": {"type": ["string", "null"],
                                             "description": "from OpenSession (null or absent for it)"},
                              "command": {"const": name}, **body["properties"]}
        body["required"] = ["command", *body.get("required", [])]
        body["description"] = cmd.summary + ("" if cmd.modelled else " (answers result 9)")
        schemas[name] = body
        refs.append({"$ref": f"#/components/schemas/{name}"})
        examples[name] = {"summary": cmd.summary,
                          "value": {"sessionKey": None if cmd.driver else "<sessionKey>", "command": name,
                                    **cmd.example}}
    schemas["Answer"] = {
        "type": "object", "required": ["result"],
        "properties": {"result": {"type": "integer", "description": "0 OK; 1 unknown command, 2 bad request, "
                                  "3 bad field, 4 no session, 5 port error, 6 wrong state, 7 device busy, "
                                  "8 marking-code order, 9 not supported, 10 fiscal drive refused, 11 internal fault; 650–658, "
                                  "747–768, 790 the device's own permit-mode codes"},
                       "description": {"type": "string"}},
        "additionalProperties": True}
    return {
        "openapi": "3.1.0",
        "info": {"title": "kkt-emu: Mercury driver service INECRMAN (emulated)", "version": "1",
                 "description": "JSON over HTTP as POS software uses it (POST /api.json). Field names and "
                                "scaling from public client code; result codes other than 0 are modelled."},
        "servers": [{"url": "http://127.0.0.1:50010"}],
        "paths": {"/api.json": {"post": {
            "summary": "one driver command",
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"oneOf": refs, "discriminator": {"propertyName": "command"}},
                "examples": examples}}},
            "responses": {"200": {"description": "the answer (result 0 = OK)", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Answer"}}}}}}}},
        "components": {"schemas": schemas},
    }
