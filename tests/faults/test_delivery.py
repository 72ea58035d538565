"""Delivery faults: a store error at a boundary, a runner killed mid-notice, a hung notifier,
a hook that leaves a process behind, and a tick that meets something it did not expect."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from icecycle.cycle import Settings
from icecycle.notify import HookNotifier, Notice, Result
from icecycle.runner import Delivery, Report, Runner
from icecycle.store import Store, StoreError

from ..conftest import FakeClock
from ..tui_helpers import Recorder


@pytest.fixture
def store(data_dir: Path) -> Store:
    s = Store.open(data_dir)
    assert s is not None
    return s


@pytest.fixture
def elsewhere(data_dir: Path, store: Store) -> Store:
    """A second connection: another icecycle process on the same file."""
    s = Store.open(data_dir)
    assert s is not None
    return s


def begin(store: Store, clock: FakeClock, settings: Settings) -> int:
    with store.transaction():
        return store.new_cycle(clock.now(), settings, clock.now()).id


async def settled(runner: Runner) -> None:
    """Wait for the deliveries the runner started on its own."""
    for _ in range(500):
        if not runner._tasks:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("a delivery never finished")


# -- finding 1: a store error at the boundary is retried, not dropped ------------------


async def test_a_locked_store_at_the_boundary_is_retried_at_the_next_tick(
    store, elsewhere, clock
) -> None:
    begin(store, clock, Settings(60, 600, 3600))
    rec, reports = Recorder(), []
    runner = Runner(store, clock, rec, report=reports.append, repeat_count=1)
    await runner.start(use_scheduler=False, own_tick=False)
    await settled(runner)
    store.conn.execute("PRAGMA busy_timeout=20")  # the 15 s wait, shortened for the test
    elsewhere.conn.execute("BEGIN IMMEDIATE")  # another writer holds the lock at the boundary
    clock.advance(60)
    runner.tick()
    runner.tick()  # still held: one line, not one a second
    await settled(runner)
    assert [n.kind for n in rec.sent] == ["on"]
    errors = [r.text for r in reports if r.kind == "error"]
    assert len(errors) == 1 and "busy" in errors[0]
    elsewhere.conn.execute("COMMIT")
    clock.advance(1)
    runner.tick()
    await settled(runner)
    assert [n.kind for n in rec.sent] == ["on", "off"]
    clock.advance(120)  # and the reminder follows the late claim
    runner.tick()
    await settled(runner)
    assert [n.kind for n in rec.sent] == ["on", "off", "remind"]
    await runner.stop()


# -- finding 2: a claim its owner never settles is delivered by the next runner --------


async def test_a_runner_killed_between_claim_and_send_loses_nothing(
    store, elsewhere, clock
) -> None:
    begin(store, clock, Settings(60, 600, 3600))
    first = Runner(store, clock, Recorder())
    await first.run_once()
    clock.advance(60)
    assert [d.notice.kind for d in first.due()] == ["off"]  # claimed ... and then killed
    rec = Recorder()
    second = Runner(elsewhere, clock, rec)
    await second.run_once()
    assert rec.sent == []  # within the lease: its owner may still be sending it
    clock.advance(second.lease.total_seconds())
    await second.run_once()
    await second.run_once()
    assert [n.title for n in rec.sent] == ["Take the ice off now"]  # once
    assert ("ICECYCLE_LATE", "1") in rec.sent[0].env
    claim = next(c for c in store.claims(1) if c.kind == "off")
    assert claim.result == "late" and claim.owner == second.owner


async def test_a_notice_overtaken_by_a_later_one_is_settled_not_sent(store, clock) -> None:
    begin(store, clock, Settings(60, 600, 3600))
    first = Runner(store, clock, Recorder())
    assert [d.notice.kind for d in first.due()] == ["on"]  # claimed, never sent
    clock.advance(60)
    rec = Recorder()
    second = Runner(store, clock, rec)
    await second.run_once()  # the ice-off notice is due: the ice-on one is past its use
    clock.advance(30)
    await second.run_once()
    assert [n.kind for n in rec.sent] == ["off"]
    on = next(c for c in store.claims(1) if c.kind == "on")
    assert on.result == "superseded" and on.sent is not None


async def test_a_store_error_after_sending_is_recorded_later_not_resent(store, clock) -> None:
    begin(store, clock, Settings(60, 600, 3600))
    rec = Recorder()
    runner = Runner(store, clock, rec)
    real = store.record

    def full(*args: object, **kw: object) -> None:
        raise StoreError(f"cannot write {store.path}: the disk is full")

    store.record = full  # type: ignore[method-assign]
    await runner.run_once()
    store.record = real  # type: ignore[method-assign]
    clock.advance(30)
    await runner.run_once()
    assert [n.kind for n in rec.sent] == ["on"]
    assert [c.result for c in store.claims(1)] == ["sent"]


# -- finding 3: bounded waits for hooks, the desktop child and the delivery pool -------


def _run_bounded(send, limit: float) -> Result:
    box: list[Result] = []
    worker = threading.Thread(target=lambda: box.append(send()), daemon=True)
    worker.start()
    worker.join(limit)
    assert box, f"send did not return within {limit}s"
    return box[0]


@pytest.fixture
def leftover(tmp_path: Path):
    """Where a hook writes the pid of what it leaves running, so the test can end it."""
    pidfile = tmp_path / "leftover.pid"
    yield pidfile
    with contextlib.suppress(OSError, ValueError):
        os.kill(int(pidfile.read_text()), signal.SIGKILL)


def test_a_hook_that_leaves_a_process_holding_the_pipe_returns_at_once(leftover) -> None:
    hook = HookNotifier(["sh", "-c", f"setsid sleep 30 & echo $! > {leftover}"], timeout=3)
    began = time.monotonic()
    result = _run_bounded(lambda: hook.send(Notice("off", "t", "b")), 6)
    assert result.ok and time.monotonic() - began < 1.5


def test_a_hung_hook_is_abandoned_with_whatever_holds_its_pipe(leftover) -> None:
    hook = HookNotifier(
        ["sh", "-c", f"setsid sleep 30 & echo $! > {leftover}; exec sleep 30"], timeout=0.5
    )
    began = time.monotonic()
    result = _run_bounded(lambda: hook.send(Notice("off", "t", "b")), 6)
    assert not result.ok and "took over 0.5s" in result.detail
    assert time.monotonic() - began < 1.5


class Hanging:
    """A notifier that never returns for some notices (a wedged library call, say)."""

    name = "hanging"
    limit_s = 0.1

    def __init__(self) -> None:
        self.release = threading.Event()
        self.sent: list[str] = []

    def send(self, notice: Notice) -> Result:
        if notice.title == "hang":
            self.release.wait(30)
        self.sent.append(notice.title)
        return Result(self.name, True)


async def test_hung_deliveries_never_hold_up_the_next_one(store, clock) -> None:
    notifier = Hanging()
    runner = Runner(store, clock, notifier)
    runner.lease = timedelta(seconds=0.3)
    hung = [
        asyncio.create_task(runner.deliver_async(Delivery(i, Notice("off", "hang", ""))))
        for i in range(40)
    ]
    try:
        ok = await asyncio.wait_for(runner.deliver_async(Delivery(99, Notice("off", "x", ""))), 3)
        assert ok.ok and notifier.sent == ["x"]
        results = await asyncio.wait_for(asyncio.gather(*hung), 3)
        assert {r.detail for r in results} == {"no answer within 0.3s; abandoned"}
    finally:
        notifier.release.set()


# -- finding 4: a tick that cannot die ------------------------------------------------


@pytest.mark.parametrize("bad_time", ["yesterday", "2026-11-25T10:05:00"], ids=["garbage", "naive"])
async def test_an_unreadable_row_is_a_damaged_database_not_a_crash(
    store, elsewhere, clock, bad_time
) -> None:
    cid = begin(store, clock, Settings(60, 600, 3600))
    reports: list[Report] = []
    runner = Runner(store, clock, Recorder(), report=reports.append)
    await runner.start(use_scheduler=False, own_tick=False)
    await settled(runner)
    elsewhere.conn.execute(
        "INSERT INTO events (cycle_id, kind, at) VALUES (?, 'off', ?)", (cid, bad_time)
    )
    clock.advance(1)
    runner.tick()  # must not raise
    runner.tick()
    errors = [r.text for r in reports if r.kind == "error"]
    assert len(errors) == 1
    assert "is damaged (events row 2" in errors[0] and store.path in errors[0]
    elsewhere.conn.execute("DELETE FROM events WHERE id = 2")  # moved aside, say: it recovers
    clock.advance(60)
    runner.tick()
    await settled(runner)
    await runner.stop()


async def test_a_pain_score_that_is_a_digit_but_not_a_number(store, clock) -> None:
    cid = begin(store, clock, Settings(60, 60, 300))
    store.append(cid, "pain", clock.now(), "²")
    store.append(cid, "pain", clock.now(), "3")
    rec = Recorder()
    runner = Runner(store, clock, rec)
    clock.advance(300)
    await runner.run_once()
    # (the first session's take-it-off alarm is still open: it held every session after
    # it, so it is raised again, late, first)
    assert [n.kind for n in rec.sent] == ["again", "done"]
    assert "Pain went from 3 to 3" not in rec.sent[-1].body  # '²' is no score


async def test_whatever_the_tick_meets_it_reports_once_and_carries_on(store, clock) -> None:
    begin(store, clock, Settings(60, 600, 3600))
    rec, reports = Recorder(), []
    runner = Runner(store, clock, rec, report=reports.append)
    await runner.start(use_scheduler=False, own_tick=False)
    await settled(runner)
    real = runner.due
    runner.due = lambda **kw: 1 / 0  # type: ignore[method-assign]
    clock.advance(60)
    runner.tick()
    runner.tick()
    runner.due = real  # type: ignore[method-assign]
    runner.tick()
    await settled(runner)
    assert [n.kind for n in rec.sent] == ["on", "off"]
    errors = [r.text for r in reports if r.kind == "error"]
    assert len(errors) == 1 and errors[0].startswith("unexpected ZeroDivisionError")
    assert "\n" not in errors[0]
    await runner.stop()


# -- issue 19, finding 6: a claim holder resumed after SIGSTOP is fenced off ----------


async def test_a_runner_resumed_after_its_lease_sends_nothing_stale_and_keeps_its_hands_off(
    store, elsewhere, clock
) -> None:
    """A is stopped (SIGSTOP) holding the ice-on claim; B takes it over after the lease and
    sends it, and then the take-it-off alarm. A, resumed 45 s into the rest, must send
    neither its ice-on notice (no longer true, and not its claim) nor a second alarm, and
    must not write its results over B's."""
    begin(store, clock, Settings(60, 600, 3600))
    a_rec, b_rec = Recorder(), Recorder()
    a = Runner(store, clock, a_rec)
    held = a.due()  # claimed, and then the process is stopped before it sends
    assert [d.notice.kind for d in held] == ["on"]
    b = Runner(elsewhere, clock, b_rec)
    clock.advance(b.lease.total_seconds())
    await b.run_once()  # the lease ran out: B delivers the ice-on notice, late
    clock.advance(60 - b.lease.total_seconds() + 45)
    await b.run_once()  # and the take-it-off alarm, 45 s ago
    assert [n.kind for n in b_rec.sent] == ["on", "off"]
    before = [(c.kind, c.owner, c.result) for c in store.claims(1)]
    # A wakes up where it stopped: its send goes on, then its own next tick.
    results = [await a.deliver_async(d) for d in held]
    await a.run_once()
    assert a_rec.sent == []
    assert not results[0].ok
    assert [(c.kind, c.owner, c.result) for c in store.claims(1)] == before


