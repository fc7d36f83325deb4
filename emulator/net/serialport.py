"""The driver ↔ KKT serial link over pseudo-terminals (framing MODELLED: emulator.wire.ecrframe).

Driver side: ``SerialDeviceLink`` opens a port by path (``/dev/pts/7``) or by a
COM name mapped in a ``PortMap`` (``COM3`` → the device's pty), exclusively,
with pyserial, and runs one request/answer exchange per ``call``. Every failure
is a ``SerialLinkError`` with a code and a one-line text:

    port-missing  no such port (path absent, COM name not mapped)
    port-busy     another driver holds the port
    timeout       no answer in time (the request was resent after each silent interval)
    unplugged     the port went away during the exchange (device gone, cable pulled)
    garbage       only damaged frames came back in time
    too-large     the request does not fit one frame
    device-error  the device refused the request frame (``ERROR`` frame: not run)

Device side: ``DeviceSerialEndpoint`` opens a pty pair, serves ``handler(command,
args) -> dict`` on the master in a thread, and publishes the slave path the
driver opens. A resent request (same link, seq and payload as the one just
answered) gets the kept answer: the command runs once.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import random
import re
import select
import threading
import time
import tty
from collections.abc import Callable, Mapping
from typing import Any

import serial

from emulator.wire import ecrframe as ef

log = logging.getLogger("kkt_emu.serial")

Handler = Callable[[str, dict[str, Any]], dict[str, Any]]
COM_NAME = re.compile(r"^COM[1-9][0-9]{0,2}$", re.IGNORECASE)
READ_CHUNK = 4096
IDLE_S = 0.2   # a partial frame that gets no byte for this long is given up (resynchronisation)
_REQUEST_KEYS = frozenset({"command", "args"})


class SerialLinkError(Exception):
    def __init__(self, code: str, text: str) -> None:
        super().__init__(f"{code}: {text}")
        self.code = code
        self.text = text


class PortMap:
    """COM names → port paths (the configuration's ``serial_ports``); a path passes through."""

    def __init__(self, names: Mapping[str, str] | None = None) -> None:
        self._names: dict[str, str] = {}
        for name, path in (names or {}).items():
            self.add(name, path)

    def add(self, name: str, path: str) -> None:
        if not COM_NAME.match(name):
            raise ValueError(f"port name {name!r} is not COM1..COM999")
        self._names[name.upper()] = path

    def names(self) -> dict[str, str]:
        return dict(self._names)

    def resolve(self, port: str) -> str:
        port = port.strip()
        if COM_NAME.match(port):
            path = self._names.get(port.upper())
            if path is None:
                known = ", ".join(sorted(self._names)) or "none"
                raise SerialLinkError("port-missing", f"port {port.upper()} is not configured (configured: {known})")
            return path
        if port.startswith("/"):
            return port
        raise SerialLinkError("port-missing", f"port name {port[:40]!r} is neither COMn nor a device path")


def _open_error(path: str, exc: serial.SerialException) -> SerialLinkError:
    no = getattr(exc, "errno", None)
    text = str(exc)
    if no in (errno.ENOENT, errno.ENODEV, errno.ENXIO) or "No such file" in text:
        return SerialLinkError("port-missing", f"port {path} does not exist")
    if no in (errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK) or "exclusively lock" in text:
        return SerialLinkError("port-busy", f"port {path} is held by another program")
    if no in (errno.EACCES, errno.EPERM):
        return SerialLinkError("port-missing", f"port {path} may not be opened (permission denied)")
    return SerialLinkError("port-missing", f"port {path} cannot be opened ({type(exc).__name__})")


class SerialDeviceLink:
    """One driver's open port to the KKT. Not thread-safe: one call at a time (the driver API serialises)."""

    def __init__(self, port: str, *, timeout_s: float = 5.0, ports: PortMap | None = None,
                 resend_s: float = 1.0) -> None:
        self.path = (ports or PortMap()).resolve(port)
        self.timeout_s = timeout_s
        self.resend_s = min(resend_s, timeout_s)
        self.link = random.SystemRandom().randrange(1, 1 << 32)
        self._seq = random.SystemRandom().randrange(0, 1 << 16)
        self._reader = ef.FrameReader()
        if not os.path.exists(self.path):
            raise SerialLinkError("port-missing", f"port {self.path} does not exist")
        try:
            self._port: serial.Serial | None = serial.Serial(self.path, 115200, timeout=IDLE_S, write_timeout=timeout_s,
                                                             exclusive=True)
        except serial.SerialException as exc:
            raise _open_error(self.path, exc) from None
        self._port.reset_input_buffer()

    def call(self, command: str, args: dict[str, Any]) -> dict[str, Any]:
        port = self._port
        if port is None:
            raise SerialLinkError("unplugged", f"port {self.path} is closed")
        self._seq = (self._seq + 1) & 0xFFFF
        try:
            raw = ef.request_bytes(self.link, self._seq, command, args)
        except ef.FrameFormatError as exc:
            raise SerialLinkError("too-large", str(exc)) from None
        start = time.monotonic()
        deadline = start + self.timeout_s
        damaged = 0
        try:
            while True:
                _write_all(port, raw, deadline)
                resend_at = min(deadline, time.monotonic() + self.resend_s)
                while True:
                    now = time.monotonic()
                    if now >= resend_at:
                        break
                    data = _read_some(port, min(IDLE_S, resend_at - now))
                    resend = False
                    items = self._reader.feed(data) if data else self._reader.expire()
                    for item in items:
                        if isinstance(item, ef.FrameDrop):
                            damaged += 1
                            continue
                        if item.kind == "NAK":   # the device dropped a damaged frame: resend now (a resent
                            resend = True         # request it had answered gets that answer, not a rerun)
                            continue
                        if item.link != self.link or item.seq != self._seq:
                            continue   # an answer to an earlier, abandoned request
                        if item.kind == "ANSWER":
                            try:
                                return item.json()
                            except ef.FrameFormatError as exc:
                                raise SerialLinkError("garbage", f"the answer is unreadable: {exc}") from None
                        if item.kind == "ERROR":
                            body = _safe_json(item)
                            raise SerialLinkError("device-error", str(body.get("text", "request refused"))[:200])
                    if resend:
                        break
                if time.monotonic() >= deadline:
                    if damaged:
                        raise SerialLinkError("garbage", f"only damaged frames from {self.path} in "
                                                         f"{self.timeout_s:g} s ({damaged} dropped)")
                    raise SerialLinkError("timeout", f"no answer from {self.path} in {self.timeout_s:g} s")
        except serial.SerialException:
            self._drop_port()
            raise SerialLinkError("unplugged", f"port {self.path} went away during {command[:40]}") from None
        except OSError:
            self._drop_port()
            raise SerialLinkError("unplugged", f"port {self.path} went away during {command[:40]}") from None

    def _drop_port(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            with contextlib.suppress(Exception):
                port.close()

    def close(self) -> None:
        self._drop_port()

    def __enter__(self) -> SerialDeviceLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _write_all(port: serial.Serial, data: bytes, deadline: float) -> None:
    """``data`` onto the port (non-blocking fd: a full buffer is waited out until ``deadline``)."""
    fd = port.fileno()
    try:
        n = os.write(fd, data)
    except BlockingIOError:
        n = 0
    if n == len(data):   # the usual case: the port takes a frame at once
        return
    view = memoryview(data)[n:]
    while view:
        try:
            view = view[os.write(fd, view):]
            continue
        except BlockingIOError:
            pass
        left = deadline - time.monotonic()
        if left <= 0:
            raise SerialLinkError("timeout", f"port {port.port} takes no bytes (the other end does not read)")
        select.select([], [fd], [], min(left, IDLE_S))


def _read_some(port: serial.Serial, timeout_s: float) -> bytes:
    """What the port has within ``timeout_s`` (b"" if nothing), in one select and one read: pyserial's
    ``read(n)`` waits for n bytes, and an answer's length is only known from its header."""
    fd = port.fileno()
    ready, _, _ = select.select([fd], [], [], max(0.0, timeout_s))
    if not ready:
        return b""
    data = os.read(fd, READ_CHUNK)
    if not data:   # readable yet nothing: the other end is gone
        raise serial.SerialException("the port reports data but returns none (disconnected)")
    return data


def _safe_json(frame: ef.Frame) -> dict[str, Any]:
    try:
        return frame.json()
    except ef.FrameFormatError:
        return {}


class PtyPort:
    """A pseudo-terminal pair held by the emulator: it reads and writes the master, a program opens ``path``.

    The slave is kept open here too (raw mode) so the master never sees a hang-up while no program
    has the port open; ``close`` pulls the plug (a program holding the slave sees the port vanish).
    """

    def __init__(self) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self._slave)
        self._wake_r, self._wake_w = os.pipe()
        self.closed = False

    def read(self, timeout_s: float | None = None) -> bytes | None:
        """Bytes written by the program, b"" when nothing came in time, None once closed."""
        if self.closed:
            return None
        try:
            ready, _, _ = select.select([self.master, self._wake_r], [], [], timeout_s)
        except (OSError, ValueError):
            return None
        if self._wake_r in ready or self.closed:
            return None
        if not ready:
            return b""
        try:
            return os.read(self.master, READ_CHUNK)
        except BlockingIOError:
            return b""
        except OSError:
            return None

    def write(self, data: bytes, timeout_s: float = 2.0) -> bool:
        """Write all of ``data``; False when the program does not take it in time (then it is dropped)."""
        if self.closed:
            return False
        try:
            n = os.write(self.master, data)   # the usual case: the whole frame at once
        except BlockingIOError:
            n = 0
        except OSError:
            return False
        if n == len(data):
            return True
        deadline = time.monotonic() + timeout_s
        view = memoryview(data)[n:]
        while view:
            if self.closed:
                return False
            try:
                n = os.write(self.master, view)
                view = view[n:]
                continue
            except BlockingIOError:
                pass
            except OSError:
                return False
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            with contextlib.suppress(OSError, ValueError):
                select.select([], [self.master], [], min(left, 0.05))
        return True

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        for fd in (self.master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    def release(self) -> None:
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)


class PtyService:
    """A thread that reads a ``PtyPort`` and gives each chunk to ``on_bytes``; start/stop/unplug."""

    name = "pty"

    def __init__(self) -> None:
        self._pty: PtyPort | None = None
        self._thread: threading.Thread | None = None
        self.path = ""

    def on_bytes(self, data: bytes) -> None:
        raise NotImplementedError

    def on_idle(self) -> None:
        """The line was quiet for ``IDLE_S``."""

    def start(self) -> None:
        if self._thread is not None:
            return
        self._pty = PtyPort()
        self.path = self._pty.path
        self._thread = threading.Thread(target=self._run, args=(self._pty,), name=f"kkt-{self.name}", daemon=True)
        self._thread.start()

    def _run(self, pty: PtyPort) -> None:
        while True:
            data = pty.read(IDLE_S)
            if data is None:
                return
            try:
                if data:
                    self.on_bytes(data)
                else:
                    self.on_idle()
            except Exception:
                log.exception("%s: input not handled", self.name)

    def send(self, data: bytes) -> bool:
        pty = self._pty
        return pty.write(data) if pty is not None else False

    def unplug(self) -> None:
        """Pull the plug: the port vanishes under the program that has it open (the thread ends)."""
        if self._pty is not None:
            self._pty.close()

    def stop(self) -> None:
        pty, thread = self._pty, self._thread
        if pty is None or thread is None:
            return
        pty.close()
        thread.join(timeout=5)
        pty.release()
        self._pty = self._thread = None


class DeviceSerialEndpoint(PtyService):
    """The KKT's serial port: ``handler(command, args)`` served on a pty (``path`` is what the driver opens)."""

    name = "ecr-serial"

    def __init__(self, handler: Handler) -> None:
        super().__init__()
        self.handler = handler
        self._reader = ef.FrameReader()
        self._last: dict[int, tuple[int, bytes, bytes]] = {}   # link -> (seq, request payload, answer frame)
        self.stats = {"requests": 0, "resent": 0, "naks": 0, "refused": 0}

    def on_idle(self) -> None:
        if self._reader.buffered:
            self._take(self._reader.expire())

    def on_bytes(self, data: bytes) -> None:
        self._take(self._reader.feed(data))

    def _take(self, items: list[ef.Frame | ef.FrameDrop]) -> None:
        for item in items:
            if isinstance(item, ef.FrameDrop):
                if item.kind != "garbage":
                    self.stats["naks"] += 1
                    log.info("ecr-serial: %s frame dropped (%d bytes)", item.kind, item.nbytes)
                    self.send(ef.Frame("NAK", 0, 0).to_bytes())
                continue
            if item.kind != "REQUEST":
                continue
            self.send(self._answer(item))

    def _answer(self, frame: ef.Frame) -> bytes:
        kept = self._last.get(frame.link)
        if kept is not None and kept[0] == frame.seq and kept[1] == frame.payload:
            self.stats["resent"] += 1
            return kept[2]
        try:
            body = frame.json()
            command, args = body.get("command"), body.get("args", {})
            if not isinstance(command, str) or not isinstance(args, dict) or not body.keys() <= _REQUEST_KEYS:
                raise ef.FrameFormatError('the request is not {"command": str, "args": object}')
        except ef.FrameFormatError as exc:
            self.stats["refused"] += 1
            return ef.frame_bytes("ERROR", frame.link, frame.seq,
                                  ef.encode_json({"code": "bad-request", "text": str(exc)}))
        self.stats["requests"] += 1
        try:
            answer = self.handler(command, args)
            raw = ef.frame_bytes("ANSWER", frame.link, frame.seq, ef.encode_json(answer))
        except Exception as exc:
            log.exception("ecr-serial: command %.40s failed", command)
            raw = ef.frame_bytes("ERROR", frame.link, frame.seq, ef.encode_json(
                {"code": "device-error", "text": f"the device failed: {type(exc).__name__}"}))
        if len(self._last) > 64:
            self._last.clear()
        self._last[frame.link] = (frame.seq, frame.payload, raw)
        return raw
