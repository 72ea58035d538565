"""While a take-it-off alarm is unanswered, no session begins by the clock (issue 18)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from icecycle.cycle import ACTIONS, Cycle, Event, Settings, fold

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
M = timedelta(minutes=1)
CYC = Cycle(1, T0, Settings())  # 25 on, 90 off, 72 h


def at(minutes: float) -> datetime:
    return T0 + minutes * M


def test_an_unanswered_alarm_holds_the_next_session() -> None:
    events = [Event("started", T0)]  # the person began session 1: its alarm counts
    st = fold(CYC, events, {}).state_at(at(120))
    assert st.state == "off"
    assert st.alarm == at(25) and st.alarm_session == T0
    assert st.held == at(115) and st.raised == at(115)
    # as if answered now: a whole rest from now
    assert st.phase is not None and st.phase.start == at(25) and st.phase.end == at(210)
    rows = fold(CYC, events, {}).sessions(at(120))
    assert (rows[1].start, rows[1].status, rows[1].reason) == (at(115), "missed", "held")
    assert st.missed == 1 and st.done == 1
    # every would-be start raises it again
    later = fold(CYC, events, {}).state_at(at(115 * 3 + 1))
    assert later.held == at(115) and later.raised == at(115 * 3) and later.missed == 3


def test_answering_while_held_starts_a_whole_rest_from_the_answer() -> None:
    events = [Event("started", T0), Event("ack", at(130))]
    acc = fold(CYC, events, {})
    st = acc.state_at(at(131))
    assert st.alarm is None and st.held is None
    assert st.state == "off" and st.phase is not None and st.phase.end == at(220)
    assert st.rest_owed == timedelta(minutes=89)
    assert acc.state_at(at(220)).state == "on"
    rows = acc.sessions(at(221))
    assert [(r.start, r.status, r.reason) for r in rows[:3]] == [
        (T0, "done", ""),
        (at(115), "missed", "held"),
        (at(220), "in progress", ""),
    ]


def test_an_answer_before_the_next_session_changes_nothing() -> None:
    acc = fold(CYC, [Event("started", T0), Event("ack", at(40))], {})
    assert acc.state_at(at(115)).state == "on"
    assert acc.state_at(at(115)).phase.start == at(115)  # type: ignore[union-attr]


def test_a_session_never_announced_holds_nothing() -> None:
    # session 2 (115) was announced, session 3 (230) had nobody running: not held at 345
    events = [Event("started", T0), Event("ack", at(30))]
    notes = {at(115): "sent"}
    st = fold(CYC, events, notes).state_at(at(200))
    assert st.alarm == at(140) and st.held is None  # session 2's alarm is open
    st = fold(CYC, events, notes).state_at(at(231))
    assert st.held == at(230) and st.state == "off"  # ... and it holds session 3
    events.append(Event("ack", at(150)))
    st = fold(CYC, events, {at(115): "sent", at(230): "passed"}).state_at(at(346))
    assert st.state == "on" and st.alarm is None and st.held is None


def test_resume_with_the_alarm_open_is_held() -> None:
    events = [Event("started", T0), Event("pause", at(10)), Event("resume", at(200))]
    acc = fold(CYC, events, {})
    st = acc.state_at(at(201))
    assert st.state == "off" and st.alarm == at(10) and st.held == at(200)
    assert acc.state_at(at(400)).state == "off"


def test_quiet_hours_end_with_the_alarm_open_is_held() -> None:
    import json

    data = json.dumps({"quiet_hours": "10:30-12:00", "tz": "UTC"})
    events = [Event("started", T0, data)]
    acc = fold(CYC, events, {})
    st = acc.state_at(at(130))  # quiet hours ended at 12:00 (120): held there
    assert st.state == "off" and st.held == at(120)
    assert acc.sessions(at(130))[1].reason == "held"


def test_notes_read_later_fold_again_and_agree() -> None:
    events = [Event("started", T0), Event("ack", at(30))]
    base = fold(CYC, events)
    notes = {at(115): "sent"}
    assert base.state_at(at(231), notes) == fold(CYC, events, notes).state_at(at(231))
    base.apply(Event("ack", at(232)))
    assert base.state_at(at(233), notes) == fold(
        CYC, [*events, Event("ack", at(232))], notes
    ).state_at(at(233))


# -- the property --------------------------------------------------------------------------


@st.composite
def lives(draw):
    """Random actions and clock jumps, with a runner open or not at each session start."""
    on_s, off_s = draw(st.integers(1, 6)), draw(st.integers(1, 10))
    window_s = draw(st.integers(max(5, on_s), 200))
    quiet = draw(st.sampled_from([None, "10:00:03-10:00:09"]))
    cycle = Cycle(1, T0, Settings(on_s, off_s, window_s))
    import json

    data = json.dumps({"quiet_hours": "10:01-10:02", "tz": "UTC"}) if quiet else None
    events = [Event("started", T0, data)]
    t = T0
    for _ in range(draw(st.integers(0, 10))):
        t += timedelta(seconds=draw(st.integers(0, 60)), milliseconds=draw(st.integers(0, 999)))
        events.append(Event(draw(st.sampled_from(ACTIONS)), t))
    seen = draw(st.sets(st.integers(0, window_s)))  # seconds whose session a runner announced
    now = t + timedelta(seconds=draw(st.integers(0, 300)))
    return cycle, events, seen, now


def accepted(cycle, events, notes):
    """The events the fold applied (the actions would have refused the others)."""
    f = fold(cycle, [], notes)
    kept = []
    for e in events:
        before = f.ignored
        f.apply(e)
        if f.ignored == before:
            kept.append(e)
    return kept


@settings(max_examples=int(os.environ.get("HELD_EXAMPLES", "80")), deadline=None)
@given(lives())
def test_no_ice_begins_by_the_clock_while_an_alarm_is_open(life) -> None:
    cycle, all_events, seen, now = life
    events = all_events
    # Walk the clock second by second as a runner would, writing notes as it announces.
    notes: dict[datetime, str] = {}
    acc = fold(cycle, events, notes)
    t = T0
    step = timedelta(milliseconds=500)
    prev = None
    folds: dict[object, tuple[object, list[Event]]] = {}

    def folded(t: datetime):  # the fold of what was stored by t, with the notes so far
        n = sum(e.at <= t for e in all_events)
        key = (n, tuple(sorted(notes.items())))
        if key not in folds:
            prefix = all_events[:n]
            folds[key] = (fold(cycle, prefix, dict(notes)), accepted(cycle, prefix, notes))
        return folds[key]

    while t <= now:
        st_ = folded(t)[0].state_at(t)  # type: ignore[attr-defined]
        if st_.state == "on" and st_.phase is not None and st_.phase.start not in notes:
            offset = int((st_.phase.start - T0).total_seconds())
            notes[st_.phase.start] = "sent" if offset in seen else "passed"
            st_ = folded(t)[0].state_at(t)  # type: ignore[attr-defined]
        events = folded(t)[1]
        if prev is not None and st_.state == "on" and prev.state != "on":
            assert st_.phase is not None
            began_by_person = any(
                e.kind in ("on", "resume", "started") and st_.phase.start <= e.at <= t
                for e in events
            )
            # (resume: the rest owed was nil, so ice on at once by the person's resume)
            answered = any(e.kind in ("ack", "off") and prev.now < e.at <= t for e in events)
            if not began_by_person and not answered:
                assert prev.alarm is None, (prev, st_)
        if prev is not None and prev.state == "on" and st_.state != "on" and prev.phase:
            ended_by_action = any(
                e.kind in ("off", "skip", "stop") and prev.now < e.at <= t for e in events
            )
            announced = (
                notes.get(prev.phase.start, "") not in ("", "passed")
                or prev.acknowledged
                or any(e.kind in ("on", "started") and e.at == prev.phase.start for e in events)
            )
            answered = any(e.kind in ("ack", "off") and prev.now < e.at <= t for e in events)
            if announced and not ended_by_action and not answered and not st_.stopped:
                assert st_.alarm is not None, (prev, st_)
        if prev is not None and prev.alarm is not None and st_.alarm is None:
            # closed only by an answer, a session the person began, or stop
            assert any(
                e.kind in ("ack", "off", "on", "stop") and prev.now < e.at <= t for e in events
            ), (prev, st_)
        prev = st_
        t += step
    del acc


# -- every path that begins ice: a new cycle over an open alarm --------------------------


def _state(run):
    import json

    return json.loads(run("status", "--json").out)


def test_start_after_the_window_ended_with_the_alarm_open_rests_first(run, clock) -> None:
    assert run("start", "--on", "1m", "--off", "2m", "--window", "5m").code == 0
    clock.advance(minutes=6)  # the window ended; the 10:01 take-it-off never answered
    doc = _state(run)
    assert doc["state"] == "done" and doc["alarm"] is not None
    r = run("start", "--on", "1m", "--off", "2m", "--window", "1h")
    assert r.code == 0, r.err
    assert r.out.startswith("Take the ice off now. The last window is over.")
    assert "still unanswered" in r.out
    doc = _state(run)
    assert doc["state"] == "off"  # never ice first
    assert doc["alarm"] is not None  # not silently closed: it rings on in the new cycle
    assert doc["alarm_session"]["start"].endswith("10:00:00+00:00")
    assert doc["phase"]["remaining_s"] == 120  # a whole rest of the new cycle
    clock.advance(minutes=2)
    assert _state(run)["state"] == "off"  # the first session is held until answered
    assert run("ack").code == 0
    clock.advance(minutes=2)
    assert _state(run)["state"] == "on"


def test_start_within_a_rest_of_the_last_ice_owes_the_rest(run, clock) -> None:
    run("start", "--on", "1m", "--off", "10m", "--window", "2m")
    clock.advance(seconds=90)
    assert run("ack").code == 0
    clock.advance(seconds=40)  # the window ended 2m 10s after the start; 70 s of rest
    assert run("start", "--on", "1m", "--off", "10m").code == 0
    doc = _state(run)
    assert doc["state"] == "off" and doc["alarm"] is None
    assert doc["phase"]["remaining_s"] == 600 - 70


def test_stop_with_the_ice_on_is_refused_until_it_is_off(run, clock) -> None:
    """Found by a new user and a tester: `stop` with the ice on (or its alarm unanswered)
    left nothing to ring, and `stop`, then `start`, began ice at once. Stop now waits for
    the answer, and a cycle stopped after it owes the rest that was under way."""
    assert run("start", "--on", "20s", "--off", "5m", "--window", "1h").code == 0
    clock.advance(seconds=14)
    r = run("stop")
    assert r.code == 1 and r.err.count("\n") == 1
    assert "Take the ice off now." in r.err and "`icecycle off`, then `icecycle stop`" in r.err
    assert _state(run)["state"] == "on"  # nothing changed: it still rings at its end
    assert run("off").code == 0
    clock.advance(seconds=7)
    assert run("stop").code == 0
    r = run("start", "--on", "20s", "--off", "5m", "--window", "1h")
    assert r.code == 0 and "The last cycle was stopped." in r.out
    doc = _state(run)
    assert doc["state"] == "off" and doc["alarm"] is None  # never ice first
    assert doc["phase"]["remaining_s"] == 300 - 7


def test_stop_with_the_alarm_open_is_refused_until_it_is_answered(run, clock) -> None:
    assert run("start", "--on", "20s", "--off", "30s", "--window", "10m").code == 0
    clock.advance(seconds=60)  # the 10:00:20 take-it-off unanswered; 10:00:50 held
    assert _state(run)["held"] is not None
    r = run("stop")
    assert r.code == 1 and "`icecycle ack`, then `icecycle stop`" in r.err
    assert _state(run)["alarm"] is not None  # it rings on
    assert run("ack").code == 0
    assert run("stop").code == 0


def test_a_cycle_stopped_with_the_alarm_open_carries_it_into_the_next(run, clock) -> None:
    """A stop stored before stop waited for the answer (an older icecycle, a tool): the
    next `start` still rests first and rings on."""
    from icecycle.store import Store

    assert run("start", "--on", "20s", "--off", "30s", "--window", "10m").code == 0
    clock.advance(seconds=25)
    store = Store.open(os.environ["ICECYCLE_DATA_DIR"])
    assert store is not None
    with store.transaction():
        store.append(1, "stop", clock.now())
    store.close()
    clock.advance(seconds=7)
    assert run("start", "--on", "20s", "--off", "30s", "--window", "10m").code == 0
    doc = _state(run)
    assert doc["state"] == "off" and doc["alarm"].endswith("10:00:20+00:00")


def test_pause_and_resume_with_the_alarm_open_say_it_rings_on(run, clock) -> None:
    """Found by a new user: pause said "no reminders until you resume" while the alarm's
    reminders go on, and resume while held promised ice at a time that would not come."""
    assert run("start", "--on", "20s", "--off", "30s", "--window", "10m").code == 0
    clock.advance(seconds=25)  # the 10:00:20 take-it-off unanswered
    r = run("pause")
    assert r.code == 0 and "no reminders" not in r.out
    assert r.out.startswith("Take the ice off now.") and "rings on until you answer" in r.out
    clock.advance(seconds=60)
    r = run("resume")
    assert r.code == 0 and "then ice on" not in r.out
    assert "starts a whole rest after your answer" in r.out
    assert _state(run)["held"] is not None


def test_skip_while_held_says_what_the_next_session_waits_for(run, clock) -> None:
    """Found by the tester: skip while held said "no session is left to skip in this
    window" with 11 sessions left."""
    assert run("start", "--on", "20s", "--off", "30s", "--window", "10m").code == 0
    clock.advance(seconds=60)
    assert _state(run)["held"] is not None
    r = run("skip")
    assert r.code == 1 and "no session is left" not in r.err
    assert "waits for the take-it-off alarm" in r.err and "`icecycle ack`" in r.err


