"""The training console: the device in a browser, over the same device core that scenarios drive.

``WebConsole`` is handed the running device (on ``serve``'s device thread:
``run`` hands a function over and gives its Future), the live world (the fault
switchboard goes through the control API, ``emulator.fronts.control``), the
real-time driver (its ``speed``) and a jump of the clock (``advance``:
``World.advance``, which fires every timer on the way with real answers).
``app(control_app)`` is one ASGI application for ``serve``'s control port:

    GET  /                     the page (static HTML, JS, CSS shipped with the package)
    GET  /static/<file>        its script and style
    GET  /api/console/events   server-sent events: screen, event, beep, log, receipts, hosts, clock, lesson
    GET  /api/console/state    everything the page shows, at once (also sent first on the stream)
    GET  /api/console/catalogue  the world's codes with what each does
    POST /api/console/press    {"keys": ["ИТ"]}       the keypad
    POST /api/console/type     {"text": "..."}        the PC keyboard
    POST /api/console/scan     {"code": "...<GS>..."}  the scanner (GS as <GS> or the byte)
    POST /api/console/image    {"data": "<base64>"}   a picture shown to the scanner
    POST /api/console/clock    {"speed": 0|1|10|60|600|3600} or {"jump_ms": 900000}
    POST /api/console/lesson   {"action": "start"|"stop"|"export"|"step"} / {"action": "load", "yaml": "..."}
    /api/...                   the control API (host faults, world) — a change made there while a
                               lesson is recorded is a step of the lesson

The page listens on the event stream and never polls. The screen is sampled on
the device thread every ``SAMPLE_S`` of wall time while a page listens (the
display pages long messages and scrolls long lines on the device's clock), and
sent when it changed; device events are sent as they happen. Security as the
other local pages (``emulator.net.webguard``): loopback names only, writes and
API reads from another site refused, a content security policy that lets the
page load only its own script and style, tokens masked everywhere.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from importlib import resources
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from emulator.base.errors import error_table
from emulator.devices.kkt import events
from emulator.devices.kkt.device import KktDevice
from emulator.devices.printer.image import qr_png
from emulator.fronts.console import Live
from emulator.fronts.control import cdn_rows
from emulator.fronts.operator import Operator
from emulator.fronts.webconsole.hub import Hub, sse
from emulator.fronts.webconsole.lesson import LESSON_TOKEN, Lesson, LessonError, Playback
from emulator.net.webguard import local_guards
from emulator.rules.explain import explain
from emulator.rules.marking import GS
from emulator.rules.syntax import mask_token
from firmware_menu.keypad import Key

log = logging.getLogger("kkt_emu.webconsole")

SAMPLE_S = 0.1
HOSTS_EVERY_S = 1.0
WAIT_S = 30.0
MAX_BODY = 12_000_000            # a picture of at most 8 MB, base64
SPEEDS = (0, 1, 10, 60, 600, 3600)
MAX_JUMP_MS = 7 * 24 * 3600 * 1000
KEEP_LOG = 200
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
STATIC = {"console.js": "text/javascript; charset=utf-8", "console.css": "text/css; charset=utf-8"}
# The keypad as the page lays it out: key, keyboard shortcut.
KEYPAD = [("РЕЖ", "r"), ("КОД", "k"), ("X", "x"), ("ВЗ", "v"), ("↑", "u"),
          ("7", "7"), ("8", "8"), ("9", "9"), ("С", "Escape"), ("-", "-"),
          ("4", "4"), ("5", "5"), ("6", "6"), ("ПИ", "p"), ("+", "+"),
          ("1", "1"), ("2", "2"), ("3", "3"), (".", "."), ("ИТ", "Enter"),
          ("0", "0"), ("00", "z")]


class LiveWorld(Live, Protocol):
    def world_state(self) -> dict[str, Any]: ...


class Pace(Protocol):
    speed: float
    hold: Callable[[], bool]


Runner = Callable[[Callable[[], Any]], "Future[Any]"]


class Refused(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _text(name: str) -> str:
    return resources.files(__package__).joinpath("static", name).read_text("utf-8")


def log_entry(record: Any) -> dict[str, Any]:
    """A GIS MT log record with the plain-Russian explanation ``explain-log`` gives."""
    try:
        ex = explain(record.text)
        explanation = ex[0].text() if ex else ""
    except ValueError:
        explanation = ""
    return {"seq": record.seq, "time_ms": record.time_ms, "code": record.code, "text": record.text,
            "explanation": explanation}


# The product groups (guide §1.5.1) in Russian, as a trainer names them (modelled wording).
GROUPS_RU = {1: "лёгкая промышленность", 2: "обувь", 3: "табак", 4: "парфюмерия", 5: "шины", 6: "фототехника",
             8: "молочная продукция", 9: "велосипеды", 10: "кресла-коляски", 12: "альтернативный табак",
             13: "вода", 14: "меха", 15: "пиво", 16: "никотинсодержащая продукция", 17: "БАД",
             19: "антисептики", 20: "корма для животных", 21: "морепродукты", 22: "безалкогольное пиво",
             23: "соки и напитки", 26: "ветпрепараты", 27: "игрушки", 28: "радиоэлектроника", 32: "консервы",
             33: "растительные масла", 35: "бытовая химия", 37: "бакалея", 39: "стройматериалы",
             43: "автомасла", 45: "сладости"}


def group_ru(group: str) -> str:
    head = group.split()[0] if group.split() else ""
    return GROUPS_RU.get(int(head), group) if head.isdigit() else "без товарной группы"


def describe(row: dict[str, Any]) -> str:
    """What a code of the catalogue does when sold, in Russian, with the device's own texts."""
    device = str(row.get("device", ""))
    texts = error_table()
    codes = [int(c) for c in device.replace(",", " ").replace(":", " ").split() if c.isdigit()]
    if device.startswith("refused"):
        code = codes[0] if codes else 0
        what = f"отказ {code}: {texts[code].text}" if code in texts else f"отказ {code}"
    elif device.startswith("sold with a beep"):
        what = "продажа с сигналом: " + ", ".join(str(c) for c in codes)
    elif "emergency" in device:
        what = "ответ 203: аварийный режим «A», продажа без проверки"
    elif device.startswith("sold"):
        what = "продажа разрешена"
    else:
        what = device
    group = group_ru(str(row.get("group", "")))
    price = f"{'МРЦ' if group == 'табак' else 'цена'} {row['price'] / 100:.2f} ₽"
    return f"{group}, {price} — {what}"


