"""The ПРРО's messages: ids to exact texts, from ``emulator/data/prro_messages.yaml``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml


@dataclass(frozen=True)
class MessageDef:
    id: str
    source: str     # S000, S001 (verbatim from the seed) or modelled
    text: str
    arises: str


@lru_cache(maxsize=1)
def message_table() -> dict[str, MessageDef]:
    raw = yaml.safe_load(resources.files("emulator").joinpath("data/prro_messages.yaml").read_text("utf-8"))
    return {m["id"]: MessageDef(m["id"], m["source"], m["text"], m["arises"]) for m in raw}


def text(message_id: str, **values: object) -> str:
    """The text of ``message_id`` with ``{placeholders}`` filled."""
    return message_table()[message_id].text.format(**values)