def test_stop_in_a_rest_then_start_owes_what_is_left_of_it(run, clock) -> None:
    assert run("start", "--on", "1m", "--off", "10m").code == 0
    clock.advance(minutes=1)
    assert run("ack").code == 0  # the ice came off at 10:01
    clock.advance(minutes=2)
    assert run("stop").code == 0  # at 10:03
    clock.advance(minutes=3)  # 10:06: 5 of the 10 minutes' rest are left
    assert run("start", "--on", "1m", "--off", "10m").code == 0
    doc = _state(run)
    assert doc["state"] == "off" and doc["alarm"] is None
    assert doc["phase"]["remaining_s"] == 5 * 60


def test_the_rest_owed_is_kept_to_the_microsecond(run, clock) -> None:
    from icecycle.store import Store

    run("start", "--on", "25m", "--off", "90m")
    clock.advance(minutes=30, microseconds=250_000)
    assert run("ack").code == 0  # the alarm answered before the next session
    clock.advance(minutes=1)
    assert run("start", "--force", "--off", "90m").code == 0
    store = Store.open(clock_dir(run))
    assert store is not None
    _cycle, events = store.current()  # type: ignore[misc]
    import json

    rest_us = json.loads(events[0].data)["rest_us"]
    assert rest_us == 5_039_750_000  # 90m - 6m 0.25s: nothing cut off


