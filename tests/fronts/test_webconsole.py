"""The training console's parts without a browser: the event hub, lessons, pictures, the catalogue's words.

The page itself, over a real ``kkt-emu console``, is ``tests/browser/test_training_console.py``.
"""

from __future__ import annotations

import asyncio
import io
import time

import pytest
import qrcode
import yaml
from PIL import Image
from pylibdmtx import pylibdmtx

from emulator.fronts.webconsole.app import _duration_ms, describe
from emulator.fronts.webconsole.hub import QUEUE, Hub
from emulator.fronts.webconsole.images import ImageError, read_code
from emulator.fronts.webconsole.lesson import LESSON_TOKEN, Lesson, LessonError, Playback
from emulator.scenario.model import load_data

GS = "\x1d"
MILK = f"010469999080001921Shop08ok{GS}93Tl08"
TOKEN = "7f0c0d6e-3b1a-4c53-9a8e-5d2f0e9b1c42"
SETTINGS = {"permit_mode": "ВКЛЮЧЕН", "sale_ban": "ВКЛЮЧЕН", "gismt_host": "cdn.crpt.ru", "token": TOKEN,
            "options": {"1": 1, "2": 0, "10": 2, "92": 0}}


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


# ------------------------------------------------------------------ the hub
def test_a_page_that_falls_behind_loses_its_oldest_messages_and_is_told_to_resync():
    async def run() -> list[str]:
        hub = Hub()
        sub = hub.subscribe(asyncio.get_running_loop())
        for i in range(QUEUE + 5):
            hub.publish("screen", {"i": i})
        await asyncio.sleep(0.05)
        got = []
        while not sub.queue.empty():
            got.append(sub.queue.get_nowait())
        hub.unsubscribe(sub)
        hub.publish("screen", {"i": -1})          # nobody listens: nothing queued, nothing counted
        assert hub.published == QUEUE + 5
        return got

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:    # a loop of its own (a browser test's Playwright may hold this thread's)
        got = pool.submit(asyncio.run, run()).result(10)
    assert len(got) == QUEUE
    assert any(m.startswith("event: resync") for m in got)
    assert got[-1] == 'event: screen\ndata: {"i":' + str(QUEUE + 4) + '}\n\n'


# ------------------------------------------------------------------ lessons
def recorded() -> Lesson:
    lesson = Lesson(1_768_456_800_000, SETTINGS)
    lesson.press(1_768_456_800_500, ["+"])
    lesson.press(1_768_456_800_500, ["ИТ"])           # the same moment: one press step
    lesson.host(1_768_456_801_000, "cdn01.crpt.ru", {"down": True})
    lesson.scan(1_768_456_802_000, MILK.replace(GS, "<GS>"))
    lesson.advance(1_768_456_802_000, 900_000)
    lesson.world(1_768_456_802_000 + 900_000, {"emergency": {"prod": True}})
    lesson.world(1_768_456_802_000 + 900_000, {"blocked_tokens": [LESSON_TOKEN]})
    lesson.fiscal(1_768_456_802_000 + 901_000, "ofd", True)
    lesson.log(748)
    return lesson


def test_a_recorded_lesson_is_a_scenario_the_loader_accepts_with_its_own_token():
    text = recorded().yaml(("ГИС МТ: OK", "CDN: cdn02.crpt.ru"), "S")
    assert TOKEN not in text and LESSON_TOKEN in text
    data = yaml.safe_load(text)
    steps = data["steps"]
    assert steps[1] == {"advance": "500ms"} and steps[2] == {"press": ["+", "ИТ"]}
    assert {"host": {"name": "cdn01.crpt.ru", "down": True}} in steps
    assert {"advance": "900000ms"} in steps
    assert {"fiscal_server": {"name": "ofd", "down": True}} in steps
    assert steps[-1] == {"expect": {"display": ["ГИС МТ: OK", "CDN: cdn02.crpt.ru"], "log_codes": [748],
                                    "status": "S"}}
    scenario = load_data(data, "lesson.yaml")[0]      # the scenario schema and the loader's checks
    assert scenario.network == "real"


def test_a_lesson_plays_step_by_step_and_bad_lessons_are_one_line():
    play = Playback(recorded().yaml(("", ""), " "))
    assert play.state()["next"] == {"note": "записано в учебной консоли kkt-emu"}
    kinds = []
    while not play.done:
        kinds.append(play.step()[0])
    assert kinds[-1] == "expect" and "scan" in kinds and "fiscal_server" in kinds
    with pytest.raises(LessonError, match="no more steps"):
        play.step()
    for text, message in (("a: [", "not YAML"), ("- 1", "not a scenario"), ("steps: [{restart: {}}]", "restart"),
                          ("steps: [{a: 1, b: 2}]", "one step kind"), ("x" * (4 * 1024 * 1024 + 1), "4 MiB")):
        with pytest.raises(LessonError, match=message):
            Playback(text)


def test_durations_as_the_scenarios_write_them():
    assert _duration_ms("1h30m") == 5_400_000
    assert _duration_ms("15m") == 900_000
    assert _duration_ms("1500ms") == 1500
    assert _duration_ms(250) == 250
    with pytest.raises(LessonError):
        _duration_ms("soon")


# ------------------------------------------------------------------ pictures
def test_a_datamatrix_picture_gives_the_code_with_its_gs():
    enc = pylibdmtx.encode(MILK.encode("ascii"))
    image = Image.frombytes("RGB", (enc.width, enc.height), enc.pixels).resize((enc.width * 3, enc.height * 3))
    assert read_code(png(image)) == MILK


