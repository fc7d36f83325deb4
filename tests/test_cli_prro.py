"""``kkt-emu prro``: issue and read key files, the ПРРО's state, the console; bad input one clear line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from emulator.cli import main
from emulator.scenario.prro_console import console, parse_line

KKT = [sys.executable, "-m", "emulator.cli"]


def _run(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KKT, "prro", *args], cwd=cwd, capture_output=True, text=True, input=stdin, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[1])})


def test_issue_then_read_a_key_and_its_errors(tmp_path):
    (tmp_path / "pw").write_text("1111\n")
    (tmp_path / "bad").write_text("2222\n")
    r = _run("issue-key", "--owner", "Іваненко Іван", "--role", "senior_cashier", "--days", "30", "--out",
             "Key-6.dat", "--password-file", "pw", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Старший касир" in r.stdout and "1111" not in r.stdout
    assert (tmp_path / "Key-6.dat").stat().st_mode & 0o077 == 0
    r = _run("read-key", "Key-6.dat", "--password-file", "pw", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("Owner: Іваненко Іван, tax ID 1234567890")
    r = _run("read-key", "Key-6.dat", "--password-file", "bad", cwd=tmp_path)
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr.startswith("Error loading key certificates") and r.stderr.count("\n") == 1
    r = _run("read-key", "gone.dat", "--password-file", "pw", cwd=tmp_path)
    assert r.returncode == 1 and r.stderr.startswith("Library not initialized")
    r = _run("read-key", "Key-6.dat", "--password-file", "pw", "--at", "2099-01-01T00:00:00Z", cwd=tmp_path)
    assert r.returncode == 1 and r.stderr == "The certificate has expired\n"
    r = _run("issue-key", "--owner", "X", "--out", "Key-6.dat", "--password-file", "pw", cwd=tmp_path)
    assert r.returncode == 2 and "never overwritten" in r.stderr and r.stderr.count("\n") == 1


def test_bad_input_is_one_line(tmp_path, capsys):
    assert main(["prro", "read-key", "k.pfx", "--password-file", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No such file" in err
    assert main(["prro", "state", str(tmp_path)]) == 2
    assert "no ПРРО state here" in capsys.readouterr().err
    assert main(["prro", "issue-key", "--owner", "X", "--tax-id", "12", "--out", str(tmp_path / "a.pfx"),
                 "--password-env", "KKT_EMU_TEST_PW_UNSET"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_the_console_runs_the_seeds_procedure_and_refuses_bad_lines():
    lines = [
        "issue_key name=old owner='Петренко Марія' role=cashier days=10 file=Key-6.dat password=1111",
        "register key=old role=cashier delay=0m",
        "set_key key=old password=1111",
        "status",
        "open_shift",
        "sale 12.50",
        "sale twelve",
        "frobnicate",
        "registry",
        "revoke old",
        "sale 1.00",
        "state",
        "quit",
        "sale 5.00",
    ]
    out: list[str] = []
    assert console(lines, out.append) == 0
    text = "\n".join(out)
    assert "Online" in out
    assert any(line.endswith("Sale 12.50: fiscal number 1000000002") for line in out)
    assert "error: not an amount: 'twelve' (write e.g. 125.50)" in out
    assert "error: unknown command 'frobnicate' (help lists them)" in out
    assert any(line.startswith("operator old: Петренко Марія, Касир, Квитанція №2") for line in out)
    assert any(line.endswith("The signer's certificate has been revoked") for line in out)
    assert "Sale 5.00" not in text                         # after quit nothing runs
    assert "1111" not in text.replace("password=1111", "")


def test_the_console_over_loopback_http(tmp_path):
    script = tmp_path / "steps.txt"
    script.write_text("issue_key name=k owner=Ода file=k.pfx\nregister key=k role=cashier delay=0m\n"
                      "set_key key=k\nopen_shift\nsale 3.00\nz_report\n", encoding="utf-8")
    r = subprocess.run([*KKT, "prro", "console", "--network", "real", "--script", str(script)], capture_output=True,
                       text=True, timeout=120, env={"PATH": "/usr/bin:/bin",
                                                     "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("tax server: http://127.0.0.1:")
    assert "Z-report: sales 3.00" in r.stdout


def test_console_lines_are_scenario_steps():
    step = parse_line("issue_key name=a owner=b days=5")
    assert step is not None and step.kind == "issue_key" and step.value == {"name": "a", "owner": "b", "days": 5}
    assert parse_line("  # a comment") is None
    for bad in ("open_shift now", "sale", "register key=a role=boss", "issue_key owner"):
        try:
            parse_line(bad)
        except ValueError as exc:
            assert "\n" not in str(exc)
        else:
            raise AssertionError(bad)


def test_a_world_directory_keeps_the_world_between_commands(tmp_path):
    world = tmp_path / "w"
    for line in ("issue_key name=k owner=Ода file=Key-6.dat", "register key=k role=cashier", "set_key key=k",
                 "advance 20m", "open_shift", "sale 12.00"):
        assert main(["prro", "do", "--world", str(world), line]) == 0, line
    assert main(["prro", "do", "--world", str(world), "sale abc"]) == 2
    r = _run("do", "--world", str(world), "registry", cwd=tmp_path)
    assert r.stdout == "operator k: Ода, Касир, Квитанція №2 № 1, active\n"
    r = _run("do", "--world", str(world), "x_report", cwd=tmp_path)
    assert "X-report: sales 12.00" in r.stdout
    assert (world / "steps.txt").stat().st_mode & 0o077 == 0
    assert "sale abc" not in (world / "steps.txt").read_text("utf-8")
