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
    clock.advance(minutes=20)  # nobody answered: the alarm held every session, and rings
    assert snap_compare(app_for(store, clock), terminal_size=SIZE)


def test_held_schedule(snap_compare, store, clock) -> None:
    """Issue 18: the take-it-off at 10:01 was never answered, so the session due at 10:03
    did not begin; the alarm is raised again and the next ice waits for the answer."""
    start_cycle(store, Settings(60, 120, 3600), since_h=0)
    clock.advance(minutes=4)
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
        cid = store.new_cycle(
            evening, Settings(), evening, json.dumps({"quiet_hours": "23:00-07:00", "tz": "UTC"})
        ).id
    store.append(cid, "ack", evening + timedelta(minutes=30))  # the first alarm answered
    clock.advance(hours=6)  # 02:00: the 23:50 session waits for the morning
    assert snap_compare(app_for(store, clock), terminal_size=SIZE)


def test_history_with_pain_trend(snap_compare, store, clock) -> None:
    cid = start_cycle(store)
    store.append(cid, "ack", clock.now() + timedelta(minutes=30))  # its alarm answered
    for minutes, score in ((20, 8), (140, 6), (255, 5), (370, 3)):
        clock.set(clock.now().replace(hour=10, minute=0) + timedelta(minutes=minutes))
        store.append(cid, "pain", clock.now(), str(score))
    clock.advance(minutes=10)
    assert snap_compare(app_for(store, clock), terminal_size=SIZE, press=["escape", "h"])


# -- issue 10: the alarm whatever ends a session, protected rest, honest counts ----------


def test_pause_during_ice_on_is_an_alarm(snap_compare, store, clock) -> None:
    cid = start_cycle(store)
    clock.advance(minutes=10)
    ack(store, cid, clock)
    store.append(cid, "pause", clock.now())
    clock.advance(seconds=5)
    assert snap_compare(app_for(store, clock), terminal_size=SIZE)


def test_alarm_before_quiet_hours(snap_compare, store, clock) -> None:
    """The red alarm says to take the ice off, never the towel line (finding 3)."""
    import json

    evening = clock.now().replace(hour=21, minute=30)
    clock.set(evening)
    with store.transaction():
        store.new_cycle(
            evening, Settings(), evening, json.dumps({"quiet_hours": "23:00-07:00", "tz": "UTC"})
        )
    clock.advance(minutes=25, seconds=5)  # 21:55: the next session would be at 23:25
    assert snap_compare(app_for(store, clock), terminal_size=SIZE)


def test_protected_rest_dialog(snap_compare, store, clock) -> None:
    cid = start_cycle(store)
    clock.advance(minutes=10)
    store.append(cid, "off", clock.now())
    clock.advance(minutes=4)
    assert snap_compare(app_for(store, clock), terminal_size=SIZE, press=["space"])


def test_honest_counts_and_the_strip(snap_compare, store, clock) -> None:
    """Done (one confirmed), skipped, missed and quiet nights, on the counts line and the
    window strip alike."""
    import json

    start = clock.now().replace(hour=20, minute=0)
    clock.set(start)
    with store.transaction():
        cid = store.new_cycle(
            start, Settings(), start, json.dumps({"quiet_hours": "23:00-07:00", "tz": "UTC"})
        ).id
    store.claim(cid, "on", start, 0, start, "sent")
    clock.advance(minutes=5)
    ack(store, cid, clock)  # 20:00 done, confirmed
    store.append(cid, "ack", start + timedelta(minutes=30))  # ... and its alarm answered
    clock.set(start + timedelta(minutes=116))
    store.claim(cid, "on", clock.now(), 0, clock.now(), "sent")
    store.append(cid, "skip", clock.now())  # 21:55 skipped
    clock.set(start + timedelta(hours=13, minutes=30))  # 07:00 session passed unseen: missed
    assert snap_compare(app_for(store, clock), terminal_size=(100, 30))


# -- issue 11: every size a person might have -------------------------------------------

SIZES = [(40, 12), (60, 20), (80, 24), (160, 50)]


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_dashboard_at_size(snap_compare, store, clock, size) -> None:
    cid = start_cycle(store)
    clock.advance(minutes=7)
    ack(store, cid, clock)
    assert snap_compare(app_for(store, clock), terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_towel_dialog_at_size(snap_compare, store, clock, size) -> None:
    start_cycle(store)
    assert snap_compare(app_for(store, clock), terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_alarm_at_size(snap_compare, store, clock, size) -> None:
    start_cycle(store)
    clock.advance(minutes=25, seconds=5)
    assert snap_compare(app_for(store, clock), terminal_size=size)
