"""`kkt-emu fd decode`: V2 as a tree, a document, a container, hex text; bad input one line, exit 2."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from emulator.cli import main
from tests.servers.ofd.docs import CODE, message, receipt
from tests.wire.ffd.test_golden import v2


def test_v2_decodes_with_headers_crcs_and_tags(tmp_path: Path, capsys) -> None:
    f = tmp_path / "v2.bin"
    f.write_bytes(v2())
    assert main(["fd", "decode", str(f)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("session   signature 2a08410a (ofd), S 81a2, P/A 0001, ФН 9999078900005488, body 436")
    assert "CRC 0x7825 (recomputed 0x7825, ok)" in out[1] and "ФД 1" in out[1]
    assert out[2] == "document  11 «Отчет об изменении параметров регистрации», 390 bytes"
    assert any(ln.startswith("  1048 ") and "РАПКАТ-центр" in ln for ln in out)
    assert out[-1] == "trailer   8106a55ae10c4d750000"


def test_json_tree_of_a_receipt_with_nested_items(tmp_path: Path, capsys) -> None:
    f = tmp_path / "m.bin"
    f.write_bytes(message(5))
    assert main(["fd", "decode", "--json", str(f)]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["kind"] == "session message" and d["container"]["fd_number"] == 5
    item = next(n for n in d["document"]["fields"] if n["tag"] == 1059)
    marks = {n["tag"]: n for n in item["fields"]}
    assert marks[2000]["value"] == CODE and marks[2106]["value"] == 15
    assert [n["tag"] for n in marks[1260]["fields"]] == [1262, 1263, 1264, 1265]


def test_a_bare_document_and_hex_text_from_stdin() -> None:
    for data in (receipt(1), receipt(1).hex().encode(), message(1)[30:]):
        r = subprocess.run([sys.executable, "-m", "emulator.cli", "fd", "decode", "-"], input=data,
                           capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert "document  3 «Кассовый чек»" in r.stdout.decode()


@pytest.mark.parametrize("data, says", [
    (b"", "empty input"),
    (v2()[:100], "at byte 24"),
    (v2()[:40] + b"\x00" + v2()[41:], "container CRC"),
    (b"\xff" * 3, "at byte 0"),
    (b"\x00" * (2 << 20), "at most"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys, data, says) -> None:
    f = tmp_path / "bad.bin"
    f.write_bytes(data)
    assert main(["fd", "decode", str(f)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("kkt-emu fd decode: ") and says in err


def test_a_missing_file(capsys) -> None:
    assert main(["fd", "decode", "/nonexistent/x.bin"]) == 2
    assert "cannot read it" in capsys.readouterr().err
