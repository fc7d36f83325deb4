"""``kkt-emu``: the error table and running scenarios, with their exit codes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from emulator.cli import COMMANDS, build_parser, main

TOKEN = "7f0c0d6e-3b1a-4c53-9a8e-5d2f0e9b1c42"
PASSING = f"""
name: "passes"
device: {{settings: {{token: "{TOKEN}"}}}}
world: {{tokens: {{prod: ["{TOKEN}"]}}}}
steps:
  - status_check: {{}}
  - expect: {{status: "S", display_contains: "ГИС МТ: OK"}}
"""
FAILING = """
name: "fails"
steps:
  - advance: "1m"
  - expect: {mode: cash_ready}
"""
BROKEN = """
name: "broken"
steps:
  - frobnicate: {}
"""


def write(tmp: Path, name: str, text: str) -> Path:
    p = tmp / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, "utf-8")
    return p


def test_errors_json_lists_the_28_device_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["errors", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    codes = [r["code"] for r in rows]
    expected = set(range(650, 659)) | (set(range(747, 769)) - {759, 763, 767})
    assert len(codes) == 28 and set(codes) == expected
    assert codes == sorted(codes)
    for r in rows:
        assert set(r) == {"code", "text", "cause", "group"}
        assert r["text"] and r["cause"] and r["group"] in ("tls", "permit")
    by_code = {r["code"]: r for r in rows}
    assert by_code[758]["text"].startswith("Продажа товара по цене")


def test_errors_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["errors"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["CODE", "TEXT", "CAUSE"]
    assert len(lines) == 29
    assert lines[1].startswith("650 ") and "Нет места для сохранения нового сертификата" in lines[1]


def test_run_passing_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "a/ok.yaml", PASSING)
    assert main(["run", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "PASS  passes" in out
    assert out.strip().endswith("1 passed, 0 failed")


def test_run_failing_exit_1_with_junit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ok = write(tmp_path, "ok.yaml", PASSING)
    bad = write(tmp_path, "sub/bad.yaml", FAILING)
    junit = tmp_path / "report.xml"
    assert main(["run", str(ok), str(bad), "--junit", str(junit)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  fails" in out and "1m00s virtual" in out
    assert "steps[1] (expect, line 5) mode: expected 'cash_ready', got 'main'" in out
    assert "1 passed, 1 failed" in out
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "2" and suite.get("failures") == "1"
    names = [c.get("name") for c in suite.findall("testcase")]
    assert names == ["passes", "fails"]
    assert suite.findall("testcase")[1].get("classname", "").endswith("sub.bad")


def test_run_load_error_exit_2_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "ok.yaml", PASSING)
    broken = write(tmp_path, "broken.yaml", BROKEN)
    junit = tmp_path / "report.xml"
    assert main(["run", str(tmp_path), "--junit", str(junit)]) == 2
    captured = capsys.readouterr()
    assert f"ERROR {broken}: steps[0] (frobnicate, line 4): unknown step kind 'frobnicate'" in captured.err
    assert "PASS" not in captured.out          # nothing runs when a file is bad
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("errors") == "1"


def test_run_missing_path_and_empty_folder_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(tmp_path / "nope.yaml")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert main(["run", str(tmp_path)]) == 2
    assert "no scenario files" in capsys.readouterr().err


def test_run_verbose_and_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = write(tmp_path, "ok.yaml", PASSING)
    assert main(["run", str(f), "--verbose", "--trace"]) == 0
    out = capsys.readouterr().out
    assert "--- passes" in out
    assert "steps[0] (status_check, line 6): {}" in out
    assert "net> #1 GET cdn.crpt.ru/api/v4/true-api/cdn/info" in out
    assert "key: ИТ" in out


def test_run_on_a_chosen_network(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = write(tmp_path, "ok.yaml", PASSING)
    assert main(["run", str(f), "--network", "both"]) == 0
    assert "[simulated + real]" in capsys.readouterr().out
    assert main(["run", str(f), "--network", "real"]) == 0
    assert "[real]" in capsys.readouterr().out


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["run"])
    assert info.value.code == 2


def test_subcommand_registry() -> None:
    assert {"run", "errors"} <= set(COMMANDS)
    assert build_parser().prog == "kkt-emu"


def test_token_qr_round_trip_and_masked_output(tmp_path, capsys):
    from emulator.cli import main
    from emulator.wire.token_qr import read_token_qr

    token = "7f0c0d6e-3b1a-4c53-9a8e-5d2f0e9b1c42"
    out = tmp_path / "t.png"
    assert main(["token-qr", token, "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert token not in printed and "7f0c…1c42" in printed
    assert read_token_qr(out) == token
    assert main(["token-qr", "no good!", "-o", str(tmp_path / "x.png")]) == 2
    assert not (tmp_path / "x.png").exists()


def test_explain_log_reads_the_vendor_example_as_printed(tmp_path, capsys):
    from emulator.cli import main

    # As printed in the vendor's instruction: a line break inside the UUID, trailing tabs.
    text = ("ГИС МТ\t758\t[9812]\n\t\tНайден:Да,Нанесен:Да,Крипто:Да,Продан:Нет,Заблокирован:Нет,В обороте:Да,"
            "Серая зона:Нет\nЦена:24800 Макс:14000 Мин:12900, ГоденДо:07-02-2106 09:28:15, 2106:15, "
            "ВремяОбработки:523мс, UUID=4ac3d96d- df56-4d56-8d97-a22006848d48&Time=1712141750370\t\t\n")
    f = tmp_path / "report.txt"
    f.write_text(text, encoding="utf-8")
    assert main(["explain-log", str(f)]) == 0
    out = capsys.readouterr().out
    assert "Товар добавляли в чековый буфер с ценой (248р) выше МРЦ (140р)" in out
    assert main(["explain-log", "--text", "no record here"]) == 1


def test_explain_log_refuses_what_is_no_report_in_one_line(tmp_path, capsys):
    from emulator.cli import main

    binary = tmp_path / "photo.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    cases = [([str(binary)], f"{binary}: не текст UTF-8 (байт 0)"),
             ([str(tmp_path / "reprot.txt")], "reprot.txt: не удаётся прочитать: No such file or directory"),
             ([str(tmp_path)], f"{tmp_path}: не удаётся прочитать: Is a directory"),
             (["/dev/zero"], "/dev/zero: больше 16 МиБ")]
    for argv, expected in cases:
        assert main(["explain-log", *argv]) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("kkt-emu explain-log: ") and expected in err[0], err
    with pytest.raises(SystemExit) as info:
        main(["explain-log"])
    assert info.value.code == 2 and "--text" in capsys.readouterr().err


def test_token_qr_refuses_a_folder_or_a_missing_folder_in_one_line(tmp_path, capsys):
    from emulator.cli import main

    token = "7f0c0d6e-3b1a-4c53-9a8e-5d2f0e9b1c42"
    assert main(["token-qr", token, "-o", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    missing = tmp_path / "missing" / "dir" / "x.png"
    assert main(["token-qr", token, "-o", str(missing)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not exist" in err[0] and token not in err[0]
    assert not (tmp_path / "missing").exists()          # no folder made behind the user's back
