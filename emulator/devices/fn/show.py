"""``kkt-emu fd show``: the documents of a drive's archive, listed, or one shown decoded.

The archive is opened read-only (``FiscalDrive(..., readonly=True)``): a
damaged or missing file is refused with ``DamagedArchive`` and left as it
is. The drive's secret is never shown; ``secret_hint`` is a fingerprint.

Text listing::

    ФН 9999078900005488, state fiscal: 3 documents, 2 pending; shift 1 open, 1 receipt(s) in it
       ФД  type                                      date and time        ФП          OFD
        1  Отчет о регистрации                       15.11.2023 01:13:20  1284442153  delivered
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from emulator.devices.fn.archive import ARCHIVE_FILE
from emulator.devices.fn.model import FiscalDrive, Signed
from emulator.rules.ffdtags import spec
from emulator.wire.ffd.tlv import Field

TYPE_WIDTH = 40


def open_archive(path: Path) -> FiscalDrive:
    """The drive of a state directory (its ``fn_archive.sqlite``) or of an archive file, read-only."""
    path = Path(path)
    return FiscalDrive(path / ARCHIVE_FILE if path.is_dir() else path, None, readonly=True)


def _when(s: Signed) -> str:
    t = s.document.get(1012)
    return t.strftime("%d.%m.%Y %H:%M:%S") if isinstance(t, datetime) else "?"


def summary(drive: FiscalDrive) -> dict[str, Any]:
    docs, pending = drive.documents(), drive.pending()
    return {"fn_number": drive.fn_number, "state": drive.state, "documents": len(docs), "pending": len(pending),
            "shift_open": drive.shift_open, "shift_number": drive.shift_number,
            "receipts_in_shift": drive.receipts_in_shift, "secret_hint": drive.secret_hint}


def listing_json(drive: FiscalDrive) -> dict[str, Any]:
    out = summary(drive)
    out["count"] = out.pop("documents")
    out["documents"] = [{"fd": s.fd_number, "type": s.document.doc_type, "type_name": s.document.name,
                         "date_time": _when(s), "fiscal_sign": s.fiscal_sign,
                         "delivered": drive.delivered(s.fd_number)} for s in drive.documents()]
    return out


def listing_text(drive: FiscalDrive) -> list[str]:
    sm = summary(drive)
    shift = (f"shift {sm['shift_number']} open, {sm['receipts_in_shift']} receipt(s) in it" if sm["shift_open"]
             else f"shift {sm['shift_number']} closed" if sm["shift_number"] else "no shift yet")
    lines = [f"ФН {sm['fn_number']}, state {sm['state']}: {sm['documents']} document(s), "
             f"{sm['pending']} pending; {shift}",
             f"{'ФД':>6}  {'type':<{TYPE_WIDTH}}  {'date and time':<19}  {'ФП':<10}  OFD"]
    for s in drive.documents():
        lines.append(f"{s.fd_number:>6}  {s.document.name[:TYPE_WIDTH]:<{TYPE_WIDTH}}  {_when(s):<19}  "
                     f"{s.fiscal_sign:<10}  {'delivered' if drive.delivered(s.fd_number) else 'pending'}")
    return lines


def document_json(drive: FiscalDrive, fd: int) -> dict[str, Any]:
    s = drive.document(fd)
    return {"fd": fd, "type": s.document.doc_type, "type_name": s.document.name, "fiscal_sign": s.fiscal_sign,
            "delivered": drive.delivered(fd), "document": s.document.to_json()}


def _value_text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.hex(" ")
    if isinstance(value, datetime):
        return value.strftime("%d.%m.%Y %H:%M:%S")
    return str(value)


def _tree(fields: tuple[Field, ...], indent: str) -> list[str]:
    lines = []
    for tag, value in fields:
        ts = spec(tag)
        name = f"{ts.name} ({ts.fns})" if ts else "unknown tag"
        if isinstance(value, tuple):
            lines.append(f"{indent}{tag} {name}:")
            lines.extend(_tree(value, indent + "    "))
        else:
            lines.append(f"{indent}{tag} {name}: {_value_text(value)}")
    return lines


def document_text(drive: FiscalDrive, fd: int) -> list[str]:
    s = drive.document(fd)
    state = "delivered" if drive.delivered(fd) else "pending"
    head = f"ФД {fd}: {s.document.name} (type {s.document.doc_type}), ФП {s.fiscal_sign}, {state}"
    return [head, *_tree(s.document.fields, "    ")]

