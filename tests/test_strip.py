"""The window strip: the pure picture at any width, and the widget that paints it."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from textual.app import App, ComposeResult
from textual.containers import Vertical

from icecycle.cycle import Session
from icecycle.tui.widgets import strip as strip_module
from icecycle.tui.widgets.strip import (
    GLYPHS,
    NOW,
    PRIORITY,
    CycleStrip,
    WindowStrip,
    legend_text,
    render_strip,
)

from .conftest import T0  # a Wednesday, 10:00 UTC

H = timedelta(hours=1)
M = timedelta(minutes=1)
START, END = T0, T0 + 72 * H
NOW_T = T0 + 8 * H + 10 * M  # Wed 18:10, ice on since 18:00


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def s(start_h: float, minutes: float, status: str, confirmed: bool = False) -> Session:
    return Session(at(start_h), at(start_h) + minutes * M, status, confirmed)  # type: ignore[arg-type]


# One of each: at 72 columns for 72 h, column n is the hour from T0 + n h.
SESSIONS = [
    s(0, 25, "done", confirmed=True),  # Wed 10:00
    s(2, 25, "done"),  # Wed 12:00, never confirmed
    s(4, 10, "skipped"),  # Wed 14:00
    s(6, 25, "missed"),  # Wed 16:00
    s(8, 25, "in progress", confirmed=True),  # Wed 18:00
    s(10, 25, "upcoming"),  # Wed 20:00
    s(21, 25, "upcoming"),  # Thu 07:00, when the quiet night ends
]
QUIET = [(at(12), at(21))]  # Wed 22:00 to Thu 07:00


@pytest.fixture
def picture():
    return render_strip(72, SESSIONS, START, END, NOW_T, QUIET)


@pytest.mark.parametrize(
    ("column", "glyph"),
    [
        (0, "█"),  # confirmed
        (1, "·"),  # rest
        (2, "▓"),  # done, not confirmed
        (4, "╳"),  # skipped
        (6, "!"),  # missed
        (8, "▶"),  # in progress
        (10, "░"),  # upcoming
        (11, "·"),
        (12, "z"),  # quiet hours from 22:00...
        (20, "z"),  # ... to 07:00
        (21, "░"),
        (22, "·"),
        (71, "·"),
    ],
)
def test_each_kind_has_its_own_glyph_at_its_column(picture, column, glyph) -> None:
    assert picture.lines()[1][column] == glyph


def test_the_glyphs_are_all_different_so_it_reads_without_colour() -> None:
    assert len(set(GLYPHS.values()) | {NOW}) == len(GLYPHS) + 1


def test_now_is_marked_above_its_column(picture) -> None:
    marker = picture.lines()[0]
    assert marker.index(NOW) == 8 == picture.now
    assert marker.replace(NOW, " ").strip() == ""


def test_the_day_names_start_at_each_local_midnight(picture) -> None:
    days = picture.lines()[2]
    assert picture.days == ((14, "Thu"), (38, "Fri"), (62, "Sat"))
    assert days[14:17] == "Thu" and days[38:41] == "Fri" and days[62:65] == "Sat"
    assert days.split() == ["Thu", "Fri", "Sat"]


def test_every_row_fills_the_width_exactly(picture) -> None:
    lines = picture.lines(legend=True)
    assert len(lines) == 4  # now, sessions, days, legend
    assert [len(line) for line in lines] == [72] * 4
    assert lines[3].startswith(legend_text())


def test_the_legend_is_left_out_when_it_does_not_fit() -> None:
    narrow = render_strip(len(legend_text()) - 1, SESSIONS, START, END, NOW_T, QUIET)
    assert len(narrow.lines(legend=True)) == 3
    assert not any("confirmed" in line for line in narrow.lines(legend=True))


def test_a_session_ending_on_a_column_edge_stays_in_its_column() -> None:
    p = render_strip(72, [s(3, 60, "done"), s(5.5, 60, "skipped")], START, END)
    assert p.cells_text[2:8] == "·▓·╳╳·"


def test_an_instant_still_shows() -> None:
    """A session skipped the moment it began lasts no time, and is still a mark."""
    p = render_strip(72, [s(5.5, 0, "skipped")], START, END)
    assert p.cells_text.count("╳") == 1 and p.cells_text[5] == "╳"


def test_what_lies_outside_the_window_is_not_drawn() -> None:
    outside = [s(-2, 60, "done"), s(-1, 60, "done"), s(72, 25, "upcoming"), s(-1, 0, "skipped")]
    outside += [s(73, 0, "skipped"), s(74, -5, "done")]
    p = render_strip(72, outside, START, END, quiet=[(at(-9), at(0)), (at(72), at(80))])
    assert set(p.cells_text) == {"·"}


@pytest.mark.parametrize(("higher", "lower"), list(pairwise(PRIORITY)))
def test_in_a_crowded_column_the_most_important_wins(higher, lower) -> None:
    def thing(kind: str, start_h: float) -> list[Session]:
        if kind in ("quiet", "rest"):
            return []
        status = "done" if kind == "confirmed" else kind
        return [s(start_h, 25, status, confirmed=kind == "confirmed")]

    quiet = [(at(0), at(2))] if "quiet" in (higher, lower) else []
    for first, second in ((higher, lower), (lower, higher)):  # whichever comes first in time
        # At 20 columns a 72 h window is 3.6 h a column: both land in column 0.
        p = render_strip(20, thing(first, 0) + thing(second, 1.5), START, END, quiet=quiet)
        assert p.cells[0] == higher, (first, second)


def test_an_unknown_status_is_left_out_rather_than_guessed() -> None:
    p = render_strip(72, [s(0, 25, "cancelled")], START, END)
    assert p.cells_text[0] == "·"


@pytest.mark.parametrize("width", [20, 21, 33, 40, 57, 80, 119, 200])
@pytest.mark.parametrize("window", [timedelta(seconds=5), 48 * H, 72 * H])
def test_any_width_any_window_fills_the_width(width, window) -> None:
    end = START + window
    sessions = SESSIONS if window > H else [Session(START, START + timedelta(seconds=2), "done")]
    for now in (START, START + window / 3, end, end + H):
        p = render_strip(width, sessions, START, end, now, QUIET, tz=UTC)
        lines = p.lines(legend=True)
        assert {len(line) for line in lines} == {width}
        if now <= end:
            assert p.now is not None and lines[0][p.now] == NOW
        else:
            assert p.now is None and lines[0].strip() == ""
        ends = [c + len(name) for c, name in p.days]
        assert all(e <= width for e in ends)
        assert all(c > e for (c, _), e in zip(p.days[1:], ends, strict=False))


def test_a_five_second_window() -> None:
    end = START + timedelta(seconds=5)
    sessions = [
        Session(START, START + timedelta(seconds=2), "done", True),
        Session(START + timedelta(seconds=3), end, "in progress"),
    ]
    p = render_strip(20, sessions, START, end, START + timedelta(seconds=4))
    assert p.cells_text == "████████····▶▶▶▶▶▶▶▶"
    assert p.now == 16
    assert p.days == ()


def test_a_window_of_no_length_does_not_break() -> None:
    p = render_strip(20, [Session(START, START, "skipped")], START, START, START)
    assert len(p.cells_text) == 20 and p.now == 0 and "╳" in p.cells_text


def test_an_ended_cycle_has_no_now_row() -> None:
    p = render_strip(80, SESSIONS, START, END)
    lines = p.lines(legend=True)
    assert (
        len(lines) == 3
    )  # sessions, days, legend and lines[0] == p.cells_text and NOW not in "".join(lines)


def test_day_names_follow_the_given_zone_across_a_clock_change() -> None:
    """New York springs forward on Sun 8 Mar 2026: that midnight is an hour earlier in UTC."""
    start = datetime(2026, 3, 7, 0, 0, tzinfo=UTC)
    p = render_strip(72, [], start, start + 72 * H, tz=ZoneInfo("America/New_York"))
    assert p.days == ((5, "Sat"), (29, "Sun"), (52, "Mon"))


def test_day_names_use_the_system_zone_by_default(monkeypatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    start = datetime(2026, 3, 7, 0, 0, tzinfo=UTC)
    assert render_strip(72, [], start, start + 72 * H).days == (
        (5, "Sat"),
        (29, "Sun"),
        (52, "Mon"),
    )


def test_day_names_too_close_for_the_width_keep_apart() -> None:
    # At 20 columns a 5-day window puts midnights 4 columns apart: a name, a blank, a name.
    p = render_strip(20, [], START, START + 120 * H, tz=UTC)
    ends = [c + len(n) for c, n in p.days]
    assert all(c > e for (c, _), e in zip(p.days[1:], ends, strict=False))
    assert len(p.lines()[-1]) == 20


# The widget, in a small app of its own.


class StripApp(App[None]):
    CSS = """
    #wide { width: 80; }
    #narrow { width: 40; margin-top: 1; }
    CycleStrip { margin-top: 1; }
    """

    def compose(self) -> ComposeResult:
        with Vertical():
            yield WindowStrip(id="wide")
            yield WindowStrip(id="narrow")
            yield CycleStrip(SESSIONS[:4], START, START + 8 * H, columns=32)

    def on_mount(self) -> None:
        for strip in self.query(WindowStrip).filter("#wide, #narrow"):
            strip.show(SESSIONS, START, END, NOW_T, QUIET)


def test_snapshot_at_80_and_40_columns(snap_compare) -> None:
    assert snap_compare(StripApp(), terminal_size=(80, 14))


def test_snapshot_in_the_light_theme(snap_compare) -> None:
    app = StripApp()
    app.theme = "textual-light"
    assert snap_compare(app, terminal_size=(80, 14))


async def test_the_widget_paints_the_picture_at_its_width() -> None:
    app = StripApp()
    async with app.run_test(size=(80, 14)) as pilot:
        await pilot.pause()
        wide, narrow = app.query_one("#wide", WindowStrip), app.query_one("#narrow", WindowStrip)
        assert wide.size == (80, 4) and narrow.size == (40, 3)  # no room for the legend
        assert narrow.picture() == render_strip(40, SESSIONS, START, END, NOW_T, QUIET)
        painted = [str(line.text).rstrip() for line in wide.render_lines(wide.region.reset_offset)]
        assert painted == [line.rstrip() for line in wide.picture().lines(legend=True)]
        static = app.query_one(CycleStrip)
        assert static.size == (32, 2)
        assert static.picture() == render_strip(32, SESSIONS[:4], START, START + 8 * H)


async def test_show_with_the_same_input_does_nothing(monkeypatch) -> None:
    app = StripApp()
    async with app.run_test(size=(80, 14)) as pilot:
        await pilot.pause()
        wide = app.query_one("#wide", WindowStrip)
        renders, refreshes = [], []
        real_render, real_refresh = strip_module.render_strip, wide.refresh
        monkeypatch.setattr(
            strip_module, "render_strip", lambda *a, **k: renders.append(1) or real_render(*a, **k)
        )
        monkeypatch.setattr(
            wide, "refresh", lambda *a, **k: refreshes.append(1) or real_refresh(*a, **k)
        )

        # The dashboard calls every second: the same sessions, now a second later.
        for second in range(1, 30):
            wide.show(list(SESSIONS), START, END, NOW_T + timedelta(seconds=second), QUIET)
        assert renders == [] and refreshes == []

        # 72 h over 80 columns is 54 minutes a column: an hour on, now moves one.
        wide.show(SESSIONS, START, END, NOW_T + H, QUIET)
        assert len(refreshes) == 1
        await pilot.pause()
        assert wide.picture().now == 10

        # A session ending changes the picture even though now stays in its column.
        ended = [*SESSIONS[:4], SESSIONS[4]._replace(status="done"), *SESSIONS[5:]]
        wide.show(ended, START, END, NOW_T + H, QUIET)
        assert len(refreshes) == 2
        await pilot.pause()
        assert "▶" not in wide.picture().cells_text


async def test_the_now_row_comes_and_goes_with_now() -> None:
    app = StripApp()
    async with app.run_test(size=(80, 14)) as pilot:
        await pilot.pause()
        wide = app.query_one("#wide", WindowStrip)
        wide.show(SESSIONS, START, END, None, QUIET)
        await pilot.pause()
        assert wide.size.height == 3
        wide.show(SESSIONS, START, END, NOW_T, QUIET)
        await pilot.pause()
        assert wide.size.height == 4 and wide.picture().now == 9
