"""The technological-server glue: settings pushed to the device, the cashier's answer.

``TechExchange`` sees the device only through ``techexchange.TechHost``. When
a session brings settings (``settings_arrived``) the device asks the cashier
«ЕСТЬ НАСТР. ДЛЯ ОБНОВЛЕНИЯ [3]-ДА» at once, or, in cash mode or while busy,
when cash mode is left (``settings_prompt_due``). 3 applies them all together
or not at all (``_apply_settings``) and opens a session that reports the
result; any other key leaves them waiting on the server.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import serialization

from emulator.base import errors as E
from emulator.devices.kkt.events import TechNote, TlsNote
from emulator.devices.kkt.modes import Mode
from emulator.devices.kkt.permitglue import PermitGlue
from emulator.devices.kkt.settings import Settings
from emulator.rules.syntax import HOST_RE, TOKEN_RE
from firmware_menu.keypad import Key
from tls_store import TlsError, parse_certificates


class TechGlue(PermitGlue):
    def settings_arrived(self) -> None:
        """New settings from the technological server: ask the cashier, unless selling right now."""
        assert self.tech is not None and self.tech.pending_task is not None
        self.emit(TechNote(self.clock.now_ms, f"settings waiting: task {self.tech.pending_task[0]}"))
        if self.in_cash_mode or self.busy:
            self.settings_prompt_due = True
            return
        self._show_settings_prompt()

    def _show_settings_prompt(self) -> None:
        self.settings_prompt_due = False
        if self.mode != Mode.SETTINGS_PROMPT:
            self.prompt_return = self.mode if self.mode != Mode.MESSAGE else self.return_mode
        self.mode = Mode.SETTINGS_PROMPT
        self.display.message(self.msgs["settings_pending"], self.clock.now_ms)

    def _key_settings_prompt(self, k: Key) -> None:
        assert self.tech is not None
        if k is Key.D3 and self.tech.pending_task is not None:
            task, items = self.tech.pending_task
            self.tech.pending_task = None
            applied, code = self._apply_settings(items)
            self.tech.result = (task, applied, code)
            self.save_state()
            self.emit(TechNote(self.clock.now_ms, f"task {task} {'applied' if applied else f'refused: {code}'}"))
            if applied:
                self._message(self.msgs["saved"], self.prompt_return)
            else:
                self._error(code)
                self._show_error(code, self.prompt_return)
            self.tech.start("settings result")
        else:
            # Any other key: the settings stay waiting on the server for the next session.
            self.tech.pending_task = None
            self.emit(TechNote(self.clock.now_ms, "settings left waiting"))
            self.mode = self.prompt_return

    def _apply_settings(self, items: list[dict[str, Any]]) -> tuple[bool, int]:
        """Apply pushed settings all together or not at all.

        Every item is checked first, on a copy of the settings (certificates are
        parsed, not stored); only when all of them are good do the certificates
        go into the TLS store (which itself takes a bundle whole or not at all,
        650 when the slots are too few) and the settings get saved. A bad item
        leaves the store and the settings as they were.
        """
        before = self.settings.to_json()
        new = before | {"options": dict(before["options"])}
        certs: list[bytes] = []
        try:
            for item in items:
                kind, value = item["kind"], item["value"]
                if kind == "cert":
                    data = value if isinstance(value, bytes) else str(value).encode()
                    certs += [c.public_bytes(serialization.Encoding.PEM) for c in parse_certificates(data)]
                elif kind == "token":
                    if not TOKEN_RE.match(str(value)):
                        return False, E.SETTINGS_ERROR
                    new["token"] = str(value)
                elif kind == "gismt_host":
                    if not HOST_RE.match(str(value)):
                        return False, E.SETTINGS_ERROR
                    new["gismt_host"] = str(value)
                elif kind == "option":
                    number, _, v = str(value).partition("=")
                    new["options"][str(int(number))] = int(v)
                elif kind == "poll_period":
                    new["poll_period_min"] = int(value)
                elif kind == "sale_ban":
                    new["sale_ban"] = str(value)
                else:
                    return False, E.SETTINGS_ERROR
            settings = Settings.from_json(new)            # every field checked as the menu checks it
            if certs:
                slots = self.tls.load_all(b"".join(certs))
                self.emit(TlsNote(self.clock.now_ms, f"certificate(s) from the technological server in slot(s) {slots}"))
        except TlsError as exc:
            return False, exc.code
        except (ValueError, KeyError, TypeError):
            return False, E.SETTINGS_ERROR
        self.settings = settings
        self._save_settings()
        if before.get("token") != settings.token:
            self._token_entered()
        elif before.get("gismt_host") != settings.gismt_host:
            self._forget_cdn()
        if self.tech is not None and before.get("poll_period_min") != settings.poll_period_min:
            self.tech.schedule()
        return True, 0
