"""The big countdown: Digits' glyphs drawn line by line, repainting only what changed."""

from __future__ import annotations

from functools import lru_cache

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region, Size
from textual.renderables.digits import DIGITS, DIGITS3X3, DIGITS3X3_BOLD
from textual.strip import Strip
from textual.widget import Widget

HEIGHT = 3


def glyph_width(char: str) -> int:
    return 3 if char in DIGITS else 1


@lru_cache(maxsize=64)
def _rows(text: str, bold: bool) -> tuple[str, str, str]:
    """The three rows of text in the 3x3 font, exactly as textual's Digits draws them."""
    font = DIGITS3X3_BOLD if bold else DIGITS3X3
    rows: tuple[list[str], list[str], list[str]] = ([], [], [])
    for char in text:
        if char in DIGITS:
            at = DIGITS.index(char) * 3
            for y in range(HEIGHT):
                rows[y].append(font[at + y].ljust(3))
        else:  # as Digits: any other character sits on the bottom row
            rows[0].append(" ")
            rows[1].append(" ")
            rows[2].append(char)
    return ("".join(rows[0]), "".join(rows[1]), "".join(rows[2]))


class Countdown(Widget):
    """Looks like textual's Digits, but costs less once a second: the rows come from a
    cache as ready strips (no Rich rendering), and an update repaints only the characters
    that changed (the last digit, most seconds), not the whole clock."""

    DEFAULT_CSS = """
    Countdown {
        width: auto;
        height: 3;
    }
    """

    def __init__(self, value: str = "", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._value = value
        self._style: Style | None = None

    def _set_dirty(self, *regions: Region) -> None:
        # Textual marks the whole widget dirty whenever its look may have changed (its CSS,
        # an ancestor's, the theme, its size): only then work the style out again. Working
        # it out walks every ancestor's styles, a fifth of a frame if done on every line.
        if not regions:
            self._style = None
        super()._set_dirty(*regions)

    @property
    def value(self) -> str:
        return self._value

    def update(self, value: str) -> None:
        old, self._value = self._value, value
        if value == old:
            return
        if len(value) != len(old) or any(
            glyph_width(a) != glyph_width(b) for a, b in zip(old, value, strict=True)
        ):
            self.refresh(layout=True)  # its width may change: lay out again
            return
        x, dirty = 0, []
        for a, b in zip(old, value, strict=True):
            width = glyph_width(b)
            if a != b:
                dirty.append(Region(x, 0, width, HEIGHT))
            x += width
        self.refresh(*dirty)

    def render_line(self, y: int) -> Strip:
        style = self._style
        if style is None:
            style = self._style = self.rich_style
        if not 0 <= y < HEIGHT:
            return Strip.blank(self.size.width, style)
        text = _rows(self._value, bool(style.bold))[y]
        return _strip(text, style)

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return sum(glyph_width(c) for c in self._value)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return HEIGHT


@lru_cache(maxsize=256)
def _strip(text: str, style: Style) -> Strip:
    return Strip([Segment(text, style)], len(text))
