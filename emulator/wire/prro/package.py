"""An offline package: ``<size of doc 1 (4 bytes)><doc 1><size of doc 2 (4 bytes)><doc 2>…``.

Each document is signed on its own; the whole package is then signed again
(the body of ``/fs/pck`` is CMS SignedData over ``pack(docs)``). At most 100
documents per package. MODELLED: the byte order of the 4-byte size is not
stated in the description; little-endian here.
"""

from __future__ import annotations

from emulator.rules.prro import PACKAGE_MAX_DOCUMENTS


class PackageError(ValueError):
    """A package that cannot be split into documents (one-line reason)."""


def pack(documents: list[bytes]) -> bytes:
    if not documents:
        raise PackageError("a package holds at least one document")
    if len(documents) > PACKAGE_MAX_DOCUMENTS:
        raise PackageError(f"a package holds at most {PACKAGE_MAX_DOCUMENTS} documents, not {len(documents)}")
    return b"".join(len(d).to_bytes(4, "little") + d for d in documents)


def unpack(data: bytes, *, max_documents: int | None = PACKAGE_MAX_DOCUMENTS) -> list[bytes]:
    """The documents of a package; ``PackageError`` when a size runs past the end or there are too many."""
    out: list[bytes] = []
    pos = 0
    while pos < len(data):
        if pos + 4 > len(data):
            raise PackageError(f"package: a size field cut short at byte {pos}")
        size = int.from_bytes(data[pos:pos + 4], "little")
        pos += 4
        if size == 0 or pos + size > len(data):
            raise PackageError(f"package: document {len(out) + 1} of {size} bytes runs past the end")
        out.append(data[pos:pos + size])
        pos += size
        if max_documents is not None and len(out) > max_documents:
            raise PackageError(f"package: more than {max_documents} documents")
    if not out:
        raise PackageError("package: empty")
    return out