class WebConsole:
    def __init__(self, *, device: Callable[[], KktDevice], run: Runner, post: Callable[[Callable[[], None]], None],
                 live: LiveWorld, pace: Pace, advance: Callable[[int], None],
                 catalogue: Callable[[], list[dict[str, Any]]], names: tuple[str, ...] = (),
                 links: dict[str, Any] | None = None) -> None:
        self.device = device
        self.run = run
        self.post = post
        self.live = live
        self.pace = pace
        self.advance = advance
        self._catalogue_fn = catalogue
        self._catalogue: list[dict[str, Any]] | None = None
        self.names = names
        # "ofd" / "oism" -> the mock's fault plan, "tech" -> the device's link to the technological server
        # (each with its ``down`` switch)
        self.links = dict(links or {})
        self.hub = Hub()
        self.lesson: Lesson | None = None
        self.playback: Playback | None = None
        self._last_screen: Any = None
        self._hosts_at = 0.0
        self._hosts_dirty = True
        self._sampling = False
        self.closing = False
        self.samples = 0

    # ------------------------------------------------------------ the device thread
    def on_event(self, ev: events.DeviceEvent) -> None:
        """The device's event hook (chained after serve's console): to every page listening."""
        if isinstance(ev, events.LogWritten):
            if self.lesson is not None:
                self.lesson.log(ev.code)
            self._hosts_dirty = True
        if self.hub.listeners == 0:
            return
        self.hub.publish("event", {"t": ev.time_ms, "kind": ev.kind, "text": ev.text})
        if isinstance(ev, events.Beeped):
            self.hub.publish("beep", {"reason": ev.reason})
        elif isinstance(ev, events.LogWritten):
            records = self.device().logbook.records
            if records:
                self.hub.publish("log", log_entry(records[-1]))
        elif isinstance(ev, (events.FiscalDocumentMade, events.ReceiptClosed)):
            self.post(lambda: self.hub.publish("receipts", self.receipts()))
        elif isinstance(ev, (events.CdnNote, events.EmergencyChanged)):
            self._hosts_dirty = True

    def screen_state(self) -> dict[str, Any]:
        d = self.device()
        l1, l2, status_line = d.screen()
        return {"lines": [l1, l2], "status_line": status_line, "status": d.status_symbol, "mode": str(d.mode),
                "now_ms": d.clock.now_ms, "speed": self.pace.speed, "waiting": d.waiting,
                "lesson": self.lesson_state()}

    def sample(self) -> None:
        """On the device thread: send the screen if it changed, the hosts now and then."""
        self._sampling = False
        self.samples += 1
        state = self.screen_state()
        key = (tuple(state["lines"]), state["status_line"], state["mode"], state["speed"], state["waiting"],
               state["now_ms"] // 1000)
        if key != self._last_screen:
            self._last_screen = key
            self.hub.publish("screen", state)
        now = time.monotonic()
        if self._hosts_dirty or now - self._hosts_at >= HOSTS_EVERY_S:
            self._hosts_dirty = False
            self._hosts_at = now
            self.hub.publish("hosts", self.hosts_state())

    def hosts_state(self) -> dict[str, Any]:
        d = self.device()
        stats = getattr(d.gismt.transport, "stats", None)
        conns = dict(stats.opened) if stats is not None else {}
        reqs = dict(stats.requests) if stats is not None else {}
        world = self.live.world_state()
        return {"cdn": cdn_rows(d, self.live), "hosts": self.live.hosts(), "emergency": d.emergency,
                "world_emergency": any(c["emergency"] for c in world.values()),
                "token_blocked": bool(d.settings.token) and mask_token(d.settings.token) in
                                 {t for c in world.values() for t in c["blocked_tokens"]},
                "links": {name: bool(plan.down) for name, plan in self.links.items()},
                "device_connections": conns, "device_requests": reqs}

    def receipts(self) -> list[dict[str, Any]]:
        fiscal = self.device().fiscal
        if fiscal is None:
            return []
        out = []
        for p in fiscal.printed[-5:]:
            qr = ("data:image/png;base64," + base64.b64encode(qr_png(p.qr)).decode("ascii")) if p.qr else None
            out.append({"fd": p.fd_number, "doc_type": p.doc_type, "text": p.text, "qr": qr, "qr_text": p.qr})
        return out[::-1]

    def state(self) -> dict[str, Any]:
        d = self.device()
        return {"screen": self.screen_state(), "keypad": KEYPAD, "speeds": list(SPEEDS),
                "log": [log_entry(r) for r in d.logbook.records[-KEEP_LOG:]], "receipts": self.receipts(),
                "token": mask_token(d.settings.token) or "", **self.hosts_state()}

    def lesson_state(self) -> dict[str, Any]:
        return {"recording": self.lesson is not None, "steps": len(self.lesson.steps) if self.lesson else 0,
                "playback": self.playback.state() if self.playback is not None else None}

    # ------------------------------------------------------------ actions (device thread)
    def press(self, keys: list[str]) -> None:
        d = self.device()
        for k in keys:
            d.press(k)
            if self.lesson is not None:
                self.lesson.press(d.clock.now_ms, [k])

    def scan(self, code: str) -> None:
        d = self.device()
        code = code.replace("<GS>", GS)
        secret = d.awaits_token            # a token scanned: the lesson has its own
        Operator(d).scan(code, wait=False)
        if self.lesson is not None:
            self.lesson.scan(d.clock.now_ms, LESSON_TOKEN if secret else code.replace(GS, "<GS>"))

    def type_text(self, text: str) -> None:
        d = self.device()
        secret = d.awaits_token
        d.type_text(text)
        if self.lesson is not None:
            self.lesson.type(d.clock.now_ms, LESSON_TOKEN if secret else text)

    def image(self, data: bytes) -> str:
        """A picture shown to the scanner: a token QR on the token screen, else a code's QR/DataMatrix."""
        d = self.device()
        if d.awaits_token:
            d.scan_image(data)
            if self.lesson is not None:
                self.lesson.scan(d.clock.now_ms, LESSON_TOKEN)
            return "token"
        from emulator.fronts.webconsole.images import ImageError, read_code

        try:
            code = read_code(data)
        except ImageError as exc:
            raise Refused(f"картинка не распознана: {exc}") from None
        self.scan(code)
        return code.replace(GS, "<GS>")

    def set_clock(self, body: dict[str, Any]) -> dict[str, Any]:
        d = self.device()
        if "speed" in body:
            speed = body["speed"]
            if isinstance(speed, bool) or speed not in SPEEDS:
                raise Refused(f"speed: one of {', '.join(map(str, SPEEDS))}")
            self.pace.speed = float(speed)
        if "jump_ms" in body:
            ms = body["jump_ms"]
            if isinstance(ms, bool) or not isinstance(ms, int) or not 0 < ms <= MAX_JUMP_MS:
                raise Refused(f"jump_ms: a whole number of milliseconds 1..{MAX_JUMP_MS}")
            if self.lesson is not None:
                self.lesson.advance(d.clock.now_ms, ms)
            self.advance(ms)
        if not ({"speed", "jump_ms"} & set(body)):
            raise Refused("clock: {\"speed\": N} or {\"jump_ms\": MS}")
        self.hub.publish("screen", self.screen_state())
        return self.screen_state()

    def lesson_action(self, body: dict[str, Any]) -> dict[str, Any]:
        d = self.device()
        action = body.get("action")
        out: dict[str, Any] = {}
        if action == "start":
            self.lesson = Lesson(d.clock.now_ms, d.settings.to_json(), str(body.get("name") or ""))
        elif action in ("stop", "export"):
            if self.lesson is None:
                raise Refused("урок не записывается")
            l1, l2, _ = d.screen()
            out["yaml"] = self.lesson.yaml((l1, l2), d.status_symbol)
            if action == "stop":
                self.lesson = None
        elif action == "load":
            try:
                self.playback = Playback(str(body.get("yaml", "")))
            except LessonError as exc:
                raise Refused(str(exc)) from None
        elif action == "step":
            if self.playback is None:
                raise Refused("урок не загружен")
            try:
                kind, value = self.playback.step()
            except LessonError as exc:
                raise Refused(str(exc)) from None
            out["done"] = self.play(kind, value)
        else:
            raise Refused("action: start, stop, export, load or step")
        out["lesson"] = self.lesson_state()
        self.hub.publish("lesson", out["lesson"])
        return out

    def play(self, kind: str, value: Any) -> str:
        """One step of a loaded lesson, done as the console would."""
        if kind == "press":
            self.press([str(v) for v in (value if isinstance(value, list) else [value])])
        elif kind == "keys":
            Operator(self.device()).press_many(str(value))
        elif kind == "scan":
            self.scan(str(value["code"] if isinstance(value, dict) else value))
        elif kind == "type":
            self.type_text(str(value))
        elif kind == "advance":
            self.advance(_duration_ms(value))
        elif kind == "host":
            conf = dict(value)
            self.live.change_host(str(conf.pop("name")), conf, source="lesson")
        elif kind == "world":
            self.live.change_world(value, source="lesson")
        elif kind == "fiscal_server":
            self.link_switch({"name": value.get("name"), "down": bool(value.get("down"))})
        elif kind == "expect":
            return _check(self.device(), value)
        return f"{kind}: {json.dumps(value, ensure_ascii=False)[:200]}"

    # ------------------------------------------------------------ the web side
    async def _call(self, fn: Callable[[], Any]) -> Any:
        future = self.run(fn)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), WAIT_S)
        except TimeoutError:
            raise Refused(f"устройство занято дольше {WAIT_S:.0f} с", 503) from None

    def _endpoint(self, fn: Callable[[Any], Any], write: bool = True) -> Callable[[Request], Any]:
        async def handle(request: Request) -> Response:
            try:
                body: Any = {}
                if write:
                    raw = await request.body()
                    if len(raw) > MAX_BODY:
                        raise Refused(f"тело запроса больше {MAX_BODY} байт")
                    try:
                        body = json.loads(raw) if raw.strip() else {}
                    except (ValueError, RecursionError):
                        raise Refused("тело запроса — не JSON") from None
                    if not isinstance(body, dict):
                        raise Refused("ожидается JSON-объект")
                result = await self._call(lambda: fn(body))
            except Refused as exc:
                return JSONResponse({"error": str(exc)}, status_code=exc.status)
            except (ValueError, KeyError, TypeError, LessonError) as exc:
                return JSONResponse({"error": str(exc.args[0] if exc.args else exc)}, status_code=400)
            return JSONResponse(result)
        return handle

    async def events(self, request: Request) -> Response:
        loop = asyncio.get_running_loop()
        sub = self.hub.subscribe(loop)
        first = await self._call(self.state)

        async def stream() -> AsyncIterator[str]:
            sampler = asyncio.ensure_future(self._sampler())
            try:
                yield "retry: 1000\n\n" + sse("state", first)
                quiet = 0.0
                while not self.closing:
                    try:
                        message = await asyncio.wait_for(sub.queue.get(), 1.0)
                    except TimeoutError:
                        quiet += 1
                        if quiet >= 15:
                            quiet = 0
                            yield ": ping\n\n"
                        continue
                    quiet = 0
                    self.hub.delivered += 1
                    yield message
            finally:
                sampler.cancel()
                self.hub.unsubscribe(sub)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def _sampler(self) -> None:
        while not self.closing:
            if not self._sampling:
                self._sampling = True
                self.post(self.sample)
            await asyncio.sleep(SAMPLE_S)

    def app(self, control: Any) -> Any:
        """The console's pages and API, with ``control`` (the control API app) answering the rest of /api/."""

        def page_route(name: str, media: str) -> Route:
            async def page(request: Request) -> Response:
                return Response(_text(name), media_type=media, headers={"Cache-Control": "no-store"})
            return Route("/" if name == "index.html" else f"/static/{name}", page)

        async def no_icon(request: Request) -> Response:
            return Response(status_code=204)

        pages = Starlette(routes=[page_route("index.html", "text/html; charset=utf-8"), Route("/favicon.ico", no_icon),
                                  *(page_route(n, m) for n, m in STATIC.items())],
                          middleware=local_guards(self.names, csp=CSP))

        def with_device(fn: Callable[..., Any]) -> Callable[[Any], Any]:
            return lambda body: fn(body)

        api = Starlette(routes=[
            Route("/api/console/events", self.events),
            Route("/api/console/state", self._endpoint(lambda _: self.state(), write=False)),
            Route("/api/console/catalogue", self._catalogue_page),
            Route("/api/console/press", self._endpoint(with_device(self._press)), methods=["POST"]),
            Route("/api/console/type", self._endpoint(lambda b: self.type_text(_str(b, "text", 4096))),
                  methods=["POST"]),
            Route("/api/console/scan", self._endpoint(lambda b: self.scan(_str(b, "code", 4096))), methods=["POST"]),
            Route("/api/console/image", self._endpoint(self._image), methods=["POST"]),
            Route("/api/console/clock", self._endpoint(self.set_clock), methods=["POST"]),
            Route("/api/console/lesson", self._endpoint(self.lesson_action), methods=["POST"]),
            Route("/api/console/token", self._endpoint(self.token_validity), methods=["POST"]),
            Route("/api/console/link", self._endpoint(self.link_switch), methods=["POST"]),
        ], middleware=local_guards(self.names, writes_only=False, csp=CSP))
        recorded = Recording(control, self)

        async def dispatch(scope: Any, receive: Any, send: Any) -> None:
            path = scope.get("path", "") if scope["type"] == "http" else ""
            if path.startswith("/api/console/"):
                await api(scope, receive, send)
            elif path.startswith("/api/"):
                await recorded(scope, receive, send)
            else:
                await pages(scope, receive, send)
        return dispatch

    def _press(self, body: dict[str, Any]) -> dict[str, Any]:
        keys = body.get("keys")
        if not isinstance(keys, list) or not keys or len(keys) > 100 or not all(isinstance(k, str) for k in keys):
            raise Refused("keys: a list of 1..100 key names")
        known = {k.value for k in Key}
        bad = [k for k in keys if k not in known]
        if bad:
            raise Refused(f"нет такой клавиши: {bad[0]!r}")
        self.press(keys)
        return self.screen_state()

    def _image(self, body: dict[str, Any]) -> dict[str, Any]:
        raw = body.get("data")
        if not isinstance(raw, str):
            raise Refused("data: the picture as base64")
        try:
            data = base64.b64decode(raw.split(",", 1)[-1], validate=True)
        except (binascii.Error, ValueError):
            raise Refused("data: not base64") from None
        return {"read": self.image(data), **self.screen_state()}

    def token_validity(self, body: dict[str, Any]) -> dict[str, Any]:
        """The device's own token blocked or unblocked in the world (the page never has it in full)."""
        blocked = body.get("blocked")
        if not isinstance(blocked, bool):
            raise Refused("blocked: true or false")
        d = self.device()
        token = d.settings.token
        if not token:
            raise Refused("у устройства нет токена")
        key = "blocked_tokens" if blocked else "unblocked_tokens"
        self.live.change_world({key: [token]}, source="training console")
        if self.lesson is not None:
            self.lesson.world(d.clock.now_ms, {key: [LESSON_TOKEN]})
        self._hosts_dirty = True
        self.hub.publish("event", {"t": d.clock.now_ms, "kind": "control",
                                   "text": f"токен {mask_token(token)}: {'заблокирован' if blocked else 'разблокирован'}"})
        return self.hosts_state()

    def link_switch(self, body: dict[str, Any]) -> dict[str, Any]:
        """The mock OFD's or ОИСМ's link down or up (a scenario's ``fiscal_server`` step), or the
        technological server's (its ``tech: {down: …}`` step)."""
        name, down = body.get("name"), body.get("down")
        if name not in self.links:
            raise Refused(f"name: one of {', '.join(sorted(self.links)) or '(no fiscal servers)'}")
        if not isinstance(down, bool):
            raise Refused("down: true or false")
        d = self.device()
        self.links[name].down = down
        if self.lesson is not None:
            if name == "tech":
                self.lesson.tech(d.clock.now_ms, down)
            else:
                self.lesson.fiscal(d.clock.now_ms, str(name), down)
        label = {"ofd": "ОФД", "oism": "ОИСМ", "tech": "Технологический сервер"}.get(str(name), str(name))
        self.hub.publish("event", {"t": d.clock.now_ms, "kind": "control",
                                   "text": f"{label}: {'недоступен' if down else 'в работе'}"})
        log.info("training console: %s down=%s", name, down)
        return self.hosts_state()

    async def _catalogue_page(self, request: Request) -> Response:
        # Off the device's thread: the catalogue sells every code once in worlds of its own (a second or two).
        return JSONResponse(await asyncio.to_thread(self.catalogue))

    def catalogue(self) -> list[dict[str, Any]]:
        """The world's codes, each with what it does (made on first use, again after codes were added)."""
        if self._catalogue is None:
            rows = self._catalogue_fn()
            self._catalogue = [{**r, "does": describe(r)} for r in rows]
        return self._catalogue

    def record_control(self, path: str, body: Any) -> None:
        """A control API change that was applied: a step of the lesson being recorded, and an event."""
        d = self.device()
        if path.startswith("/api/hosts/"):
            name = path.removeprefix("/api/hosts/").strip().lower()
            if self.lesson is not None:
                self.lesson.host(d.clock.now_ms, name, dict(body))
            text = f"{name}: {json.dumps(body, ensure_ascii=False)}"
        else:
            if self.lesson is not None:
                self.lesson.world(d.clock.now_ms, dict(body))
            if isinstance(body, dict) and body.get("codes"):
                self._catalogue = None
                self.hub.publish("catalogue", {"codes": len(body["codes"])})
            text = f"мир: {json.dumps(_masked_world(body), ensure_ascii=False)}"
        self._hosts_dirty = True
        self.hub.publish("event", {"t": d.clock.now_ms, "kind": "control", "text": text})
        self.hub.publish("lesson", self.lesson_state())

    def close(self) -> None:
        self.closing = True


