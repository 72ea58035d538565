"""The fold: tables of (events, now) -> state for each rule, and properties of any history."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icecycle.cycle import ALLOWED, Cycle, Event, Settings, fold, sessions

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
M = timedelta(minutes=1)


def at(minutes: float) -> datetime:
    return T0 + minutes * M


def cyc(window_h: float = 70, since_h_ago: float = 0, **kw: int) -> Cycle:
    return Cycle(
        1,
        T0 - timedelta(hours=since_h_ago),
        Settings(window_s=int((window_h + since_h_ago) * 3600), **kw),
    )


def ev(*pairs: tuple[str, float]) -> list[Event]:
    return [Event("started", T0)] + [Event(k, at(m)) for k, m in pairs]


# (name, cycle, events, now in minutes, state, phase (start, end) in minutes, done, skipped, left)
CASES = [
    ("start anchors ice on at the command", cyc(), ev(), 0, "on", (0, 25), 0, 0, 37),
    ("on turns to off by itself", cyc(), ev(), 25, "off", (25, 115), 1, 0, 36),
    ("and back on", cyc(), ev(), 115, "on", (115, 140), 1, 0, 36),
    (
        "phase lookup deep into the cycle",
        cyc(),
        ev(),
        115 * 20 + 30,
        "off",
        (115 * 20 + 25, 115 * 21),
        21,
        0,
        16,
    ),
    ("window end: done, all sessions counted", cyc(), ev(), 70 * 60, "done", None, 37, 0, 0),
    (
        "rest clipped at the window end",
        cyc(),
        ev(),
        36 * 115 + 30,
        "off",
        (36 * 115 + 25, 70 * 60),
        37,
        0,
        0,
    ),
    (
        "no session is cut short: the window ends in rest",
        cyc(window_h=2),
        ev(),
        118,
        "off",
        (25, 120),
        1,
        0,
        0,
    ),
    ("on during rest anchors ice on now", cyc(), ev(("on", 60)), 61, "on", (60, 85), 1, 0, 36),
    (
        "off ends the session and anchors a full rest",
        cyc(),
        ev(("off", 10)),
        11,
        "off",
        (10, 100),
        1,
        0,
        36,
    ),
    # A session paused or stopped after 10 of its 25 minutes, never confirmed, is not
    # counted as done: it ran less than half its length (see "pause, confirmed" below).
    ("skip counts as skipped", cyc(), ev(("skip", 10)), 11, "off", (10, 100), 0, 1, 36),
    (
        "pause ends ice on; the window keeps running",
        cyc(),
        ev(("pause", 10)),
        300,
        "paused",
        None,
        0,
        1,
        34,
    ),
    ("pause across the window end", cyc(window_h=3), ev(("pause", 10)), 240, "done", None, 0, 1, 0),
    (
        "resume owes the rest",
        cyc(),
        ev(("pause", 10), ("resume", 40)),
        41,
        "off",
        (40, 100),
        0,
        1,
        36,
    ),
    (
        "after owed rest, ice on",
        cyc(),
        ev(("pause", 10), ("resume", 40)),
        100,
        "on",
        (100, 125),
        0,
        1,
        36,
    ),
    (
        "resume after enough rest: ice on now",
        cyc(),
        ev(("pause", 10), ("resume", 180)),
        181,
        "on",
        (180, 205),
        0,
        1,
        35,
    ),
    (
        "pause in rest, resume owes the rest of it",
        cyc(),
        ev(("pause", 60), ("resume", 70)),
        71,
        "off",
        (70, 115),
        1,
        0,
        36,
    ),
    (
        "a second pause keeps when ice really came off",
        cyc(),
        ev(("pause", 10), ("resume", 40), ("pause", 50), ("resume", 60)),
        61,
        "off",
        (60, 100),
        0,
        1,
        36,
    ),
    ("on while paused", cyc(), ev(("pause", 10), ("on", 30)), 31, "on", (30, 55), 0, 1, 37),
    ("stop ends the cycle", cyc(), ev(("stop", 10)), 20, "done", None, 0, 1, 0),
    (
        "an action that does not apply is ignored",
        cyc(),
        ev(("off", 30), ("resume", 31)),
        32,
        "off",
        (25, 115),
        1,
        0,
        36,
    ),
    ("72 h since 2 h ago holds 37 sessions", cyc(since_h_ago=2), ev(), 0, "on", (0, 25), 0, 0, 37),
]


@pytest.mark.parametrize(
    ("name", "cycle", "events", "now", "state", "phase", "done", "skipped", "left"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_rules(name, cycle, events, now, state, phase, done, skipped, left) -> None:
    s = fold(cycle, events).state_at(at(now))
    assert s.state == state
    assert (None if s.phase is None else (s.phase.start, s.phase.end)) == (
        None if phase is None else (at(phase[0]), at(phase[1]))
    )
    assert s.next_change == (None if phase is None else at(phase[1]))
    assert (s.done, s.skipped, s.left) == (done, skipped, left)
    # The session list, built by walking phases, agrees with the fold's arithmetic.
    rows = sessions(cycle, events, at(now))
    assert sum(r.status == "done" for r in rows) == done
    assert sum(r.status == "skipped" for r in rows) == skipped
    assert sum(r.status in ("in progress", "upcoming") for r in rows) == left


def test_window_figures_and_rest_owed() -> None:
    s = fold(cyc(since_h_ago=2), ev()).state_at(at(60))
    assert s.window_elapsed == timedelta(hours=3)
    assert s.window_remaining == timedelta(hours=69)
    assert s.rest_owed == timedelta(minutes=55)  # came off at 25, 35 min of rest so far
    assert s.phase_remaining == timedelta(minutes=55)


def test_ack_confirms_the_session_or_the_rest() -> None:
    f = fold(cyc(), ev(("ack", 5)))
    assert f.state_at(at(6)).acknowledged
    assert not f.state_at(at(116)).acknowledged  # the next session is a new prompt
    f.apply(Event("ack", at(30)))
    assert f.state_at(at(31)).acknowledged
    assert [r.confirmed for r in sessions(cyc(), ev(("ack", 5)), at(200))][:2] == [True, False]


def test_a_clock_that_stepped_back_cannot_reorder_events() -> None:
    f = fold(cyc(), ev(("off", 10), ("on", 5)))  # stored in this order; 5 < 10
    s = f.state_at(at(11))
    assert s.state == "on" and s.phase is not None and s.phase.start == at(10)


def test_phases_ahead_alternate_and_end_at_the_window() -> None:
    c = cyc(window_h=5)
    phases = fold(c, ev()).phases_from(at(30))
    assert [p.kind for p in phases][:3] == ["off", "on", "off"]
    assert phases[-1].end == c.window_end
    assert all(a.end == b.start for a, b in itertools.pairwise(phases))


def test_a_long_history_folds_in_linear_time() -> None:
    c = Cycle(1, T0, Settings(window_s=7 * 86400))
    events = [Event("started", T0)]
    for i in range(5000):
        events.append(Event("off" if i % 2 == 0 else "on", T0 + timedelta(seconds=60 * i + 30)))
    s = fold(c, events).state_at(T0 + timedelta(days=4))
    # 2500 sessions cut short by `off`; then, from the last `on` at 299,970 s, one every
    # 6,900 s: 7 more have ended by 345,600 s, and it is resting now.
    assert (s.done, s.state) == (2500 + 7, "off")


# -- properties ----------------------------------------------------------------------

ACTIONS = ["on", "off", "skip", "pause", "resume", "ack", "stop"]


@st.composite
def histories(draw):
    on_s = draw(st.integers(1, 10))
    off_s = draw(st.integers(1, 20))
    window_s = draw(st.integers(max(5, on_s), 300))  # start needs room for one session
    cycle = Cycle(1, T0, Settings(on_s, off_s, window_s))
    t = T0
    events = [Event("started", t)]
    for _ in range(draw(st.integers(0, 12))):
        t += timedelta(seconds=draw(st.integers(0, 40)), milliseconds=draw(st.integers(0, 999)))
        events.append(Event(draw(st.sampled_from(ACTIONS)), t))
    now = t + timedelta(seconds=draw(st.integers(0, 320)))  # a clock that goes forward
    return cycle, events, now


def applied(cycle, events):
    """Only the events the fold accepted (as the CLI would only have stored those)."""
    f = fold(cycle, events[:1])
    kept = events[:1]
    for e in events[1:]:
        if f.kind_at(e.at) in ALLOWED.get(e.kind, ()):
            kept.append(e)
        f.apply(e)
    return kept


@settings(max_examples=300, deadline=None)
@given(histories())
def test_properties_of_any_history(h) -> None:
    cycle, events, now = h
    events = applied(cycle, events)
    s = fold(cycle, events).state_at(now)
    # Remaining time is never negative, and the phase never runs past the window.
    assert s.phase_remaining >= timedelta(0) and s.window_remaining >= timedelta(0)
    if s.phase:
        assert s.phase.start <= now < s.phase.end <= cycle.window_end
    # Folding one by one (with reads in between) gives the same state as all at once.
    f = fold(cycle, [])
    for e in events:
        f.state_at(now)
        f.apply(e)
    assert f.state_at(now) == s
    # Sessions never overlap, never pass the window end, and rest is never cut short
    # unless the person put the ice on themselves.
    rows = sessions(cycle, events, now)
    asked = {e.at for e in events if e.kind == "on"}
    for a, b in itertools.pairwise(rows):
        assert a.end <= b.start
        if b.start not in asked and b.status != "upcoming" and a.status != "upcoming":
            assert b.start - a.end >= cycle.settings.off or b.start in asked
    for r in rows:
        # Zero length only when the person acted in the very instant it began.
        assert T0 <= r.start <= r.end <= cycle.window_end
        assert r.start < r.end or r.ended_by in PERSON_ENDS
        # No session shorter than the on-length unless the person ended it (issue 10).
        if r.status != "upcoming" and r.ended_by not in PERSON_ENDS:
            assert r.end - r.start == cycle.settings.on or r.status == "in progress"
    # The two ways of counting agree, and every session is counted once.
    assert sum(r.status == "done" for r in rows) == s.done
    assert sum(r.status == "skipped" for r in rows) == s.skipped
    assert sum(r.status in ("in progress", "upcoming") for r in rows) == s.left
    assert s.done + s.skipped + s.missed + s.left == len(rows)
    assert s.confirmed <= s.done


PERSON_ENDS = ("off", "skip", "pause", "stop")


@settings(max_examples=300, deadline=None)
@given(histories())
def test_every_ice_session_ends_with_a_take_it_off_alarm(h) -> None:
    """Whatever ends an ice session (its length, a pause, the window end), the alarm to
    take the ice off is open at that moment, unless the person said `off` or `skip`."""
    cycle, events, now = h
    events = applied(cycle, events)
    for r in sessions(cycle, events, now):
        if r.status in ("upcoming", "in progress") or r.ended_by in ("off", "skip", "stop"):
            continue
        before = [
            e
            for e in events
            if e.at < r.end or (e.at == r.end and e.kind not in ("ack", "off", "on", "stop"))
        ]
        st_end = fold(cycle, before).state_at(r.end)
        assert st_end.alarm == r.end, (r, st_end)
        assert st_end.state != "on"
        # ... and it stays open until someone answers it.
        answered = [e for e in events if e.at >= r.end and e.kind in ("ack", "off", "on", "stop")]
        later = min([e.at for e in answered] + [now])
        if later > r.end:
            upto = [e for e in events if e.at < later]
            still = fold(cycle, upto).state_at(later)
            new_session = [x for x in sessions(cycle, upto, later) if r.end < x.start <= later]
            if not new_session and still.state != "on":
                assert still.alarm == r.end


@settings(max_examples=150, deadline=None)
@given(histories(), st.sampled_from([None, {}]))
def test_counts_add_up_with_or_without_notes(h, notes) -> None:
    cycle, events, now = h
    events = applied(cycle, events)
    s = fold(cycle, events).state_at(now, notes)
    rows = sessions(cycle, events, now, notes)
    assert [r.status for r in rows].count("missed") == s.missed
    assert s.done + s.skipped + s.missed + s.left == len(rows)
    assert s.confirmed <= s.done
    if notes is None:
        assert s.missed == 0
