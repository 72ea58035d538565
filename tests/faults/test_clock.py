"""Clock faults: jumps forward and back, suspend, DST, and a full 72-hour run on a fake clock."""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from icecycle.cycle import Event, Settings, fold, sessions
from icecycle.runner import Runner
from icecycle.store import Store

from ..conftest import FakeClock
from ..tui_helpers import Recorder


@pytest.fixture
def store(data_dir) -> Store:
    s = Store.open(data_dir)
    assert s is not None
    return s


class KindsOnly:
    name = "kinds"

    def __init__(self) -> None:
        self.kinds: list[str] = []

    def send(self, notice):
        from icecycle.notify import Result

        self.kinds.append(notice.kind)
        return Result(self.name, True, "")


def begin(store: Store, clock: FakeClock, settings: Settings | None = None) -> int:
    with store.transaction():
        return store.new_cycle(clock.now(), settings or Settings(), clock.now()).id


def expected_state(store: Store, now: datetime):
    current = store.current()
    assert current is not None
    return fold(*current).state_at(now, store.session_notes(current[0].id))


@pytest.mark.parametrize(
    ("jump", "late_kind"),
    [
        # 180 min: the first session's alarm (10:25) was never delivered: one late notice
        (timedelta(hours=3), "off"),
        (timedelta(days=6), "off"),  # days later: still the first session's alarm, then...
    ],
)
async def test_forward_jumps(store, clock, jump, late_kind) -> None:
    begin(store, clock)
    rec = Recorder()
    runner = Runner(store, clock, rec)
    await runner.run_once()
    clock.advance(jump.total_seconds())
    await runner.run_once()
    await runner.run_once()
    # one late notice at most (and, past the window, its summary)
    expected = ["on", late_kind] + (["done"] if jump > timedelta(days=3) else [])
    assert [n.kind for n in rec.sent] == expected
    assert runner.state() == expected_state(store, clock.now())
    claims = store.claims(1)
    keys = [(c.kind, c.phase_start, c.seq) for c in claims]
    assert len(keys) == len(set(keys))


async def test_backward_jump(store, clock) -> None:
    cid = begin(store, clock)
    rec = Recorder()
    runner = Runner(store, clock, rec)
    clock.advance(minutes=30)
    await runner.run_once()  # resting, late notice for it
    store.append(cid, "ack", clock.now())
    clock.advance(hours=-1)  # the clock steps back to before the cycle began
    await runner.run_once(force_reload=True)
    st = runner.state()
    assert st is not None and st.state == "off"  # the stored past is not undone
    clock.advance(hours=2, minutes=30)  # and it goes on from there (next session at 115 min)
    await runner.run_once()
    assert [n.kind for n in rec.sent] == ["off", "on"]


async def test_suspend_is_noticed_within_two_seconds_of_a_tick(store, clock) -> None:
    """The wall clock jumps while the monotonic clock (APScheduler's) stands still."""
    begin(store, clock, Settings(60, 60, 3600))
    rec = Recorder()
    runner = Runner(store, clock, rec, tick=0.2)
    await runner.start(use_scheduler=False)
    try:
        await asyncio.sleep(0.3)
        assert [n.kind for n in rec.sent] == ["on"]
        clock.advance(61)  # asleep across the boundary
        t0 = time.monotonic()
        while len(rec.sent) < 2 and time.monotonic() - t0 < 2:
            await asyncio.sleep(0.05)
        assert [n.kind for n in rec.sent] == ["on", "off"]
        assert time.monotonic() - t0 < 2
    finally:
        await runner.stop()


