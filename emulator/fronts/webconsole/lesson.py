"""A lesson: what the trainer did in the console, as a scenario ``kkt-emu run`` replays.

``Lesson`` records, on the device's virtual clock, the keys pressed, the codes
scanned, the clock's jumps and the faults switched (a host's change, a
world's change, the OFD's or ОИСМ's link: a scenario's ``host``, ``world`` and
``fiscal_server`` steps). The
virtual time between two actions becomes an ``advance`` step, so the timers
that fired meanwhile (a block's end, a probe) fire in the replay too. The
export ends with an ``expect`` of the display and the log codes written
while recording, so ``kkt-emu run`` checks that the replay shows the same.

The scenario starts a fresh device at the moment recording began, with the
device's settings then, on the real network (as ``serve``'s device is); the
token is the lesson's own (``LESSON_TOKEN``, registered in the lesson's world),
never the trainer's. Recording from the main menu of a freshly started
``serve`` replays exactly; what the device had done before (a CDN list, an
open shift) is not in the lesson.

``Playback`` walks a loaded lesson step by step in the console: each
``step()`` gives the next step, which the console then performs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import yaml

from emulator.base.moscow import MSK

LESSON_TOKEN = "0e5a1c2b-7d3f-4a69-8b10-c4d5e6f70812"
MAX_STEPS = 10_000
SETTINGS_KEPT = ("permit_mode", "sale_ban", "gismt_host", "on_request_failure", "autonomous", "tz_offset_min")


class LessonError(ValueError):
    """A lesson cannot be loaded or recorded: one line saying why."""


def iso(ms: int) -> str:
    t = datetime.fromtimestamp(ms / 1000, UTC).astimezone(MSK)
    return t.isoformat(timespec="milliseconds")


class Lesson:
    def __init__(self, start_ms: int, settings: dict[str, Any], name: str = "") -> None:
        self.start_ms = start_ms
        self.last_ms = start_ms
        self.settings = {k: settings[k] for k in SETTINGS_KEPT if k in settings}
        options = settings.get("options") or {}
        if options:
            self.settings["options"] = {int(k): v for k, v in options.items()}
        self.name = name or f"урок {iso(start_ms)}"
        self.steps: list[dict[str, Any]] = []
        self.log_codes: list[int] = []

    def _at(self, now_ms: int) -> None:
        gap = now_ms - self.last_ms
        if gap > 0:
            self.steps.append({"advance": f"{gap}ms"})
        self.last_ms = max(self.last_ms, now_ms)
        if len(self.steps) >= MAX_STEPS:
            raise LessonError(f"the lesson is full ({MAX_STEPS} steps): export it and start another")

    def press(self, now_ms: int, keys: list[str]) -> None:
        self._at(now_ms)
        last = self.steps[-1] if self.steps else None
        if last is not None and "press" in last:
            last["press"].extend(keys)
        else:
            self.steps.append({"press": list(keys)})

    def scan(self, now_ms: int, code: str) -> None:
        self._at(now_ms)
        self.steps.append({"scan": code})

    def type(self, now_ms: int, text: str) -> None:
        self._at(now_ms)
        self.steps.append({"type": text})

    def advance(self, now_ms: int, ms: int) -> None:
        self._at(now_ms)
        self.steps.append({"advance": f"{ms}ms"})
        self.last_ms = now_ms + ms

    def host(self, now_ms: int, name: str, change: dict[str, Any]) -> None:
        self._at(now_ms)
        self.steps.append({"host": {"name": name, **change}})

    def world(self, now_ms: int, change: dict[str, Any]) -> None:
        self._at(now_ms)
        self.steps.append({"world": dict(change)})

    def fiscal(self, now_ms: int, name: str, down: bool) -> None:
        self._at(now_ms)
        self.steps.append({"fiscal_server": {"name": name, "down": down}})

    def tech(self, now_ms: int, down: bool) -> None:
        self._at(now_ms)
        self.steps.append({"tech": {"down": down}})

    def log(self, code: int) -> None:
        self.log_codes.append(code)

    def scenario(self, display: tuple[str, str], status: str) -> dict[str, Any]:
        settings = {**self.settings, "token": LESSON_TOKEN}
        steps: list[Any] = [{"note": "записано в учебной консоли kkt-emu"}, *self.steps]
        steps.append({"expect": {"display": [display[0].rstrip(), display[1].rstrip()],
                                 "log_codes": list(self.log_codes), "status": status}})
        return {"name": self.name, "start": iso(self.start_ms), "network": "real",
                "device": {"settings": settings},
                "world": {"tokens": {"prod": [LESSON_TOKEN], "sandbox": [LESSON_TOKEN]}},
                "steps": steps}

    def yaml(self, display: tuple[str, str], status: str) -> str:
        return yaml.safe_dump(self.scenario(display, status), allow_unicode=True, sort_keys=False, width=120)


PLAYABLE = ("press", "keys", "scan", "advance", "host", "world", "fiscal_server", "note", "expect", "type")


class Playback:
    """A loaded lesson (scenario YAML text), stepped through one step at a time."""

    def __init__(self, text: str) -> None:
        if len(text) > 4 * 1024 * 1024:
            raise LessonError("the lesson is larger than 4 MiB")
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise LessonError(f"not YAML: {' '.join(str(exc).split())[:200]}") from None
        if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
            raise LessonError("not a scenario: a mapping with `steps` expected")
        self.name = str(data.get("name", ""))
        self.steps: list[tuple[str, Any]] = []
        for i, step in enumerate(data["steps"]):
            if isinstance(step, str):
                step = {step: {}}
            if not isinstance(step, dict) or len(step) != 1:
                raise LessonError(f"steps[{i}]: one step kind expected")
            kind, value = next(iter(step.items()))
            if kind not in PLAYABLE:
                raise LessonError(f"steps[{i}]: the console plays {', '.join(PLAYABLE)}, not {kind!r}")
            self.steps.append((str(kind), value))
        self.position = 0

    @property
    def done(self) -> bool:
        return self.position >= len(self.steps)

    def step(self) -> tuple[str, Any]:
        if self.done:
            raise LessonError("the lesson has no more steps")
        kind, value = self.steps[self.position]
        self.position += 1
        return kind, value

    def state(self) -> dict[str, Any]:
        nxt = None if self.done else {self.steps[self.position][0]: self.steps[self.position][1]}
        return {"name": self.name, "position": self.position, "total": len(self.steps), "next": nxt}
