"""The PrivatBank "ECR JSON" framing: UTF-8 JSON messages, each ended by one 0x00 byte.

A request is ``{"method": ..., "step": 0, "params": {...}}``, an answer adds ``"error"`` (bool) and
``"errorDescription"``; every value in ``params`` is a string. ``PingDevice`` goes out with an extra
*leading* 0x00, so a reader meets empty frames and skips them.

``Splitter`` cuts a byte stream into frames, whatever the chunks: it never holds more than
``max_message`` bytes; a longer run without 0x00 is dropped up to the next 0x00 and reported once as a
``Bad`` event (the bytes counted), and so is a frame that is not a message (not UTF-8, not JSON, not an
object with a string ``method``, ``params`` not an object of strings). Nothing here raises on input.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

NUL = b"\x00"
MAX_MESSAGE = 64 * 1024


class EcrError(ValueError):
    """A frame that is not an ECR JSON message; the text says why."""


@dataclass(frozen=True)
class Message:
    method: str
    params: dict[str, str] = field(default_factory=dict)
    step: int = 0
    error: bool | None = None           # None in a request
    description: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method, "step": self.step, "params": dict(self.params)}
        if self.error is not None:
            out["error"] = self.error
            out["errorDescription"] = self.description
        return out


@dataclass(frozen=True)
class Bad:
    reason: str
    nbytes: int


def encode(msg: Message, leading_nul: bool = False) -> bytes:
    body = json.dumps(msg.to_json(), ensure_ascii=False, separators=(",", ":")).encode("utf-8") + NUL
    return NUL + body if leading_nul else body


def decode(raw: bytes) -> Message:
    """One frame (without its 0x00) as a ``Message``; ``EcrError`` when it is not one."""
    try:
        obj = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise EcrError("not UTF-8") from None
    except (ValueError, RecursionError):
        raise EcrError("not JSON") from None
    if not isinstance(obj, dict):
        raise EcrError("not a JSON object")
    method = obj.get("method")
    if not isinstance(method, str):
        raise EcrError("no method")
    params = obj.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
        raise EcrError("params is not an object of strings")
    step = obj.get("step", 0)
    if isinstance(step, str) and step.isdigit() and len(step) < 10:
        step = int(step)
    if isinstance(step, bool) or not isinstance(step, int):
        raise EcrError("step is not a number")
    error = obj.get("error")
    if error is not None and not isinstance(error, bool):
        raise EcrError("error is not a boolean")
    desc = obj.get("errorDescription", "")
    return Message(method, dict(params), step, error, desc if isinstance(desc, str) else str(desc))


class Splitter:
    """Frames out of a byte stream; ``feed()`` returns ``Message`` and ``Bad`` events in order."""

    def __init__(self, max_message: int = MAX_MESSAGE) -> None:
        self.max_message = max_message
        self._buf = bytearray()
        self._skipping = 0          # > 0: inside an over-long frame, this many bytes dropped so far

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[Message | Bad]:
        events: list[Message | Bad] = []
        start = 0
        while start < len(data):
            end = data.find(NUL, start)
            chunk = data[start:] if end < 0 else data[start:end]
            if self._skipping:
                self._skipping += len(chunk)
                if end >= 0:
                    events.append(Bad("message too long", self._skipping))
                    self._skipping = 0
            elif len(self._buf) + len(chunk) > self.max_message:
                self._skipping = len(self._buf) + len(chunk)
                self._buf.clear()
                if end >= 0:
                    events.append(Bad("message too long", self._skipping))
                    self._skipping = 0
            elif end < 0:
                self._buf += chunk
            else:
                self._buf += chunk
                raw = bytes(self._buf)
                self._buf.clear()
                if raw:
                    try:
                        events.append(decode(raw))
                    except EcrError as exc:
                        events.append(Bad(str(exc), len(raw)))
            if end < 0:
                break
            start = end + 1
        return events
