"""Pilot tests of the dashboard: keys, towel modal, alarm, start screen, live updates."""

from __future__ import annotations

from datetime import timedelta

from textual.widgets import Input

from icecycle.tui.app import QUIT_MESSAGE
from icecycle.tui.screens.confirm import ConfirmScreen
from icecycle.tui.screens.help import HelpScreen
from icecycle.tui.screens.history import HistoryScreen
from icecycle.tui.screens.pain import PainScreen
from icecycle.tui.screens.start import StartScreen
from icecycle.tui.screens.towel import TowelScreen
from icecycle.tui.widgets.phase import PhasePanel

from .tui_helpers import app_for, open_store, start_cycle, text_of

SIZE = (100, 30)


def kinds(store) -> list[str]:
    current = store.current()
    return [e.kind for e in store.events(current[0].id)] if current else []


async def tick(app, pilot, clock, seconds: float = 0) -> None:
    clock.advance(seconds)
    await app.sync()
    await pilot.pause()


async def test_start_screen_validates_like_the_cli(data_dir, clock) -> None:
    store = open_store(data_dir)
    app = app_for(store, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, StartScreen)
        app.screen.query_one("#field-on", Input).value = "25x"
        await pilot.press("ctrl+s")
        await pilot.pause()
        error = str(app.screen.query_one("#start-error").content)
        # The form names its own field, never the command line's --on (issue 11).
        assert error == "'25x' is not a duration; Ice on for takes 1s to 2h, e.g. 25m"
        app.screen.query_one("#field-on", Input).value = "25m"
        app.screen.query_one("#field-since", Input).value = "5d ago"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "Spasm began: '5d ago' is more than 72h ago" in str(
            app.screen.query_one("#start-error").content
        )
        app.screen.query_one("#field-since", Input).value = "2h ago"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert kinds(store) == ["started"]
        assert isinstance(app.screen, TowelScreen)  # a session begins: towel first
        assert text_of(app, "#headline") == "ICE ON"
        assert app.app.runner.cycle.window_start == clock.now() - timedelta(hours=2)


async def test_towel_modal_answers(data_dir, clock) -> None:
    store = open_store(data_dir)
    start_cycle(store)
    for key, expected in [
        ("a", ["started", "ack"]),
        ("s", ["started", "skip"]),
        ("escape", ["started"]),
    ]:
        app = app_for(store, clock)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert isinstance(app.screen, TowelScreen)
            await pilot.press(key)
            await pilot.pause()
            assert not isinstance(app.screen, TowelScreen)
            assert kinds(store) == expected, key
            if key == "a":
                assert app.state.acknowledged
            if key == "s":
                assert text_of(app, "#headline") == "REST · ice off"
        # put things back for the next answer
        store.close()
        (data_dir / "icecycle.sqlite3").unlink()
        store = open_store(data_dir)
        start_cycle(store)


