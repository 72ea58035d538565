"""The runner with a fake clock and a recording notifier: every rule, no real time passes."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from icecycle.cycle import Settings
from icecycle.notify import Notice, Result
from icecycle.runner import Report, Runner
from icecycle.store import Store

from .conftest import T0, FakeClock


class Recorder:
    name = "recorder"

    def __init__(self, ok: bool = True) -> None:
        self.sent: list[Notice] = []
        self.ok = ok

    def send(self, notice: Notice) -> Result:
        self.sent.append(notice)
        return Result(self.name, self.ok, "" if self.ok else "daemon gone")


@pytest.fixture
def store(data_dir: Path) -> Store:
    s = Store.open(data_dir)
    assert s is not None
    return s


def start(store: Store, settings: Settings | None = None) -> int:
    settings = settings or Settings()
    with store.transaction():
        return store.new_cycle(T0, settings, T0).id


def make(
    store: Store, clock: FakeClock, rec: Recorder, reports: list[Report] | None = None, **kw
) -> Runner:
    return Runner(store, clock, rec, report=(reports.append if reports is not None else None), **kw)


async def step(runner: Runner, clock: FakeClock, seconds: float = 0) -> list[str]:
    clock.advance(seconds)
    return [r.text for r in await runner.run_once()]


async def test_each_change_is_notified_once(store, clock) -> None:
    start(store, Settings(60, 120, 600))
    rec = Recorder()
    runner = make(store, clock, rec, repeat_count=0)
    await step(runner, clock)
    await step(runner, clock, 1)  # nothing new: no second notice
    assert [n.title for n in rec.sent] == ["Ice on, towel first"]
    assert "towel between the ice pack and your skin" in rec.sent[0].body
    assert "Take it off at 10:01" in rec.sent[0].body
    assert runner.armed == T0 + timedelta(seconds=60)
    await step(runner, clock, 59)
    assert rec.sent[-1].title == "Take the ice off now" and rec.sent[-1].urgency == "critical"
    assert "Rest until 10:03, when the next session begins." in rec.sent[-1].body
    await step(runner, clock, 120)
    clock.set(T0 + timedelta(seconds=600))
    await runner.run_once()
    # Seen: on at 0, off at 60; nobody answered, so the session at 180 did not begin (the
    # schedule is held) and the alarm was raised again then, and again in the jump (the
    # would-be sessions at 360 and 540: one late notice, for the latest).
    assert [n.title for n in rec.sent] == [
        "Ice on, towel first",
        "Take the ice off now",
        "Take the ice off now: the alarm is still unanswered",
        "Take the ice off now: the alarm is still unanswered",
        "Cold therapy window complete",
    ]
    assert [n.kind for n in rec.sent] == ["on", "off", "again", "again", "done"]
    assert rec.sent[-2].urgency == "critical" and "The 10:01 take-it-off" in rec.sent[-2].body
    assert ("ICECYCLE_LATE", "1") in rec.sent[-2].env
    assert T0 + timedelta(seconds=360) not in store.session_notes(1)  # held, not passed
    assert "1 done (0 confirmed) · 3 missed · 0 skipped · 0 left" in rec.sent[-1].body
    assert runner.armed is None  # idle after the window (repeat_count=0: no reminders)


async def test_claims_make_two_runners_send_once(store, clock, data_dir) -> None:
    start(store, Settings(60, 120, 600))
    other = Store.open(data_dir)
    a_rec, b_rec = Recorder(), Recorder()
    a, b = make(store, clock, a_rec), make(other, clock, b_rec)
    for _ in range(12):
        await step(a, clock, 30)
        await step(b, clock, 0)
    assert len(a_rec.sent) + len(b_rec.sent) == len(store.claims(1))
    keys = [(c.kind, c.phase_start, c.seq) for c in store.claims(1)]
    assert len(keys) == len(set(keys))


@pytest.fixture
def elsewhere(data_dir: Path) -> Store:
    """Another process's connection, as `icecycle ack` in a second terminal would have."""
    s = Store.open(data_dir)
    assert s is not None
    return s


