"""Cash mode: the password, the shift, the receipt and its document type.

``cash_password`` (option 2) leads to ``cash_open_shift`` (3 opens it) or
straight to ``cash_ready``. There an amount and ПИ sell a free position, a
scan a marked one (``sale.py``), ИТ closes the receipt, С on an empty buffer
asks to cancel it, ВЗ chooses the document type of an empty receipt, РЕЖ
leaves cash mode (not with positions in the receipt). Settings pushed by the
technological server while the cashier was selling are offered on leaving.
Opening a shift refreshes a CDN list older than six hours.

With a fiscal drive (``fiscal.FiscalUnit``) opening and closing the shift and
closing a receipt make their documents first; a document the drive refuses
(``FnError``) is shown as «ОШИБКА ФН <code>» and changes nothing (a receipt
stays open). A closed receipt's message shows its ФД and ФП.
"""

from __future__ import annotations

from emulator.devices.fn.model import FnError
from emulator.devices.kkt.events import (
    CdnNote,
    LeftCashMode,
    ReceiptCancelled,
    ReceiptClosed,
    ReceiptDiscarded,
    ShiftClosed,
    ShiftOpened,
    price_text,
)
from emulator.devices.kkt.fiscal import fn_message
from emulator.devices.kkt.modes import Mode
from emulator.devices.kkt.sale import MarkedSales, parse_amount
from emulator.devices.kkt.screen import DOC_KINDS
from firmware_menu.keypad import Key

SIX_HOURS_MS = 6 * 3600_000


