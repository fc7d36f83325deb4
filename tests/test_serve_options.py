"""serve's and bench's options: each has its help; the token comes from a file, the environment or
standard input, and a token on the command line is warned about."""

import os
import re
import subprocess
import sys

import pytest

from emulator.cli import build_parser

TOKEN = "7f0c0d6e-3b1a-4c53-9a8e-5d2f0e9b1c42"
CYRILLIC = re.compile("[А-Яа-яЁё]")


@pytest.mark.parametrize("command", ["serve", "bench"])
def test_every_option_has_an_english_help(command):
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    parser = sub.choices[command]
    assert parser.description and not CYRILLIC.search(parser.description)
    for action in parser._actions:
        assert action.help, f"{command} {action.option_strings}: no help"
        assert not CYRILLIC.search(action.help), action.help


def serve(tmp_path, *flags, env=None, stdin=None):
    return subprocess.run([sys.executable, "-m", "emulator.cli", "serve", "--state-dir", str(tmp_path / "state"),
                           "--no-console", "--no-techserver", "--no-control", "--first-ip", "200", *flags],
                          input=stdin, env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          encoding="utf-8", timeout=60)


def saved_token(tmp_path):
    import json
    return json.loads((tmp_path / "state" / "device" / "settings.json").read_text())["token"]


def stop_after_banner(tmp_path, *flags, env=None):
    proc = subprocess.Popen([sys.executable, "-m", "emulator.cli", "serve", "--state-dir", str(tmp_path / "state"),
                             "--no-techserver", "--no-control", *flags], env={**os.environ, **(env or {})},
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            encoding="utf-8")
    proc.stdin.write("quit\n")
    proc.stdin.flush()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return out, err


def test_the_token_from_a_file_the_environment_or_stdin_without_a_warning(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    os.chmod(token_file, 0o600)
    for flags, env in ((["--token-file", str(token_file)], None), ([], {"KKT_EMU_TOKEN": TOKEN})):
        out, err = stop_after_banner(tmp_path, *flags, env=env)
        assert "warning" not in err and TOKEN not in out + err
        assert "token 7f0c…1c42" in out
        assert saved_token(tmp_path) == TOKEN
        (tmp_path / "state" / "device" / "settings.json").unlink()


def test_a_token_on_the_command_line_still_works_but_is_warned_about(tmp_path):
    out, err = stop_after_banner(tmp_path, "--token", TOKEN)
    assert "kkt-emu serve: warning: --token shows the token to every local user (ps, /proc)" in err
    assert "--token-file" in err and TOKEN not in err + out
    assert saved_token(tmp_path) == TOKEN


def test_a_world_readable_token_file_is_warned_about(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    os.chmod(token_file, 0o644)
    _, err = stop_after_banner(tmp_path, "--token-file", str(token_file))
    assert f"--token-file {token_file} is readable by every local user (chmod 600 {token_file})" in err


@pytest.mark.parametrize("content, expected", [
    (None, "no such file"), ("", "one line with the token expected, found 0"),
    (f"{TOKEN}\n{TOKEN}\n", "found 2"), (b"\xff\xfe", "not UTF-8 text")])
def test_a_bad_token_file_is_one_line_and_nothing_starts(tmp_path, content, expected):
    path = tmp_path / "token"
    if isinstance(content, str):
        path.write_text(content)
    elif content is not None:
        path.write_bytes(content)
    out = serve(tmp_path, "--token-file", str(path))
    assert out.returncode == 1 and out.stderr.count("\n") == 1, out.stderr
    assert out.stderr.startswith(f"kkt-emu serve: --token-file {path}") and expected in out.stderr
    assert TOKEN not in out.stderr and "https://" not in out.stdout
