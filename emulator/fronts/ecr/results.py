"""The ``result`` codes of driver answers (MODELLED: the vendor's table is not public).

0 is OK, as every public client reads it. A refusal the device itself makes
for a permit-mode reason (747–768, 790, 650–658) is answered with the
device's own code and the text of the error table, so a POS sees exactly
what the cashier would see; everything else gets one of the codes below and
a one-line ``description`` naming the field, the state or the port.
"""

from __future__ import annotations

from typing import Any

OK = 0
UNKNOWN_COMMAND = 1      # the command is not one the driver knows
BAD_REQUEST = 2          # the body is not a JSON object (or not UTF-8, or too large), no "command"
BAD_FIELD = 3            # a field missing, of the wrong type, out of range, not one of its values
NO_SESSION = 4           # sessionKey missing or unknown (OpenSession first)
PORT_ERROR = 5           # the port is missing, busy, unplugged, silent or answers garbage
WRONG_STATE = 6          # the device's state forbids it (shift closed, a receipt open, ...)
DEVICE_BUSY = 7          # the device did not take the command in time
MARKING = 8              # a marking-code command out of order (no check, not accepted, ...)
NOT_SUPPORTED = 9        # a known command the emulated device has no meaning for
FN_REFUSED = 10          # the fiscal drive refused the document
INTERNAL = 11            # the emulator failed running the command (a fault of ours: logged with its trace)

TITLES = {
    UNKNOWN_COMMAND: "unknown command", BAD_REQUEST: "bad request", BAD_FIELD: "bad field",
    NO_SESSION: "no session", PORT_ERROR: "port error", WRONG_STATE: "wrong state",
    DEVICE_BUSY: "device busy", MARKING: "marking code", NOT_SUPPORTED: "not supported",
    FN_REFUSED: "fiscal drive refused", INTERNAL: "internal fault",
}


def ok(**fields: Any) -> dict[str, Any]:
    return {"result": OK, **{k: v for k, v in fields.items() if v is not None}}


def refused(code: int, description: str, **fields: Any) -> dict[str, Any]:
    return {"result": code, "description": description, **{k: v for k, v in fields.items() if v is not None}}
