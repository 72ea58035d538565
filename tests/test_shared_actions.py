"""Issue 11: the command line and the dashboard share one set of actions and never disagree."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from textual.widgets import Input, Label

from icecycle.config import load_config
from icecycle.cycle import Settings
from icecycle.store import Store, StoreError
from icecycle.tui.app import make_app
from icecycle.tui.screens.start import StartScreen

from .conftest import FakeClock
from .tui_helpers import Recorder, open_store, start_cycle

SIZE = (80, 24)
CONFIG = 'on = "20m"\noff = "60m"\nwindow = "48h"\nquiet_hours = "22:00-07:00"\n'


def stored(store: Store) -> tuple[object, ...]:
    current = store.current()
    assert current is not None
    cycle, events = current
    return cycle.settings, cycle.window_start, events[0].kind, json.loads(events[0].data or "{}")


def app_with_config(store: Store, clock: FakeClock):  # type: ignore[no-untyped-def]
    app = make_app(store, clock, Recorder(), load_config(), use_scheduler=False)
    app.bell = lambda: None  # type: ignore[method-assign]
    return app


async def test_the_start_screen_and_the_cli_store_the_same_cycle(
    run, clock, data_dir, tmp_path
) -> None:
    Path(os.environ["ICECYCLE_CONFIG"]).write_text(CONFIG)
    assert run("start").code == 0
    from_cli = stored(open_store(data_dir))

    other = tmp_path / "other"
    store = open_store(other)
    app = app_with_config(store, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, StartScreen)
        # The form is filled from the config, and says where each value came from.
        assert app.screen.query_one("#field-on", Input).value == "20m"
        assert app.screen.query_one("#field-window", Input).value == "48h"
        sources = [str(x.content) for x in app.screen.query(".start-source").results(Label)]
        assert sources[1:] == ["from your config"] * 3
        await pilot.press("ctrl+s")
        await pilot.pause()
    from_form = stored(store)
    assert from_form == from_cli
    assert from_cli[0] == Settings(20 * 60, 60 * 60, 48 * 3600)
    assert from_cli[3] == {"quiet_hours": "22:00-07:00", "tz": "UTC"}


async def test_the_start_screen_warns_above_30_minutes(data_dir, clock) -> None:
    store = open_store(data_dir)
    app = app_with_config(store, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.screen.query_one("#field-on", Input).value = "2h"
        await pilot.press("ctrl+s")
        await pilot.pause()
        error = str(app.screen.query_one("#start-error", Label).content)
        assert "2h of ice at a time is longer than the usual 25 minutes" in error
        assert store.current() is None  # nothing started on the first press
        await pilot.press("ctrl+s")  # read it, start anyway
        await pilot.pause()
        current = store.current()
        assert current is not None and current[0].settings.on_s == 7200


async def test_n_after_the_window_opens_the_start_screen(data_dir, clock) -> None:
    store = open_store(data_dir)
    start_cycle(store, Settings(60, 60, 300), since_h=0)
    clock.advance(minutes=10)
    app = app_with_config(store, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.state is not None and app.state.state == "done"
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, StartScreen)
        await pilot.press("escape")  # back to the finished cycle, nothing changed
        await pilot.pause()
        assert not isinstance(app.screen, StartScreen)


async def test_n_while_a_cycle_runs_says_why_not(data_dir, clock) -> None:
    store = open_store(data_dir)
    start_cycle(store)
    app = app_with_config(store, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("escape", "n")
        await pilot.pause()
        assert not isinstance(app.screen, StartScreen)


@pytest.mark.parametrize("key", ["space", "a", "s", "p", "h", "n"])
async def test_a_store_error_in_any_action_shows_one_line(data_dir, clock, key) -> None:
    store = open_store(data_dir)
    start_cycle(store)
    app = app_with_config(store, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("escape")  # the towel question
        await pilot.pause()

        def failing(*a: object, **kw: object) -> object:  # as a database locked too long
            raise StoreError(f"{store.path} is busy in another icecycle for too long; try again")

        for name in ("transaction", "current", "events", "session_notes", "claims", "append"):
            setattr(store, name, failing)
        await pilot.press(key)
        await pilot.pause()
        notes = [n.message for n in app._notifications]
        shown = [m for m in notes if "busy in another icecycle" in m]
        assert shown or key == "n", notes  # (n: a cycle runs, it says so instead)
        assert all("\n" not in m for m in shown)
    assert app.return_code in (None, 0)  # still running until the test ended it: no crash


async def test_a_cycle_started_elsewhere_replaces_the_start_screen(data_dir, clock) -> None:
    """Found by a new user: with the start screen up, `icecycle start` in another terminal
    must show on the dashboard within a tick, or its alarms would show nowhere."""
    store = open_store(data_dir)
    app = app_with_config(store, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, StartScreen)
        other = open_store(data_dir)
        with other.transaction():
            other.new_cycle(clock.now(), Settings(10, 10, 60), clock.now())
        clock.advance(1)
        await app.sync()
        await pilot.pause()
        assert not any(isinstance(s, StartScreen) for s in app.screen_stack)
        assert app.state is not None and app.state.state == "on"


async def test_a_stop_elsewhere_while_the_ice_is_on_says_take_it_off(data_dir, clock) -> None:
    store = open_store(data_dir)
    cid = start_cycle(store)
    app = app_with_config(store, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        open_store(data_dir).append(cid, "stop", clock.advance(5))
        await app.sync()
        await pilot.pause()
        assert any(n.message.startswith("Take the ice off now") for n in app._notifications)


async def test_esc_on_the_first_start_screen_is_labelled_quit(data_dir, clock) -> None:
    """Found by a new user: the footer said "Back" but Esc left the app (no cycle to go
    back to). Now it says Quit there, and Back where there is a cycle behind it."""
    store = open_store(data_dir)
    app = app_with_config(store, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        shown = {b.binding.description for b in app.active_bindings.values() if b.enabled}
        assert "Quit" in shown and "Back" not in shown
        await pilot.press("escape")
        await pilot.pause()
    assert app.return_code == 0