class Recording:
    """The control API, with every applied write (a host's or the world's change) told to the console."""

    def __init__(self, app: Any, console: WebConsole) -> None:
        self.app = app
        self.console = console

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if not (scope["type"] == "http" and scope["method"] == "POST"
                and (path.startswith("/api/hosts/") or path == "/api/world")):
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if sum(map(len, chunks)) > 1_000_001 or not message.get("more_body"):
                break
        raw = b"".join(chunks)
        status = 0
        sent = False

        async def replay() -> Any:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": raw, "more_body": False}
            return await receive()

        async def watch(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, replay, watch)
        if status == 200:
            with contextlib.suppress(ValueError):
                body = json.loads(raw)
                await self.console._call(lambda: self.console.record_control(path, body))


def _str(body: dict[str, Any], key: str, limit: int) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise Refused(f"{key}: a text of 1..{limit} characters")
    return value


def _masked_world(body: Any) -> Any:
    if not isinstance(body, dict):
        return body
    out = dict(body)
    if isinstance(out.get("tokens"), dict):
        out["tokens"] = {c: [mask_token(str(t)) for t in v] if isinstance(v, list) else v
                         for c, v in out["tokens"].items()}
    for key in ("blocked_tokens", "unblocked_tokens"):
        if isinstance(out.get(key), list):
            out[key] = [mask_token(str(t)) for t in out[key]]
    return out


