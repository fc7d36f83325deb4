"""The scenario loader (and `serve --config`) on pathological YAML: one line, exit 2, bounded time."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from emulator.cli import main
from emulator.scenario.model import MAX_YAML_BYTES, ScenarioError, load_text

# A "billion laughs": 413 bytes that expand to 9**9 strings.
ALIAS_BOMB = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n" + "".join(
    f"{chr(ord('b') + i)}: &{chr(ord('b') + i)} [{','.join(['*' + chr(ord('a') + i)] * 9)}]\n" for i in range(8)
) + "name: x\nsteps: [settle: {}]\n"
PATHOLOGICAL = {
    "alias bomb": (ALIAS_BOMB, "alias (*a) is not accepted"),
    "recursive alias": ("name: &n [*n]\nsteps: [settle: {}]\n", "alias (*n) is not accepted"),
    "merge key alias": ("d: &d {latency_ms: 1}\nname: x\nsteps: [host: {<<: *d, name: cdn01.crpt.ru}]\n",
                        "alias (*d) is not accepted"),
    "deep flow nesting": ("name: x\nsteps: " + "[" * 50_000 + "]" * 50_000 + "\n", "nested deeper than 32"),
    "deep block nesting": ("name: x\nsteps:\n" + "".join("  " * i + "- \n" for i in range(1, 200)),
                           "nested deeper than 32"),
    "huge log_seq": ("name: x\ndevice: {log_seq: " + "9" * 40 + "}\nsteps: [settle: {}]\n",
                     "device.log_seq: the integer 9999"),
    "an integer of 10000 digits": ("name: x\nseed: " + "7" * 10_000 + "\nsteps: [settle: {}]\n",
                                   "Exceeds the limit"),
    "a date that is none": ("name: x\nstart: 2026-13-45\nsteps: [settle: {}]\n", "month must be in 1..12"),
    "start out of range": ("name: x\nstart: 9000000000000000\nsteps: [settle: {}]\n",
                           "start: 9000000000000000 is outside the years 1970..9999"),
    "advance of a million years": ("name: x\nsteps: [advance: 365000000d]\n", "longer than one step may advance"),
}


@pytest.mark.parametrize("name", list(PATHOLOGICAL))
def test_pathological_yaml_is_one_line_in_bounded_time(name):
    text, expected = PATHOLOGICAL[name]
    t0 = time.monotonic()
    with pytest.raises(ScenarioError) as info:
        load_text(text, "bad.yaml")
    assert time.monotonic() - t0 < 2.0
    assert expected in str(info.value), str(info.value)
    assert all("\n" not in p for p in info.value.problems)


@pytest.mark.parametrize("name", ["alias bomb", "recursive alias", "deep flow nesting", "huge log_seq"])
def test_run_refuses_pathological_files_with_exit_2(tmp_path, capsys, name):
    path = tmp_path / "bad.yaml"
    path.write_text(PATHOLOGICAL[name][0], "utf-8")
    t0 = time.monotonic()
    assert main(["run", str(path)]) == 2
    assert time.monotonic() - t0 < 2.0
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"ERROR {path}: ") and PATHOLOGICAL[name][1] in err[0]


def test_run_on_dev_zero_and_a_huge_file_is_one_line(tmp_path, capsys):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (MAX_YAML_BYTES + 10))
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"name: \xff\xfe\n")
    t0 = time.monotonic()
    assert main(["run", "/dev/zero", str(big), str(binary)]) == 2
    assert time.monotonic() - t0 < 5.0
    err = capsys.readouterr().err
    assert "ERROR /dev/zero: cannot read: larger than 4 MiB" in err
    assert f"ERROR {big}: cannot read: larger than 4 MiB" in err
    assert f"ERROR {binary}: cannot read: not UTF-8 text (byte 6 is 0xff)" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("name", ["alias bomb", "recursive alias", "deep flow nesting"])
def test_serve_config_refuses_pathological_yaml_in_one_line(tmp_path: Path, name):
    text = PATHOLOGICAL[name][0].replace("name: x\n", "").replace("steps: [settle: {}]\n", "")
    text = text.replace("name: &n [*n]", "world: &n [*n]").replace("steps: [", "world: [")
    cfg = tmp_path / "serve.yaml"
    cfg.write_text(text, "utf-8")
    out = subprocess.run([sys.executable, "-m", "emulator.cli", "serve", "--no-console", "--config", str(cfg),
                          "--state-dir", str(tmp_path / "state")],
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"kkt-emu serve: {cfg}: YAML error"), out.stderr
    assert PATHOLOGICAL[name][1] in lines[0]
