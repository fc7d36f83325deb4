"""The technological server's side of one exchange session, sans-IO (the protocol is MODELLED).

``Session(model, now_ms).handle(frame)`` maps one request frame to its reply
frames and whether the connection closes after them. The TCP front
(``tcp.py``) feeds it the frames it reads from a socket; the simulated link
(``emulator.net.techlink.SimTechLink``) feeds it frames in-process on the
virtual clock. The rules of the exchange are in ``tcp.py``'s docstring.

What a peer is told is the server's own words: a refusal names the rule
broken; an unexpected failure inside the model is logged with its traceback
and the peer gets only ``internal error`` (never an exception's text). A
session takes at most ``max_frames`` requests (``MAX_SESSION_FRAMES``; the
device's own sessions need a few, one per 64 KB of records).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from emulator.servers.techserver.model import (
    BadRecord,
    IdentityRefused,
    TechServer,
    TechServerError,
    UnknownTask,
)
from emulator.wire.techframes import (
    ERR_BAD_RECORD,
    ERR_IDENTITY,
    ERR_INTERNAL,
    ERR_TOO_MANY,
    ERR_UNEXPECTED,
    ERR_UNKNOWN_TASK,
    Frame,
)

SERVER_ONLY = {"HELLO_ACK", "LOG_ACK", "SETTINGS", "ERROR"}
MAX_SESSION_FRAMES = 4096
log = logging.getLogger("kkt_emu.techserver.session")


class Session:
    """One connection's protocol state; ``handle`` maps a request to (replies, close)."""

    def __init__(self, model: TechServer, now_ms: Callable[[], int], max_frames: int = MAX_SESSION_FRAMES) -> None:
        self.model = model
        self.now_ms = now_ms
        self.max_frames = max_frames
        self.frames = 0
        self.serial: str | None = None
        self.session_id: int | None = None

    def handle(self, f: Frame) -> tuple[list[Frame], bool]:
        def error(code: int, text: str, close: bool = True) -> tuple[list[Frame], bool]:
            return [Frame("ERROR", f.seq, {"code": code, "text": text})], close

        self.frames += 1
        if self.frames > self.max_frames:
            return error(ERR_TOO_MANY, f"more than {self.max_frames} frames in one session")
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
                sid, waiting = self.model.hello(p["serial"], p["model"], p["inn"], p["firmware"], now,
                                                p["device_key"])
                self.serial, self.session_id = p["serial"], sid
                return [Frame("HELLO_ACK", f.seq, {"session_id": sid, "server_time_ms": now,
                                                   "settings_waiting": waiting,
                                                   "log_next_seq": min(self.model.log_next_seq(p["serial"]),
                                                                       0xFFFFFFFF)})], False
            assert self.serial is not None
            if f.type == "LOG_RECORDS":
                res = self.model.store_records(self.serial, p["records"], now)
                return [Frame("LOG_ACK", f.seq, {"stored": res.stored,
                                                 "duplicates": min(res.duplicates, 0xFFFF)})], False
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
        except IdentityRefused as exc:
            log.warning("session refused: %s", exc)
            return error(ERR_IDENTITY, str(exc))
        except BadRecord as exc:
            return error(ERR_BAD_RECORD, str(exc))
        except TechServerError as exc:
            return error(ERR_UNEXPECTED, str(exc))
        except Exception:  # the model failed: the traceback to the log, a plain word to the KKT
            log.exception("technological server: %s from %s failed", f.type, self.serial)
            return error(ERR_INTERNAL, "internal error")
        return error(ERR_UNEXPECTED, f"unexpected {f.type}")
