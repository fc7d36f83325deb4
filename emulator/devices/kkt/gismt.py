"""The device's GIS MT client: per-receipt checks (the list: ``cdnrefresh.py``, probes: ``cdnprobe.py``).

Everything is asynchronous on the virtual clock: a method sends requests
through the transport and returns; the outcome reaches the caller's callback
when an answer, a failure or a deadline timer arrives.

Check (``check``): one ``POST codes/check`` per marked position, on the
receipt's kept-alive connection to the active host (the connection key is the
receipt's plus the host's name, so a receipt holds one connection per host it
used, normally exactly one). A 1.5 s decision deadline runs from the first
attempt. Within it:

=====================  =================================================  =====
answer                 what the device does                               code
=====================  =================================================  =====
200, usable            decide on it (``permit.decide``)                    -
200, unusable          no decision, sell with a beep                      750/760
203                    emergency mode on, sell without checks             762
401                    sell with a beep; the token must be replaced       761
5xx + code 5000        not the host's fault: retry once, then give up     766
429 / 5xx              retry once; the second in a row blocks the host    760, 768
                       and the device switches to the next host (once
                       per position, within the deadline)
other 4xx (418 too)    do not retry                                       765
refused / unknown host count as a host error, as 5xx                      748, 768
server closed a        the transport reopens it; logged                   658
kept-alive connection
closed mid-answer      no repeat                                          658
no answer in 1.5 s     give up (the device drops the connection itself:   748, 768
                       the next position reconnects, no 658); the third
                       in a row blocks the host
no ranked list         no request                                         747
every host blocked     no request; refresh the list, clear the blocks     764
=====================  =================================================  =====

Every failure and every error answer becomes a log record (the device writes
it through ``write_record``) before the outcome is reported.

418 was the emergency signal before the guide's v06, which replaced it with
203; it is an ordinary 4xx now.

Refresh, probes and the narrow interface to the device (``GisMtHost``: the
settings, the record writer, "GIS MT answered 203", "GIS MT answers / does not
answer") are ``cdnrefresh.GisMtLink``'s and ``cdnprobe.CdnProbes``'s, the
bases of ``GisMtClient``; the client never imports the device.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from emulator.base import errors as E
from emulator.base.clock import Timer
from emulator.base.failures import Failure
from emulator.devices.kkt.cdn import CdnHost
from emulator.devices.kkt.cdnprobe import CdnProbes
from emulator.devices.kkt.cdnrefresh import (
    CDN_INFO_PATH,
    FALLBACK_HOSTS,
    CheckContext,
    GisMtHost,
    GisMtStats,
)
from emulator.devices.kkt.permit import AnswerError, CheckAnswer, parse_check_answer, parse_json_body
from emulator.net.seam import NetResult

__all__ = ["CDN_INFO_PATH", "CHECK_PATH", "FALLBACK_HOSTS", "CheckContext", "CheckOutcome", "GisMtClient",
           "GisMtHost", "GisMtStats"]

DECISION_DEADLINE_MS = 1500
CHECK_TRANSPORT_TIMEOUT_MS = 10_000
CHECK_PATH = "/api/v4/true-api/codes/check"


@dataclass(frozen=True)
class CheckOutcome:
    answer: CheckAnswer | None = None   # a usable 200 answer (code == 0)
    failure: int | None = None          # device code when no decision could be made
    emergency: bool = False
    elapsed_ms: int = 0
    host: str = ""


@dataclass
class _Attempt:
    ctx: CheckContext
    receipt_key: str
    started: int
    on_done: Callable[[CheckOutcome], None]
    retries_left: int = 1
    switched: bool = False
    request_id: int | None = None
    host: CdnHost | None = None
    deadline: Timer | None = None
    finished: bool = False



class GisMtClient(CdnProbes):
    # -- codes/check -------------------------------------------------------
    def check(self, ctx: CheckContext, receipt_key: str, on_done: Callable[[CheckOutcome], None]) -> None:
        self.stats.checks += 1
        now = self.clock.now_ms
        s = self.host.settings
        problem = s.permit_problem()
        if problem:
            self._record(E.SETTINGS_ERROR, ctx, 0, f"codes/check not sent: {problem}")
            on_done(CheckOutcome(failure=E.SETTINGS_ERROR))
            return
        if not self.book.has_list:
            self._record(E.NO_ACTIVE_CDN, ctx, 0, "codes/check not sent: no ranked CDN list")
            on_done(CheckOutcome(failure=E.NO_ACTIVE_CDN))
            return
        if self.book.active(now) is None:
            self._all_blocked(ctx)
            on_done(CheckOutcome(failure=E.NO_AVAILABLE_CDN))
            return
        att = _Attempt(ctx, receipt_key, now, on_done)
        att.deadline = self.clock.call_later(DECISION_DEADLINE_MS, lambda: self._deadline(att), "decision")
        self._try(att)

    def _all_blocked(self, ctx: CheckContext | None) -> None:
        self._record(E.NO_AVAILABLE_CDN, ctx, 0, "every CDN host is blocked: list refreshed, blocks cleared")
        self.book.clear_blocks()
        self.cancel_probes()
        self.refresh()

    def _try(self, att: _Attempt) -> None:
        now = self.clock.now_ms
        host = self.book.active(now)
        if host is None:
            self._all_blocked(att.ctx)
            self._finish(att, CheckOutcome(failure=E.NO_AVAILABLE_CDN, elapsed_ms=now - att.started))
            return
        att.host = host
        key = f"{att.receipt_key}@{host.name}"
        self._receipt_keys.setdefault(att.receipt_key, set()).add(key)
        body = json.dumps({"codes": [att.ctx.code]}, ensure_ascii=False).encode("utf-8")
        att.request_id = self._send("POST", host.name, CHECK_PATH, body, key, CHECK_TRANSPORT_TIMEOUT_MS,
                                    lambda r: self._on_check(att, r))

    def _finish(self, att: _Attempt, outcome: CheckOutcome) -> None:
        if att.finished:
            return
        att.finished = True
        if att.deadline:
            att.deadline.cancel()
        att.on_done(outcome)

    def _deadline(self, att: _Attempt) -> None:
        if att.finished or self._closed:
            return
        host = att.host
        if att.request_id is not None:
            self._abandon(att.request_id)
            if host is not None:
                # The device dropped the connection itself: reopening it is no sign of the server's.
                self._used_keys.discard(f"{att.receipt_key}@{host.name}")
        now = self.clock.now_ms
        self._record(E.NO_CONNECTION, att.ctx, DECISION_DEADLINE_MS,
                     f"codes/check {host.name if host else '?'}: no answer within 1.5 s")
        if host is not None and self.book.record_slow(host, now):
            self._record(E.ATTEMPTS_EXHAUSTED, att.ctx, DECISION_DEADLINE_MS,
                         f"{host.name}: third answer in a row later than 1.5 s, blocked for 15 min")
            self._schedule_probe(host)
        self.host.gismt_answering(False)
        self._finish(att, CheckOutcome(failure=E.NO_CONNECTION, elapsed_ms=DECISION_DEADLINE_MS,
                                       host=host.name if host else ""))

    def _retry_or_fail(self, att: _Attempt, code: int, blocked: bool = False) -> None:
        """One repeat on the same host; once per position, a switch to the next host when this one got blocked."""
        if blocked and not att.switched:
            att.switched = True
            att.retries_left = 1
            self._try(att)
        elif att.retries_left > 0 and not blocked:
            att.retries_left -= 1
            self._try(att)
        else:
            self.host.gismt_answering(False)
            self._finish(att, CheckOutcome(failure=code, elapsed_ms=self.clock.now_ms - att.started,
                                           host=att.host.name if att.host else ""))

    def _on_check(self, att: _Attempt, result: NetResult) -> None:
        if att.finished:
            return
        host = att.host
        assert host is not None
        now = self.clock.now_ms
        elapsed = now - att.started
        where = f"codes/check {host.name}"
        key = f"{att.receipt_key}@{host.name}"
        if result.new_connection and key in self._used_keys:
            self._record(E.TLS_PEER_CLOSED, att.ctx, elapsed,
                         f"{where}: the server had closed the kept-alive connection; reopened")
        if result.failure is None:
            self._used_keys.add(key)
        if result.failure is not None:
            code = result.failure.device_code
            self._record(code, att.ctx, elapsed, f"{where}: {result.failure.value} {result.detail}".strip())
            if result.failure in (Failure.REFUSED, Failure.RESOLVE):
                blocked = self.book.record_error(host, now)
                if blocked:
                    code = E.ATTEMPTS_EXHAUSTED
                    self._record(code, att.ctx, elapsed, f"{host.name}: unreachable twice, blocked for 15 min")
                    self._schedule_probe(host)
                self._retry_or_fail(att, code, blocked)
            elif result.failure is Failure.PEER_CLOSED and not result.new_connection:
                self._retry_or_fail(att, code)
            else:
                att.retries_left = 0
                self._retry_or_fail(att, code)
            return
        status = result.status or 0
        if status == 203:
            self._record(E.EMERGENCY, att.ctx, elapsed, f"{where}: HTTP {status}")
            self.host.emergency_answered()
            self._finish(att, CheckOutcome(emergency=True, failure=E.EMERGENCY, elapsed_ms=elapsed, host=host.name))
            return
        if status == 401:
            self._record(E.INVALID_TOKEN, att.ctx, elapsed, f"{where}: HTTP 401")
            att.retries_left = 0
            self._retry_or_fail(att, E.INVALID_TOKEN)
            return
        if status >= 500 and _is_5000(result.body):
            self._record(E.CROSS_BORDER_DOWN, att.ctx, elapsed, f"{where}: HTTP {status} code 5000")
            self._retry_or_fail(att, E.CROSS_BORDER_DOWN)
            return
        if status == 429 or status >= 500:
            self._record(E.REMOTE_ERROR, att.ctx, elapsed, f"{where}: HTTP {status}")
            final = E.REMOTE_ERROR
            blocked = self.book.record_error(host, now)
            if blocked:
                final = E.ATTEMPTS_EXHAUSTED
                self._record(E.ATTEMPTS_EXHAUSTED, att.ctx, elapsed,
                             f"{host.name}: HTTP {status} twice in a row, blocked for 15 min")
                self._schedule_probe(host)
            self._retry_or_fail(att, final, blocked)
            return
        if status != 200:
            self._record(E.BAD_REQUEST, att.ctx, elapsed, f"{where}: HTTP {status}")
            att.retries_left = 0
            self._retry_or_fail(att, E.BAD_REQUEST)
            return
        try:
            answer = parse_check_answer(result.body)
        except AnswerError as exc:
            self._record(E.PARSE_ERROR, att.ctx, elapsed, f"{where}: {exc}")
            att.retries_left = 0
            self._retry_or_fail(att, E.PARSE_ERROR)
            return
        self.book.record_ok(host)
        self.host.gismt_answering(True)
        if answer.code != 0:
            self._record(E.REMOTE_ERROR, att.ctx, elapsed, f"{where}: code {answer.code} {answer.description}",
                         answer)
            self._finish(att, CheckOutcome(failure=E.REMOTE_ERROR, elapsed_ms=elapsed, host=host.name))
            return
        self._finish(att, CheckOutcome(answer=answer, elapsed_ms=elapsed, host=host.name))

    def end_receipt(self, receipt_key: str) -> None:
        """Close the receipt's kept-alive connections (the client closes them, as the operator asks)."""
        for key in sorted(self._receipt_keys.pop(receipt_key, ())):
            self._used_keys.discard(key)
            self.transport.close_connection(key)


def _is_5000(body: bytes) -> bool:
    """A 5xx whose body says code 5000; a body that does not parse is a plain 5xx."""
    try:
        doc = parse_json_body(body)
    except AnswerError:
        return False
    return isinstance(doc, dict) and doc.get("code") == 5000
