"""The request and answer envelopes of ``/dm/execute`` (reference §3.2, §3.5).

``parse_request(body)`` reads the bytes of a request into a ``Request``; anything that is not a JSON
object of the envelope's shape is ``DmError`` 2000 with ``res_action`` 3. ``fiscal`` and ``pay`` stay raw
mappings here: the handler of the task reads them (``receipt.py``, ``terminal.py``), so a field a task
does not use never refuses a request. ``answer_json`` builds the answer: the request's ``ver``,
``source``, ``device``, ``tag``, ``type``, the task, ``dt`` (``YYYYMMDDHHMMSS``, Kyiv time), ``res``,
``res_action``, ``errortxt``, ``warnings`` and ``info``, and the print forms asked for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from emulator.fronts.dm import values as v
from emulator.fronts.dm.errors import OK, DmError, bad_json

KYIV = ZoneInfo("Europe/Kyiv")
MAX_BODY = 1 << 20            # bytes of one request
MAX_DEPTH = 32
VER = 6
PF_KINDS = ("txt", "img", "pdf", "doccmd")


@dataclass
class Request:
    raw: dict[str, Any]
    ver: int = VER
    source: str = ""
    device: str = ""
    tag: str = ""
    type: int = 1
    token: str = ""
    need_pf: dict[str, bool] = field(default_factory=dict)    # txt / img / pdf / doccmd → asked
    userinfo: dict[str, Any] = field(default_factory=dict)
    fiscal: dict[str, Any] = field(default_factory=dict)
    pay: dict[str, Any] = field(default_factory=dict)
    transaction_id: str = ""
    transaction_search: bool = False

    @property
    def task(self) -> int | None:
        """``fiscal.task`` (or ``pay.task`` for a terminal request), ``None`` when absent."""
        src = self.fiscal if "task" in self.fiscal else self.pay
        if "task" not in src:
            return None
        return v.integer(src["task"], "task")

    @property
    def is_requery(self) -> bool:
        """A re-query of a stored result by ``tag``: ``type`` 0, or a tag with no task at all."""
        return bool(self.tag) and (self.type == 0 or (not self.fiscal and not self.pay))


def _depth(x: Any, d: int = 0) -> int:
    if d > MAX_DEPTH:
        return d
    if isinstance(x, dict):
        return max([_depth(y, d + 1) for y in x.values()], default=d + 1)
    if isinstance(x, list):
        return max([_depth(y, d + 1) for y in x], default=d + 1)
    return d


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    x = float(text)
    if x in (float("inf"), float("-inf")):
        raise ValueError("a number out of range")
    return x


def parse_json(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_BODY:
        raise bad_json(f"body of {len(body)} bytes (at most {MAX_BODY})")
    try:
        text = body.decode("utf-8-sig")
        data = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise bad_json(f"not JSON: {str(exc)[:80]}") from None
    if not isinstance(data, dict):
        raise bad_json("not a JSON object")
    if _depth(data) > MAX_DEPTH:
        raise bad_json("nested too deep")
    return data


def parse_request(body: bytes | dict[str, Any]) -> Request:
    data = body if isinstance(body, dict) else parse_json(body)
    need = {k: v.integer(data.get(f"need_pf_{k}"), f"need_pf_{k}", 0) for k in PF_KINDS}
    return Request(
        raw=data,
        ver=v.integer(data.get("ver"), "ver", VER),
        source=v.string(data.get("source"), "source", max_len=200),
        device=v.string(data.get("device"), "device", max_len=200),
        tag=v.string(data.get("tag"), "tag", max_len=200),
        type=v.integer(data.get("type"), "type", 1),
        token=v.string(data.get("token"), "token", max_len=500),
        # MODELLED: any non-zero value asks for the form (a C# client's enum says 1 "disabled", 2 "enabled";
        # other clients send 1 for yes); an unasked form costs nothing but bytes.
        need_pf={k: n != 0 for k, n in need.items()},
        userinfo=v.obj(data.get("userinfo"), "userinfo"),
        fiscal=v.obj(data.get("fiscal"), "fiscal"),
        pay=v.obj(data.get("pay"), "pay"),
        transaction_id=v.string(data.get("transaction_id"), "transaction_id", max_len=100),
        transaction_search=v.flag(data.get("transaction_search"), "transaction_search"),
    )


def dt_text(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(KYIV).strftime("%Y%m%d%H%M%S")


@dataclass
class Answer:
    """What a handler gives back: ``info`` and, on success, the document to print or render."""

    info: dict[str, Any] = field(default_factory=dict)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    res: int = 0
    res_action: int = OK
    errortxt: str = ""
    printable: Any = None          # a net.escposlink.Receipt: the print form / the paper of the answer
    extra: dict[str, Any] = field(default_factory=dict)   # top-level fields beyond the envelope

    @classmethod
    def error(cls, err: DmError) -> Answer:
        return cls(info=dict(err.info), res=err.res, res_action=err.action, errortxt=err.errortxt)


def answer_json(req: Request | None, ans: Answer, now_ms: int, task: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ver": req.ver if req else VER, "source": req.source if req else "", "device": req.device if req else "",
        "tag": req.tag if req else "", "type": req.type if req else 1, "task": task,
        "dt": dt_text(now_ms), "res": ans.res, "res_action": ans.res_action, "errortxt": ans.errortxt,
        "warnings": ans.warnings, "info": ans.info}
    out.update(ans.extra)
    return out
