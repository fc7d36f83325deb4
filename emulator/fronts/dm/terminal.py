"""The bank terminal's tasks on ``/dm/execute`` and its service routes, over ``net.bankterm.BankTermLink``
(reference §5; PrivatBank "ECR JSON").

A terminal request names the terminal in ``device`` and carries a ``pay`` object (``pay.task``):

====  =====================================  ==================================================
task  operation                              ``pay`` fields read
====  =====================================  ==================================================
1     payment (``Purchase``)                 ``sum`` (hryvnias), ``merchant``
2     refund (``Refund``)                    ``sum``, ``refundid`` (the sale's RRN), ``merchant``
3     cancel (``Withdrawal``, no card)       ``cancelid`` (the operation's number in the batch)
10    X-balance (``Audit``)                  ``merchant``
11    settlement (``Verify``, closes batch)  ``merchant``
17    an earlier / the last operation        ``cancelid`` (empty: the terminal's last operation)
====  =====================================  ==================================================

Tasks 4, 5, 6, 7, 8, 14, 15, 16 are **5029** «Термінал %s (%s) не підтримує завдання з типом %s» (the
terminal's name, ``PrivatBankJSON``, the task): 4, 6, 7, 8 are not PrivatBank JSON tasks (§5.3), and the
emulated terminal has no universal service (5), no purchase with cash-out (14) and no pay-in-parts
(15, 16) — MODELLED for 5, 14, 15, 16, which a real PrivatBank terminal may do.

Every request may carry ``transaction_id`` and ``transaction_search`` (the envelope's): the link stores
every result under its ``transaction_id`` for 90 days; ``transaction_search`` answers the stored result
(or 5013) without asking the terminal. The answer: ``res`` / ``errortxt`` as the link maps them
(§5.5: 0 done, 5xxx from the terminal, the connection errors 411, 1016, 5067, 5068), ``info`` with the
terminal's fields (``refundid`` = RRN, ``cancelid`` = the operation's number, ``cardmask``, ``paysys``,
``authcode``, ``amount``, ``terminal``, ``merchant``, ``date``, ``time``, ``receipt``) and
``info.restxt`` (the terminal's own message), and ``transaction_id`` at the top level. ``res_action``
(MODELLED): 1 for a refused operation; 3 for a task the terminal has not (5029); 2 when the answer was lost (411 / 1016 on a card operation): the
terminal may have done it, and the link settles it before its next operation (``info.resync``).

Service routes (``GET``, parameter ``dev_name``): ``/dm/bankping``, ``/dm/getmerchantlist``
(``info.merchListValue``), ``/dm/getmasklist`` (``info.maskListValue``; also as ``/dm/getgetmasklist``,
the spelling the seed's PDF prints once), ``/dm/bankecho``, ``/dm/transaction-status``
(``info.LastResult``, ``info.LastStatMsgCode``), ``/dm/lasttransaction`` (the DM's last stored result).
A ``dev_name`` that names no terminal is **303** «Protocol id="%s", name="%s" do not recognised» with the
id empty and the name as given (MODELLED: the DM's protocol id of the device, which it has none of). The
service answer is ``{res, res_action, errortxt, info}``.

The link is opened on first use and re-opened by the next request after a failure (``BankTermLink``
does both). One task per terminal at a time is the manager's (1105); the service routes take the
terminal too: a ping or a status query while a payment waits for the card is 1105 (the link is one
connection, and the terminal serves one client), MODELLED; ``/dm/lasttransaction`` reads the DM's journal
only and answers at any time.

**The terminal's clock in a virtual world.** The emulated terminal reads the world's ``VirtualClock``:
the holder's seconds (card, PIN, bank) and the 300 s card timeout pass only when the clock moves. While
the DM waits on the terminal's socket a ``ClockPump`` (``DmTerminal.pump``, set by ``world.dm``) runs:
a thread that, every few wall milliseconds, reads the terminal's next due moment (``next_due()``) and
moves the world's clock there under ``world_lock`` (``clock.run_until``: the ПРРО world's timers due
before it run too). So a payment takes its virtual 6.5 s and a card that never comes its virtual 300 s,
in milliseconds of wall time, and nothing moves the clock when no terminal request is in flight. With
the wall clock (``kkt-emu dm serve``) there is no pump.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from emulator.fronts.dm import values as v
from emulator.fronts.dm.envelope import Answer
from emulator.fronts.dm.errors import COLLISION, FATAL, OK, REPEAT, DmError
from emulator.fronts.dm.manager import Context, DeviceManager, DmTerminal, route, terminal_task

PROTOCOL_TITLE = {"privatbank_json": "PrivatBankJSON"}
UNSUPPORTED = (4, 5, 6, 7, 8, 14, 15, 16)


class ClockPump:
    """Moves a virtual clock to the terminal's next due moment while a terminal request is in flight."""

    def __init__(self, next_due: Callable[[], int | None], now_ms: Callable[[], int],
                 advance_to: Callable[[int], None], lock: Any, interval_s: float = 0.005) -> None:
        self.next_due, self.now_ms, self.advance_to = next_due, now_ms, advance_to
        self.lock = lock
        self.interval_s = interval_s
        self.moved_ms = 0                 # virtual time this pump moved the clock, in all

    def _run(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval_s):
            due = self.next_due()
            if due is None:
                continue
            with self.lock:
                now = self.now_ms()
                if due > now:
                    self.advance_to(due)
                    self.moved_ms += due - now

    @contextmanager
    def running(self) -> Iterator[None]:
        stop = threading.Event()
        t = threading.Thread(target=self._run, args=(stop,), name="terminal-clock-pump", daemon=True)
        t.start()
        try:
            yield
        finally:
            stop.set()
            t.join(5)


