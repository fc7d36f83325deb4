"""The technological server's side of one exchange session, sans-IO (the protocol is MODELLED).

``Session(model, now_ms).handle(frame)`` maps one request frame to its reply
frames and whether the connection closes after them. The TCP front
(``tcp.py``) feeds it the frames it reads from a socket; the simulated link
(``emulator.net.techlink.SimTechLink``) feeds it frames in-process on the
virtual clock. The rules of the exchange are in ``tcp.py``'s docstring.
"""

from __future__ import annotations

from collections.abc import Callable

from emulator.servers.techserver.model import TechServer, TechServerError, UnknownTask
from emulator.wire.techframes import ERR_INTERNAL, ERR_UNEXPECTED, ERR_UNKNOWN_TASK, Frame

SERVER_ONLY = {"HELLO_ACK", "LOG_ACK", "SETTINGS", "ERROR"}


class Session:
    """One connection's protocol state; ``handle`` maps a request to (replies, close)."""

    def __init__(self, model: TechServer, now_ms: Callable[[], int]) -> None:
        self.model = model
        self.now_ms = now_ms
        self.serial: str | None = None
        self.session_id: int | None = None

    def handle(self, f: Frame) -> tuple[list[Frame], bool]:
        def error(code: int, text: str, close: bool = True) -> tuple[list[Frame], bool]:
            return [Frame("ERROR", f.seq, {"code": code, "text": text})], close

        if f.type in SERVER_ONLY:
            return error(ERR_UNEXPECTED, f"{f.type} is sent by the server only")
        if self.serial is None and f.type != "HELLO":
            return error(ERR_UNEXPECTED, "HELLO expected first")
        now = self.now_ms()
        p = f.payload
        try:
            if f.type == "HELLO":
                if self.serial is not None:
                    return error(ERR_UNEXPECTED, "HELLO already received")
                sid, waiting = self.model.hello(p["serial"], p["model"], p["inn"], p["firmware"], now)
                self.serial, self.session_id = p["serial"], sid
                return [Frame("HELLO_ACK", f.seq, {"session_id": sid, "server_time_ms": now,
                                                   "settings_waiting": waiting})], False
            assert self.serial is not None
            if f.type == "LOG_RECORDS":
                stored, dups = self.model.store_records(self.serial, p["records"], now)
                return [Frame("LOG_ACK", f.seq, {"stored": stored, "duplicates": min(dups, 0xFFFF)})], False
            if f.type == "GET_SETTINGS":
                task = self.model.next_settings(self.serial, now)
                if task is None:
                    return [Frame("SETTINGS", f.seq, {"task_id": 0, "items": []})], False
                return [Frame("SETTINGS", f.seq, {"task_id": task.id,
                                                  "items": [i.to_wire() for i in task.items]})], False
            if f.type == "SETTINGS_RESULT":
                try:
                    self.model.settings_result(self.serial, p["task_id"], p["applied"], p["code"], now)
                except UnknownTask as exc:
                    return error(ERR_UNKNOWN_TASK, str(exc), close=False)
                return [Frame("BYE", f.seq)], False
            if f.type == "BYE":
                return [Frame("BYE", f.seq)], True
        except TechServerError as exc:
            return error(ERR_UNEXPECTED, str(exc))
        except Exception as exc:  # the model failed: tell the KKT, keep serving others
            return error(ERR_INTERNAL, f"{type(exc).__name__}: {exc}")
        return error(ERR_UNEXPECTED, f"unexpected {f.type}")
