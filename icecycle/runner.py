"""The engine the TUI and the daemon share: boundaries, exactly-once notices, catch-up."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from icecycle import notify
from icecycle.clock import Clock
from icecycle.cycle import Cycle, Event, Fold, State, fold, pain_scores
from icecycle.formats import hook_env
from icecycle.notify import Notice, Notifier, Result
from icecycle.store import Store, StoreError

#: A notice sent later than this after its phase began says it is late.
LATE_AFTER = timedelta(seconds=30)


@dataclass(frozen=True)
class Delivery:
    claim_id: int
    notice: Notice
    late: bool = False


@dataclass(frozen=True)
class Report:
    """What the runner did, for the host to show or log."""

    kind: str  # sent, failed, recovered, passed, changed, error
    text: str
    notice: Notice | None = None


class Runner:
    """Watches the store and the wall clock, and notifies each phase change exactly once.

    The decisions are made in `due()`, a plain function of the store and the clock; the
    APScheduler job at the next boundary and the 1 s tick only decide when to call it.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        notifier: Notifier,
        *,
        repeat_every: timedelta = timedelta(minutes=2),
        repeat_count: int = 3,
        tick: float = 1.0,
        report: Callable[[Report], None] | None = None,
    ) -> None:
        self.store, self.clock, self.notifier = store, clock, notifier
        self.repeat_every, self.repeat_count, self.tick_s = repeat_every, repeat_count, tick
        self.report = report or (lambda r: None)
        self.cycle: Cycle | None = None
        self.events: list[Event] = []
        self.acc: Fold | None = None
        #: What was recorded for each session (by its start): tells missed sessions apart.
        self.notes: dict[datetime, str] = {}
        self.armed: datetime | None = None
        self.last_result: Result | None = None
        self.passed_on_open = 0
        self._version: int | None = None
        self._handled: set[tuple[int, str, datetime, int]] = set()
        self._phase_seen: tuple[str, datetime] | None = None
        self._first_notice: dict[tuple[str, datetime], datetime] = {}
        self._env: tuple[tuple[str, str], ...] = ()
        self._scheduler: Any = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._tick_task: asyncio.Task[None] | None = None
        self._first = True

    # -- the model -----------------------------------------------------------------------

    def reload(self) -> None:
        """Read the current cycle again (another process, or the host, changed it)."""
        current = self.store.current()
        if current is None:
            self.cycle, self.events, self.acc = None, [], None
        else:
            self.cycle, self.events = current
            self.acc = fold(self.cycle, self.events)

    def state(self) -> State | None:
        return self.acc.state_at(self.clock.now(), self.notes) if self.acc else None

    def changed(self) -> bool:
        version = self.store.data_version()
        if version != self._version:
            self._version = version
            return True
        return False

    # -- deciding ------------------------------------------------------------------------

    def due(self, *, force_reload: bool = False) -> list[Delivery]:
        """Claim and return the notices due now; re-arm the next boundary.

        The take-it-off alarm is keyed by the moment the ice should have come off, whatever
        ended the session (its length, a pause, the window end), and repeats until answered.
        """
        if self.changed() or force_reload or self._first:
            self.reload()
        now = self.clock.now()
        out: list[Delivery] = []
        if self.acc is None or self.cycle is None:
            self.armed = None
            self._first = False
            return out
        cyc = self.cycle
        notes = self.notes = self.store.session_notes(cyc.id)
        st = self.acc.state_at(now, notes)
        self._env = hook_env(st)
        phase = st.phase
        seen = (phase.kind, phase.start) if phase else (st.state, cyc.window_end)
        if seen != self._phase_seen:
            self._record_passed(phase.start if phase else now, now, notes)
            self._phase_seen = seen
        if st.state == "on" and phase:
            late = now - phase.start > LATE_AFTER
            out += self._claim(
                "on",
                phase.start,
                0,
                now,
                late,
                lambda: notify.ice_on(now, phase.start, phase.end, late),
            )
        alarm = st.alarm
        if alarm is not None:
            late = now - alarm > LATE_AFTER
            why = {"paused": "pause", "done": "window"}.get(st.state, "time")
            next_on = None
            if st.state == "off" and phase and phase.end < cyc.window_end:
                next_on = phase.end
            out += self._claim(
                "off", alarm, 0, now, late, lambda: notify.ice_off(now, alarm, next_on, late, why)
            )
            out += self._reminders(alarm, now)
        if st.state == "done" and not st.stopped:
            out += self._claim(
                "done",
                cyc.window_end,
                0,
                now,
                False,
                lambda: notify.window_done(st.counts, cyc.settings.window, self._pain()),
            )
        self._first = False
        self.armed = self._next_boundary(st)
        self._arm()
        return out

    def _claim(
        self,
        kind: str,
        phase_start: datetime,
        seq: int,
        now: datetime,
        late: bool,
        make: Callable[[], Notice],
    ) -> list[Delivery]:
        assert self.cycle is not None
        key = (self.cycle.id, kind, phase_start, seq)
        if key in self._handled:
            return []
        self._handled.add(key)
        claim_id = self.store.claim(self.cycle.id, kind, phase_start, seq, now)
        if claim_id is None:
            return []
        if seq == 0:
            self._first_notice[(kind, phase_start)] = now
        notice = replace(make(), env=(*self._env, ("ICECYCLE_LATE", "1" if late else "0")))
        return [Delivery(claim_id, notice, late)]

    def _reminder_times(self, alarm: datetime) -> list[datetime]:
        """When the take-it-off reminders fall: every `repeat_every` after the first alarm
        actually went out (so a late one is not followed at once by a burst)."""
        assert self.cycle is not None
        base = self._first_notice.get(("off", alarm))
        if base is None:
            base = self.store.claimed_at(self.cycle.id, "off", alarm, 0)
            if base is None:
                return []
            self._first_notice[("off", alarm)] = base
        return [base + k * self.repeat_every for k in range(1, self.repeat_count + 1)]

    def _reminders(self, alarm: datetime, now: datetime) -> list[Delivery]:
        """The latest reminder due, if not yet sent; earlier missed ones are skipped."""
        assert self.cycle is not None
        due = [k for k, t in enumerate(self._reminder_times(alarm), 1) if t <= now]
        if not due:
            return []
        for k in due[:-1]:
            self._handled.add((self.cycle.id, "off", alarm, k))
        return self._claim("off", alarm, due[-1], now, False, lambda: notify.reminder(now, alarm))

    def _record_passed(self, before: datetime, now: datetime, notes: dict[datetime, str]) -> None:
        """Sessions that began and ended with nothing running to alert and nobody acting:
        record them (they count as missed), never send."""
        assert self.cycle is not None and self.acc is not None
        passed = 0
        for s in self.acc.sessions(now, notes):
            if s.status == "missed" and not s.note and s.start < before:
                if self.store.claim(self.cycle.id, "on", s.start, 0, now, "passed") is not None:
                    passed += 1
                self._handled.add((self.cycle.id, "on", s.start, 0))
        if passed:
            if self._first:
                self.passed_on_open = passed
            word = "session" if passed == 1 else "sessions"
            self.report(Report("passed", f"{passed} {word} passed while icecycle was closed"))

    def _pain(self) -> list[int]:
        return pain_scores(self.events)

    def _next_boundary(self, st: State) -> datetime | None:
        assert self.cycle is not None
        candidates = []
        if st.phase is not None:
            candidates.append(st.phase.end)
        elif st.state == "paused":
            candidates.append(self.cycle.window_end)
        if st.alarm is not None:
            candidates += [t for t in self._reminder_times(st.alarm) if t > st.now][:1]
        return min(candidates) if candidates else None

    # -- delivering ----------------------------------------------------------------------

    async def deliver_async(self, d: Delivery) -> Result:
        result = await asyncio.to_thread(self.notifier.send, d.notice)
        self._record(d, result)
        return result

    def _record(self, d: Delivery, result: Result) -> None:
        now = self.clock.now()
        text = "late" if result.ok and d.late else result.text
        with contextlib.suppress(StoreError):
            self.store.record(d.claim_id, now, text)
        before, self.last_result = self.last_result, result
        if result.ok:
            if before is not None and not before.ok:
                self.report(Report("recovered", f"{result.backend} notifications work again"))
            self.report(Report("sent", f"{d.notice.title}: {text}", d.notice))
        elif before is None or before.ok:  # a failure is reported once, not every time
            self.report(
                Report("failed", f"{result.backend} notification failed: {result.detail}", d.notice)
            )
        else:
            self.report(Report("sent", f"{d.notice.title}: {text}", d.notice))

    async def run_once(self, *, force_reload: bool = False) -> list[Result]:
        """Decide and deliver, waiting for every send (tests use this with a fake clock)."""
        return [await self.deliver_async(d) for d in self.due(force_reload=force_reload)]

    def poke(self) -> None:
        """The host changed the store itself (its own writes do not move data_version)."""
        self._dispatch(force_reload=True)

    def _dispatch(self, *, force_reload: bool = False) -> None:
        try:
            deliveries = self.due(force_reload=force_reload)
        except StoreError as exc:
            self.report(Report("error", str(exc)))
            return
        for d in deliveries:
            task = asyncio.get_running_loop().create_task(self.deliver_async(d))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    # -- the scheduler and the tick ------------------------------------------------------

    async def start(self, *, use_scheduler: bool = True, own_tick: bool = True) -> None:
        """Start on the running loop: APScheduler for boundaries, a 1 s tick for the rest.

        A host with its own 1 s timer (the TUI) passes own_tick=False and calls `tick()`.
        Tests with a fake clock pass use_scheduler=False: its jobs run on the real clock.
        """
        if use_scheduler:
            from apscheduler.schedulers.asyncio import AsyncIOScheduler

            self._scheduler = AsyncIOScheduler(
                event_loop=asyncio.get_running_loop(),
                timezone=UTC,
                job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
            )
            self._scheduler.start()
        self._dispatch()
        if own_tick:
            self._tick_task = asyncio.get_running_loop().create_task(self._tick_loop())

    def _arm(self) -> None:
        if self._scheduler is None:
            return
        if self.armed is None:
            with contextlib.suppress(Exception):
                self._scheduler.remove_job("boundary")
            return
        from apscheduler.triggers.date import DateTrigger

        self._scheduler.add_job(
            self._on_boundary,
            DateTrigger(run_date=self.armed),
            id="boundary",
            replace_existing=True,
        )

    async def _on_boundary(self) -> None:
        self._dispatch()

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            self.tick()

    def tick(self) -> None:
        """Once a second: APScheduler waits on a monotonic clock that stops during suspend,
        so wake it, and look at the wall clock and the store ourselves."""
        if self._scheduler is not None:
            self._scheduler.wakeup()
        try:
            moved = self.changed()
        except StoreError as exc:
            self.report(Report("error", str(exc)))
            return
        if moved:
            self.report(Report("changed", "the cycle changed elsewhere"))
            self._dispatch(force_reload=True)
        elif self.armed is not None and self.clock.now() >= self.armed:
            self._dispatch()

    async def stop(self) -> None:
        if self._tick_task is not None:
            self._tick_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tick_task
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=notify.DESKTOP_TIMEOUT_S + 1)
