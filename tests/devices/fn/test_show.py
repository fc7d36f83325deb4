"""``kkt-emu fd show``: the drive's documents listed and shown, bad archives refused in one line."""

from __future__ import annotations

import json
import sqlite3

from emulator.cli import main
from emulator.devices.fn.archive import ARCHIVE_FILE
from emulator.devices.fn.model import FiscalDrive

FN = "9999078900005488"
T0 = 1_700_000_000_000


def make(tmp_path) -> FiscalDrive:
    d = FiscalDrive(tmp_path / ARCHIVE_FILE, FN)
    d.register(T0, ((1037, "0000000005008570"), (1018, "7702203276"), (1048, "ООО Ромашка")))
    d.open_shift(T0 + 100_000, ((1021, "Иванова"),))
    d.receipt(T0 + 200_000, ((1020, 12345), (1054, 1)))
    d.acknowledge(1, b"\x07ack", T0 + 300_000)
    return d


def test_listing_while_the_drive_is_open(tmp_path, capsys):
    d = make(tmp_path)                  # still open: its WAL is in use
    assert main(["fd", "show", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"ФН {FN}, state fiscal: 3 document(s), 2 pending; shift 1 open, 1 receipt(s) in it"
    signs = [s.fiscal_sign for s in d.documents()]
    assert out[2].split() == ["1", "Отчет", "о", "регистрации", "15.11.2023", "01:13:20", str(signs[0]), "delivered"]
    assert out[4].split()[1:3] == ["Кассовый", "чек"] and out[4].split()[-2:] == [str(signs[2]), "pending"]
    assert d.secret.hex() not in "\n".join(out)
    d.close_archive()


def test_json_listing_and_one_document(tmp_path, capsys):
    make(tmp_path).close_archive()
    path = tmp_path / ARCHIVE_FILE
    assert main(["fd", "show", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["fn_number"] == FN and doc["count"] == 3 and doc["pending"] == 2
    assert [(d["fd"], d["type"], d["delivered"]) for d in doc["documents"]] == [(1, 1, True), (2, 2, False),
                                                                                (3, 3, False)]
    assert doc["documents"][2]["date_time"] == "15.11.2023 01:16:40"
    assert main(["fd", "show", str(path), "--number", "3", "--json"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert one["document"]["fiscalDocumentNumber"] == 3 and one["document"]["totalSum"] == 12345
    assert one["document"]["shiftNumber"] == 1 and one["document"]["requestNumber"] == 1
    assert main(["fd", "show", str(path), "-n", "3"]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0].startswith("ФД 3: Кассовый чек (type 3), ФП ") and text[0].endswith(", pending")
    assert "    1040 Номер ФД (fiscalDocumentNumber): 3" in text
    assert "    1041 Номер ФН (fiscalDriveNumber): 9999078900005488" in text


def _refused(capsys, *argv: str) -> str:
    assert main(["fd", "show", *argv]) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and cap.err.count("\n") == 1 and cap.err.startswith("kkt-emu fd show: ")
    assert "Traceback" not in cap.err
    return cap.err


def test_bad_input_refused_in_one_line_and_left_alone(tmp_path, capsys):
    assert "no such file" in _refused(capsys, str(tmp_path))            # a directory without an archive
    assert "no such file" in _refused(capsys, str(tmp_path / "nothing.sqlite"))
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"\x00garbage" * 500)
    assert "SQLite" in _refused(capsys, str(junk))
    assert junk.read_bytes() == b"\x00garbage" * 500 and not list(tmp_path.glob("*.bad*"))
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    assert "empty" in _refused(capsys, str(empty))
    other = tmp_path / "other.sqlite"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    assert "not a fiscal drive archive" in _refused(capsys, str(other))
    make(tmp_path).close_archive()
    assert "no document 4" in _refused(capsys, str(tmp_path), "--number", "4")
    assert "no document 0" in _refused(capsys, str(tmp_path), "--number", "0")
