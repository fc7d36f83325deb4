"""``kkt-emu dm serve``: the fault grammar on a world, and the command in its own process over real sockets."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from emulator.world.dm import DmWorld
from emulator.world.dm_control import control
from tests.fronts.dm import served


@pytest.fixture(scope="module")
def world() -> Iterator[DmWorld]:
    with DmWorld(start_ms=1_767_261_600_000) as w:
        w.add_prro("kasa")
        w.add_terminal("term")
        w.add_printer("prn")
        yield w


def peers(world: DmWorld) -> str:
    term = world.terminals["term"][0]
    plan = world.prro.tax.faults
    return json.dumps([world.printers["prn"][0].state(), term.host_down, term.paper_out, term.faults.down,
                       term.faults.latency_ms, list(term.holder.actions), plan.down, plan.latency_ms, [str(i) for i in plan.items]], default=str)


@pytest.mark.parametrize("line,check", [
    ("printer paper out", lambda w: w.printers["prn"][0].paper_out),
    ("printer cover open", lambda w: w.printers["prn"][0].cover_open),
    ("printer prn offline", lambda w: w.printers["prn"][0].offline),
    ("printer slow 6000", lambda w: w.printers["prn"][0].slow_ms == 6000),
    ("term host on", lambda w: w.terminals["term"][0].host_down),
    ("term paper on", lambda w: w.terminals["term"][0].paper_out),
    ("term term down on", lambda w: w.terminals["term"][0].faults.down),
    ("term latency 700", lambda w: w.terminals["term"][0].faults.latency_ms == 700),
    ("tax down", lambda w: w.prro.tax.faults.down),
    ("tax latency 250", lambda w: w.prro.tax.faults.latency_ms == 250),
    ("tax plan 500 500", lambda w: w.prro.tax.faults.items == [500, 500]),
    ("net down", lambda w: w.prro.tax.faults.down and w.terminals["term"][0].host_down),
])
def test_each_control_line_sets_its_fault_and_the_reset_clears_it(world: DmWorld, line: str, check) -> None:
    answer = control(world, line)
    assert answer and not answer.startswith("error:") and check(world), answer
    for reset in ("printer ok", "term host off", "term paper off", "term down off", "term latency 0", "tax ok",
                  "net up"):
        assert not control(world, reset).startswith("error:")
    assert not check(world)


def test_the_holder_of_a_terminal_takes_a_bare_action(world: DmWorld) -> None:
    assert control(world, "term decline") == "term: holder: decline"
    assert control(world, "term holder approve") == "term: holder: approve"


@pytest.mark.parametrize("line", ["bogus", "printer", "printer paper sideways", "printer quit", "printer close-drawer",
                                  "term", "term fly", "term host maybe", "term latency -1", "tax", "tax latency x",
                                  "tax plan nonsense", "tax sideways", "net", "net maybe", "status now",
                                  "x" * 401, "printer nobody paper out extra"])
def test_a_bad_line_is_one_error_line_and_changes_nothing(world: DmWorld, line: str) -> None:
    before = peers(world)
    answer = control(world, line)
    assert answer.startswith("error: ") and "\n" not in answer, answer
    assert peers(world) == before


def test_status_has_a_line_per_peer(world: DmWorld) -> None:
    lines = control(world, "status").splitlines()
    assert lines[0].startswith("tax server: up") and lines[1].startswith("terminal term: batch")
    assert lines[2].startswith("printer prn: {")


def test_a_world_without_a_printer_says_so() -> None:
    with DmWorld(start_ms=1_767_261_600_000) as w:
        w.add_prro("kasa")
        assert control(w, "printer paper out") == "error: this world has no printer"


# ------------------------------------------------------------ the command, its own process
@pytest.fixture(scope="module")
def dm() -> Iterator[served.Served]:
    s = served.start()
    yield s
    assert s.stop() == 0


def test_it_prints_its_urls_and_devices(dm: served.Served) -> None:
    assert dm.banner[2].startswith("devices: prro (ПРРО 4000002411, test), term (terminal), prn (printer)")
    assert dm.control == f"{dm.url}/emu/control"


def test_it_answers_the_dm_api_over_a_real_socket(dm: served.Served) -> None:
    with httpx.Client(base_url=dm.url, timeout=20, trust_env=False) as c:
        got = c.post("/dm/execute", json={"ver": 6, "source": "test", "device": "prro", "fiscal": {"task": 20}}).json()
        assert got["res"] == 0 and got["info"]["fisid"] == "4000002411"
        bad = c.post("/dm/execute", content=b"{oops")
        assert bad.status_code == 200 and bad.json()["res"] == 2000


def test_the_control_api_takes_a_console_line(dm: served.Served) -> None:
    with httpx.Client(timeout=20, trust_env=False) as c:
        assert c.post(dm.control, content="printer paper out").json() == {"ok": True,
                                                                          "answer": "prn: paper-out on"}
        status = c.post(dm.control, content="status").json()["answer"]
        assert '"paper_out": true' in status
        assert c.post(dm.control, content="printer ok").json()["ok"]
        bad = c.post(dm.control, content="launch rockets").json()
        assert not bad["ok"] and bad["answer"].startswith("error: unknown command 'launch'")
        assert not c.post(dm.control, content=b"\xff\xfe").json()["ok"]
        assert not c.post(dm.control, content="tax down\ntax up").json()["ok"]


def test_the_console_answers_each_line(dm: served.Served) -> None:
    assert dm.console("tax down") == "tax server: down"
    assert dm.console("tax up") == "tax server: up"
    assert dm.console("what now").startswith("error: unknown command 'what'")


@pytest.mark.parametrize("args,message", [(["--host", "0.0.0.0"], "not a loopback address")])
def test_it_refuses_a_non_loopback_address(args: list[str], message: str) -> None:
    got = subprocess.run([sys.executable, "-m", "emulator.cli", "dm", "serve", "--port", "0", *args],
                         capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert got.returncode == 2 and message in got.stderr


def test_a_busy_port_is_a_clear_error(dm: served.Served) -> None:
    port = dm.url.rsplit(":", 1)[1]
    got = subprocess.run([sys.executable, "-m", "emulator.cli", "dm", "serve", "--port", port],
                         capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert got.returncode == 2 and "cannot listen" in got.stderr and "Traceback" not in got.stderr
