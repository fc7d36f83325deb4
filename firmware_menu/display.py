"""The customer-facing LCD: two lines of 20 characters plus a status area.

What is on the glass is derived, not stored: the display keeps the logical
content (up to any number of lines, each of any length) and the virtual time it
was put there, and ``lines_at(now)`` computes the two visible lines:

* a message longer than two lines is paged: two lines at a time, each page
  shown for ``PAGE_MS``, cycling;
* a line longer than 20 characters scrolls left one character every
  ``SCROLL_MS``, pausing ``SCROLL_PAUSE`` steps at both ends.

So no timer is needed to animate it, and a scenario can ask what the glass
showed at any moment. ``wrap`` breaks free text into 20-column lines at spaces
(a word longer than 20 is cut).

The status area shows the device clock (``HH:MM``) and the permit-mode status
symbol next to it: «S», «!», «A» or a space.
"""

from __future__ import annotations

from dataclasses import dataclass

WIDTH = 20
ROWS = 2
PAGE_MS = 2000
SCROLL_MS = 400
SCROLL_PAUSE = 3


def wrap(text: str, width: int = WIDTH) -> list[str]:
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            while len(word) > width:
                if line:
                    lines.append(line)
                    line = ""
                lines.append(word[:width])
                word = word[width:]
            if not line:
                line = word
            elif len(line) + 1 + len(word) <= width:
                line += " " + word
            else:
                lines.append(line)
                line = word
        lines.append(line)
    return lines


def scroll_window(line: str, elapsed_ms: int, width: int = WIDTH) -> str:
    if len(line) <= width:
        return line.ljust(width)
    span = len(line) - width
    cycle = span + 2 * SCROLL_PAUSE
    step = (elapsed_ms // SCROLL_MS) % cycle
    offset = min(max(step - SCROLL_PAUSE, 0), span)
    return line[offset:offset + width]


@dataclass
class Display:
    content: tuple[str, ...] = ("", "")
    since_ms: int = 0
    wrapped: bool = False  # content came from ``message`` (paged) rather than ``show``

    def show(self, line1: str, line2: str, now_ms: int) -> None:
        """Two exact lines (each scrolls if longer than 20)."""
        new = (line1, line2)
        if new != self.content or self.wrapped:
            self.content, self.since_ms, self.wrapped = new, now_ms, False

    def message(self, text: str, now_ms: int) -> None:
        """Free text, word-wrapped to 20 columns and paged two lines at a time."""
        new = tuple(wrap(text))
        if len(new) < ROWS:
            new = new + ("",) * (ROWS - len(new))
        if new != self.content or not self.wrapped:
            self.content, self.since_ms, self.wrapped = new, now_ms, True

    @property
    def text(self) -> str:
        """The whole logical content, lines joined by a newline, trailing blanks dropped."""
        return "\n".join(line.rstrip() for line in self.content).rstrip("\n")

    def pages(self) -> int:
        return max(1, (len(self.content) + ROWS - 1) // ROWS)

    def lines_at(self, now_ms: int) -> tuple[str, str]:
        elapsed = max(0, now_ms - self.since_ms)
        page = (elapsed // PAGE_MS) % self.pages() if len(self.content) > ROWS else 0
        rows = list(self.content[page * ROWS:(page + 1) * ROWS]) + ["", ""]
        return scroll_window(rows[0], elapsed), scroll_window(rows[1], elapsed)


def status_area(clock_hhmm: str, symbol: str) -> str:
    return f"{clock_hhmm} {symbol or ' '}"