def test_a_qr_picture_of_a_code_gives_the_code():
    image = qrcode.make(MILK).get_image()
    assert read_code(png(image)) == MILK


@pytest.mark.parametrize(("data", "message"), [
    (b"not a picture", "not an image"),
    (png(Image.new("L", (300, 300), 255)), "нет кода"),
])
def test_a_picture_without_a_code_is_one_line(data, message):
    with pytest.raises(ImageError, match=message):
        read_code(data)


def test_a_large_empty_picture_is_refused_within_a_bound():
    data = png(Image.new("L", (4000, 4000), 255))
    t0 = time.monotonic()
    with pytest.raises(ImageError):
        read_code(data)
    assert time.monotonic() - t0 < 10


# ------------------------------------------------------------------ the catalogue's words
def test_the_catalogue_says_what_a_code_does_with_the_devices_own_texts():
    row = {"group": "8 milk", "price": 10000, "device": "refused: 754"}
    assert describe(row) == "молочная продукция, цена 100.00 ₽ — отказ 754: Код выведен из оборота"
    tobacco = {"group": "3 tobacco", "price": 18900, "device": "sold"}
    assert describe(tobacco) == "табак, МРЦ 189.00 ₽ — продажа разрешена"
    assert "аварийный режим" in describe({"group": "8 milk", "price": 10000,
                                          "device": "762: emergency mode on, sold without a check"})
    assert "760, 760, 768" in describe({"group": "8 milk", "price": 10000,
                                        "device": "sold with a beep: 760, 760, 768"})


# ------------------------------------------------------------------ the console over a device
class _Pace:
    speed = 1.0

    @staticmethod
    def hold() -> bool:
        return False


def console_over_a_device():
    from concurrent.futures import Future

    from emulator.base.instants import parse_instant
    from emulator.fronts.webconsole import WebConsole
    from emulator.world.live import LiveWorld
    from emulator.world.root import World
    from emulator.world.spec import make_backend

    world = World.build("simulated", parse_instant("2026-01-15T09:00:00+03:00"),
                        make_backend(0, {"tokens": {"prod": [TOKEN]}}))
    device = world.new_device(None)

    def run(fn):
        f: Future = Future()
        f.set_result(fn())
        return f
    live = LiveWorld(world, lambda text: None)
    wc = WebConsole(device=lambda: device, run=run, post=lambda fn: fn(), live=live, pace=_Pace(),
                    advance=world.advance, catalogue=lambda: [])
    return world, device, wc


def test_a_token_entered_while_recording_is_the_lessons_own_in_the_lesson_and_masked_everywhere():
    world, device, wc = console_over_a_device()
    try:
        wc.lesson_action({"action": "start"})
        wc.press(["+", "+", "+", "+", "ИТ", "ИТ", "00"])           # «СКАНИРОВ.ТОКЕН» is in the «00» menu
        while "ТОКЕН" not in device.screen()[0]:
            wc.press(["+"])
        wc.press(["ИТ"])
        assert device.awaits_token
        wc.scan(TOKEN)
        world.settle(lambda: device.waiting, 10_000)
        assert device.settings.token == TOKEN
        text = wc.lesson_action({"action": "stop"})["yaml"]
        assert TOKEN not in text and f"scan: {LESSON_TOKEN}" in text
        state = json_text(wc.state())
        assert TOKEN not in state and "7f0c…1c42" in state
    finally:
        world.close()


def json_text(value) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def test_the_clock_takes_only_its_speeds_and_a_jump_is_a_step_of_the_lesson():
    from emulator.fronts.webconsole.app import Refused

    world, device, wc = console_over_a_device()
    try:
        for bad in ({"speed": 7}, {"speed": True}, {"jump_ms": 0}, {"jump_ms": "15m"}, {}):
            with pytest.raises(Refused):
                wc.set_clock(bad)
        assert wc.pace.speed == 1.0
        wc.set_clock({"speed": 3600})
        assert wc.pace.speed == 3600
        wc.lesson_action({"action": "start"})
        t0 = device.clock.now_ms
        wc.set_clock({"jump_ms": 900_000})
        assert device.clock.now_ms == t0 + 900_000
        assert wc.lesson is not None and {"advance": "900000ms"} in wc.lesson.steps
        with pytest.raises(Refused, match="нет такой клавиши"):
            wc._press({"keys": ["НЕТ"]})
    finally:
        world.close()


def test_the_technological_servers_link_is_switched_live_and_is_a_tech_step_of_the_lesson(tmp_path):
    from emulator.fronts.webconsole import WebConsole
    from emulator.fronts.webconsole.app import Refused

    world, device, wc = console_over_a_device()
    try:
        tech = world.add_techserver(tmp_path / "tech.sqlite3")
        wc = WebConsole(device=lambda: device, run=wc.run, post=lambda fn: fn(), live=wc.live, pace=_Pace(),
                        advance=world.advance, catalogue=lambda: [], links={"tech": tech.link})
        wc.lesson_action({"action": "start"})
        state = wc.link_switch({"name": "tech", "down": True})
        assert tech.link.down is True and state["links"]["tech"] is True
        wc.link_switch({"name": "tech", "down": False})
        assert tech.link.down is False
        with pytest.raises(Refused):
            wc.link_switch({"name": "ofd", "down": True})     # this console has no fiscal servers
        assert wc.lesson is not None
        assert [s for s in wc.lesson.steps if "tech" in s] == [{"tech": {"down": True}}, {"tech": {"down": False}}]
    finally:
        world.close()
