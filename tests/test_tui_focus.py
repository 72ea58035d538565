"""The dashboard's idle cost: what a second repaints, and the cheaper countdown while blurred."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rich.style import Style
from textual import events
from textual.geometry import Region
from textual.renderables.digits import Digits as DigitsRenderable
from textual.widget import Widget

from icecycle.tui.widgets.countdown import Countdown, _rows
from icecycle.tui.widgets.phase import PhasePanel

from .tui_helpers import app_for, open_store, start_cycle, text_of

SIZE = (100, 30)


async def settle(app, pilot) -> None:
    await pilot.pause()
    await pilot.press("a")  # the towel question: ice is on
    await pilot.pause()
    app.clock.advance(10)
    await app.sync()
    await pilot.pause()


def countdown(app) -> str:
    return str(app.screen_stack[0].query_one("#countdown").value)  # type: ignore[attr-defined]


@pytest.fixture
def refreshes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[Widget, tuple[Region, ...]]]]:
    """Every widget refresh (a repaint request) from now on, with the regions asked for."""
    seen: list[tuple[Widget, tuple[Region, ...]]] = []
    real = Widget.refresh

    def spy(self, *regions, **kw):
        seen.append((self, regions))
        return real(self, *regions, **kw)

    monkeypatch.setattr(Widget, "refresh", spy)
    yield seen


async def test_a_second_repaints_only_the_digit_that_changed(data_dir, clock, refreshes) -> None:
    store = open_store(data_dir)
    start_cycle(store, since_h=0)
    app = app_for(store, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        clock.advance(2)  # 24:48, and the phase bar's next step is 7 s away
        await app.sync()
        await pilot.pause()
        refreshes.clear()
        clock.advance(1)
        await app.sync()
        assert countdown(app) == "24:47"
        assert [(type(w).__name__, r) for w, r in refreshes] == [
            ("Countdown", (Region(12, 0, 3, 3),))  # the last digit: 3 cells wide, 3 high
        ]


async def test_a_second_in_which_nothing_changes_repaints_nothing(
    data_dir, clock, refreshes
) -> None:
    # The progress bars used to repaint themselves (and so the panels around them) once a
    # second on their own timer, for an ETA that is never shown.
    store = open_store(data_dir)
    start_cycle(store, since_h=0)
    app = app_for(store, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        for _ in range(2):  # the phase bar moves, twice, a second apart
            clock.advance(8)
            await app.sync()
            await pilot.pause(1.05)
        refreshes.clear()
        await pilot.pause(1.2)  # real time: every one-second timer fires at least once
        assert [type(w).__name__ for w, _ in refreshes] == []


async def test_blur_shows_minutes_an_alarm_still_comes_at_once_and_focus_restores(
    data_dir, clock
) -> None:
    store = open_store(data_dir)
    start_cycle(store, since_h=0)
    app = app_for(store, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        panel = app.query_one(PhasePanel)
        assert countdown(app) == "24:50" and text_of(app, "#until").startswith("left\n")

        app.post_message(events.AppBlur())
        await pilot.pause()
        assert not panel.focused
        assert countdown(app) == "25"  # whole minutes, rounded up like the full form
        assert text_of(app, "#until").startswith("min left\nice off at ")
        clock.advance(45)  # 24:05 left: still "25"
        await app.sync()
        assert countdown(app) == "25"
        clock.advance(5)  # 24:00 left
        await app.sync()
        assert countdown(app) == "24"

        bells = app.bells
        clock.set(clock.now().replace(minute=25, second=0))  # the session ends
        await app.sync()  # one tick
        await pilot.pause()
        assert panel.has_class("-urgent")
        assert text_of(app, "#headline") == "TAKE THE ICE OFF NOW"
        assert app.bells > bells
        assert app.runner.notifier.sent[-1].title == "Take the ice off now"
        assert countdown(app) == "90"  # the rest, in minutes while blurred

        clock.advance(61)
        await app.sync()
        app.post_message(events.AppFocus())
        await pilot.pause()  # no tick: the full countdown is back at once
        assert panel.focused
        assert countdown(app) == "1:28:59"
        assert text_of(app, "#until").startswith("left\n")
        assert panel.has_class("-urgent")


async def test_the_countdown_is_drawn_in_the_panel_s_current_colours(data_dir, clock) -> None:
    # The countdown keeps its style between repaints; a change of state must still reach it.
    store = open_store(data_dir)
    start_cycle(store, since_h=0)
    app = app_for(store, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        widget = app.query_one(Countdown)

        def drawn() -> Style:
            return widget.render_line(1)._segments[0].style or Style()

        calm = drawn()
        assert calm == widget.rich_style
        clock.advance(25 * 60)
        await app.sync()
        await pilot.pause()
        assert app.query_one(PhasePanel).has_class("-urgent")
        assert drawn() == widget.rich_style != calm
        assert drawn().bold


@pytest.mark.parametrize("text", ["24:59", "1:28:00", "--:--", "90", "0:07"])
@pytest.mark.parametrize("bold", [False, True])
def test_the_countdown_draws_what_textual_digits_draws(text: str, bold: bool) -> None:
    from rich.console import Console

    console = Console(width=40)
    lines = console.render_lines(
        DigitsRenderable(text, Style(bold=bold)), console.options, pad=False
    )
    expected = tuple("".join(s.text for s in line) for line in lines)
    assert _rows(text, bold) == expected


async def test_the_phase_bar_moves_only_in_steps_it_can_draw(data_dir, clock, refreshes) -> None:
    # A 25 min session on a 96-cell bar (192 half cells): a visible step every 7.8 s.
    store = open_store(data_dir)
    start_cycle(store, since_h=0)
    app = app_for(store, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.query_one("#phase-bar #bar").size.width == 96
        refreshes.clear()
        for _ in range(78):
            clock.advance(1)
            await app.sync()
        moves = [w for w, _ in refreshes if w.id == "bar"]
        assert 9 <= len(moves) <= 11  # ten steps (it was one each 3.75 s, half unseen)
        await pilot.resize_terminal(80, 30)
        await pilot.pause()
        bar_width = app.query_one("#phase-bar #bar").size.width
        assert bar_width == 76 and app.query_one(PhasePanel)._bar.positions == 2 * bar_width