@contextmanager
def waiting(term: DmTerminal) -> Iterator[None]:
    """The DM waits on the terminal: its clock pumped in a virtual world (see the module docstring)."""
    pump = getattr(term, "pump", None)
    if pump is None:
        yield
        return
    with pump.running():
        yield


def protocol_title(term: DmTerminal) -> str:
    return PROTOCOL_TITLE.get(term.protocol, term.protocol)


def answer(r: Any) -> Answer:
    """A ``net.bankterm.TermResult`` as the DM's answer (see the module docstring)."""
    info: dict[str, Any] = dict(r.info)
    if r.restxt:
        info["restxt"] = r.restxt
    action = OK if r.ok else COLLISION if info.get("resync") == "pending" else REPEAT
    extra = {"transaction_id": r.transaction_id} if r.transaction_id else {}
    return Answer(info=info, res=r.res, res_action=action, errortxt=r.errortxt, extra=extra)


def merchant_of(pay: dict[str, Any], default: str = "0") -> str:
    """``pay.merchant`` (or ``merchant_id``, ``merchantId``): the merchant's number in the terminal."""
    for key in ("merchant", "merchant_id", "merchantId"):
        if pay.get(key) not in (None, ""):
            return v.string(pay[key], f"pay.{key}", max_len=32)
    return default


def run(term: DmTerminal, task: int, pay: dict[str, Any], *, transaction_id: str = "",
        transaction_search: bool = False, merchant: str | None = None) -> Any:
    """One terminal operation (the tasks of the module docstring) → the link's ``TermResult``."""
    link = term.link
    m = merchant if merchant is not None else merchant_of(pay)
    tid, search = transaction_id, transaction_search
    amount = v.money(pay.get("sum"), "pay.sum", 0) if search or task not in (1, 2) else v.money(pay.get("sum"), "pay.sum")
    with waiting(term):
        if task == 1:
            return link.purchase(amount, m, tid, search)
        if task == 2:
            return link.refund(amount, v.string(pay.get("refundid"), "pay.refundid", max_len=64), m, tid, search)
        if task == 3:
            return link.void(v.string(pay.get("cancelid"), "pay.cancelid", max_len=32), tid, search)
        if task == 10:
            return link.x_balance(m, tid)
        if task == 11:
            return link.settlement(m, tid)
        if task == 17:
            return link.receipt_info(v.string(pay.get("cancelid"), "pay.cancelid", max_len=32), tid, search)
    raise DmError(5029, term.name, protocol_title(term), task, action=FATAL, group="connection")


@terminal_task(1, 2, 3, 10, 11, 17)
def terminal_operation(ctx: Context) -> Answer:
    term = ctx.dev
    assert isinstance(term, DmTerminal)
    assert ctx.task is not None
    return answer(run(term, ctx.task, ctx.req.pay, transaction_id=ctx.req.transaction_id,
                      transaction_search=ctx.req.transaction_search))


@terminal_task(*UNSUPPORTED)
def unsupported(ctx: Context) -> Answer:
    term = ctx.dev
    assert isinstance(term, DmTerminal)
    raise DmError(5029, term.name, protocol_title(term), ctx.task, action=FATAL, group="connection")


# ------------------------------------------------------------------ service routes
def _terminal(dm: DeviceManager, query: dict[str, str]) -> DmTerminal:
    name = query.get("dev_name", "")[:200]
    dev = dm.devices.get(name)
    if not isinstance(dev, DmTerminal):
        raise DmError(303, "", name, action=REPEAT, group="connection")
    return dev


def _service(dm: DeviceManager, query: dict[str, str], call: Callable[[Any], Any],
             take: bool = True) -> dict[str, Any]:
    term = _terminal(dm, query)
    if take:
        with dm.busy(term.name), waiting(term):
            r = call(term.link)
    else:
        with waiting(term):
            r = call(term.link)
    ans = answer(r)
    out = {"res": ans.res, "res_action": ans.res_action, "errortxt": ans.errortxt, "info": ans.info}
    out.update(ans.extra)
    return out


# path → the link's call; every route takes the terminal (see the module docstring) but the journal's
SERVICE_ROUTES: dict[str, tuple[Callable[[Any], Any], bool]] = {
    "/dm/bankping": (lambda link: link.ping(), True),
    "/dm/getmerchantlist": (lambda link: link.merchant_list(), True),
    "/dm/getmasklist": (lambda link: link.mask_list(), True),
    "/dm/getgetmasklist": (lambda link: link.mask_list(), True),
    "/dm/bankecho": (lambda link: link.echo(), True),
    "/dm/transaction-status": (lambda link: link.transaction_status(), True),
    "/dm/lasttransaction": (lambda link: link.last_transaction(), False),
}


def _service_route(call: Callable[[Any], Any], take: bool) -> Callable[[DeviceManager, dict[str, str], bytes],
                                                                    dict[str, Any]]:
    def serve(dm: DeviceManager, query: dict[str, str], body: bytes) -> dict[str, Any]:
        return _service(dm, query, call, take)
    return serve


for _path, (_call, _take) in SERVICE_ROUTES.items():
    route("GET", _path)(_service_route(_call, _take))