async def test_a_result_is_never_written_over_a_claim_another_runner_took_over(
    store, elsewhere, clock
) -> None:
    """A's send was abandoned at its time limit while it was stopped; B took the claim
    over and sent it. A's "failed: abandoned" must not replace B's "late"."""
    begin(store, clock, Settings(60, 600, 3600))
    a = Runner(store, clock, Recorder())
    await a.run_once()
    clock.advance(60)
    (held,) = a.due()
    b = Runner(elsewhere, clock, Recorder())
    clock.advance(b.lease.total_seconds())
    await b.run_once()
    a._record(held, Result("recorder", False, "no answer within 10s; abandoned"))
    a._record_pending()
    off = next(c for c in store.claims(1) if c.kind == "off")
    assert (off.owner, off.result) == (b.owner, "late")


async def test_a_taken_over_alarm_is_sent_even_after_the_next_session_began(
    store, elsewhere, clock
) -> None:
    """Found by the fault run: the fence's "still true" must not drop a take-it-off alarm
    because the next session was due while its holder was stopped; only an answer ends it."""
    begin(store, clock, Settings(60, 5, 3600))
    first = Runner(store, clock, Recorder())
    await first.run_once()
    clock.advance(60)
    assert [d.notice.kind for d in first.due()] == ["off"]  # claimed, then stopped
    rec = Recorder()
    second = Runner(elsewhere, clock, rec)
    clock.advance(second.lease.total_seconds())  # the next session began meanwhile
    await second.run_once()
    await second.run_once()
    # The session held back by the open alarm raises it again (issue 18): that notice,
    # sent late, carries the take-it-off; the stopped holder's claim is superseded by it.
    assert [n.kind for n in rec.sent] == ["again"]
    offs = [c.result for c in store.claims(1) if c.kind == "off"]
    assert offs == ["superseded", "late"]


async def test_an_alarm_raised_again_is_not_sent_once_it_was_answered(
    store, elsewhere, clock
) -> None:
    """Found by the fault run: a take-it-off raised again at a held session start, claimed,
    then answered (`icecycle ack`) before it went out, was still sent: a stale alarm after
    the answer. The fence treats it as the alarm it is."""
    begin(store, clock, Settings(60, 5, 3600))
    a_rec = Recorder()
    a = Runner(store, clock, a_rec)
    await a.run_once()  # ice on
    clock.advance(60)
    await a.run_once()  # take it off, unanswered
    clock.advance(5)  # the next session would begin: held, the alarm raised again
    held = a.due()
    assert [d.notice.kind for d in held] == ["again"]
    with elsewhere.transaction():
        elsewhere.append(1, "ack", clock.now())  # answered before it went out
    results = [await a.deliver_async(d) for d in held]
    assert [n.kind for n in a_rec.sent] == ["on", "off"] and not results[0].ok
