"""What the screens look like at 80x24, on a fake clock (pytest-textual-snapshot)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from icecycle.cycle import Settings

from .tui_helpers import app_for, open_store, start_cycle

SIZE = (80, 24)


@pytest.fixture
def store(data_dir):
    return open_store(data_dir)


def ack(store, cid, clock) -> None:
    store.append(cid, "ack", clock.now())


def test_ice_on(snap_compare, store, clock) -> None:
    cid = start_cycle(store)
    clock.advance(minutes=7, seconds=30)
    ack(store, cid, clock)
    assert snap_compare(app_for(store, clock), terminal_size=SIZE)


def test_towel_modal(snap_compare, store, clock) -> None:
    start_cycle(store)
    assert snap_compare(app_for(store, clock), terminal_size=SIZE)


def test_rest(snap_compare, store, clock) -> None:
    cid = start_cycle(store)
    clock.advance(minutes=40)
    ack(store, cid, clock)
    assert snap_compare(app_for(store, clock), terminal_size=SIZE)


def test_rest_alarm(snap_compare, store, clock) -> None:
    start_cycle(store)
    clock.advance(minutes=25, seconds=5)
    assert snap_compare(app_for(store, clock), terminal_size=SIZE)


def test_paused(snap_compare, store, clock) -> None:
    cid = start_cycle(store)
    clock.advance(minutes=10)
    store.append(cid, "pause", clock.now())
    clock.advance(minutes=20)
    assert snap_compare(app_for(store, clock), terminal_size=SIZE)


def test_done(snap_compare, store, clock) -> None:
    start_cycle(store, Settings(60, 120, 900), since_h=0)
    clock.advance(minutes=20)
    assert snap_compare(app_for(store, clock), terminal_size=SIZE)


def test_history(snap_compare, store, clock) -> None:
    cid = start_cycle(store)
    clock.advance(minutes=10)
    store.append(cid, "off", clock.now())
    clock.advance(hours=4)
    assert snap_compare(app_for(store, clock), terminal_size=SIZE, press=["escape", "h"])


def test_help(snap_compare, store, clock) -> None:
    cid = start_cycle(store)
    ack(store, cid, clock)
    assert snap_compare(app_for(store, clock), terminal_size=SIZE, press=["question_mark"])


def test_start_screen(snap_compare, store, clock) -> None:
    assert snap_compare(app_for(store, clock), terminal_size=SIZE)


def test_ice_on_light_theme(snap_compare, store, clock) -> None:
    cid = start_cycle(store)
    clock.advance(minutes=3)
    ack(store, cid, clock)
    app = app_for(store, clock)
    app.theme = "textual-light"
    assert snap_compare(app, terminal_size=SIZE)


def test_later_opened_after_time_passed(snap_compare, store, clock) -> None:
    start_cycle(store)
    clock.advance(hours=4, minutes=5)
    assert snap_compare(app_for(store, clock), terminal_size=(100, 30))


def test_quiet_hours(snap_compare, store, clock) -> None:
    import json

    evening = clock.now().replace(hour=20)
    clock.set(evening)
    with store.transaction():
        store.new_cycle(
            evening, Settings(), evening, json.dumps({"quiet_hours": "23:00-07:00", "tz": "UTC"})
        )
    clock.advance(hours=6)  # 02:00: the 23:50 session waits for the morning
    assert snap_compare(app_for(store, clock), terminal_size=SIZE)


def test_history_with_pain_trend(snap_compare, store, clock) -> None:
    cid = start_cycle(store)
    for minutes, score in ((20, 8), (140, 6), (255, 5), (370, 3)):
        clock.set(clock.now().replace(hour=10, minute=0) + timedelta(minutes=minutes))
        store.append(cid, "pain", clock.now(), str(score))
    clock.advance(minutes=10)
    assert snap_compare(app_for(store, clock), terminal_size=SIZE, press=["escape", "h"])
