"""The DM's extended integration API (reference §2.4): ПРРО creation with a Vchasno.Kasa token, the file key
loaded or replaced, the application's settings, ``sys_info``, the DM's ПРРО — and the cabinet check before
every fiscal task (the ПРРО's settings, its billing, the DM's version).

Routes (every answer HTTP 200 with ``res``, ``res_action``, ``errortxt`` and ``info``; MODELLED where the
seed's examples are missing, which is every body below):

    POST /dm/vchasno-kasa/api/v1/prro                  {"name", "token"} → info {dev_id, name, fisid, is_fiscal}
    GET  /dm/vchasno-kasa/api/v1/prro                  info.prros: every ПРРО of the DM
    GET  /dm/vchasno-kasa/api/v1/prro/state?dev_id=    one ПРРО's shift, offline and key state
    POST /dm/vchasno-kasa/api/v1/prro/token?dev_id=    {"token"}: replace the ПРРО's token (the cure of 1083)
    POST /dm/vchasno-kasa/api/v1/prro/sign?dev_id=     {"key": base64 of the key file, "password", "filename"}
                                                       (``&emergency=1``: with the shift open)
    GET  /dm/vchasno-kasa/api/v1/prro/sign?dev_id=     the loaded key's owner and validity (1095: none)
    GET  /dm/vchasno-kasa/api/v1/settings              the fields of §2.4 (the token masked)
    POST /dm/vchasno-kasa/api/v1/settings              save some of them
    GET|POST /dm/api/v1/sys_info                       version, database "SQLite" (top-level, as the change log
                                                       names the tag), uptime, devices

``dev_id`` is the DM's number of the ПРРО (``dev_id`` in the list) or its name. The checks, in order:

* create: the body (2000) → the name taken (2002) → the cabinet: no answer 2005, the token unknown or
  revoked 2001, the DM too old 1125, the clocks 30 minutes or more apart 1121, any other answer 1048 → no tax groups or no pay types 2014 → the
  cabinet's ПРРО already in this DM under another name (2002, MODELLED) → the ПРРО registered with the tax
  server and started through the world's ``provision`` callback, with no key;
* sign: 2007 (no such ПРРО) → 2009 while the ПРРО runs a task (its 1105) → 2013 offline → 2009 with the
  shift open, unless ``?emergency=1`` (the emergency replacement, MODELLED: then every fiscal task but the
  shift's closing is 1124 until that shift closes — a key registered as senior cashier can close it) → the
  body (2000) → the key read by the ПРРО's key library: 2003 with the library's own text
  (the key loaded before stays, the rejected file is removed) → saved;
* state: 2007 → 2011 while the ПРРО has never opened a shift (not initialised with the tax server);
* before a fiscal task (a ``REPAIR`` hook) of a ПРРО created with a token: the cabinet is asked at the
  shift opening (task 0), when its last answer is older than ``REFRESH_MS`` or the paid period has ended —
  1083 (token revoked), 1125, 1121 (the clocks 30 minutes or more apart), 1048, 2014 (the cabinet's ПРРО
  lost its tax groups or pay types); no answer (2005) is tolerated while a last answer exists (the DM works
  on it, logged) — then 1123 when the ПРРО's paid period has ended and the balance cannot renew it, except
  for the shift's closing (task 11, MODELLED: an unpaid ПРРО may close its shift). The settings the cabinet gives become the ПРРО's ``PrroConfig``; the billing goes into ``info.billing`` of
  tasks 0, 10, 11 and 18 (a ``FORMS`` hook).

``restore(dm)`` puts the ПРРО made through the API back into a restarted DM (their rows are in the DM's
database). The ПРРО made with ``world.add_prro`` (no token) never asks the cabinet. Tokens and passwords never appear
in full in a log line or an answer (``mask``); the token is kept in the DM's own database (a private file),
the key file in ``<dm dir>/keys/<name>/`` (private).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import platform
import re
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import Any

from emulator.base.storage import write_atomic
from emulator.fronts.dm import values as v
from emulator.fronts.dm.envelope import Answer, dt_text, parse_json
from emulator.fronts.dm.errors import DmError, bad_json, dm_tables
from emulator.fronts.dm.manager import (
    DM_VERSION,
    FORMS,
    REPAIR,
    Context,
    DeviceManager,
    DmPrro,
    PrroConfig,
    TaxGroup,
    route,
)
from emulator.fronts.dm.store import DmStore
from emulator.net.vchasnolink import VchasnoDown, VchasnoLink, mask

log = logging.getLogger("kkt_emu.dm.admin")

API = "/dm/vchasno-kasa/api/v1"
EMERGENCY = "admin.emergency."           # kv: the shift an emergency key replacement was made in
CLOSE_SHIFT = 11                         # MODELLED: an unpaid ПРРО may still close its shift (no 1123)
REFRESH_MS = 15 * 60_000                 # MODELLED: how long the DM trusts the cabinet's last answer
CLOCK_SKEW_MS = 30 * 60_000             # 1121: the device's clock this far from the cabinet's (reference §6)
TOKEN_RE = re.compile(r"[\x21-\x7e]{8,200}")
NAME_MAX = 100
FILE_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
MAX_KEY_BYTES = 700 * 1024               # the key file (base64 in a body of at most 1 MiB)

SCHEMA = """CREATE TABLE IF NOT EXISTS admin_prro (
    name TEXT PRIMARY KEY, cabinet_id INTEGER NOT NULL, token TEXT NOT NULL,
    fetched_ms INTEGER NOT NULL, answer TEXT NOT NULL, dev_id INTEGER NOT NULL)"""
_READY: weakref.WeakSet[DmStore] = weakref.WeakSet()

# MODELLED: the application's settings of §2.4 (names from a client; values the DM's defaults as we model them)
DEFAULT_SETTINGS: dict[str, Any] = {
    "supmail": "", "logdays": 30, "token": "", "autoupdate": False, "autoupdatetime": "03:00",
    "extAccess": False, "packdays": 90, "pf_charcount": 42, "pf_charwidth": 12, "pf_astext": True,
    "pf_asimage": False, "pf_aspdf": False, "pf_del_custom": False}


@dataclass
class Cabinet:
    """What the world gives the DM: the link to the Vchasno.Kasa cabinet and the narrow ``provision``
    callback — ``provision(key, offline_allowed)`` registers the cabinet's ПРРО ``key`` with the tax server
    (form 1-ПРРО, once) and starts its device, which it returns (no key loaded)."""

    link: VchasnoLink
    provision: Callable[[str, bool], Any]


def ok(info: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"res": 0, "res_action": 0, "errortxt": "", "info": info, **top}


def _cabinet(dm: DeviceManager) -> Cabinet:
    if not isinstance(dm.cabinet, Cabinet):
        raise DmError(2005)
    return dm.cabinet


def _body(body: bytes) -> dict[str, Any]:
    return parse_json(body or b"{}")


# ------------------------------------------------------------ the cabinet's answer
def fetch(dm: DeviceManager, token: str, *, creating: bool) -> dict[str, Any]:
    """The cabinet's answer for ``token`` (``{"prro": …, "billing": …}``), or the DmError of its refusal."""
    link = _cabinet(dm).link
    if not TOKEN_RE.fullmatch(token):
        raise DmError(2001 if creating else 1083)
    try:
        got = link.prro(token, DM_VERSION)       # no lock held: the cabinet may take its time
    except VchasnoDown as exc:
        log.info("dm: the Vchasno cabinet is unreachable: %s", exc)
        raise DmError(2005) from None
    data = got.data or {}
    if got.status in (401, 403) and data.get("code") in ("token_invalid", "token_revoked"):
        log.info("dm: the cabinet refuses token %s (%s)", mask(token), data.get("code"))
        raise DmError(2001 if creating else 1083)
    if got.status == 426 and data.get("code") == "dm_outdated":
        raise DmError(1125)
    if got.status != 200 or not isinstance(data.get("prro"), dict) or not isinstance(data.get("billing"), dict):
        log.info("dm: the cabinet answers %d %s", got.status, "JSON" if got.data is not None else "not JSON")
        raise DmError(1048)
    server_ms = data.get("server_time_ms")
    if isinstance(server_ms, int) and abs(server_ms - dm.now_ms()) >= CLOCK_SKEW_MS:
        log.info("dm: the device's clock is %d s away from the cabinet's", (dm.now_ms() - server_ms) // 1000)
        raise DmError(1121)
    return data


def config_of(answer: dict[str, Any]) -> PrroConfig:
    """The cabinet's settings as the DM's ``PrroConfig``: 2014 without tax groups or pay types, 1048 when the
    cabinet's settings are not of its shape."""
    p = answer["prro"]
    try:
        groups = {str(g["code"]): TaxGroup(str(g["code"]), str(g["name"]), str(g.get("letter", "")),
                                           int(g.get("vat_bp", 0)), int(g.get("excise_bp", 0)),
                                           bool(g.get("vat", True))) for g in p.get("tax_groups") or []}
        pays = {int(t["code"]): str(t["name"]) for t in p.get("pay_types") or []}
        cfg = PrroConfig(tax_groups=groups, pay_types=pays, rounding=bool(p.get("rounding", False)),
                         offline_allowed=bool(p.get("offline_allowed", True)), is_fiscal=bool(p.get("is_fiscal")))
    except (KeyError, TypeError, ValueError, AttributeError):
        raise DmError(1048) from None
    if not groups or not pays:
        raise DmError(2014)
    return cfg


def _schema(dm: DeviceManager) -> None:
    if dm.store not in _READY:
        dm.store.ensure(SCHEMA)
        _READY.add(dm.store)


def _row(dm: DeviceManager, name: str) -> dict[str, Any] | None:
    _schema(dm)
    with dm.store.lock:
        r = dm.store.db.execute("SELECT cabinet_id, token, fetched_ms, answer FROM admin_prro WHERE name=?",
                                (name,)).fetchone()
    return None if r is None else {"cabinet_id": r[0], "token": r[1], "fetched_ms": r[2], "answer": json.loads(r[3])}


def _save_row(dm: DeviceManager, name: str, cabinet_id: int, token: str, fetched_ms: int,
              answer: dict[str, Any], dev_id: int) -> None:
    _schema(dm)
    with dm.store.tx() as db:
        db.execute("INSERT OR REPLACE INTO admin_prro VALUES (?, ?, ?, ?, ?, ?)",
                   (name, cabinet_id, token, fetched_ms, json.dumps(answer, ensure_ascii=False), dev_id))


def restore(dm: DeviceManager) -> list[DmPrro]:
    """After a restart: every ПРРО created through the API back in the DM — its name, ``dev_id``, the
    cabinet's last settings, its device on its own state (the key it had); the ones the DM has are kept."""
    _schema(dm)
    with dm.store.lock:
        rows = dm.store.db.execute("SELECT name, cabinet_id, answer, dev_id FROM admin_prro ORDER BY dev_id").fetchall()
    back: list[DmPrro] = []
    with dm.world_lock:
        for name, cabinet_id, answer, dev_id in rows:
            if name in dm.devices:
                continue
            config = config_of(json.loads(answer))
            device = _cabinet(dm).provision(f"vchasno-{cabinet_id}", config.offline_allowed)
            back.append(dm.add(DmPrro(name, device, config, dev_id=dev_id)))  # type: ignore[arg-type]
    return back


def _cabinet_ids(dm: DeviceManager) -> dict[int, str]:
    _schema(dm)
    with dm.store.lock:
        return {r[1]: r[0] for r in dm.store.db.execute("SELECT name, cabinet_id FROM admin_prro")}


def check_cabinet(ctx: Context) -> None:
    """The ``REPAIR`` hook: the cabinet's word on a ПРРО before a fiscal task (see the module docstring)."""
    if not isinstance(ctx.dev, DmPrro):
        return
    dm, prro = ctx.dm, ctx.dev
    row = _row(dm, prro.name)
    if row is None:
        return
    now = dm.now_ms()
    answer = row["answer"]
    stale = (ctx.task == 0 or now - row["fetched_ms"] >= REFRESH_MS
             or int(answer["billing"].get("paid_to_ms", 0)) <= now)
    if stale:
        try:
            answer = fetch(dm, row["token"], creating=False)
        except DmError as err:
            if err.res != 2005:
                raise
            log.info("dm: %s works on the cabinet's answer of %s", prro.name, dt_text(row["fetched_ms"]))
        else:
            prro.config = config_of(answer)
            _save_row(dm, prro.name, row["cabinet_id"], row["token"], now, answer, prro.dev_id)
    if int(answer["billing"].get("paid_to_ms", 0)) <= now and ctx.task != CLOSE_SHIFT:
        raise DmError(1123)


def check_emergency(ctx: Context) -> None:
    """The ``REPAIR`` hook of an emergency key replacement: 1124 for every fiscal task but the shift's closing
    (11) while the shift it was made in is open; the mark goes once that shift has closed."""
    if not isinstance(ctx.dev, DmPrro):
        return
    mark = f"{EMERGENCY}{ctx.dev.name}"
    shift = ctx.dm.store.get(mark)
    if shift is None:
        return
    with ctx.dm.world_lock:
        now = ctx.dev.device.shift
    if not now.get("open") or now.get("id") != shift:
        ctx.dm.store.put(mark, None)
        return
    if ctx.task != CLOSE_SHIFT:
        raise DmError(1124, ctx.dev.name)


REPAIR.append(check_cabinet)
REPAIR.append(check_emergency)

BILLING_TASKS = {0: False, 10: True, 11: True, 18: True}   # task → with enough_to_renew_subscription


def billing_info(ctx: Context, ans: Answer) -> None:
    """A ``FORMS`` hook: ``info.billing`` of tasks 0, 10, 11 and 18 (reference §3.7) from the cabinet's last
    answer — ``paid_date_to`` (``YYYYMMDDHHMMSS``) and, for the reports and the status,
    ``enough_to_renew_subscription``; nothing for a ПРРО without a token or a handler that set it itself."""
    if not isinstance(ctx.dev, DmPrro) or ctx.task not in BILLING_TASKS or "billing" in ans.info:
        return
    row = _row(ctx.dm, ctx.dev.name)
    if row is None:
        return
    billing = row["answer"]["billing"]
    out: dict[str, Any] = {"paid_date_to": dt_text(int(billing.get("paid_to_ms", 0)))}
    if BILLING_TASKS[ctx.task]:
        out["enough_to_renew_subscription"] = bool(billing.get("enough_to_renew_subscription"))
    ans.info["billing"] = out


FORMS.append(billing_info)


# ------------------------------------------------------------ ПРРО by dev_id
def find_prro(dm: DeviceManager, query: dict[str, str]) -> DmPrro:
    wanted = query.get("dev_id", "")
    for p in dm.prros():
        if wanted and (str(p.dev_id) == wanted or p.name == wanted):
            return p
    raise DmError(2007, wanted[:64])


def key_info(prro: DmPrro) -> dict[str, Any]:
    key = prro.device.store.get("key")
    if not key:
        raise DmError(1095)
    return {"owner": key.get("owner", ""), "serial": key.get("serial", ""),
            "valid_to": dt_text(int(key.get("not_after_ms", 0))), "file": Path(key.get("path", "")).name}


def prro_summary(dm: DeviceManager, p: DmPrro) -> dict[str, Any]:
    key = p.device.store.get("key")
    row = _row(dm, p.name)
    return {"dev_id": p.dev_id, "name": p.name, "fisid": p.device.identity.fiscal_num,
            "is_fiscal": p.config.is_fiscal, "shift_status": 1 if p.device.shift.get("open") else 0,
            "isoffline": bool(p.device.offline.active), "has_key": bool(key),
            "token": mask(row["token"]) if row else ""}


# ------------------------------------------------------------ routes
@route("POST", f"{API}/prro")
def create_prro(dm: DeviceManager, query: dict[str, str], body: bytes) -> dict[str, Any]:
    data = _body(body)
    name = v.string(data.get("name", data.get("dev_name")), "name", max_len=NAME_MAX).strip()
    token = v.string(data.get("token"), "token", max_len=500).strip()
    if not name or any(ord(c) < 32 for c in name):
        raise bad_json("name: a non-empty line")
    if name in dm.devices:
        raise DmError(2002)
    answer = fetch(dm, token, creating=True)
    config = config_of(answer)
    cabinet_id = int(answer["prro"].get("id", 0))
    if cabinet_id in _cabinet_ids(dm):
        raise DmError(2002)
    with dm.world_lock:            # checked again under the lock: two creations at once make one ПРРО
        if name in dm.devices or cabinet_id in _cabinet_ids(dm):
            raise DmError(2002)
        device = _cabinet(dm).provision(f"vchasno-{cabinet_id}", config.offline_allowed)
        dev_id = max((p.dev_id for p in dm.prros()), default=0) + 1
        prro = DmPrro(name, device, config, dev_id=dev_id)
        _save_row(dm, name, cabinet_id, token, dm.clock.now_ms, answer, dev_id)
        dm.add(prro)
    log.info("dm: ПРРО %s created (dev_id %d, cabinet ПРРО %d, token %s)", name, dev_id, cabinet_id, mask(token))
    return ok({"dev_id": dev_id, "name": name, "fisid": device.identity.fiscal_num, "is_fiscal": config.is_fiscal})


@route("GET", f"{API}/prro")
def list_prro(dm: DeviceManager, query: dict[str, str], body: bytes) -> dict[str, Any]:
    with dm.world_lock:
        return ok({"prros": [prro_summary(dm, p) for p in sorted(dm.prros(), key=lambda p: p.dev_id)]})


@route("GET", f"{API}/prro/state")
def prro_state(dm: DeviceManager, query: dict[str, str], body: bytes) -> dict[str, Any]:
    prro = find_prro(dm, query)
    with dm.world_lock:
        if int(prro.device.store.get("shift_seq", 0)) == 0:
            raise DmError(2011, query["dev_id"][:64])
        info = prro_summary(dm, prro)
        info["shift_no"] = int(prro.device.store.get("shift_seq", 0))
    return ok(info)


@route("POST", f"{API}/prro/token")
def replace_token(dm: DeviceManager, query: dict[str, str], body: bytes) -> dict[str, Any]:
    prro = find_prro(dm, query)
    token = v.string(_body(body).get("token"), "token", max_len=500).strip()
    row = _row(dm, prro.name)
    answer = fetch(dm, token, creating=True)
    cabinet_id = int(answer["prro"].get("id", 0))
    if row is None or row["cabinet_id"] != cabinet_id:
        raise DmError(2001)        # MODELLED: a token of another cabinet ПРРО is not this ПРРО's token
    prro.config = config_of(answer)
    _save_row(dm, prro.name, cabinet_id, token, dm.now_ms(), answer, prro.dev_id)
    log.info("dm: ПРРО %s: token replaced (%s)", prro.name, mask(token))
    return ok({"dev_id": prro.dev_id, "name": prro.name})


@route("GET", f"{API}/prro/sign")
def key_read(dm: DeviceManager, query: dict[str, str], body: bytes) -> dict[str, Any]:
    prro = find_prro(dm, query)
    with dm.world_lock:
        return ok({"dev_id": prro.dev_id, **key_info(prro)})


@route("POST", f"{API}/prro/sign")
def key_load(dm: DeviceManager, query: dict[str, str], body: bytes) -> dict[str, Any]:
    prro = find_prro(dm, query)
    shown = query["dev_id"][:64]
    try:
        with dm.busy(prro.name):
            return _load_key(dm, prro, shown, body, v.flag(query.get("emergency"), "emergency"))
    except DmError as err:
        if err.res == 1105:
            raise DmError(2009, shown) from None
        raise


def _load_key(dm: DeviceManager, prro: DmPrro, shown: str, body: bytes, emergency: bool) -> dict[str, Any]:
    device = prro.device
    with dm.world_lock:
        if device.offline.active:
            raise DmError(2013, shown)
        open_shift = device.shift.get("id") if device.shift.get("open") else None
        if open_shift is not None and not emergency:
            raise DmError(2009, shown)
    data = _body(body)
    filename = v.string(data.get("filename"), "filename", "key.pfx", max_len=200)
    password = v.string(data.get("password"), "password", max_len=200)
    encoded = v.string(data.get("key"), "key", max_len=MAX_KEY_BYTES * 4 // 3 + 8)
    if not FILE_RE.fullmatch(filename) or filename in (".", ".."):
        raise bad_json("filename: letters, digits, '.', '_', '-'")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise bad_json("key: base64") from None
    if not raw:
        raise bad_json("key: empty")
    if dm.directory is None:
        raise DmError(1082)
    path = Path(dm.directory) / "keys" / prro.name / f"{sha256(raw).hexdigest()[:16]}-{filename}"
    write_atomic(path, raw)
    with dm.world_lock:
        old = device.store.get("key")
        device.choose_key(str(path), password)
        read = device.read_key()
        if not read.ok:
            if not old or Path(old.get("path", "")) != path:
                path.unlink(missing_ok=True)
            if old:
                device.choose_key(old["path"], old.get("password", ""))
            log.info("dm: ПРРО %s: the key was not loaded: %s", prro.name, read.text)
            raise DmError(2003, read.text)
        saved = device.save_key()
        if not saved.ok:
            raise DmError(2003, saved.text)
        info = key_info(prro)
        if open_shift is not None:      # the emergency replacement: only the shift's closing until it closes
            dm.store.put(f"{EMERGENCY}{prro.name}", open_shift)
            log.info("dm: ПРРО %s: emergency key replacement in shift %s", prro.name, open_shift)
    if old and Path(old.get("path", "")) != path and Path(old.get("path", "")).parent == path.parent:
        Path(old["path"]).unlink(missing_ok=True)
    log.info("dm: ПРРО %s: key loaded (owner %s, serial %s)", prro.name, info["owner"], info["serial"])
    return ok({"dev_id": prro.dev_id, **info})


def settings(dm: DeviceManager) -> dict[str, Any]:
    saved = dm.store.get("admin.settings", {})
    return {k: saved.get(k, d) for k, d in DEFAULT_SETTINGS.items()}


@route("GET", f"{API}/settings")
def settings_read(dm: DeviceManager, query: dict[str, str], body: bytes) -> dict[str, Any]:
    info = settings(dm)
    info["token"] = mask(info["token"]) if info["token"] else ""
    return ok(info)


@route("POST", f"{API}/settings")
def settings_save(dm: DeviceManager, query: dict[str, str], body: bytes) -> dict[str, Any]:
    """Save the fields given (each of ``DEFAULT_SETTINGS``' type; an unknown field or a wrong type is 2000 and
    nothing is saved)."""
    data = _body(body)
    new = settings(dm)
    for k, val in data.items():
        if k not in DEFAULT_SETTINGS:
            raise bad_json(f"settings: no field {k[:40]!r}")
        kind = type(DEFAULT_SETTINGS[k])
        if kind is bool:
            new[k] = v.flag(val, k)
        elif kind is int:
            new[k] = v.integer(val, k)
            if not 0 <= new[k] <= 100_000:
                raise bad_json(f"{k}: 0 … 100000")
        else:
            new[k] = v.string(val, k, max_len=500)
    dm.store.put("admin.settings", new)
    return settings_read(dm, query, b"")


def sys_info(dm: DeviceManager, query: dict[str, str], body: bytes) -> dict[str, Any]:
    info = {"version": DM_VERSION, "database": "SQLite", "os": platform.system(),
            "uptime_s": max(0, (dm.clock.now_ms - dm.started_ms) // 1000),
            "devices": {kind: sum(1 for d in dm.devices.values() if d.kind == kind)
                        for kind in ("prro", "terminal", "printer")}}
    return ok(info, **info)


route("GET", "/dm/api/v1/sys_info")(sys_info)
route("POST", "/dm/api/v1/sys_info")(sys_info)


# ------------------------------------------------------------ kkt-emu errors --dm
def error_rows() -> list[dict[str, Any]]:
    """Every row of the DM's tables (general, ПРРО, terminals): group, res, exact text, meaning, unreachable."""
    return [{"group": r.group, "res": r.res, "text": r.text, "meaning": r.meaning, "unreachable": r.unreachable}
            for r in dm_tables()]


def print_error_rows(out: Callable[[str], None], *, as_json: bool = False) -> int:
    """``kkt-emu errors --dm``: the rows as a JSON list, or a table (group, res, text; the unreachable ones
    marked with ``*`` and their reason on the next line)."""
    rows = error_rows()
    if as_json:
        out(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    out(f"{'GROUP':<10} {'RES':<5} TEXT")
    for r in rows:
        out(f"{r['group']:<10} {r['res']:<5} {r['text']}{'  *' if r['unreachable'] else ''}")
        if r["unreachable"]:
            out(f"{'':<16}* unreachable: {r['unreachable']}")
    return 0