def clock_dir(run):
    import os

    return os.environ["ICECYCLE_DATA_DIR"]


def test_the_protected_rest_counts_the_new_cycles_own_rest(run, clock) -> None:
    """start --force while the ice is on, with another off length: the rest owed is the
    new cycle's own whole rest, counting down (not the 90 minutes of a default length)."""
    run("start")
    clock.advance(minutes=5)
    assert run("start", "--force", "--off", "10m").code == 0
    clock.advance(minutes=3)
    r = run("on")
    assert r.code == 0
    assert "7m" in r.err and "1h 29m" not in r.err


# -- start --force while the ice is on, seen by an open dashboard ---------------------------


async def test_force_start_during_ice_on_rings_on_an_open_dashboard(data_dir, clock) -> None:
    from icecycle.actions import plan_start, start
    from icecycle.config import Config

    from .tui_helpers import app_for, open_store, start_cycle, text_of

    store = open_store(data_dir)
    start_cycle(store)
    app = app_for(store, clock)
    rec = app.runner.notifier
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        bells = app.bells  # type: ignore[attr-defined]
        assert app.state is not None and app.state.state == "on"
        clock.advance(minutes=5)
        cfg = Config()
        start(open_store(data_dir), plan_start(cfg, clock.now()), clock.now, cfg, force=True)
        for _ in range(3):
            clock.advance(1)
            await app.sync()
            await pilot.pause()
        assert app.urgent and text_of(app, "#headline") == "TAKE THE ICE OFF NOW"
        assert app.bells > bells  # type: ignore[attr-defined]
        offs = [n for n in rec.sent if n.kind == "off"]  # type: ignore[attr-defined]
        assert len(offs) == 1 and offs[0].urgency == "critical"
        assert app.state.state == "off" and app.state.alarm is not None


