"""The device's settings, their defaults and their persistence.

Settings live in ``<device dir>/settings.json``, written atomically on every
change, so a crash leaves either the old or the new file. «УСТ. ПО УМОЛЧ.»
restores ``defaults()`` for the permit-mode group only (the vendor's
instruction recommends it before the first permit-mode setup); the other
groups keep their values. A settings file that cannot be taken — not JSON,
not of the shape of ``emulator/data/settings.schema.json``, or a value out of
range — is kept aside as ``settings.json.bad`` (``storage.set_aside``: an
earlier one is never overwritten) and the defaults are used; the device
reports it as a ``StateFileSetAside`` event, so nothing is silently lost.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from emulator.base.storage import DamagedFile, read_json_file, set_aside, write_json_atomic
from emulator.rules.limits import POLL_PERIOD_MAX, POLL_PERIOD_MIN
from emulator.rules.syntax import DEFAULT_TECH_HOST, HOST_RE, PROD_HOST, TOKEN_RE
from firmware_menu.tree import menu_data

# The permit-mode group: what «УСТ. ПО УМОЛЧ.» restores.
PERMIT_FIELDS = ("permit_mode", "sale_ban", "gismt_host", "token", "channel", "on_request_failure")
TZ_OFFSET_MIN, TZ_OFFSET_MAX = -720, 840     # UTC-12:00 .. UTC+14:00
SETTINGS_FILE = "settings.json"


@lru_cache(maxsize=1)
def settings_schema() -> dict[str, Any]:
    return json.loads(resources.files("emulator").joinpath("data/settings.schema.json").read_text("utf-8"))


def default_options() -> dict[int, int]:
    return {n: o.default for n, o in menu_data().options.items()}


@dataclass
class Settings:
    permit_mode: str = "ВКЛЮЧЕН"
    sale_ban: str = "ВКЛЮЧЕН"
    gismt_host: str = PROD_HOST
    token: str = ""
    channel: str = "ETHERNET"
    on_request_failure: str = "ПРОДАЖА+СИГНАЛ"
    autonomous: str = "НЕТ"
    poll_period_min: int = 10
    tech_server_host: str = DEFAULT_TECH_HOST
    tz_offset_min: int = 180
    options: dict[int, int] = field(default_factory=default_options)

    # -- derived views -------------------------------------------------
    @property
    def permit_on(self) -> bool:
        return self.permit_mode == "ВКЛЮЧЕН"

    @property
    def hard_ban(self) -> bool:
        return self.sale_ban == "ВКЛЮЧЕН"

    @property
    def is_autonomous(self) -> bool:
        return self.autonomous == "ДА"

    @property
    def host_check_off(self) -> bool:
        return self.options.get(92, 0) == 1

    @property
    def refuse_on_failure(self) -> bool:
        return self.on_request_failure == "ЗАПРЕТ"

    def permit_problem(self) -> str | None:
        """Why the permit-mode settings are unusable (error 749), or None."""
        if not self.token:
            return "no token"
        if not TOKEN_RE.match(self.token):
            return "malformed token"
        if not self.gismt_host or not HOST_RE.match(self.gismt_host):
            return "bad host name"
        return None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["options"] = {str(k): v for k, v in self.options.items()}
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Settings:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        s = cls(**{k: v for k, v in d.items() if k != "options"})
        opts = default_options()
        opts.update({int(k): int(v) for k, v in d.get("options", {}).items()})
        s.options = opts
        s.validate()
        return s

    def validate(self) -> None:
        for node_field, values in _choice_fields().items():
            value = getattr(self, node_field)
            if value not in values:
                raise ValueError(f"{node_field}: {value!r} is not one of {values}")
        if not POLL_PERIOD_MIN <= int(self.poll_period_min) <= POLL_PERIOD_MAX:
            raise ValueError(f"poll_period_min out of range: {self.poll_period_min}")
        if not TZ_OFFSET_MIN <= int(self.tz_offset_min) <= TZ_OFFSET_MAX:
            raise ValueError(f"tz_offset_min out of range ({TZ_OFFSET_MIN}..{TZ_OFFSET_MAX}): {self.tz_offset_min}")
        for n, v in self.options.items():
            opt = menu_data().options.get(n)
            if opt is not None and not 0 <= v <= opt.max:
                raise ValueError(f"option {n} out of range: {v}")

    def restore_permit_defaults(self) -> None:
        fresh = Settings()
        for name in PERMIT_FIELDS:
            setattr(self, name, getattr(fresh, name))


def _choice_fields() -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}

    def walk(nodes: Any) -> None:
        for n in nodes:
            if n.kind == "param" and n.type == "choice" and n.setting:
                out[n.setting] = n.values
            walk(n.items)

    walk(menu_data().main)
    return out


class SettingsStore:
    """Loads and saves ``settings.json`` in the device directory (None = memory only).

    After ``load()``, ``set_aside`` is ``(kept_as, problem)`` when the file was damaged and
    renamed (the defaults were used), else None.
    """

    def __init__(self, directory: Path | None) -> None:
        self.path = directory / SETTINGS_FILE if directory else None
        self.set_aside: tuple[str, str] | None = None

    def load(self) -> Settings:
        if self.path is None:
            return Settings()
        try:
            doc = read_json_file(self.path, settings_schema())
            return Settings() if doc is None else Settings.from_json(doc)
        except (DamagedFile, ValueError, TypeError) as exc:
            # A damaged file is kept aside, not lost, and the defaults are used.
            self.set_aside = (set_aside(self.path).name, " ".join(str(exc).split()) or type(exc).__name__)
            return Settings()

    def save(self, settings: Settings) -> None:
        if self.path is not None:
            write_json_atomic(self.path, settings.to_json())