class CashDesk(MarkedSales):
    def _key_cash_password(self, k: Key) -> None:
        if k.is_digit:
            self.buffer = (self.buffer + k.value)[-4:]
        elif k is Key.C:
            self.buffer = ""
            self.mode = Mode.MAIN
        elif k is Key.IT:
            if int(self.buffer or "0") != self.settings.options.get(2, 0):
                self.buffer = ""
                self._bad(self.msgs["access_denied"])
                return
            self.buffer = ""
            self.doc_kind = "sale"
            self.mode = Mode.CASH_READY if self.shift_open else Mode.CASH_OPEN_SHIFT

    def _key_cash_open_shift(self, k: Key) -> None:
        if k is Key.D3:
            self.open_shift()
        elif k in (Key.C, Key.REZH):
            self.mode = Mode.MAIN

    def open_shift(self) -> None:
        if self.fiscal is not None:
            signed = self.fiscal.shift_opened()
            if isinstance(signed, FnError):
                self._fn_error(signed, Mode.CASH_OPEN_SHIFT)
                return
        self.shift_open = True
        self.shift_number += 1
        self.shift_opened_ms = self.clock.now_ms
        self.shift_receipts = 0
        self.emit(ShiftOpened(self.clock.now_ms, self.shift_number))
        self.save_state()
        self._message(self.msgs["shift_opened"], Mode.CASH_READY)
        s = self.settings
        stale = self.book.refreshed_at is None or self.clock.now_ms - self.book.refreshed_at > SIX_HOURS_MS
        if (s.permit_on and not s.is_autonomous and not self.emergency and s.permit_problem() is None
                and stale):
            self.emit(CdnNote(self.clock.now_ms, "refresh at shift opening"))
            self.gismt.refresh(lambda code: self.save_state())

    def sync_shift_with_drive(self) -> None:
        """The drive's shift is the truth: a power cut between its commit and ``state.json`` is mended.

        Only a drive that has had a shift counts (a fresh one next to a ``state.json`` that says a
        shift is open gets its own shift opened at the first receipt).
        """
        d = self.fiscal.drive if self.fiscal is not None else None
        if d is None or d.state != "fiscal" or d.shift_number == 0:
            return
        if d.shift_open != self.shift_open or d.shift_number != self.shift_number:
            self.shift_open, self.shift_number = d.shift_open, d.shift_number
            self.shift_opened_ms = d.shift_open_ms if d.shift_open else None
            self.shift_receipts = d.receipts_in_shift if d.shift_open else 0
            self.save_state()

    def close_shift(self) -> None:
        if self.fiscal is not None:
            self.fiscal.shift_closed()      # the drive always takes the closing report
        self.shift_open = False
        self.shift_opened_ms = None
        self.emit(ShiftClosed(self.clock.now_ms, self.shift_number))
        self.save_state()

    def _key_z_confirm(self, k: Key) -> None:
        if k is Key.D3:
            self.close_shift()
            self._message(self.msgs["shift_closed"], self.return_mode)
        elif k is Key.C:
            self.mode = self.return_mode

    def _key_cash_ready(self, k: Key) -> None:
        if self._amount_key(k):
            return
        if k is Key.C:
            if self.receipt is not None:
                self.mode = Mode.CASH_CANCEL_CONFIRM
        elif k is Key.PI:
            price = parse_amount(self.buffer)
            if price is None or price <= 0:
                self._bad(self.msgs["bad_value"])
                return
            self.buffer = ""
            self._add_free(price)
        elif k is Key.IT:
            if self.receipt is not None and self.receipt.positions:
                self._close_receipt()
            elif self.buffer:
                self._bad(self.msgs["bad_operation"])
        elif k is Key.VZ:
            if self.receipt is not None and self.receipt.positions:
                self._bad(self.msgs["bad_operation"])
            else:
                self.edit_index = DOC_KINDS.index(self.doc_kind)
                self.mode = Mode.CASH_DOCTYPE
        elif k is Key.REZH:
            if self.receipt is not None and self.receipt.positions:
                self._bad(self.msgs["bad_operation"])
            else:
                self._discard_empty_receipt()
                self.leave_cash_mode()

    def leave_cash_mode(self) -> None:
        self.mode = Mode.MAIN
        self.nav.reset()
        self.emit(LeftCashMode(self.clock.now_ms))
        if self.settings_prompt_due and self.tech is not None and self.tech.pending_task is not None:
            self._show_settings_prompt()

    def _key_cash_doctype(self, k: Key) -> None:
        if k is Key.PLUS:
            self.edit_index = (self.edit_index + 1) % len(DOC_KINDS)
        elif k is Key.MINUS:
            self.edit_index = (self.edit_index - 1) % len(DOC_KINDS)
        elif k is Key.IT:
            self.doc_kind = DOC_KINDS[self.edit_index]
            if self.receipt is not None:  # still empty: it takes the new type
                self.receipt.kind = self.doc_kind
            self.mode = Mode.CASH_READY
        elif k is Key.C:
            self.mode = Mode.CASH_READY

    def _key_cash_cancel_confirm(self, k: Key) -> None:
        if k is Key.D3 and self.receipt is not None:
            r = self.receipt
            r.state = "cancelled"
            r.closed_ms = self.clock.now_ms
            self.receipts.append(r)
            self.receipt = None
            self.doc_kind = "sale"
            self.gismt.end_receipt(r.key)
            self.emit(ReceiptCancelled(self.clock.now_ms, r.number))
            self._message(self.msgs["receipt_cancelled"], Mode.CASH_READY)
        elif k is Key.C:
            self.mode = Mode.CASH_READY

    def _discard_empty_receipt(self) -> None:
        """Leaving cash mode with a receipt in which nothing was sold: it ends, and so does its connection."""
        r = self.receipt
        if r is not None and not r.positions:
            self.gismt.end_receipt(r.key)
            self.receipt = None
            self.receipt_counter -= 1  # its number was never printed
            self.emit(ReceiptDiscarded(self.clock.now_ms, r.number))

    def _close_receipt(self) -> None:
        r = self.receipt
        assert r is not None
        signs = ""
        if self.fiscal is not None:
            signed = self.fiscal.receipt(r)
            if isinstance(signed, FnError):   # the receipt stays open: the cashier may cancel it
                self._fn_error(signed, Mode.CASH_READY)
                return
            signs = f"\nФД {signed.fd_number} ФП {signed.fiscal_sign}"
        r.state = "closed"
        r.closed_ms = self.clock.now_ms
        self.receipts.append(r)
        self.receipt = None
        self.doc_kind = "sale"  # the next receipt is a sale again
        self.gismt.end_receipt(r.key)
        self.shift_receipts += 1
        self.save_state()          # the receipt number and the shift's count survive a power cut
        self.emit(ReceiptClosed(self.clock.now_ms, r.number, r.total))
        self._message(f"{self.msgs['receipt_closed']}\nИТОГ {price_text(r.total)}{signs}", Mode.CASH_READY)

    def _fn_error(self, err: FnError, then: Mode) -> None:
        """The drive refused a document: its code and the device's message for it, with a beep."""
        self._beep(f"ФН {err.code:02x}: {err.text}")
        self._message(f"ОШИБКА ФН {err.code:02x}\n{fn_message(err.code)}", then)
