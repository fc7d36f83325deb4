"""The files of the state directory: atomic, private, checked when read back.

* ``write_atomic``: the whole new content or the old one, never half
  (a temporary file in the same folder, fsync, rename). The file is private
  (mode 0600: ``mkstemp`` creates it so) and its folders are made private.
* ``private_dir`` / ``private_file``: the state directory's folders are
  0700 and its files 0600 (they hold tokens, the lab CA key, the log), for
  what is not written through ``write_atomic`` — an SQLite database is made
  with ``private_file`` before it is first opened (SQLite gives its journal
  files the database file's mode).
* ``read_json_file``: a state file read back: at most ``MAX_STATE_FILE_BYTES``,
  UTF-8 JSON nested at most ``MAX_JSON_DEPTH`` deep, of the shape a JSON
  Schema gives; anything else is ``DamagedFile`` (one line saying what is
  wrong), never another exception. ``set_aside`` keeps a damaged file under
  a free ``.bad`` name, an earlier one is never overwritten.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
MAX_STATE_FILE_BYTES = 1 << 20    # state.json and settings.json are a few hundred bytes
MAX_JSON_DEPTH = 32


class DamagedFile(ValueError):
    """A state file that cannot be taken: ``str()`` is one line saying why."""


def private_dir(path: Path) -> Path:
    """``path`` and its missing parents created with mode 0700; an existing ``path`` made 0700."""
    path = Path(path)
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:
            pass
        os.chmod(d, PRIVATE_DIR_MODE)    # mkdir's mode is cut by the umask
    if not missing and stat.S_IMODE(path.stat().st_mode) != PRIVATE_DIR_MODE:
        os.chmod(path, PRIVATE_DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """``path`` made private (0600): created empty when missing (its folder private too)."""
    path = Path(path)
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE)
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
    finally:
        os.close(fd)
    return path


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, the file private (0600), its folder private."""
    if not path.parent.is_dir():
        private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_json_atomic(path: Path, obj: Any) -> None:
    write_atomic(path, json.dumps(obj, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8"))


def read_json(path: Path) -> Any | None:
    try:
        return json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return None


def _json_depth_ok(text: str) -> bool:
    """Brackets nested at most ``MAX_JSON_DEPTH`` deep, outside strings (checked before parsing,
    so that a file of a million ``[`` never reaches the recursive parser)."""
    depth, in_string, escaped = 0, False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def parse_json_document(data: bytes, schema: dict[str, Any]) -> Any:
    """``data`` as a JSON document of ``schema``'s shape; ``DamagedFile`` saying what is wrong."""
    if len(data) > MAX_STATE_FILE_BYTES:
        raise DamagedFile(f"larger than {MAX_STATE_FILE_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DamagedFile(f"not UTF-8 text (byte {exc.start})") from None
    if not _json_depth_ok(text):
        raise DamagedFile(f"nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise DamagedFile(f"not JSON: {' '.join(str(exc).split())}") from None
    err = best_match(jsonschema.Draft202012Validator(schema).iter_errors(doc))
    if err is not None:
        place = ".".join(str(p) for p in err.absolute_path) or "the document"
        message = " ".join(err.message.split())
        raise DamagedFile(f"{place}: {message[:160]}")
    return doc


def read_json_file(path: Path, schema: dict[str, Any]) -> Any | None:
    """The JSON document in ``path`` (None when there is none), checked as ``parse_json_document``."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_STATE_FILE_BYTES + 1)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise DamagedFile("a folder, not a file") from None
    return parse_json_document(data, schema)


def set_aside(path: Path) -> Path:
    """Rename a damaged ``path`` to ``<name>.bad`` (or ``.bad.2``, ``.bad.3``... when that is taken)."""
    bad = path.with_name(path.name + ".bad")
    n = 1
    while bad.exists():
        n += 1
        bad = path.with_name(f"{path.name}.bad.{n}")
    os.replace(path, bad)
    return bad
