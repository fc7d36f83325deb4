"""The menu: navigation, parameter editing, options, context menus, the token scan.

The main menu and its sub-menus are walked with +/-, ИТ enters, С goes back,
РЕЖ returns to the main menu; 00 opens the context menu of the menu the
cursor is in (the main menu's: «СТАТУС ГИС МТ»). A parameter is edited in
``edit`` (a choice with +/-, text and numbers typed or keyed in, a token
masked), checked as the settings check it, saved and reported as a
``SettingChanged`` event. Options (``options`` -> ``option_edit``) are numbered;
option 92 = 1 (host authentication off) is announced on the display and in
the events.
"""

from __future__ import annotations

from typing import Any

from emulator.base import errors as E
from emulator.devices.kkt.events import DefaultsRestored, SettingChanged, TlsNote
from emulator.devices.kkt.fiscal import FiscalUnit
from emulator.devices.kkt.modes import Mode
from emulator.devices.kkt.techglue import TechGlue
from emulator.rules.syntax import HOST_RE, TOKEN_RE, mask_token
from firmware_menu.keypad import Key
from firmware_menu.tree import Node

HOST_CHECK_OFF = "host authentication OFF (option 92 = 1)"


class MenuKeys(TechGlue):
    fiscal: FiscalUnit | None    # the fiscal half (``fiscal.py``)

    def _key_message(self, k: Key) -> None:
        if k in (Key.C, Key.IT):
            self.mode = self.return_mode

    def _key_main(self, k: Key) -> None:
        if k in (Key.PLUS, Key.REZH):
            self.nav.move(+1)
        elif k is Key.MINUS:
            self.nav.move(-1)
        elif k is Key.IT:
            self._activate(self.nav.selected)
        elif k is Key.D00:
            # The main menu's own context menu: «СТАТУС ГИС МТ» (the vendor: «из главного
            # контекстного меню выбираем: «00» - «СТАТУС ГИС МТ»»).
            self._open_context(self.menu.main_context, Mode.MAIN)

    def _open_context(self, items: tuple[str, ...], back: Mode) -> None:
        self.context_items = items
        self.context_index = 0
        self.context_return = back
        self.mode = Mode.CONTEXT

    def _key_menu(self, k: Key) -> None:
        if k is Key.PLUS:
            self.nav.move(+1)
        elif k is Key.MINUS:
            self.nav.move(-1)
        elif k is Key.IT:
            self._activate(self.nav.selected)
        elif k is Key.C:
            self.nav.back()
            if self.nav.at_main:
                self.mode = Mode.MAIN
        elif k is Key.REZH:
            self.nav.reset()
            self.mode = Mode.MAIN
        elif k is Key.D00:
            owner = self.nav.parent
            if owner is not None and owner.context:
                self._open_context(owner.context, Mode.MENU)
            else:
                self._bad(self.msgs["bad_operation"])

    def _activate(self, node: Node) -> None:
        if node.kind == "menu":
            self.nav.enter()
            self.mode = Mode.MENU
        elif node.kind == "param":
            self.edit_node = node
            value = getattr(self.settings, node.setting or "")
            if node.type == "choice":
                self.edit_index = node.values.index(value)
                self.buffer = ""
            else:
                self.buffer = "" if node.type == "secret" else str(value)
            self.mode = Mode.EDIT
        elif node.kind == "options":
            self.buffer = ""
            self.mode = Mode.OPTIONS
        elif node.kind == "mode" and node.id == "cash":
            self.buffer = ""
            self.mode = Mode.CASH_PASSWORD
        elif node.kind == "action" and node.id == "z_report":
            if not self.shift_open:
                self._message(self.msgs["shift_closed"], self.mode)
            else:
                self.return_mode = self.mode
                self.mode = Mode.Z_CONFIRM
        elif node.kind == "action" and node.id == "x_report":
            state = self.msgs["shift_opened"] if self.shift_open else self.msgs["shift_closed"]
            signs = ""
            if self.fiscal is not None and self.fiscal.drive.state == "fiscal":
                signed = self.fiscal.status_report()   # «Отчет о текущем состоянии расчетов» (21)
                if not isinstance(signed, Exception):
                    signs = f"ФД {signed.fd_number} ФП {signed.fiscal_sign}\n"
            self._message(f"{signs}{state}\nЧЕКОВ: {self.shift_receipts}", self.mode)

    def _key_edit(self, k: Key) -> None:
        node = self.edit_node
        assert node is not None
        if k is Key.C:
            if self.buffer and node.type != "choice":
                self.buffer = ""
            else:
                self.mode = Mode.MENU
            return
        if node.type == "choice":
            if k is Key.PLUS:
                self.edit_index = (self.edit_index + 1) % len(node.values)
            elif k is Key.MINUS:
                self.edit_index = (self.edit_index - 1) % len(node.values)
            elif k is Key.IT:
                self._set(node, node.values[self.edit_index])
            return
        if k.is_digit or k is Key.POINT:
            self.buffer += k.value
        elif k is Key.IT:
            if node.type == "int":
                value: Any = int(self.buffer) if self.buffer.isdigit() else None
                if value is None or not (node.min or 0) <= value <= (node.max or 10**9):
                    self._bad(self.msgs["bad_value"])
                    return
                self._set(node, value)
            elif node.setting == "gismt_host" or node.setting == "tech_server_host":
                if not HOST_RE.match(self.buffer):
                    self._bad(self.msgs["bad_value"])
                    return
                self._set(node, self.buffer)
            elif node.type == "secret":
                if not TOKEN_RE.match(self.buffer):
                    self._bad(self.msgs["bad_value"])
                    return
                self._set(node, self.buffer)
            else:
                self._set(node, self.buffer)

    def _set(self, node: Node, value: Any) -> None:
        old = getattr(self.settings, node.setting or "")
        setattr(self.settings, node.setting or "", value)
        try:
            self._save_settings()
        except ValueError:
            setattr(self.settings, node.setting or "", old)
            self._bad(self.msgs["bad_value"])
            return
        shown = mask_token(value) if node.type == "secret" else value
        self.emit(SettingChanged(self.clock.now_ms, node.setting or "", str(shown)))
        if node.setting == "token":
            self._token_entered()
        elif node.setting == "gismt_host":
            self._forget_cdn()
        if node.setting == "poll_period_min" and self.tech is not None:
            self.tech.schedule()  # the next session comes one new period from now
        self.buffer = ""
        self.mode = Mode.MENU

    def _key_options(self, k: Key) -> None:
        if k.is_digit:
            self.buffer = (self.buffer + k.value)[-3:]
        elif k is Key.C:
            if self.buffer:
                self.buffer = ""
            else:
                self.mode = Mode.MENU
        elif k is Key.IT:
            n = int(self.buffer) if self.buffer else 0
            if n not in self.menu.options:
                self._bad(self.msgs["bad_value"])
                return
            self.option_number = n
            self.buffer = ""
            self.mode = Mode.OPTION_EDIT

    def _key_option_edit(self, k: Key) -> None:
        assert self.option_number is not None
        opt = self.menu.options[self.option_number]
        if k.is_digit:
            self.buffer = (self.buffer + k.value)[-5:]
        elif k is Key.C:
            self.buffer = ""
            self.mode = Mode.OPTIONS
        elif k is Key.IT:
            value = int(self.buffer) if self.buffer else self.settings.options.get(opt.number, opt.default)
            if not 0 <= value <= opt.max:
                self._bad(self.msgs["bad_value"])
                return
            self.settings.options[opt.number] = value
            self._save_settings()
            self.emit(SettingChanged(self.clock.now_ms, f"option {opt.number}", str(value)))
            self.buffer = ""
            if opt.number == 92 and value == 1:
                # The device says so whenever host authentication is switched off.
                self.emit(TlsNote(self.clock.now_ms, HOST_CHECK_OFF))
                self._message(self.msgs["host_check_off"], Mode.OPTIONS)
            else:
                self.mode = Mode.OPTIONS

    def _key_context(self, k: Key) -> None:
        if k is Key.PLUS:
            self.context_index = (self.context_index + 1) % len(self.context_items)
        elif k is Key.MINUS:
            self.context_index = (self.context_index - 1) % len(self.context_items)
        elif k is Key.C:
            self.mode = self.context_return
        elif k is Key.IT:
            self._run_context(self.context_items[self.context_index])

    def _run_context(self, cid: str) -> None:
        m = self.msgs
        if cid == "defaults":
            self.settings.restore_permit_defaults()
            self._save_settings()
            self._forget_cdn()
            self.emit(DefaultsRestored(self.clock.now_ms))
            self._message(m["defaults_done"], Mode.MENU)
        elif cid == "scan_token":
            self.mode = Mode.SCAN_TOKEN
        elif cid == "status":
            self.status_check()
        elif cid == "emergency_on":
            self.set_emergency(True)
            self._message(m["emergency_on"], Mode.MENU)
        elif cid == "emergency_off":
            self.set_emergency(False)
            self._message(m["emergency_off"], Mode.MENU)

    def _scan_token(self, data: str) -> None:
        token = data.strip()
        if not TOKEN_RE.match(token):
            self._beep("bad token scan")
            self._show_error(E.SETTINGS_ERROR, Mode.SCAN_TOKEN, self.msgs["bad_value"])
            return
        self.settings.token = token
        self._save_settings()
        self.emit(SettingChanged(self.clock.now_ms, "token", mask_token(token), "scanned"))
        self._message(f"{self.msgs['token_saved']}\n{mask_token(token)}", Mode.MENU)
        self._token_entered()

    def _key_scan_token(self, k: Key) -> None:
        if k is Key.C:
            self.mode = Mode.MENU