async def test_ice_off_reminder_repeats_until_acknowledged(store, clock, elsewhere) -> None:
    cid = start(store, Settings(60, 3600, 86400))
    rec = Recorder()
    runner = make(store, clock, rec, repeat_every=timedelta(minutes=2), repeat_count=3)
    await step(runner, clock)
    await step(runner, clock, 60)  # ice off
    assert runner.armed == T0 + timedelta(seconds=60 + 120)
    await step(runner, clock, 120)
    await step(runner, clock, 120)
    assert [n.kind for n in rec.sent] == ["on", "off", "remind", "remind"]
    elsewhere.append(cid, "ack", clock.now())  # from another terminal: `icecycle ack`
    await step(runner, clock, 120)
    await step(runner, clock, 600)
    assert [n.kind for n in rec.sent] == ["on", "off", "remind", "remind"]


async def test_at_most_three_reminders(store, clock) -> None:
    start(store, Settings(60, 3600, 86400))
    rec = Recorder()
    runner = make(store, clock, rec, repeat_every=timedelta(minutes=2), repeat_count=3)
    await step(runner, clock)
    for _ in range(20):
        await step(runner, clock, 60)
    assert [n.kind for n in rec.sent].count("remind") == 3
    assert runner.armed == T0 + timedelta(seconds=60 + 3600)  # next: the phase end


async def test_catch_up_after_a_jump_sends_one_late_notice(store, clock) -> None:
    start(store)  # 25 min on, 90 min off
    rec, reports = Recorder(), []
    runner = make(store, clock, rec, reports)
    await step(runner, clock)
    await step(runner, clock, 3 * 3600)  # asleep for three hours
    # The session at 0 was announced, then the computer slept through its end: its alarm
    # is still open, and it held the session at 115 (which did not begin): raised again.
    assert [n.kind for n in rec.sent] == ["on", "again"]
    late = rec.sent[-1]
    assert "The 10:25 take-it-off was never answered" in late.body
    assert T0 + timedelta(minutes=115) not in store.session_notes(1)
    assert not any("passed while" in r.text for r in reports)
    claim = next(c for c in store.claims(1) if c.kind == "off")
    assert claim.result == "late"
    # The reminders count from the late notice, not from the phase start: no burst.
    await step(runner, clock, 1)
    assert len(rec.sent) == 2


async def test_opening_late_marks_passed_sessions(store, clock) -> None:
    start(store)
    clock.advance(hours=5, minutes=10)  # 310 min: sessions at 0, 115, 230 passed; now off
    rec = Recorder()
    runner = make(store, clock, rec)
    await runner.run_once()
    # `start` put the first session on (the person acted), so its alarm at 10:25 is still
    # open: it held the two after it (missed, "held"), and is raised again, once, now.
    assert [n.kind for n in rec.sent] == ["again"]
    assert rec.sent[0].urgency == "critical" and "10:25 take-it-off" in rec.sent[0].body
    assert runner.passed_on_open == 0
    st = runner.state()
    assert st is not None and st.held == T0 + timedelta(minutes=115) and st.missed == 2


async def test_failure_is_reported_once_and_schedule_goes_on(store, clock) -> None:
    start(store, Settings(60, 60, 600))
    rec, reports = Recorder(ok=False), []
    runner = make(store, clock, rec, reports, repeat_count=0)
    await step(runner, clock)
    for _ in range(3):
        await step(runner, clock, 60)
    # on at 0, off at 60, then (unanswered) raised again at 120 and 240: every one tried
    assert [n.kind for n in rec.sent] == ["on", "off", "again"]
    await step(runner, clock, 60)
    assert [n.kind for n in rec.sent] == ["on", "off", "again", "again"]
    assert [r.kind for r in reports].count("failed") == 1
    assert "recorder notification failed: daemon gone" in [r.text for r in reports]
    assert {c.result for c in store.claims(1)} == {"failed: daemon gone"}
    rec.ok = True
    await step(runner, clock, 120)
    assert [r.kind for r in reports][-2:] == ["recovered", "sent"]