def _duration_ms(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip()
    total, number = 0, ""
    units = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isdigit():
            number += ch
            i += 1
            continue
        unit = "ms" if text.startswith("ms", i) else ch
        if unit not in units or not number:
            raise LessonError(f"advance: {value!r} is not a duration")
        total += int(number) * units[unit]
        number = ""
        i += len(unit)
    if number:
        total += int(number)
    return total


def _check(device: KktDevice, expect: Any) -> str:
    """A lesson's expectation, checked against the device now: what matched and what did not."""
    if not isinstance(expect, dict):
        return "expect: nothing to check"
    out = []
    l1, l2, _ = device.screen()
    if "display" in expect:
        want = [str(v) for v in expect["display"]]
        got = [l1.rstrip(), l2.rstrip()]
        out.append(("✓ " if got == want else "✗ ") + f"дисплей {got}" + ("" if got == want else f" (ожидалось {want})"))
    if "log_codes" in expect:
        got_codes = [r.code for r in device.logbook.records]
        want_codes = list(expect["log_codes"])
        ok = got_codes[-len(want_codes):] == want_codes if want_codes else True
        out.append(("✓ " if ok else "✗ ") + f"коды журнала {want_codes}")
    if "status" in expect:
        ok = device.status_symbol == expect["status"]
        out.append(("✓ " if ok else "✗ ") + f"символ «{device.status_symbol}»")
    return "; ".join(out) or "expect: nothing the console checks"