async def test_towel_modal_at_every_session_and_alarm_until_acknowledged(data_dir, clock) -> None:
    store = open_store(data_dir)
    start_cycle(store)
    app = app_for(store, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("a")  # ice is on
        await tick(app, pilot, clock, 25 * 60)  # the session ends
        panel = app.query_one(PhasePanel)
        assert panel.has_class("-urgent") and panel.has_class("-off")
        assert text_of(app, "#headline") == "TAKE THE ICE OFF NOW"
        assert app.bells >= 2
        assert app.runner.notifier.sent[-1].title == "Take the ice off now"
        await tick(app, pilot, clock, 60)
        assert panel.has_class("-urgent")  # still, until acknowledged
        await pilot.press("a")
        await pilot.pause()
        assert not panel.has_class("-urgent") and text_of(app, "#headline") == "REST · ice off"
        assert isinstance(app.screen, PainScreen)
        await pilot.press("escape")  # skipping the pain question stores nothing
        await pilot.pause()
        assert kinds(store)[-1] == "ack"
        await tick(app, pilot, clock, 89 * 60)  # the next session
        assert isinstance(app.screen, TowelScreen)
        assert [n.kind for n in app.runner.notifier.sent] == ["on", "off", "on"]


async def test_space_pause_skip_keys(data_dir, clock) -> None:
    store = open_store(data_dir)
    start_cycle(store)
    app = app_for(store, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("escape")  # dismiss the towel modal
        await tick(app, pilot, clock, 60)
        await pilot.press("space")  # ice off
        await pilot.pause()
        assert kinds(store)[-1] == "off" and app.state.state == "off"
        assert isinstance(app.screen, PainScreen)  # "Pain now, 0-10?"
        await pilot.press("6")
        await pilot.pause()
        assert kinds(store)[-1] == "pain" and store.events(1)[-1].data == "6"
        await tick(app, pilot, clock, 60)
        await pilot.press("space")  # ice on again, too soon: it asks first (issue 10)
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "1h 29m more" in str(app.screen.query_one("#confirm-body").content)
        await pilot.press("enter")  # the default answer keeps resting
        await pilot.pause()
        assert kinds(store)[-1] == "pain" and app.state.state == "off"
        await pilot.press("space")
        await pilot.pause()
        await pilot.click("#yes")  # the person insists
        await pilot.pause()
        assert kinds(store)[-1] == "on" and app.state.state == "on"
        await tick(app, pilot, clock, 60)
        await pilot.press("s")
        await pilot.pause()
        assert kinds(store)[-1] == "skip" and app.state.skipped == 1
        await pilot.press("p")
        await pilot.pause()
        assert kinds(store)[-1] == "pause" and app.query_one(PhasePanel).has_class("-paused")
        assert text_of(app, "#headline") == "PAUSED"
        await pilot.press("s")  # skip does not apply while paused: refused, nothing stored
        await pilot.pause()
        assert kinds(store)[-1] == "pause"
        # ... said to a keyboard user in keys, never command lines (issue 11)
        said = ([n.message for n in app._notifications] or [""])[-1]
        assert "(p)" in said and "icecycle" not in said, said
        await pilot.press("p")
        await pilot.pause()
        assert kinds(store)[-1] == "resume" and app.state.state == "off"  # rest still owed


async def test_space_during_the_alarm_never_puts_ice_on(data_dir, clock) -> None:
    store = open_store(data_dir)
    start_cycle(store)
    clock.advance(minutes=26)
    app = app_for(store, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.urgent
        await pilot.press("space")
        await pilot.pause()
        assert kinds(store)[-1] == "ack" and app.state.state == "off" and not app.urgent


async def test_history_help_and_quit_leaves_the_cycle_running(data_dir, clock) -> None:
    store = open_store(data_dir)
    start_cycle(store)
    clock.advance(hours=5)
    app = app_for(store, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        # Nobody said the first session's ice (put on by `start`) came off at 10:25: its
        # alarm held the sessions at 115 and 230 min, and is raised again on opening.
        assert text_of(app, "#notice").startswith("The 10:25 take-it-off was never answered.")
        assert app.urgent and app.state is not None and app.state.held is not None
        await pilot.press("h")
        await pilot.pause()
        assert isinstance(app.screen, HistoryScreen)
        assert app.screen.query_one("#history-table").row_count == 3
        await pilot.press("escape", "question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        said = []
        real_exit = app.exit
        app.exit = lambda *a, **kw: (said.append(kw.get("message")), real_exit(*a, **kw))
        await pilot.press("escape", "q")
        await pilot.pause()
    assert said == [QUIT_MESSAGE]
    assert QUIT_MESSAGE.startswith("icecycle closed; the cycle goes on")
    reopened = open_store(data_dir)
    assert reopened.current() is not None and "stop" not in kinds(reopened)


async def test_a_change_from_another_terminal_shows_within_a_tick(data_dir, clock) -> None:
    store = open_store(data_dir)
    cid = start_cycle(store)
    app = app_for(store, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("a")
        other = open_store(data_dir)  # `icecycle pause` in a second terminal
        other.append(cid, "pause", clock.now())
        await tick(app, pilot, clock, 1)
        # A pause during ice on is a take-it-off alarm, on this screen too (issue 10).
        assert text_of(app, "#headline") == "TAKE THE ICE OFF NOW"
        assert app.query_one(PhasePanel).has_class("-paused", "-urgent")
        await pilot.press("p")  # and the TUI's own action is in the store at once
        await pilot.pause()
        assert [e.kind for e in other.events(cid)][-1] == "resume"


async def test_external_stop_brings_back_the_start_screen(data_dir, clock) -> None:
    store = open_store(data_dir)
    cid = start_cycle(store)
    app = app_for(store, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        open_store(data_dir).append(cid, "stop", clock.now())
        await tick(app, pilot, clock, 1)
        assert isinstance(app.screen, StartScreen)


async def test_a_towel_question_left_open_cannot_silence_the_alarm(data_dir, clock) -> None:
    store = open_store(data_dir)
    start_cycle(store)
    app = app_for(store, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, TowelScreen)  # nobody answers it...
        await tick(app, pilot, clock, 25 * 60 + 5)  # ...and the session ends
        await pilot.pause()
        assert not isinstance(app.screen, TowelScreen)  # the stale question is gone
        assert app.urgent
        # and an answer to a stale question changes nothing
        app._towel_answer("ack", store.events(1)[0].at)
        await pilot.pause()
        assert app.urgent and kinds(store) == ["started"]


async def test_the_alarm_before_quiet_hours_says_take_it_off_not_towel(data_dir, clock) -> None:
    """Issue 10, finding 3: the red alarm showed the towel line when the next session fell
    after quiet hours."""
    import json

    from icecycle.cycle import Settings

    store = open_store(data_dir)
    evening = clock.now().replace(hour=21, minute=30)
    clock.set(evening)
    with store.transaction():
        store.new_cycle(
            evening, Settings(), evening, json.dumps({"quiet_hours": "23:00-07:00", "tz": "UTC"})
        )
    clock.advance(minutes=25, seconds=5)
    app = app_for(store, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.urgent
        assert text_of(app, "#headline") == "TAKE THE ICE OFF NOW"
        assert text_of(app, "#phase-hint") == "Take the ice off now, then press a."
