"""Quiet hours, folded in: across midnight, across a DST change, with the person acting."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from icecycle.cycle import Cycle, Event, Settings, fold, sessions

Z = UTC
QUIET = json.dumps({"quiet_hours": "23:00-07:00", "tz": "UTC"})


def utc(day: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 11, day, hh, mm, tzinfo=Z)


def cycle_from(start: datetime, hours: float = 72) -> Cycle:
    return Cycle(1, start, Settings(window_s=int(hours * 3600)))


def test_the_session_that_would_start_at_night_waits_for_morning() -> None:
    start = utc(25, 20)  # sessions 20:00, 21:55; the next would be 23:50
    c = cycle_from(start)
    f = fold(c, [Event("started", start, QUIET)])
    rest = f.state_at(utc(25, 23, 0))
    assert rest.state == "off" and rest.quiet_next == utc(26, 7)
    assert rest.next_change == utc(26, 7)  # the rest runs on through quiet hours
    night = f.state_at(utc(26, 2))
    assert night.state == "off" and night.quiet_until == utc(26, 7)  # a rest, not a pause
    assert night.next_change == utc(26, 7)
    assert night.phase is not None and night.phase.start == utc(25, 22, 20)
    morning = f.state_at(utc(26, 7, 10))
    assert morning.state == "on" and morning.phase.start == utc(26, 7)  # type: ignore[union-attr]
    rows = sessions(c, [Event("started", start, QUIET)], utc(26, 12))
    starts = [r.start for r in rows]
    assert not [s for s in starts if s.hour >= 23 or s.hour < 7]
    assert starts[:4] == [utc(25, 20), utc(25, 21, 55), utc(26, 7), utc(26, 8, 55)]
    later = fold(c, [Event("started", start, QUIET)]).state_at(utc(26, 12))
    assert later.done == sum(r.status == "done" for r in rows)
    assert later.left == sum(r.status in ("in progress", "upcoming") for r in rows)


def test_a_session_under_way_at_the_start_of_quiet_hours_ends_on_time() -> None:
    start = utc(25, 22, 50)
    c = cycle_from(start)
    f = fold(c, [Event("started", start, QUIET)])
    during = f.state_at(utc(25, 23, 10))
    assert during.state == "on" and during.phase.end == utc(25, 23, 15)  # type: ignore[union-attr]
    after = f.state_at(utc(25, 23, 20))
    assert after.state == "off" and after.phase.end == utc(26, 7)  # type: ignore[union-attr]
    assert after.alarm == utc(25, 23, 15)  # the usual take-it-off alarm
    assert f.state_at(utc(26, 1)).state == "off"


def test_the_person_can_still_act_at_night() -> None:
    start = utc(25, 20)
    c = cycle_from(start)
    events = [Event("started", start, QUIET), Event("on", utc(26, 2))]
    f = fold(c, events)
    assert f.state_at(utc(26, 2, 10)).state == "on"
    # after their own session, the next automatic one waits for the morning again
    assert f.state_at(utc(26, 4)).state == "off"
    assert f.state_at(utc(26, 7, 1)).state == "on"
    events += [Event("pause", utc(26, 4)), Event("resume", utc(26, 5))]
    f = fold(c, events)
    resumed = f.state_at(utc(26, 5, 1))  # rested long enough, but it is still night
    assert resumed.state == "off" and resumed.next_change == utc(26, 7)


def test_a_changed_config_applies_from_then_on_only() -> None:
    start = utc(25, 20)
    c = cycle_from(start)
    events = [Event("started", start, QUIET), Event("quiet", utc(26, 12), "")]
    starts = [r.start for r in sessions(c, events, utc(28, 12))]
    first_night = [t for t in starts if utc(25, 23) <= t < utc(26, 7)]
    second_night = [t for t in starts if utc(26, 23) <= t < utc(27, 7)]
    assert first_night == [] and len(second_night) >= 3  # quiet only while configured


def test_quiet_hours_across_the_spring_dst_change_in_berlin() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    data = json.dumps({"quiet_hours": "23:00-07:00", "tz": "Europe/Berlin"})
    start = datetime(2027, 3, 27, 20, 0, tzinfo=berlin)  # clocks go forward 28 Mar 02:00
    c = Cycle(1, start.astimezone(UTC), Settings())
    events = [Event("started", start.astimezone(UTC), data)]
    rows = sessions(c, events, start + timedelta(hours=72))
    for r in rows:
        local = r.start.astimezone(berlin)
        assert not (local.hour >= 23 or local.hour < 7), local
        assert r.end - r.start == timedelta(minutes=25)
    morning = [r.start.astimezone(berlin) for r in rows if r.start.astimezone(berlin).hour == 7]
    assert morning[0] == datetime(2027, 3, 28, 7, 0, tzinfo=berlin)
    assert morning[0].utcoffset() == timedelta(hours=2)  # summer time by then
    f = fold(c, events)
    night = f.state_at(datetime(2027, 3, 28, 3, 30, tzinfo=berlin))
    assert night.state == "off"
    assert night.quiet_until == datetime(2027, 3, 28, 5, 0, tzinfo=UTC)  # 07:00 CEST


@settings(max_examples=150, deadline=None)
@given(
    st.integers(0, 23),
    st.integers(0, 59),
    st.integers(1, 23),
    st.lists(
        st.tuples(
            st.sampled_from(["on", "off", "skip", "pause", "resume", "ack"]), st.integers(0, 600)
        ),
        max_size=8,
    ),
    st.integers(0, 72 * 60),
)
def test_properties_with_quiet_hours(qh, qm, length_h, actions, now_min) -> None:
    qs = qh * 60 + qm
    qe = (qs + length_h * 60) % 1440
    span = f"{qs // 60:02d}:{qs % 60:02d}-{qe // 60:02d}:{qe % 60:02d}"
    start = utc(25, 9)
    c = cycle_from(start)
    events = [Event("started", start, json.dumps({"quiet_hours": span, "tz": "UTC"}))]
    t = start
    for kind, gap in actions:
        t += timedelta(minutes=gap)
        if fold(c, events).check(kind, t) is None:
            events.append(Event(kind, t))
    now = max(t, start + timedelta(minutes=now_min))
    state = fold(c, events).state_at(now)
    rows = sessions(c, events, now)
    asked = {e.at for e in events if e.kind in ("on", "resume", "started")}
    if state.state == "paused":
        asked.add(now)  # the schedule shown while paused is "as if resumed now"
    for r in rows:
        m = r.start.hour * 60 + r.start.minute
        inside = (qs <= m < qe) if qs < qe else (m >= qs or m < qe)
        assert not inside or r.start in asked, (span, r)
    assert sum(r.status == "done" for r in rows) == state.done
    assert sum(r.status == "skipped" for r in rows) == state.skipped
    assert sum(r.status in ("in progress", "upcoming") for r in rows) == state.left
    assert state.done + state.skipped + state.missed + state.left == len(rows)
    for a, b in itertools.pairwise(rows):
        assert a.end <= b.start


# -- issue 10: quiet hours are a longer rest, not a pause ----------------------------


def test_pause_and_resume_during_quiet_hours() -> None:
    """Finding 12: during quiet hours `pause` works (and holds after they end), and
    `resume` does not apply: it is not paused."""
    start = utc(25, 20)
    c = cycle_from(start)
    f = fold(c, [Event("started", start, QUIET)])
    assert f.check("pause", utc(26, 2)) is None
    assert f.check("resume", utc(26, 2)) == "state"
    f.apply(Event("pause", utc(26, 2)))
    assert f.state_at(utc(26, 8)).state == "paused"  # the pause outlasts quiet hours


def test_a_window_that_ends_inside_quiet_hours() -> None:
    """Finding 8: the last change is the window end, not the end of quiet hours."""
    start = utc(25, 22)
    c = cycle_from(start, hours=2)
    f = fold(c, [Event("started", start, QUIET)])
    s = f.state_at(utc(25, 23, 56))
    assert s.state == "off" and s.next_change == c.window_end == utc(26, 0)
    assert s.quiet_next is None and s.quiet_until is None
    assert f.state_at(utc(26, 0)).state == "done"


def test_quiet_hours_that_end_in_the_spring_forward_gap() -> None:
    """Finding 11: 01:00-02:30 in Berlin on 28 Mar 2027 (02:00-03:00 does not exist) ends
    when the gap does, 03:00 CEST, not an hour later."""
    berlin = ZoneInfo("Europe/Berlin")
    data = json.dumps({"quiet_hours": "01:00-02:30", "tz": "Europe/Berlin"})
    start = datetime(2027, 3, 27, 23, 20, tzinfo=berlin)  # next session 01:15, held
    c = Cycle(1, start.astimezone(UTC), Settings())
    f = fold(c, [Event("started", start.astimezone(UTC), data)])
    night = f.state_at(datetime(2027, 3, 28, 1, 30, tzinfo=berlin))
    assert night.quiet_next == datetime(2027, 3, 28, 3, 0, tzinfo=berlin)
    assert night.next_change == datetime(2027, 3, 28, 1, 0, tzinfo=UTC)
