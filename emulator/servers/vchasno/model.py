"""The Vchasno.Kasa cabinet (``kasa.vchasno.ua``) as a Device Manager meets it: a company account with its
ПРРО, the tokens that let a DM create them, each ПРРО's settings, the balance and the DM versions it serves.

The public record names the cabinet only through the DM's error codes (reference §2.1, §6): a token made in
the cabinet creates the ПРРО in the DM (2001 when it is invalid, 2014 when the ПРРО has no tax groups or pay
types, 2005 when the cabinet cannot be reached, 1048 for any other cabinet error), the settings are read with
that token (1083: the token is wrong, «replace it»), a ПРРО is blocked when the balance cannot pay for it
(1123) and an old DM is refused (1125). Every account has a **test ПРРО** made with it, which sends nothing to
the ДПС. Everything else here is MODELLED:

* a token belongs to one cabinet ПРРО; ``issue_token`` makes a new one and revokes the ПРРО's previous token
  (so a DM holding the old one gets 1083 and must be given the new one); ``revoke_token`` revokes it alone;
* billing: each ПРРО is paid up to ``paid_to_ms``; when that passes, the cabinet renews it from the account
  balance (``TARIFF_KOP`` a ``PERIOD_DAYS`` period) if the balance has that much, else the ПРРО is blocked
  until a ``top_up`` pays for it; a new ПРРО is paid for its first period from the balance when it can be,
  the test ПРРО is free;
* ``min_dm_version``: a DM older than it is refused;
* every answer carries the cabinet's own time (``server_time_ms``); ``clock_skew_ms`` sets it off the world's
  clock (a DM whose clock is 30 minutes or more away from it refuses to work: 1121);
* the one gate is ``request(method, path, body, token=)`` (the HTTP front calls it, and so does an
  in-process link): ``POST /api/v1/dm/prro`` with ``{"dm_version": "5.183.0"}`` and the token answers the
  ПРРО — ``{"prro": {...settings}, "billing": {...}}`` with 200, or ``{"code": ..., "message": ...}`` with
  401 (``token_invalid``), 403 (``token_revoked``), 426 (``dm_outdated``), 400 (``bad_request``). The fault
  plan (``faults``) decides first: ``down`` / ``refuse`` / ``close`` / ``stall`` — no answer; an HTTP status —
  that status with a body that is not the cabinet's; ``garbage`` — 200 with a body that is not JSON.

Tokens are kept as SHA-256 digests; the one place a token exists in full is the answer of ``issue_token``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emulator.net.faults import OK, FaultPlan

TARIFF_KOP = 24_900          # MODELLED: one ПРРО for one period
PERIOD_DAYS = 30
DAY_MS = 86_400_000
MAX_BODY = 64 * 1024
PRRO_PATH = "/api/v1/dm/prro"
WORDS = frozenset({"garbage"})

# MODELLED: the cabinet's defaults for a new ПРРО (the DM's own defaults, reference §3.3)
DEFAULT_TAX_GROUPS: tuple[dict[str, Any], ...] = (
    {"code": "1", "name": "ПДВ 20%", "letter": "А", "vat_bp": 2000},
    {"code": "2", "name": "Без ПДВ", "letter": "Б", "vat_bp": 0, "vat": False},
    {"code": "3", "name": "ПДВ 20% + акциз 5%", "letter": "В", "vat_bp": 2000, "excise_bp": 500},
    {"code": "4", "name": "ПДВ 7%", "letter": "Г", "vat_bp": 700},
    {"code": "5", "name": "ПДВ 0%", "letter": "Д", "vat_bp": 0},
    {"code": "6", "name": "Без ПДВ + акциз 5%", "letter": "Е", "vat_bp": 0, "excise_bp": 500, "vat": False},
    {"code": "7", "name": "Не є об'єктом ПДВ", "letter": "Ж", "vat_bp": 0, "vat": False},
    {"code": "8", "name": "ПДВ 20% + ПФ 7.5%", "letter": "З", "vat_bp": 2000, "excise_bp": 750},
    {"code": "9", "name": "ПДВ 14%", "letter": "И", "vat_bp": 1400},
)
DEFAULT_PAY_TYPES: tuple[dict[str, Any], ...] = tuple(
    {"code": c, "name": n} for c, n in ((0, "Готівка"), (1, "Безготівкова"), (2, "Картка"), (3, "Передоплата"),
                                        (4, "Післяплата"), (5, "Кредит"), (6, "Сертифікат")))


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def version_tuple(text: str) -> tuple[int, ...]:
    """``"5.183.0"`` → ``(5, 183, 0)``; ValueError for anything else."""
    parts = text.strip().split(".")
    if not 1 <= len(parts) <= 4 or not all(p.isdigit() and len(p) <= 6 for p in parts):
        raise ValueError(f"not a version: {text[:40]!r}")
    return tuple(int(p) for p in parts)


@dataclass
class CabinetPrro:
    id: int
    name: str
    fiscal: bool                      # False: the account's test ПРРО
    tax_groups: list[dict[str, Any]] = field(default_factory=lambda: [dict(g) for g in DEFAULT_TAX_GROUPS])
    pay_types: list[dict[str, Any]] = field(default_factory=lambda: [dict(p) for p in DEFAULT_PAY_TYPES])
    rounding: bool = False
    offline_allowed: bool = True
    paid_to_ms: int = 0
    free: bool = False                # the test ПРРО is not billed

    def settings(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "is_fiscal": self.fiscal, "tax_groups": self.tax_groups,
                "pay_types": self.pay_types, "rounding": self.rounding, "offline_allowed": self.offline_allowed}


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    fault: str | None = None          # "refuse" / "close" / "stall" / "down": no answer at all
    delay_ms: int = 0


@dataclass
class _Token:
    prro_id: int
    revoked: bool = False


class VchasnoCabinet:
    """The cabinet of one company account (see the module docstring). Thread-safe."""

    def __init__(self, now_ms: Callable[[], int], *, balance_kop: int = 10 * TARIFF_KOP,
                 min_dm_version: str = "5.100.0") -> None:
        self.now_ms = now_ms
        self.balance_kop = balance_kop
        self.min_dm_version = min_dm_version
        self.faults = FaultPlan(words=WORDS)
        self.clock_skew_ms = 0
        self.prros: dict[int, CabinetPrro] = {}
        self._tokens: dict[str, _Token] = {}
        self.requests = 0
        self.lock = threading.RLock()
        self.add_prro("Тестовий ПРРО", fiscal=False)

    # ------------------------------------------------------------ the cabinet's person
    @property
    def test_prro(self) -> CabinetPrro:
        return next(p for p in self.prros.values() if not p.fiscal)

    def add_prro(self, name: str, *, fiscal: bool = True, **settings: Any) -> CabinetPrro:
        """A ПРРО of the account (a fiscal one: registered with the ДПС by the company; see the world)."""
        with self.lock:
            p = CabinetPrro(len(self.prros) + 1, name, fiscal, free=not fiscal, paid_to_ms=self.now_ms())
            for k, val in settings.items():
                if not hasattr(p, k) or k in ("id", "fiscal", "free"):
                    raise ValueError(f"no cabinet ПРРО setting {k!r}")
                setattr(p, k, val)
            self.prros[p.id] = p
            self._renew(p)
            return p

    def prro(self, prro_id: int) -> CabinetPrro:
        try:
            return self.prros[prro_id]
        except KeyError:
            raise ValueError(f"no cabinet ПРРО {prro_id}") from None

    def issue_token(self, prro_id: int) -> str:
        """«Сформувати токен»: a new token for the ПРРO; its previous tokens are revoked."""
        with self.lock:
            self.prro(prro_id)
            for t in self._tokens.values():
                if t.prro_id == prro_id:
                    t.revoked = True
            token = secrets.token_urlsafe(24)
            self._tokens[digest(token)] = _Token(prro_id)
            return token

    def revoke_token(self, token: str) -> None:
        with self.lock:
            t = self._tokens.get(digest(token))
            if t is None:
                raise ValueError("no such token")
            t.revoked = True

    def top_up(self, kop: int) -> None:
        with self.lock:
            if kop <= 0:
                raise ValueError("a top-up is a positive sum")
            self.balance_kop += kop
            for p in self.prros.values():
                self._renew(p)

    def _renew(self, p: CabinetPrro) -> None:
        now = self.now_ms()
        if p.free:
            p.paid_to_ms = max(p.paid_to_ms, now + PERIOD_DAYS * DAY_MS)
            return
        while p.paid_to_ms <= now and self.balance_kop >= TARIFF_KOP:
            self.balance_kop -= TARIFF_KOP
            p.paid_to_ms = max(p.paid_to_ms, now) + PERIOD_DAYS * DAY_MS

    def billing(self, p: CabinetPrro) -> dict[str, Any]:
        self._renew(p)
        return {"paid_to_ms": p.paid_to_ms, "blocked": p.paid_to_ms <= self.now_ms(),
                "enough_to_renew_subscription": p.free or self.balance_kop >= TARIFF_KOP,
                "balance_kop": self.balance_kop}

    # ------------------------------------------------------------ the gate
    def request(self, method: str, path: str, body: bytes, *, token: str = "") -> Answer:
        with self.lock:
            self.requests += 1
            delay = self.faults.next_latency()
            if self.faults.down:
                return Answer(0, b"", fault="down", delay_ms=delay)
            item = self.faults.next_item()
            if item in ("refuse", "close", "stall"):
                return Answer(0, b"", fault=str(item), delay_ms=delay)
            if item == "garbage":
                return Answer(200, b"<html>502 Bad Gateway</html>", delay_ms=delay)
            if item != OK and isinstance(item, int) and item != 200:
                return Answer(item, b"<html>error</html>", delay_ms=delay)
            status, data = self._answer(method, path, body, token)
            return Answer(status, json.dumps(data, ensure_ascii=False).encode("utf-8"), delay_ms=delay)

    def _answer(self, method: str, path: str, body: bytes, token: str) -> tuple[int, dict[str, Any]]:
        if (method, path) != ("POST", PRRO_PATH):
            return 404, {"code": "not_found", "message": "no such method"}
        try:
            req = json.loads(body[:MAX_BODY].decode("utf-8")) if len(body) <= MAX_BODY else None
            version = version_tuple(str(req["dm_version"])) if isinstance(req, dict) else None
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            version = None
        if version is None:
            return 400, {"code": "bad_request", "message": "a JSON object with dm_version"}
        t = self._tokens.get(digest(token)) if token else None
        if t is None:
            return 401, {"code": "token_invalid", "message": "unknown token"}
        if t.revoked:
            return 403, {"code": "token_revoked", "message": "the token was replaced or revoked"}
        if version < version_tuple(self.min_dm_version):
            return 426, {"code": "dm_outdated", "message": f"the DM must be {self.min_dm_version} or newer"}
        p = self.prros[t.prro_id]
        return 200, {"prro": p.settings(), "billing": self.billing(p), "server_time_ms": self.now_ms() + self.clock_skew_ms}

    def summary(self) -> dict[str, Any]:
        with self.lock:
            return {"balance_kop": self.balance_kop, "min_dm_version": self.min_dm_version,
                    "prros": [{**p.settings(), **self.billing(p)} for p in self.prros.values()],
                    "tokens": [{"prro_id": t.prro_id, "revoked": t.revoked, "digest": d[:12]}
                               for d, t in self._tokens.items()]}