async def test_pause_silences_and_resume_owes_rest(store, clock, elsewhere) -> None:
    cid = start(store)
    rec = Recorder()
    runner = make(store, clock, rec)
    await step(runner, clock)
    paused = clock.advance(minutes=10)
    elsewhere.append(cid, "pause", paused)
    await step(runner, clock, 1)
    # A pause during ice on ends the session with the usual take-it-off alarm (issue 10).
    assert [n.kind for n in rec.sent] == ["on", "off"]
    assert rec.sent[-1].urgency == "critical" and "You paused the cycle" in rec.sent[-1].body
    assert runner.armed == paused + timedelta(seconds=1) + timedelta(minutes=2)  # reminder
    await step(runner, clock, 120)
    assert [n.kind for n in rec.sent] == ["on", "off", "remind"]  # the pause does not hush it
    elsewhere.append(cid, "ack", clock.now())
    await step(runner, clock, 1)
    assert runner.armed == T0 + timedelta(hours=72)  # answered: only the window end is left
    await step(runner, clock, 3600)
    assert [n.kind for n in rec.sent] == ["on", "off", "remind"]
    elsewhere.append(cid, "resume", clock.now())  # rest owed until 10:10 + 90 min
    await step(runner, clock, 1)
    assert [n.kind for n in rec.sent] == ["on", "off", "remind"]  # the ice is already off
    assert runner.armed == T0 + timedelta(minutes=100)


async def test_stop_and_a_new_start_are_picked_up(store, clock, elsewhere) -> None:
    cid = start(store, Settings(60, 60, 600))
    rec = Recorder()
    runner = make(store, clock, rec)
    await step(runner, clock)
    elsewhere.append(cid, "stop", clock.advance(5))
    await step(runner, clock, 1)
    assert runner.armed is None and runner.cycle is None
    with elsewhere.transaction():
        elsewhere.new_cycle(clock.now(), Settings(60, 60, 600), clock.now())
    await step(runner, clock, 1)
    assert [n.kind for n in rec.sent] == ["on", "on"]


async def test_scheduler_fires_at_the_boundary_in_real_time(store) -> None:
    """The APScheduler job and the tick with the real clock: a 1 s phase, then rest."""
    from icecycle.clock import SystemClock

    clock = SystemClock()
    now = clock.now()
    with store.transaction():
        store.new_cycle(now, Settings(1, 2, 10), now)
    rec = Recorder()
    runner = Runner(store, clock, rec, tick=0.2)
    await runner.start()
    try:
        for _ in range(40):
            await asyncio.sleep(0.1)
            if len(rec.sent) >= 2:
                break
    finally:
        await runner.stop()
    assert [n.kind for n in rec.sent][:2] == ["on", "off"]
    sent = [c.sent for c in store.claims(1)]
    assert sent[1] is not None and (sent[1] - (now + timedelta(seconds=1))) < timedelta(seconds=1)


async def test_quiet_hours_silence_the_night_and_wake_at_the_end(store, clock) -> None:
    import json

    from icecycle.cycle import Settings as S

    night = clock.now().replace(hour=20, minute=0)
    clock.set(night)
    data = json.dumps({"quiet_hours": "23:00-07:00", "tz": "UTC"})
    with store.transaction():
        store.new_cycle(night, S(), night, data)
    rec = Recorder()
    runner = make(store, clock, rec)
    await step(runner, clock)
    for _ in range(40):  # through the night, in big steps to each armed boundary
        clock.set(max(clock.now() + timedelta(seconds=1), runner.armed or clock.now()))
        await runner.run_once()
        st = runner.state()
        if st is not None and st.alarm is not None:  # answered at once (else it holds)
            store.append(1, "ack", clock.now())
            await runner.run_once(force_reload=True)
        if clock.now().hour == 7:
            break
    kinds_at = [(n.kind, n.body) for n in rec.sent]
    assert [k for k, _ in kinds_at][-1] == "on"
    assert runner.state().phase.start.hour == 7  # type: ignore[union-attr]
    # Nothing but the reminders of the last rest went out between 23:00 and 07:00:
    claims = [c for c in store.claims(1) if c.claimed.hour >= 23 or c.claimed.hour < 7]
    assert {c.kind for c in claims} <= {"off"}
    assert any(
        "when the next session begins" in b and "07:00" in b for k, b in kinds_at if k == "off"
    )
