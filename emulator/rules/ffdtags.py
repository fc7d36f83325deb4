"""The FFD tag table (``data/ffd_tags.yaml``): number → name, type, size limits, FNS JSON name.

One entry per requisite the emulator writes or reads (FFD 1.2 documents 1, 2,
3, 5, 6, 7, 11, 21, 31, 81–84 and their nested STLVs, 1260–1265, 2000–2116),
plus the tags of the reference's golden vectors. Fields of an entry:

============  =====================================================================
``tag``       the requisite number (also the TLV tag)
``name``      the Russian name of the requisite
``fns``       the name of the requisite in the FNS JSON form of a document
``fns_src``   ``fns`` when that JSON name is established from public FNS-format
              JSON (receipts as the FNS check service returns them, third-party
              FFD codecs that follow it); ``emulator`` when the public record
              is silent and the name is the emulator's
``type``      ``string`` ``byte`` ``bool`` ``u32`` ``vln`` ``fvln`` ``unixtime``
              ``fpd`` ``stlv`` ``bytes`` (layouts in ``wire/ffd/values.py``)
``max``       the maximum length of the value in bytes (strings, VLN, STLV, bytes)
``fixed``     the fixed length of the value in bytes (space-padded strings, ФПД)
``repeat``    the tag may occur more than once at its level (items, 1260, …);
              the JSON form shows it as a list
============  =====================================================================

A tag not in the table decodes as raw ``bytes`` and re-encodes unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from types import MappingProxyType

import yaml

TYPES = ("string", "byte", "bool", "u32", "vln", "fvln", "unixtime", "fpd", "stlv", "bytes")
FNS_SOURCES = ("fns", "emulator")


@dataclass(frozen=True)
class TagSpec:
    number: int
    name: str            # the Russian name
    fns: str             # the FNS JSON name
    type: str            # one of TYPES
    max_len: int | None
    fixed_len: int | None
    repeat: bool = False
    fns_src: str = "emulator"   # "fns": an established JSON name; "emulator": the emulator's


def _check(raw: object) -> dict[int, TagSpec]:
    if not isinstance(raw, list):
        raise ValueError("ffd_tags.yaml: a list of tags expected")
    table: dict[int, TagSpec] = {}
    for entry in raw:
        s = TagSpec(
            number=int(entry["tag"]), name=str(entry["name"]), fns=str(entry["fns"]),
            type=str(entry["type"]),
            max_len=None if entry.get("max") is None else int(entry["max"]),
            fixed_len=None if entry.get("fixed") is None else int(entry["fixed"]),
            repeat=bool(entry.get("repeat", False)),
            fns_src=str(entry.get("fns_src", "emulator")),
        )
        if s.number in table:
            raise ValueError(f"ffd_tags.yaml: tag {s.number} twice")
        if not 0 < s.number <= 0xFFFF:
            raise ValueError(f"ffd_tags.yaml: tag {s.number} out of range")
        if s.type not in TYPES:
            raise ValueError(f"ffd_tags.yaml: tag {s.number}: unknown type {s.type!r}")
        if s.fns_src not in FNS_SOURCES:
            raise ValueError(f"ffd_tags.yaml: tag {s.number}: fns_src must be one of {FNS_SOURCES}")
        if s.fixed_len is not None and s.max_len is not None:
            raise ValueError(f"ffd_tags.yaml: tag {s.number}: both max and fixed")
        table[s.number] = s
    return dict(sorted(table.items()))


@lru_cache(maxsize=1)
def _load() -> Mapping[int, TagSpec]:
    text = resources.files("emulator").joinpath("data/ffd_tags.yaml").read_text("utf-8")
    return MappingProxyType(_check(yaml.safe_load(text)))


TAGS: Mapping[int, TagSpec] = _load()


def spec(number: int) -> TagSpec | None:
    """The table entry of tag ``number``, or None for a tag the table does not know."""
    return TAGS.get(number)


def by_fns_name() -> dict[str, TagSpec]:
    """The table keyed by FNS JSON name (names are unique in the table)."""
    return {s.fns: s for s in TAGS.values()}