def test_dst_change_keeps_every_length_exact(monkeypatch) -> None:
    """A cycle over the spring-forward night in Berlin: 25 and 90 minutes, by the clock."""
    import time as _time

    monkeypatch.setenv("TZ", "Europe/Berlin")
    _time.tzset()
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2027, 3, 27, 20, 0, tzinfo=berlin).astimezone(UTC)  # DST begins 28 Mar 02:00
    from icecycle.cycle import Cycle

    cycle = Cycle(1, start, Settings())
    rows = sessions(cycle, [Event("started", start)], start + timedelta(hours=72))
    phases = fold(cycle, [Event("started", start)]).phases_from(start)
    assert all(r.end - r.start == timedelta(minutes=25) for r in rows)
    rests = [p for p in phases if p.kind == "off"][:-1]  # the last is cut by the window end
    assert all(p.end - p.start == timedelta(minutes=90) for p in rests)
    # Shown in local time, the jump appears in the wall-clock times and nowhere else.
    local = [r.start.astimezone(berlin) for r in rows[:5]]
    offsets = {t.utcoffset() for t in local}
    assert offsets == {timedelta(hours=1), timedelta(hours=2)}


async def test_a_full_72_hour_cycle_second_by_second_at_the_boundaries(store, clock) -> None:
    begin(store, clock)
    rec = KindsOnly()  # keeps a word per notice, so the memory measured is the runner's
    runner = Runner(store, clock, rec, repeat_every=timedelta(minutes=2), repeat_count=3)
    end = clock.now() + timedelta(hours=72)
    tracemalloc.start()
    await runner.run_once()
    baseline = None
    steps = 0
    while clock.now() < end + timedelta(minutes=1):
        nxt = runner.armed or end + timedelta(minutes=1)
        # big steps between boundaries, then second by second across each one
        if nxt - clock.now() > timedelta(seconds=3):
            clock.set(nxt - timedelta(seconds=2))
        else:
            clock.advance(1)
        await runner.run_once()
        steps += 1
        if steps == 200:
            baseline = tracemalloc.get_traced_memory()[0]
    current = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    kinds = rec.kinds
    assert kinds.count("on") == 38 and kinds.count("done") == 1
    assert kinds.count("off") == 38 and kinds.count("remind") == 38 * 3  # never acknowledged
    assert kinds[-1] == "done"
    claims = store.claims(1)
    keys = [(c.kind, c.phase_start, c.seq) for c in claims]
    assert len(keys) == len(set(keys)) == len(rec.kinds)  # none twice
    starts = [c.phase_start for c in claims if c.seq == 0 and c.kind != "done"]
    assert starts == sorted(starts)  # in order
    assert baseline is not None and current - baseline < 200_000, (baseline, current)


# -- issue 19, finding 5: started after the clock stepped back -------------------------


async def test_a_runner_started_after_the_clock_stepped_back_counts_from_the_last_change(
    store, clock
) -> None:
    """The clock steps back an hour while nothing runs; then the daemon starts. The last
    stored change bounds now: it counts from there, and the alarm comes after the session's
    real length, not an hour late."""
    from icecycle.clock import SystemClock

    begin(store, clock, Settings(60, 600, 3600))
    wall, real = [clock.now() - timedelta(hours=1) + timedelta(seconds=5)], [1000.0]
    system = SystemClock(wall=lambda: wall[0], elapsed=lambda: real[0])
    rec, reports = Recorder(), []
    runner = Runner(store, system, rec, report=reports.append)
    await runner.run_once()
    st = runner.state()
    assert st is not None and st.state == "on" and st.now >= clock.now()
    assert st.next_change is not None and st.next_change - st.now <= timedelta(seconds=60)
    held = [r.text for r in reports if r.kind == "clock"]
    assert len(held) == 1 and "went back" in held[0] and "10:00" in held[0]
    wall[0] += timedelta(seconds=61)
    real[0] += 61
    await runner.run_once()
    assert [n.kind for n in rec.sent] == ["on", "off"]
    assert len([r for r in reports if r.kind == "clock"]) == 1  # said once


def test_status_after_the_clock_stepped_back_says_so_and_counts_from_the_last_change(
    run, clock
) -> None:
    assert run("start", "--on", "25m").code == 0
    clock.advance(minutes=5)
    assert run("ack").code == 0  # "the towel is on": the last change, 10:05
    clock.advance(hours=-1)  # 09:05
    r = run("status")
    assert r.code == 0
    assert "went back" in r.err and "10:05" in r.err and r.err.count("\n") == 1
    assert "20m" in r.out  # 20 minutes left, counted from 10:05 (not 1 h 20 min)
    r = run("status", "--json")
    assert r.code == 0 and "went back" in r.err