async def test_the_never_answered_line_goes_once_the_alarm_is_answered(data_dir, clock) -> None:
    """Found by a new user: after `icecycle ack`, "The 10:01 take-it-off was never
    answered" stayed on the dashboard through the next session and into the next alarm."""
    from .tui_helpers import app_for, open_store, start_cycle, text_of

    store = open_store(data_dir)
    start_cycle(store, Settings(60, 120, 3600), since_h=0)
    app = app_for(store, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        clock.advance(minutes=3, seconds=1)  # 10:01 unanswered; 10:03 held
        await app.sync()
        await pilot.pause()
        assert "never answered" in text_of(app, "#notice")
        open_store(data_dir).append(1, "ack", clock.now())  # `icecycle ack` elsewhere
        clock.advance(1)
        await app.sync()
        await pilot.pause()
        assert app.state is not None and app.state.alarm is None
        assert "never answered" not in text_of(app, "#notice")


# -- skipping twice in one rest ------------------------------------------------------------


def test_a_second_skip_in_one_rest_needs_again(run, clock) -> None:
    run("start")
    clock.advance(minutes=26)
    run("ack")
    first = run("skip")
    assert first.code == 0 and "Next session at 13:50 (in 3h 24m)." in first.out
    second = run("skip")
    assert second.code == 1 and "already skipped in this rest" in second.err
    assert "icecycle skip --again" in second.err
    assert run("skip", "--again").code == 0


async def test_s_pressed_twice_asks_before_skipping_another(data_dir, clock) -> None:
    from icecycle.tui.screens.confirm import ConfirmScreen

    from .tui_helpers import app_for, open_store, start_cycle

    store = open_store(data_dir)
    cid = start_cycle(store)
    clock.advance(minutes=26)
    store.append(cid, "ack", clock.now())
    app = app_for(store, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert [e.kind for e in store.events(cid)].count("skip") == 1
        await pilot.press("enter")  # the default keeps the session
        await pilot.pause()
        assert [e.kind for e in store.events(cid)].count("skip") == 1


# -- smaller things (issue 18, item 7) --------------------------------------------------------


def test_skip_during_ice_on_says_take_it_off(run, clock) -> None:
    run("start")
    clock.advance(minutes=3)
    r = run("skip")  # never confirmed: the ice may be on all the same
    assert r.code == 0 and r.out.startswith("Take the ice off now. Session skipped")


def test_the_start_screen_says_the_lengths_of_the_config() -> None:
    from icecycle.text import PROTOCOL, protocol

    assert protocol(25 * 60, 90 * 60, 72 * 3600) == PROTOCOL
    said = protocol(20 * 60, 60 * 60, 48 * 3600)
    assert "20m" in said and "1h" in said and "25 minutes" not in said


def test_the_daemon_log_says_what_changed_elsewhere() -> None:
    from icecycle.text import changed_elsewhere

    line = changed_elsewhere("ack", T0, T0)
    assert line == "the cycle changed elsewhere: the alarm or the session was acknowledged at 10:00"
    assert "`pause`" in changed_elsewhere("pause", T0, T0)


def test_status_waybar_hook_and_history_say_the_same_about_a_held_schedule(run, clock) -> None:
    import json

    from icecycle.cycle import fold as fold_
    from icecycle.formats import hook_env
    from icecycle.store import Store

    run("start")  # the first session's take-it-off at 10:25 is never answered
    clock.advance(minutes=130)  # 12:10: the 11:55 session was held
    text = run("status").out
    assert "TAKE THE ICE OFF NOW" in text and "The 11:55 session did not start" in text
    doc = json.loads(run("status", "--json").out)
    assert doc["held"] == {
        "since": "2026-11-25T11:55:00+00:00",
        "raised": "2026-11-25T11:55:00+00:00",
    }
    bar = json.loads(run("status", "--waybar").out)
    assert "urgent" in bar["class"] and "11:55 session did not start" in bar["tooltip"]
    hist = run("history").out
    assert "held: the take-it-off alarm before it was unanswered" in hist
    sessions = json.loads(run("history", "--json").out)["cycles"][0]["sessions"]
    assert [(s["status"], s["reason"]) for s in sessions[:2]] == [
        ("done", None),
        ("missed", "held"),
    ]
    store = Store.open(clock_dir(run))
    assert store is not None
    cycle, events = store.current()  # type: ignore[misc]
    env = dict(hook_env(fold_(cycle, events, store.session_notes(cycle.id)).state_at(clock.now())))
    assert env["ICECYCLE_HELD"] == "2026-11-25T11:55:00+00:00"
    assert env["ICECYCLE_ALARM"] == "2026-11-25T10:25:00+00:00"


async def test_a_runner_reopened_in_the_next_session_raises_the_alarm_not_ice_on(
    data_dir, clock
) -> None:
    """The dashboard or the daemon killed after the session was announced, reopened
    during the next one: the alarm raised again, never "Ice on"; after the answer, the
    next ice a whole rest later."""
    from icecycle.runner import Runner
    from icecycle.store import Store

    from .test_runner import Recorder

    store = Store.open(data_dir)
    assert store is not None
    with store.transaction():
        cid = store.new_cycle(T0, Settings(), T0).id
    first = Recorder()
    await Runner(store, clock, first).run_once()  # "Ice on" at 10:00, then killed
    assert [n.kind for n in first.sent] == ["on"]
    clock.advance(minutes=120)  # 12:00: the 11:55 session would be on
    rec = Recorder()
    runner = Runner(store, clock, rec)
    await runner.run_once()
    assert [n.kind for n in rec.sent] == ["again"]
    assert ("ICECYCLE_LATE", "1") in rec.sent[0].env
    assert ("ICECYCLE_HELD", "2026-11-25T11:55:00+00:00") in rec.sent[0].env
    st = runner.state()
    assert st is not None and st.state == "off" and st.missed == 1
    other = Store.open(data_dir)  # `icecycle ack`
    assert other is not None
    other.append(cid, "ack", clock.now())
    clock.advance(minutes=89)
    await runner.run_once()
    assert [n.kind for n in rec.sent] == ["again"]
    clock.advance(minutes=1)  # 13:30: a whole rest after the answer
    await runner.run_once()
    assert [n.kind for n in rec.sent] == ["again", "on"]
