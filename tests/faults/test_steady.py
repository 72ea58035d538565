"""Issue 12, findings 6, 7 and 10: a foreign lock cannot freeze the dashboard, a clock that
steps back cannot stretch a session, and writers racing never stamp events out of order."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

from icecycle import actions
from icecycle.actions import Refused
from icecycle.clock import SystemClock
from icecycle.cycle import Settings, fold
from icecycle.runner import Runner
from icecycle.store import DB_NAME, Store

from ..conftest import T0
from ..tui_helpers import Recorder, app_for, open_store, start_cycle


class Wall:
    """A wall clock and a real-time clock that tests move separately."""

    def __init__(self) -> None:
        self.wall, self.real = T0, 1000.0

    def tick(self, seconds: float) -> None:  # time passes: both move
        self.wall += timedelta(seconds=seconds)
        self.real += seconds

    def step(self, delta: timedelta) -> None:  # someone sets the wall clock
        self.wall += delta

    def clock(self) -> SystemClock:
        return SystemClock(lambda: self.wall, lambda: self.real)


def test_the_steady_clock_keeps_real_time_when_the_wall_clock_steps_back() -> None:
    w = Wall()
    clock = w.clock()
    assert clock.now() == T0
    w.tick(10)
    w.step(timedelta(hours=-1))
    assert clock.now() == T0 + timedelta(seconds=10)  # not 09:00:10
    assert clock.behind == timedelta(hours=1)
    w.tick(5)
    assert clock.now() == T0 + timedelta(seconds=15)
    w.step(timedelta(hours=1))  # corrected again: no double count
    assert clock.now() == T0 + timedelta(seconds=15) and clock.behind == timedelta(0)
    w.tick(1)
    w.step(timedelta(seconds=-1))  # a second: within what NTP slews, ignored
    assert clock.behind == timedelta(0) or clock.now() >= T0 + timedelta(seconds=15)


async def test_a_step_back_during_ice_on_does_not_delay_the_alarm(data_dir: Path) -> None:
    """Finding 7: start, then the wall clock steps back an hour 10 s into a 60 s session:
    the take-it-off notice still goes out 60 s after the start by the real clock."""
    w = Wall()
    clock = w.clock()
    store = Store.open(data_dir)
    assert store is not None
    with store.transaction():
        store.new_cycle(T0, Settings(60, 60, 3600), T0)
    rec = Recorder()
    runner = Runner(store, clock, rec)
    await runner.run_once()
    w.tick(10)
    await runner.run_once()
    w.step(timedelta(hours=-1))
    sent_at = None
    for second in range(11, 70):
        w.tick(1)
        await runner.run_once()
        if sent_at is None and any(n.kind == "off" for n in rec.sent):
            sent_at = second
    assert sent_at == 60, [n.kind for n in rec.sent]


def test_ice_on_after_the_clock_went_back_is_refused(run, clock) -> None:
    """Finding 7, second part: `on` stamped at the last stored moment would have run 85
    minutes by the real clock. It is refused; taking the ice off still works."""
    run("start")
    clock.advance(minutes=10)
    assert run("off").code == 0
    clock.advance(minutes=-60)
    r = run("on")
    assert r.code == 1 and "the system clock reads 09:10" in r.err and "went back" in r.err
    assert run("pause").code == 0  # anything that ends ice still works


async def test_a_foreign_lock_does_not_freeze_the_dashboard(data_dir: Path, clock) -> None:
    """Finding 6: another process holds the write lock across a boundary; each second still
    takes a moment, and the alarm still turns the screen red on time."""
    store = open_store(data_dir)
    start_cycle(store, Settings(30, 60, 3600), since_h=0)
    app = app_for(store, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("escape")
        holder = sqlite3.connect(data_dir / DB_NAME, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            slowest = 0.0
            for _ in range(32):
                clock.advance(1)
                began = time.monotonic()
                await app.sync()
                slowest = max(slowest, time.monotonic() - began)
            await pilot.pause()
            assert app.urgent  # red at 30 s, though the notice could not be claimed yet
            assert slowest < 1.0, slowest
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        clock.advance(1)
        await app.sync()
        await app.runner.stop()
        kinds = [c.kind for c in store.claims(1)]
        assert "off" in kinds  # claimed once the lock was gone


def test_writers_racing_never_stamp_out_of_order(data_dir: Path) -> None:
    """Finding 10: four writers at once on a real clock. Every action that succeeded is
    stored, in time order, and every session someone began is in the list."""
    store = open_store(data_dir)
    with store.transaction():
        store.new_cycle(datetime.now().astimezone(), Settings(60, 1, 600), SystemClock().now())
    ok: list[str] = []
    lock = threading.Lock()

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        mine = Store.open(data_dir)
        assert mine is not None
        clock = SystemClock()
        for _ in range(25):
            kind = rng.choice(["on", "off"])
            try:
                done = actions.act(mine, kind, clock.now)
            except Refused:
                continue
            with lock:
                ok.append(done.kind)
        mine.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    current = store.current()
    assert current is not None
    cycle, events = current
    stamps = [e.at for e in events]
    assert stamps == sorted(stamps)  # never earlier than the one committed before it
    assert [e.kind for e in events[1:]].count("on") == ok.count("on")
    rows = fold(cycle, events).sessions(SystemClock().now())
    begun = 1 + ok.count("on")  # `start`, and every successful `on`
    assert len([r for r in rows if r.status != "upcoming"]) >= begun


async def test_the_dashboard_opened_after_the_clock_stepped_back_says_so(data_dir: Path) -> None:
    """Issue 19, finding 5: the clock stepped back an hour before the dashboard opened.
    The last stored change bounds now: the countdown counts from it, and a line says so."""
    from ..tui_helpers import text_of

    store = open_store(data_dir)
    start_cycle(store, Settings(25 * 60, 90 * 60, 72 * 3600), since_h=0)
    w = Wall()
    w.step(timedelta(hours=-1, seconds=-14))
    app = app_for(store, w.clock())  # type: ignore[arg-type]
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        w.tick(1)
        await app.sync()
        await pilot.pause()
        assert app.state is not None and app.state.now >= T0
        assert app.state.next_change is not None
        assert app.state.next_change - app.state.now <= timedelta(minutes=25)
        assert "went back" in text_of(app, "#notice")
        await app.runner.stop()
