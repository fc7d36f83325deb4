"""A world's servers from a spec: the ``world`` section of a scenario or of ``serve``'s configuration.

``make_backend(seed, world)`` builds the True API model configured as the
section says (tokens, blocked tokens, token validity, CDN lists, per-host
latencies, fault plans and TLS faults, emergency, codes; the catalogue starts
with the sandbox codes and a sellable code of every product group unless
``sandbox_codes`` / ``shop_codes`` is false); ``apply_world`` and
``apply_host`` change a running world the same way (the scenario steps
``world`` and ``host``). A bad value is a ``ValueError`` naming the key.
``tokens_named`` finds every token a spec names, so that what is printed can
mask them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from emulator.base.instants import parse_instant
from emulator.net.faults import TLS_FAULTS
from emulator.servers.trueapi import TrueApiBackend
from emulator.servers.trueapi.catalogue import Catalogue, CatalogueEntry


def exc_text(exc: BaseException) -> str:
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    return str(exc)


def make_backend(seed: int, world: Mapping[str, Any]) -> TrueApiBackend:
    """The True API backend model configured as ``world`` says."""
    catalogue = Catalogue.sandbox() if world.get("sandbox_codes", True) else Catalogue()
    if world.get("shop_codes", True):
        for entry in Catalogue.shop():
            catalogue.add(entry)
    backend = TrueApiBackend(seed=seed, catalogue=catalogue)
    apply_world(backend, world)
    return backend


def apply_world(backend: TrueApiBackend, world: Mapping[str, Any]) -> None:
    """Apply world keys (all but ``sandbox_codes`` and ``shop_codes``) to a backend; ValueError naming the key on bad data."""
    for key in ("tokens", "blocked_tokens", "token_valid_until", "cdn_hosts", "hosts", "emergency",
                "empty_cdn_list", "codes"):
        value = world.get(key)
        if value is None:
            continue
        try:
            _apply_world_key(backend, key, value)
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{key}: {exc_text(exc)}") from None


def _apply_world_key(backend: TrueApiBackend, key: str, value: Any) -> None:
    if key == "tokens":
        for contour, tokens in value.items():
            for t in tokens:
                backend.add_token(contour, t)
    elif key == "blocked_tokens":
        for t in value:
            backend.block_token(t)
    elif key == "token_valid_until":
        for contour, until in value.items():
            backend.set_token_valid_until(contour, None if until is None else parse_instant(until))
    elif key == "cdn_hosts":
        for contour, names in value.items():
            backend.set_cdn_hosts(contour, names)
    elif key == "hosts":
        for name, conf in value.items():
            apply_host(backend, name, conf)
    elif key == "emergency":
        for contour, on in value.items():
            backend.set_emergency(contour, on)
    elif key == "empty_cdn_list":
        for contour, on in value.items():
            backend.set_empty_cdn_list(contour, on)
    elif key == "codes":
        for entry in value:
            backend.add_code(CatalogueEntry.from_dict(entry))


def apply_host(backend: TrueApiBackend, name: str, conf: Mapping[str, Any]) -> None:
    host = backend.host(name)
    if "latency_ms" in conf:
        host.faults.latency_ms = int(conf["latency_ms"])
    if "avg_time_ms" in conf:
        host.avg_time_ms = int(conf["avg_time_ms"])
    if "latency_seq" in conf:
        host.faults.latency_seq = [int(v) for v in conf["latency_seq"]]
    if "down" in conf:
        host.faults.down = bool(conf["down"])
    if "emergency" in conf:
        host.emergency = bool(conf["emergency"])
    if "tls" in conf:
        tls = conf["tls"]
        if tls not in (*TLS_FAULTS, "none", None):
            raise ValueError(f"host {name}: tls {tls!r} is not one of {', '.join(TLS_FAULTS)} or none")
        host.faults.tls_fault = None if tls in ("none", None) else str(tls)
    if "plan" in conf:
        host.faults.plan(["5000" if item == 5000 else item for item in conf["plan"]], bool(conf.get("repeat", False)))
    elif "repeat" in conf:
        host.faults.repeat = bool(conf["repeat"])


TOKEN_KEYS = ("token", "tokens", "blocked_tokens")


def tokens_named(data: Any) -> set[str]:
    """Every string under a ``token``/``tokens``/``blocked_tokens`` key anywhere in ``data``
    (a scenario's or ``serve``'s configuration), to mask them in what is printed."""
    found: set[str] = set()

    def strings(v: Any) -> None:
        if isinstance(v, str):
            found.add(v)
        elif isinstance(v, Mapping):
            for x in v.values():
                strings(x)
        elif isinstance(v, (list, tuple)):
            for x in v:
                strings(x)

    def walk(v: Any) -> None:
        if isinstance(v, Mapping):
            for k, x in v.items():
                (strings if k in TOKEN_KEYS else walk)(x)
        elif isinstance(v, (list, tuple)):
            for x in v:
                walk(x)

    walk(data)
    return found
