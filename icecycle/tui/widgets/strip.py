"""The whole window as one strip of sessions: where now is in the three days, at a glance."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Literal, NamedTuple, Protocol

from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget

Kind = Literal["in progress", "missed", "skipped", "done", "confirmed", "upcoming", "quiet", "rest"]

#: Most important first: when several things fall in one column, the first of them wins.
PRIORITY: tuple[Kind, ...] = (
    "in progress",
    "missed",
    "skipped",
    "done",  # done but never confirmed outranks confirmed: the gap is what a person checks
    "confirmed",
    "upcoming",
    "quiet",
    "rest",
)
_RANK = {kind: rank for rank, kind in enumerate(PRIORITY)}

#: One glyph per kind, so the strip reads without colour too.
GLYPHS: dict[Kind, str] = {
    "confirmed": "█",
    "done": "▓",
    "skipped": "╳",
    "missed": "!",
    "in progress": "▶",
    "upcoming": "░",
    "rest": "·",
    "quiet": "z",
}
NOW = "▼"
_LEGEND: tuple[tuple[Kind, str], ...] = (
    ("confirmed", "confirmed"),
    ("done", "done"),
    ("skipped", "skipped"),
    ("missed", "missed"),
    ("in progress", "on now"),
    ("upcoming", "to come"),
    ("rest", "rest"),
    ("quiet", "quiet"),
)

#: A row as runs of (text, style class); the classes are the widget's component classes.
Row = list[tuple[str, str]]


class SessionLike(Protocol):
    """What the strip needs of a session (icecycle.cycle.Session has it)."""

    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime: ...
    @property
    def status(self) -> str: ...
    @property
    def confirmed(self) -> bool: ...


Interval = tuple[datetime, datetime]


def _kind(session: SessionLike) -> Kind | None:
    if session.status == "done":
        return "confirmed" if session.confirmed else "done"
    if session.status in ("in progress", "missed", "skipped", "upcoming"):
        return session.status  # type: ignore[return-value]
    return None  # a status this strip does not know yet is left out, not guessed at


def _us(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class _Scale:
    """Columns of equal time from the window's start to its end, in integer microseconds."""

    def __init__(self, width: int, start: datetime, end: datetime) -> None:
        self.width, self.start = width, start
        # A window of no length (or backwards) still draws: as one instant spread over the row.
        self.span = max(1, _us(end - start))

    def offset(self, t: datetime) -> int:
        return min(max(_us(t - self.start), 0), self.span)

    def column(self, t: datetime) -> int:
        """The column whose time contains t (the window's end belongs to the last one)."""
        return min(self.offset(t) * self.width // self.span, self.width - 1)

    def columns(self, start: datetime, end: datetime) -> range:
        """Every column an interval touches; an instant (start == end) still takes one."""
        a, b = _us(start - self.start), _us(end - self.start)
        if b < a or b < 0 or a > self.span or (a < b and (b <= 0 or a >= self.span)):
            return range(0)  # outside the window, or touching it only at an edge
        a, b = max(a, 0), min(b, self.span)
        first = min(a * self.width // self.span, self.width - 1)
        last = max(first, -(-b * self.width // self.span) - 1)  # the column holding b's last µs
        return range(first, min(last, self.width - 1) + 1)


def _midnights(start: datetime, end: datetime, tz: tzinfo | None) -> list[datetime]:
    """Each local midnight from the window's start (inclusive) to its end (exclusive)."""
    out = []
    day: date = start.astimezone(tz).date()
    last: date = end.astimezone(tz).date()
    while day <= last:
        if tz is None:
            # A naive local time, resolved by the system's zone: right across a DST change.
            m = datetime.combine(day, time()).astimezone()
        else:
            m = datetime.combine(day, time(), tzinfo=tz)
        if start <= m < end:
            out.append(m)
        day += timedelta(days=1)
    return out


class Picture(NamedTuple):
    """The strip at one width: what each column shows, where now is, where each day begins."""

    cells: tuple[Kind, ...]
    #: The column of now; None when now is not given or lies outside the window.
    now: int | None
    #: Whether a row is kept for the now marker (a live window has one, an ended cycle not).
    marker: bool
    #: (column, day name) at each local midnight inside the window, as they are printed.
    days: tuple[tuple[int, str], ...]

    @property
    def width(self) -> int:
        return len(self.cells)

    @property
    def cells_text(self) -> str:
        return "".join(GLYPHS[k] for k in self.cells)

    def rows(self, legend: bool = False) -> list[Row]:
        """The rows to paint, top to bottom, each exactly `width` cells wide."""
        w = self.width
        out: list[Row] = []
        if self.marker:
            if self.now is None:
                out.append([(" " * w, "")])
            else:
                out.append(
                    [(" " * self.now, ""), (NOW, "strip--now"), (" " * (w - self.now - 1), "")]
                )
        cells: Row = []
        for kind in self.cells:
            glyph, style = GLYPHS[kind], "strip--" + kind.replace(" ", "-")
            if cells and cells[-1][1] == style:
                cells[-1] = (cells[-1][0] + glyph, style)
            else:
                cells.append((glyph, style))
        out.append(cells)
        days: Row = []
        at = 0
        for column, name in self.days:
            days += [(" " * (column - at), ""), (name, "strip--day")]
            at = column + len(name)
        days.append((" " * (w - at), ""))
        out.append(days)
        if legend and w >= len(legend_text()):
            row: Row = []
            for kind, label in _LEGEND:
                if row:
                    row.append((" ", ""))
                row += [
                    (GLYPHS[kind], "strip--" + kind.replace(" ", "-")),
                    (" " + label, "strip--legend"),
                ]
            row.append((" " * (w - len(legend_text())), ""))
            out.append(row)
        return [[(t, s) for t, s in r if t] for r in out]

    def lines(self, legend: bool = False) -> list[str]:
        """The rows as plain text: what the strip reads like without colour."""
        return ["".join(t for t, _ in row) for row in self.rows(legend)]


def legend_text() -> str:
    return " ".join(f"{GLYPHS[k]} {label}" for k, label in _LEGEND)


def render_strip(
    width: int,
    sessions: Iterable[SessionLike],
    window_start: datetime,
    window_end: datetime,
    now: datetime | None = None,
    quiet: Iterable[Interval] = (),
    tz: tzinfo | None = None,
) -> Picture:
    """The window drawn in `width` columns of equal time; tz is for the day names (local)."""
    width = max(1, width)
    scale = _Scale(width, window_start, window_end)
    rank = [_RANK["rest"]] * width
    for q_start, q_end in quiet:
        for c in scale.columns(q_start, q_end):
            rank[c] = min(rank[c], _RANK["quiet"])
    for s in sessions:
        kind = _kind(s)
        if kind is None:
            continue
        for c in scale.columns(s.start, s.end):
            rank[c] = min(rank[c], _RANK[kind])
    now_col = None
    if now is not None and window_start <= now <= window_end:
        now_col = scale.column(now)
    days: list[tuple[int, str]] = []
    free = 0  # the first column a label may use: labels keep a blank between them
    for m in _midnights(window_start, window_end, tz):
        name = m.astimezone(tz).strftime("%a")[:width]
        column = min(scale.column(m), width - len(name))
        if column < free:
            continue  # too close to the previous day's name at this width
        days.append((column, name))
        free = column + len(name) + 1
    return Picture(tuple(PRIORITY[r] for r in rank), now_col, now is not None, tuple(days))


class WindowStrip(Widget):
    """The window as one strip: sessions, quiet hours, now and the days, filling its width."""

    COMPONENT_CLASSES = {
        "strip--confirmed",
        "strip--done",
        "strip--skipped",
        "strip--missed",
        "strip--in-progress",
        "strip--upcoming",
        "strip--rest",
        "strip--quiet",
        "strip--now",
        "strip--day",
        "strip--legend",
    }

    DEFAULT_CSS = """
    WindowStrip {
        height: auto;
        width: 1fr;
    }
    WindowStrip > .strip--confirmed { color: $success; }
    WindowStrip > .strip--done { color: $success; }
    WindowStrip > .strip--skipped { color: $warning; }
    WindowStrip > .strip--missed { color: $error; text-style: bold; }
    WindowStrip > .strip--in-progress { color: $accent; text-style: bold; }
    WindowStrip > .strip--upcoming { color: $text-muted; }
    WindowStrip > .strip--rest { color: $text-disabled; }
    WindowStrip > .strip--quiet { color: $secondary; }
    WindowStrip > .strip--now { color: $accent; text-style: bold; }
    WindowStrip > .strip--day { color: $text; }
    WindowStrip > .strip--legend { color: $text-muted; }
    """

    def __init__(
        self,
        *,
        legend: bool = True,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.legend = legend
        self._input: tuple[object, ...] | None = None
        self._now: datetime | None = None
        self._picture: Picture | None = None

    def show(
        self,
        sessions: Sequence[SessionLike],
        window_start: datetime,
        window_end: datetime,
        now: datetime | None,
        quiet: Sequence[Interval] = (),
    ) -> None:
        """Draw this window; called every second, it repaints only when a column changes."""
        given = (tuple(sessions), window_start, window_end, tuple(quiet))
        width = self.content_size.width
        shown = self._picture
        if (
            given == self._input
            and shown is not None
            and shown.width == width
            and shown.marker == (now is not None)
            and self._now_column(width, now) == shown.now
        ):
            self._now = now  # the same picture: nothing to paint
            return
        # The height depends on whether there is a now row: only then is a new layout needed.
        relayout = self._input is None or (self._now is None) != (now is None)
        self._input, self._now = given, now
        picture = self._draw(width) if width > 0 else None
        if not relayout and picture is not None and picture == shown:
            return
        self._picture = picture
        self.refresh(layout=relayout)

    def _now_column(self, width: int, now: datetime | None) -> int | None:
        assert self._input is not None
        _, start, end, _ = self._input
        if now is None or not start <= now <= end:  # type: ignore[operator]
            return None
        return _Scale(width, start, end).column(now)  # type: ignore[arg-type]

    def _draw(self, width: int) -> Picture | None:
        if self._input is None:
            return None
        sessions, start, end, quiet = self._input
        return render_strip(width, sessions, start, end, self._now, quiet)  # type: ignore[arg-type]

    def picture(self) -> Picture | None:
        """What the strip shows at its current width (None before its first show)."""
        width = self.content_size.width
        if self._picture is None or self._picture.width != width:
            self._picture = self._draw(width) if width > 0 else None
        return self._picture

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return container.width

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if self._input is None:
            return 1
        rows = 2 + (self._now is not None)
        if self.legend and width >= len(legend_text()):
            rows += 1
        return rows

    def render(self) -> Text:
        picture = self.picture()
        if picture is None:
            return Text("")
        text = Text(no_wrap=True, overflow="crop", end="")
        for n, row in enumerate(picture.rows(self.legend)):
            if n:
                text.append("\n")
            for chunk, style in row:
                text.append(chunk, self.get_component_rich_style(style) if style else None)
        return text


class CycleStrip(WindowStrip):
    """One cycle's strip at a fixed width, with no now marker: for the history screen."""

    DEFAULT_CSS = """
    CycleStrip {
        width: auto;
    }
    """

    def __init__(
        self,
        sessions: Sequence[SessionLike],
        window_start: datetime,
        window_end: datetime,
        quiet: Sequence[Interval] = (),
        *,
        columns: int = 48,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(legend=False, name=name, id=id, classes=classes)
        self.columns = columns
        self._input = (tuple(sessions), window_start, window_end, tuple(quiet))

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return self.columns
