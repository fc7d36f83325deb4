"""The menu tree, loaded from ``menu.yaml``, and a navigator over it.

The navigator knows only positions: which list is open and which item is
selected. What an item *does* (edit a setting, run an action) is the device's
business; the navigator answers "which node is selected" and "how do I get to
the node labelled X" (used by scenarios that say ``goto: «ЗАПРЕТ ПРОДАЖ»``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml


@dataclass(frozen=True)
class Node:
    id: str
    kind: str
    label: str
    vendor: bool = False
    items: tuple[Node, ...] = ()
    context: tuple[str, ...] = ()
    setting: str | None = None
    type: str | None = None
    values: tuple[str, ...] = ()
    min: int | None = None
    max: int | None = None
    unit: str = ""


@dataclass(frozen=True)
class Option:
    number: int
    label: str
    default: int
    max: int
    vendor: bool = False


@dataclass(frozen=True)
class MenuData:
    main: tuple[Node, ...]
    context: dict[str, str]
    options: dict[int, Option]
    messages: dict[str, str]
    vendor_labels: frozenset[str] = field(default_factory=frozenset)
    main_context: tuple[str, ...] = ()      # the context menu «00» opens on the main menu

    def find_path(self, label: str) -> list[Node]:
        """The chain of nodes from the main list to the node with ``label``."""
        def walk(nodes: tuple[Node, ...], path: list[Node]) -> list[Node] | None:
            for node in nodes:
                if node.label == label:
                    return path + [node]
                found = walk(node.items, path + [node])
                if found:
                    return found
            return None

        found = walk(self.main, [])
        if found is None:
            raise KeyError(f"no menu item labelled {label!r}")
        return found

    def context_owner(self, context_id: str) -> list[Node]:
        """The path to the menu whose «00» context menu holds ``context_id``."""
        def walk(nodes: tuple[Node, ...], path: list[Node]) -> list[Node] | None:
            for node in nodes:
                if context_id in node.context:
                    return path + [node]
                found = walk(node.items, path + [node])
                if found:
                    return found
            return None

        found = walk(self.main, [])
        if found is None:
            raise KeyError(f"no context menu holds {context_id!r}")
        return found

    def context_id(self, label: str) -> str:
        for cid, text in self.context.items():
            if text == label:
                return cid
        raise KeyError(f"no context item labelled {label!r}")


def _node(raw: dict[str, Any]) -> Node:
    return Node(
        id=raw["id"], kind=raw["kind"], label=raw["label"], vendor=raw.get("source") == "vendor",
        items=tuple(_node(r) for r in raw.get("items", ())), context=tuple(raw.get("context", ())),
        setting=raw.get("setting"), type=raw.get("type"), values=tuple(raw.get("values", ())),
        min=raw.get("min"), max=raw.get("max"), unit=raw.get("unit", ""),
    )


@lru_cache(maxsize=1)
def menu_data() -> MenuData:
    raw = yaml.safe_load(resources.files("firmware_menu").joinpath("menu.yaml").read_text("utf-8"))
    main = tuple(_node(r) for r in raw["main"])
    context = {k: v["label"] for k, v in raw["context"].items()}
    options = {int(o["number"]): Option(int(o["number"]), o["label"], int(o["default"]), int(o["max"]),
                                        o.get("source") == "vendor") for o in raw["options"]}
    vendor: set[str] = {v["label"] for v in raw["context"].values() if v.get("source") == "vendor"}

    def collect(nodes: tuple[Node, ...]) -> None:
        for n in nodes:
            if n.vendor:
                vendor.add(n.label)
            collect(n.items)

    collect(main)
    return MenuData(main, context, options, dict(raw["messages"]), frozenset(vendor),
                    tuple(raw.get("main_context", ())))


@dataclass
class Navigator:
    """Where the cursor is: a stack of (list of nodes, selected index)."""

    data: MenuData
    stack: list[tuple[tuple[Node, ...], int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.stack:
            self.stack = [(self.data.main, 0)]

    @property
    def at_main(self) -> bool:
        return len(self.stack) == 1

    @property
    def selected(self) -> Node:
        nodes, i = self.stack[-1]
        return nodes[i]

    @property
    def parent(self) -> Node | None:
        if len(self.stack) < 2:
            return None
        nodes, i = self.stack[-2]
        return nodes[i]

    def move(self, delta: int) -> None:
        nodes, i = self.stack[-1]
        self.stack[-1] = (nodes, (i + delta) % len(nodes))

    def enter(self) -> bool:
        node = self.selected
        if node.kind == "menu" and node.items:
            self.stack.append((node.items, 0))
            return True
        return False

    def back(self) -> bool:
        if len(self.stack) > 1:
            self.stack.pop()
            return True
        return False

    def reset(self) -> None:
        self.stack = [(self.data.main, 0)]
