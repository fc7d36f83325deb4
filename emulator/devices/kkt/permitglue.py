"""The permit-mode glue: what the GIS MT client asks of its device, emergency mode, «СТАТУС ГИС МТ».

``GisMtClient`` sees the device only through ``gismt.GisMtHost``: it writes
its log records with ``write_record``, reports an HTTP 203 answer with
``emergency_answered`` and whether GIS MT answers at all with
``gismt_answering`` (which sets or clears the «!» status symbol). Emergency
mode is also switched by hand (``set_emergency``; switched off, the probes it
held back go out), and a new host or token drops the ranked CDN list
(``_forget_cdn``). A token entered by any way (typed, scanned, pushed by the
technological server) is checked with ``cdn/info`` at once, as the
operator's guide asks (``_token_entered``): a 401 shows 761 at once.
"""

from __future__ import annotations

from emulator.base import errors as E
from emulator.devices.kkt.events import EmergencyChanged, LogWritten
from emulator.devices.kkt.gismt import CheckContext
from emulator.devices.kkt.logbook import NO_EXPIRY, LogRecord
from emulator.devices.kkt.modes import Mode
from emulator.devices.kkt.permit import CheckAnswer
from emulator.devices.kkt.screen import Screen
from firmware_menu.keypad import Key


class PermitGlue(Screen):
    # ------------------------------------------------------------- records
    def write_record(self, code: int, ctx: CheckContext | None, elapsed_ms: int, note: str,
                     answer: CheckAnswer | None = None) -> LogRecord:
        """One log record: the code, the position being checked (if any) and the answer's fields."""
        flags: tuple[bool | None, ...] = (None,) * 7
        maxp = ctx.code_mrp or 0 if ctx else 0
        minp = 0
        expiry = NO_EXPIRY
        req_id, req_ts = "", None
        if answer is not None:
            req_id, req_ts = answer.req_id, answer.req_timestamp
            if answer.codes:
                a = answer.codes[0]
                flags = a.flags
                if a.mrp is not None:
                    maxp = a.mrp
                minp = a.smp or 0
                if a.expire_s is not None:
                    expiry = a.expire_s
        rec = self.logbook.append(
            time_ms=self.clock.now_ms, code=code, flags=flags, price=ctx.price if ctx else 0,
            max_price=maxp, min_price=minp, expiry_s=expiry, tag2106=ctx.tag2106 if ctx else 0,
            elapsed_ms=elapsed_ms, req_id=req_id, req_timestamp=req_ts, tz_offset_min=self.settings.tz_offset_min,
            note=note)
        self.emit(LogWritten(self.clock.now_ms, code, note))
        return rec

    # -------------------------------------------------------- answers, emergency
    def emergency_answered(self) -> None:
        """GIS MT answered 203: emergency mode goes on by itself."""
        if not self.emergency:
            self.emergency = True
            self._error(E.EMERGENCY)
            self.emit(EmergencyChanged(self.clock.now_ms, True, by_hand=False))
            self.save_state()

    def gismt_answering(self, ok: bool) -> None:
        """Whether the last GIS MT exchange got an answer: the «!» symbol in permit mode."""
        if ok:
            self.degraded = False
        elif self.settings.permit_on:
            self.degraded = True

    def set_emergency(self, on: bool) -> None:
        if self.emergency != on:
            self.emergency = on
            self.emit(EmergencyChanged(self.clock.now_ms, on, by_hand=True))
            if not on:
                self.degraded = False
            self.save_state()
            if not on:
                self.gismt.resume_probes()

    def _forget_cdn(self) -> None:
        """A new host or token invalidates the ranked list: the next status check ranks anew."""
        self.book.hosts = []
        self.book.refreshed_at = None
        self.gismt.cancel_probes()
        self.degraded = False
        self.save_state()

    def _token_entered(self) -> None:
        """A new token: the old list goes, and ``cdn/info`` checks the token at once (401: 761 shown)."""
        self._forget_cdn()
        s = self.settings
        if not s.permit_on or s.is_autonomous or self.emergency or s.permit_problem() is not None:
            return      # no GIS MT request in these states

        def done(code: int | None) -> None:
            if code == E.INVALID_TOKEN:
                self._error(code)
                self._show_error(code, self.return_mode if self.mode == Mode.MESSAGE else self.mode)
                self._render()

        self.gismt.check_token(done)

    # -- «СТАТУС ГИС МТ» ----------------------------------------------------
    def status_check(self) -> None:
        back = self.context_return if self.mode == Mode.CONTEXT else self.mode
        self.mode = Mode.STATUS_RUNNING
        self._render()

        def done(code: int | None) -> None:
            if code is None:
                active = self.book.active(self.clock.now_ms)
                self._message(f"{self.msgs['status_ok']}\nCDN: {active.name if active else '-'}", back)
            else:
                self._error(code)
                self._show_error(code, back)
            self.save_state()
            self._render()

        self.gismt.refresh(done)

    def _key_status_running(self, k: Key) -> None:
        pass  # the device waits for the answer
