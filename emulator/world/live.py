"""Live changes to a running world: a host's faults, the world's tokens, codes and emergency.

``serve``'s console and its control API change the mock servers while the
device runs, through one object: ``LiveWorld(world, say)``. Every change is
checked whole before anything is applied (a bad value changes nothing and is a
``ValueError`` naming the key), applied through ``World.change`` (under the
servers' lock; ``down`` and TLS faults are in effect on the real sockets when
it returns) and announced with ``say`` — tokens masked.

A host's change is a mapping of the keys of a scenario's ``host`` step:
``down``, ``latency_ms``, ``latency_seq``, ``avg_time_ms``, ``plan`` (with
``repeat``), ``tls`` (``unknown-ca``, ``expired``, ``wrong-host``, ``stall`` or
``none``) and ``emergency`` (every method of the host answers 203). A world's
change: ``tokens`` (contour -> tokens to accept), ``blocked_tokens``,
``unblocked_tokens``, ``emergency`` (contour -> on/off) and ``codes`` (entries
as in a scenario's ``world.codes``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from emulator.net.faults import TLS_FAULTS, FaultPlan
from emulator.rules.syntax import mask_token
from emulator.servers.trueapi.catalogue import CatalogueEntry
from emulator.world.root import World
from emulator.world.spec import apply_host

HOST_KEYS = ("down", "latency_ms", "latency_seq", "avg_time_ms", "plan", "repeat", "tls", "emergency")
WORLD_KEYS = ("tokens", "blocked_tokens", "unblocked_tokens", "emergency", "codes")
MAX_MS = 600_000          # a latency longer than ten minutes is a typing mistake
MAX_PLAN = 10_000


def _bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError(f"{key}: {value!r} is not true or false")


def _ms(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_MS:
        raise ValueError(f"{key}: {value!r} is not a whole number of milliseconds 0..{MAX_MS}")
    return value


def _strings(key: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"{key}: a list of non-empty strings expected")
    return [v.strip() for v in value]


class LiveWorld:
    """Changes a running world for ``serve``'s console and control API (see the module docstring)."""

    def __init__(self, world: World, say: Callable[[str], None]) -> None:
        self.world = world
        self.say = say

    @property
    def backend(self) -> Any:
        return self.world.backend

    # ------------------------------------------------------------ hosts
    def check_host(self, name: str, conf: Any) -> dict[str, Any]:
        """``conf`` checked whole: a clean copy, or ValueError naming the key; nothing changes."""
        if not isinstance(name, str) or self.backend.find_host(name.strip().lower()) is None:
            raise ValueError(f"unknown host {name!r} (known: {', '.join(self.backend.hosts())})")
        if not isinstance(conf, Mapping) or not conf:
            raise ValueError(f"a change of a host is an object with some of: {', '.join(HOST_KEYS)}")
        unknown = sorted(str(k) for k in conf if k not in HOST_KEYS)
        if unknown:
            raise ValueError(f"unknown keys {unknown} (known: {', '.join(HOST_KEYS)})")
        out: dict[str, Any] = {}
        for key, value in conf.items():
            if key in ("down", "emergency", "repeat"):
                out[key] = _bool(key, value)
            elif key in ("latency_ms", "avg_time_ms"):
                out[key] = _ms(key, value)
            elif key == "latency_seq":
                if not isinstance(value, list) or not value or len(value) > MAX_PLAN:
                    raise ValueError(f"latency_seq: a list of 1..{MAX_PLAN} latencies expected")
                out[key] = [_ms(f"latency_seq[{i}]", v) for i, v in enumerate(value)]
            elif key == "tls":
                if value not in (*TLS_FAULTS, "none", None):
                    raise ValueError(f"tls: {value!r} is not one of {', '.join(TLS_FAULTS)} or none")
                out[key] = value
            elif key == "plan":
                if not isinstance(value, list) or len(value) > MAX_PLAN:
                    raise ValueError(f"plan: a list of at most {MAX_PLAN} items expected")
                probe = FaultPlan(words=self.backend.host(name.strip().lower()).faults.words)
                items = ["5000" if item == 5000 else item for item in value]
                for i, item in enumerate(items):
                    try:
                        probe.check(item)
                    except ValueError as exc:
                        raise ValueError(f"plan[{i}]: {exc}") from None
                out[key] = items
        if "tls" in out and self.world.servers is None:
            raise ValueError("tls: TLS faults need the real network (TLS is not modelled on the simulated one)")
        return out

    def change_host(self, name: str, conf: Any, source: str = "console") -> dict[str, Any]:
        """Apply a host's change at once; returns the host's state after it."""
        clean = self.check_host(name, conf)
        host = name.strip().lower()
        self.world.change(lambda: apply_host(self.backend, host, clean))
        what = ", ".join(f"{k}={_shown(k, v)}" for k, v in clean.items())
        self.say(f"  [control] {host}: {what} (from the {source})")
        return self.host_state(host)

    def host_state(self, name: str) -> dict[str, Any]:
        h = self.backend.host(name)
        f = h.faults
        servers = self.world.servers
        state: dict[str, Any] = {
            "host": h.name, "contour": h.contour, "base": h.is_base, "down": f.down,
            "latency_ms": f.latency_ms, "latency_seq": list(f.latency_seq), "avg_time_ms": h.avg_time_ms,
            "plan": list(f.items), "repeat": f.repeat, "tls": f.tls_fault, "emergency": h.emergency,
            "requests": h.requests,
        }
        if servers is not None and h.name in servers.hosts:
            ip, port = servers.address(h.name)
            state.update(address=f"{ip}:{port}", listening=servers.is_listening(h.name),
                         connections=servers.open_connections(h.name))
        return state

    def hosts(self) -> list[dict[str, Any]]:
        return [self.host_state(n) for n in self.backend.hosts()]

    # ------------------------------------------------------------ the world
    def check_world(self, conf: Any) -> dict[str, Any]:
        if not isinstance(conf, Mapping) or not conf:
            raise ValueError(f"a change of the world is an object with some of: {', '.join(WORLD_KEYS)}")
        unknown = sorted(str(k) for k in conf if k not in WORLD_KEYS)
        if unknown:
            raise ValueError(f"unknown keys {unknown} (known: {', '.join(WORLD_KEYS)})")
        contours = set(self.backend.contours)
        out: dict[str, Any] = {}
        for key, value in conf.items():
            if key in ("tokens", "emergency"):
                if not isinstance(value, Mapping) or not value:
                    raise ValueError(f"{key}: an object contour -> value expected ({', '.join(sorted(contours))})")
                for contour in value:
                    if contour not in contours:
                        raise ValueError(f"{key}: unknown contour {contour!r} (known: {', '.join(sorted(contours))})")
                out[key] = ({c: _strings(f"{key}.{c}", v) for c, v in value.items()} if key == "tokens"
                            else {c: _bool(f"{key}.{c}", v) for c, v in value.items()})
            elif key in ("blocked_tokens", "unblocked_tokens"):
                out[key] = _strings(key, value)
            elif key == "codes":
                if not isinstance(value, list) or not value:
                    raise ValueError("codes: a list of code entries expected")
                entries = []
                for i, entry in enumerate(value):
                    try:
                        entries.append(CatalogueEntry.from_dict(entry))
                    except (ValueError, TypeError, KeyError, AttributeError) as exc:
                        raise ValueError(f"codes[{i}]: {exc}") from None
                out[key] = entries
        return out

    def change_world(self, conf: Any, source: str = "console") -> dict[str, Any]:
        """Apply a change of the world's tokens, codes or emergency at once."""
        clean = self.check_world(conf)
        b = self.backend

        def apply() -> None:
            for contour, tokens in clean.get("tokens", {}).items():
                for t in tokens:
                    b.add_token(contour, t)
            for t in clean.get("blocked_tokens", []):
                b.block_token(t)
            for t in clean.get("unblocked_tokens", []):
                b.unblock_token(t)
            for contour, on in clean.get("emergency", {}).items():
                b.set_emergency(contour, on)
            for entry in clean.get("codes", []):
                b.add_code(entry)

        self.world.change(apply)
        parts = []
        for contour, tokens in clean.get("tokens", {}).items():
            parts.append(f"tokens accepted in {contour}: {', '.join(mask_token(t) for t in tokens)}")
        for key, label in (("blocked_tokens", "blocked"), ("unblocked_tokens", "unblocked")):
            if clean.get(key):
                parts.append(f"tokens {label}: {', '.join(mask_token(t) for t in clean[key])}")
        for contour, on in clean.get("emergency", {}).items():
            parts.append(f"emergency in {contour}: {'on (203)' if on else 'off'}")
        if clean.get("codes"):
            parts.append(f"codes added: {len(clean['codes'])}")
        self.say(f"  [control] world: {'; '.join(parts)} (from the {source})")
        return self.world_state()

    def world_state(self) -> dict[str, Any]:
        """The contours: tokens (masked), emergency; never a token in full."""
        return {name: {"base_host": c.base_host, "cdn_hosts": list(c.cdn_hosts), "emergency": c.emergency,
                       "tokens": sorted(mask_token(t) for t in c.tokens),
                       "blocked_tokens": sorted(mask_token(t) for t in c.blocked_tokens)}
                for name, c in self.backend.contours.items()}


def _shown(key: str, value: Any) -> str:
    if key == "plan":
        return "[" + " ".join(str(v) for v in value) + "]"
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)
