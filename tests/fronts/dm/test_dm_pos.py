"""``tools/dm_pos.py`` (the POS client) in its own process against ``kkt-emu dm serve`` in another, over real
sockets: each request and answer printed, the exit status of each outcome."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fronts.dm import served

POS = Path(__file__).resolve().parents[3] / "tools" / "dm_pos.py"


@pytest.fixture(scope="module")
def dm() -> Iterator[served.Served]:
    s = served.start()
    yield s
    assert s.stop() == 0


def pos(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(POS), *args], capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)


def exchanges(out: str) -> list[tuple[str, dict]]:
    got = []
    for line in out.splitlines():
        if line.startswith("→ POST "):
            path, _, body = line[len("→ POST "):].partition(" ")
            got.append((path, json.loads(body)))
        elif line.startswith("← "):
            got.append(("answer", json.loads(line[2:])))
    return got


def test_the_fiscal_number_step_prints_its_request_and_answer(dm: served.Served) -> None:
    got = pos("--url", dm.url, "--steps", "fisid")
    assert got.returncode == 0, got.stderr
    (path, req), (_, answer) = exchanges(got.stdout)
    assert path == "/dm/execute" and req["fiscal"] == {"task": 20} and req["device"] == "prro"
    assert answer["res"] == 0 and answer["info"]["fisid"] == "4000002411"
    assert "fisid: ok" in got.stdout


def test_a_refusal_is_exit_1_with_the_dm_text(dm: served.Served) -> None:
    got = pos("--url", dm.url, "--device", "nobody", "--steps", "fisid")
    assert got.returncode == 1 and "refused: res 1091 Пристрій не знайдено" in got.stderr


def test_an_unreachable_dm_is_exit_2() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    got = pos("--url", f"http://127.0.0.1:{port}", "--steps", "fisid", "--timeout", "5")
    assert got.returncode == 2 and "cannot reach the DM" in got.stderr


def test_a_path_that_is_no_dm_is_exit_2(dm: served.Served) -> None:
    got = pos("--url", dm.url + "/dm/nothing", "--steps", "fisid")
    assert got.returncode == 2 and "HTTP 404" in got.stderr


def test_unknown_steps_are_refused_by_the_command_line() -> None:
    got = pos("--steps", "fisid,dance")
    assert got.returncode == 2 and "unknown step(s) dance" in got.stderr


def test_a_whole_shop_day_over_real_sockets(dm: served.Served) -> None:
    got = pos("--url", dm.url)                  # the default: the whole day
    assert got.returncode == 0, got.stdout[-2000:] + got.stderr
    seen = exchanges(got.stdout)
    paths = [path for path, _ in seen if path != "answer"]
    requests = [body for path, body in seen if path != "answer"]
    answers = [body for path, body in seen if path == "answer"]
    assert [r["fiscal"]["task"] for r in requests] == [20, 0, 3, 1, 1, 2, 10, 11]
    assert paths[4] == "/dm/execute-pkg" and paths.count("/dm/execute") == 7
    assert all(a["res"] == 0 and a["tag"] == r.get("tag", "") for a, r in zip(answers, requests, strict=True))
    fiscal = [a["info"] for i, a in enumerate(answers) if i not in (0, 6)]
    assert len({f["doccode"] for f in fiscal}) == 6 and fiscal[-1]["docno"] == 6
    card = answers[4]["info"]
    assert card["pay"]["res"] == 0 and card["pay"]["amount"] == "57.00" and card["isprint"] == 1
    x, z = answers[6]["info"], answers[7]["info"]
    assert x["receipt"]["count_p"] == z["receipt"]["count_p"] == 2 and x["doccode"] == ""
    assert z["summary"]["base_p"] == 114.0 and z["summary"]["base_m"] == 57.0
    for line in ("fisid: ok", "open: ok", "cash_in: ok", "sale_cash: ok", "sale_card: ok", "return: ok", "x: ok",
                 "z: ok"):
        assert line in got.stdout


def test_a_lost_answer_is_repeated_with_the_same_tag_and_fiscalized_once() -> None:
    dm = served.start()
    try:
        with httpx.Client(timeout=20, trust_env=False) as c:
            assert c.post(dm.control, content="tax plan ok lost-answer").json()["ok"]
            got = pos("--url", dm.url, "--steps", "open")
            assert got.returncode == 0, got.stdout[-2000:] + got.stderr
            tags = {body["tag"] for path, body in exchanges(got.stdout) if path != "answer"}
            answers = [body for path, body in exchanges(got.stdout) if path == "answer"]
            assert len(answers) == 2 and answers[0]["res_action"] in (1, 2) and answers[1]["res"] == 0
            assert len(tags) == 1 and "repeating with the same tag" in got.stdout
            status = c.post(dm.control, content="status").json()["answer"]
            assert "0 plan items, 1 documents" in status.splitlines()[0], status
    finally:
        assert dm.stop() == 0
