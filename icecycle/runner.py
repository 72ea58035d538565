"""The engine the TUI and the daemon share: boundaries, leased notice claims, catch-up."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from icecycle import actions, notify
from icecycle.actions import Refused
from icecycle.clock import Clock
from icecycle.cycle import Cycle, Event, Fold, State, fold, pain_scores
from icecycle.formats import hook_env
from icecycle.notify import ANSWERS, Answerable, Notice, Notifier, Result
from icecycle.store import Store, StoreError
from icecycle.text import HELD_TITLE, changed_elsewhere, clock_held, confirmation, held_alarm_body

#: How often the tick looks for notices another runner claimed and never settled.
ORPHAN_LOOK = timedelta(seconds=3)

#: While a cycle runs, the longest the runner sleeps with nothing due (see next_wake).
SAFETY_LOOK = timedelta(minutes=1)

#: A notice sent later than this after its phase began says it is late.
LATE_AFTER = timedelta(seconds=30)
#: ... and never one sent sooner than this (the 1 s tick noticing a `start` is not late).
LATE_MIN = timedelta(seconds=3)
#: How long past the notifier's own time limit a claim may stay unsettled before another
#: runner (or this one, restarted) delivers it: its owner was killed, or hung.
LEASE_MARGIN = timedelta(seconds=5)
#: A write the store refused (a full disk) is tried again after this, doubling up to the max.
WRITE_RETRY = timedelta(seconds=1)
WRITE_RETRY_MAX = timedelta(seconds=60)
#: A send that did not start before its lease could run out (the process was stopped, say).
HELD_UP = "held up past its lease, so not sent (another icecycle may send it)"

ClaimKey = tuple[int, str, datetime, int]


@dataclass(frozen=True)
class Delivery:
    claim_id: int  # below 0: a claim the store could not write, kept in memory
    notice: Notice
    late: bool = False
    #: The claim as this runner took it (its lease's token) and which database file it is
    #: in: checked before sending and before settling. None: not from a claim (tests).
    claimed: datetime | None = None
    file: int = 0


@dataclass
class _Unwritten:
    """A claim the store refused (a full disk): delivered anyway, written once it can be."""

    key: ClaimKey
    claimed: datetime
    notice: str
    file: int
    result: tuple[datetime, str] | None = None  # once delivered: when, and how it went


ReportKind = Literal[
    "sent",
    "failed",
    "recovered",
    "passed",
    "changed",
    "error",
    "retried",
    "answered",
    "refused",
    "withheld",
    "clock",
]


@dataclass(frozen=True)
class Report:
    """What the runner did, for the host to show or log."""

    kind: ReportKind
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
        self.report = _never_raising(report or (lambda r: None))
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
        self._last_tick: datetime | None = None
        self._orphans_due = datetime.min.replace(tzinfo=UTC)
        #: who holds our claims: this process, and this runner in it
        self.owner = f"{os.getpid()}.{secrets.token_hex(4)}"
        self.lease = timedelta(seconds=notify.limit_s(notifier)) + LEASE_MARGIN
        self._inflight: set[int] = set()  # claims being delivered by this runner now
        #: sent; the store said no: (when, result, the claim's token)
        self._unrecorded: dict[int, tuple[datetime, str, datetime | None]] = {}
        self._unwritten: dict[int, _Unwritten] = {}  # claims kept in memory, by their id < 0
        self._last_unwritten = 0
        self._refused_since: dict[ClaimKey, datetime] = {}  # claims the lock kept out
        self._write_due: datetime | None = None
        self._write_wait = timedelta(0)
        self._retry = False  # the last dispatch failed: try again at the next tick
        self._last_error: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        #: Told after each change handled (phone.py's worker: it syncs on its own thread).
        self.on_change: Callable[[], None] | None = None
        if isinstance(notifier, Answerable):
            notifier.listen(self._heard)

    # -- the model -----------------------------------------------------------------------

    def reload(self) -> None:
        """Read the current cycle again (another process, or the host, changed it)."""
        current = self.store.current()
        if current is None:
            self.cycle, self.events, self.acc = None, [], None
        else:
            self.cycle, self.events = current
            self.notes = self._with_unwritten(
                self.cycle.id, self.store.session_notes(self.cycle.id)
            )
            self.acc = fold(self.cycle, self.events, self.notes)
            self._bound_clock()

    def _bound_clock(self) -> None:
        """The last stored change bounds now: a clock that reads earlier went back before
        this process started (a clock able to, SystemClock, then counts from that change)."""
        hold = getattr(self.clock, "not_before", None)
        if hold is None:
            return
        last = self.store.last_change()
        if last is not None and hold(last):
            self.report(Report("clock", clock_held(last, self.clock.now())))

    def state(self) -> State | None:
        return self.acc.state_at(self.clock.now(), self.notes) if self.acc else None

    @property
    def seen_version(self) -> int | None:
        """The store's data_version as last seen (it moves when another process writes)."""
        return self._version

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
        notes = self.notes = self._with_unwritten(cyc.id, self.store.session_notes(cyc.id))
        self.acc = self.acc.with_notes(notes)  # (the dashboard reads its plan from it)
        st = self.acc.state_at(now)
        self._env = hook_env(st)
        phase = st.phase
        seen = (phase.kind, phase.start) if phase else (st.state, cyc.window_end)
        if seen != self._phase_seen:
            with contextlib.suppress(StoreError):  # (a full disk: tried at the next phase)
                self._record_passed(phase.start if phase else now, now, notes)
            self._phase_seen = seen
        if st.state == "on" and phase:
            # Late: past the grace, or (with short lengths, to try it out) a quarter in.
            late = now - phase.start > min(LATE_AFTER, max(LATE_MIN, phase.length / 4))
            out += self._claim(
                "on",
                phase.start,
                0,
                now,
                late,
                lambda: notify.ice_on(now, phase.start, phase.end, late),
            )
        alarm = st.alarm
        if alarm is not None and st.raised is not None:
            # A session start came while it was unanswered: the schedule is held, and the
            # alarm is raised again (as new, with its repeats) at every such start.
            raised = st.raised
            out += self._claim("off", raised, 0, now, True, lambda: _raised_again(st, alarm))
            out += self._reminders(raised, alarm, now)
        elif alarm is not None:
            late = now - alarm > LATE_AFTER
            why = {"paused": "pause", "done": "window"}.get(st.state, "time")
            next_on = None
            if st.state == "off" and phase and phase.end < cyc.window_end:
                next_on = phase.end
            out += self._claim(
                "off", alarm, 0, now, late, lambda: notify.ice_off(now, alarm, next_on, late, why)
            )
            out += self._reminders(alarm, alarm, now)
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
        self.armed = self._next_boundary(st, self.acc.next_raise(now, notes))
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
        notice = replace(make(), env=(*self._env, ("ICECYCLE_LATE", "1" if late else "0")))
        # Stored with the claim, so that if this runner dies before it is sent another one
        # sends it. A store error here propagates (the key stays unhandled, and the next
        # tick tries again), unless it must go out unwritten: see _deliver_unwritten.
        # The claim's time is read once the store's lock is held: after a wait for another
        # process's lock, the reminders still count from when the alarm really went out.
        stored = _dump(notice)
        taken: list[datetime] = []

        def at() -> datetime:
            taken.append(self.clock.now())
            return taken[-1]

        try:
            claim_id = self.store.claim(
                self.cycle.id, kind, phase_start, seq, at, owner=self.owner, notice=stored
            )
        except StoreError as exc:
            if not self._deliver_unwritten(exc, key, now):
                raise
            taken[:] = [now]
            claim_id = self._keep_unwritten(key, now, stored)
            self.report(Report("error", f"{exc}; sending {notice.title!r} all the same"))
        self._refused_since.pop(key, None)
        self._handled.add(key)
        if claim_id is None:
            return []
        claimed = taken[-1] if taken else now
        if seq == 0:
            self._first_notice[(kind, phase_start)] = claimed
        return [Delivery(claim_id, notice, late, claimed, self._file())]

    # -- claims the store cannot write (a full disk) ------------------------------------

    def _deliver_unwritten(self, exc: StoreError, key: ClaimKey, now: datetime) -> bool:
        """Whether to deliver a notice whose claim the store refused. At once (a duplicate
        is a nuisance, a lost alarm the failure), except while another icecycle holds the
        write lock: it may be claiming the same notice, so wait a lease for it first."""
        if not exc.busy:
            return True
        return now - self._refused_since.setdefault(key, now) >= self.lease

    def _keep_unwritten(self, key: ClaimKey, now: datetime, notice: str) -> int:
        self._last_unwritten -= 1
        claim_id = self._last_unwritten
        self._unwritten[claim_id] = _Unwritten(key, now, notice, self._file())
        return claim_id

    def _with_unwritten(self, cycle_id: int, notes: dict[datetime, str]) -> dict[datetime, str]:
        """The session notes, with what this runner did but could not store yet."""
        for u in self._unwritten.values():
            cid, kind, start, seq = u.key
            if cid == cycle_id and kind == "on" and seq == 0 and start not in notes:
                notes[start] = (u.result[1] if u.result else "claimed").split(":")[0]
        return notes

    def _write_behind(self, now: datetime) -> None:
        """Write what the store refused before (results, claims kept in memory), with a
        growing wait between tries. Never raises: the deliveries go on meanwhile."""
        if not (self._unrecorded or self._unwritten):
            return
        if self._write_due is not None and now < self._write_due:
            return
        try:
            self._record_pending()
            self._write_unwritten()
        except StoreError as exc:
            self._write_wait = min(max(2 * self._write_wait, WRITE_RETRY), WRITE_RETRY_MAX)
            self._write_due = now + self._write_wait
            self._error(exc)
            return
        self._write_due, self._write_wait = None, timedelta(0)

    def _write_unwritten(self) -> None:
        for claim_id, u in list(self._unwritten.items()):
            if u.file != self._file():  # another database now: not ours to write into
                del self._unwritten[claim_id]
                continue
            if u.result is None:  # still being sent: written with its result
                continue
            cycle_id, kind, start, seq = u.key
            sent, text = u.result
            self.store.claim(
                cycle_id,
                kind,
                start,
                seq,
                u.claimed,
                text,
                owner=self.owner,
                notice=u.notice,
                sent=sent,
            )  # (None: another runner claimed it meanwhile, and sent it too)
            del self._unwritten[claim_id]

    def _orphans(self, now: datetime) -> list[Delivery]:
        """Claims whose owner never settled them within the lease (killed, or hung): take
        them over and deliver them, late. A take-it-off notice is only ever replaced by a
        later take-it-off notice; any other notice by any later one."""
        if self.cycle is None:
            return []
        claims = self.store.claims(self.cycle.id)
        out: list[Delivery] = []
        for c in claims:
            if c.sent is not None or c.notice is None or c.id in self._inflight:
                continue
            if c.id in self._unrecorded or c.claimed + self.lease > now:
                continue
            later = [
                o
                for o in claims
                if (o.phase_start, o.seq) > (c.phase_start, c.seq)
                and (c.kind != "off" or o.kind == "off")
            ]
            if later:
                with contextlib.suppress(StoreError):  # a later tick settles it instead
                    if self.store.take_over(c, self.owner, now):
                        self.store.settle(c.id, now, "superseded")
                continue
            notice = _load(c.notice)
            if not self.store.take_over(c, self.owner, now):
                continue
            if notice is None:
                self.store.settle(c.id, now, "failed: the stored notice is unreadable")
                continue
            env = tuple((k, v) for k, v in notice.env if k != "ICECYCLE_LATE")
            notice = replace(notice, env=(*env, ("ICECYCLE_LATE", "1")))
            out.append(Delivery(c.id, notice, True, now, self._file()))
            self.report(Report("retried", f"{notice.title}: its sender stopped; sending it now"))
        return out

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

    def _reminders(self, key: datetime, alarm: datetime, now: datetime) -> list[Delivery]:
        """The latest reminder due, if not yet sent; earlier missed ones are skipped. `key`
        is the moment the alarm was (last) raised: its own, or a held session's start."""
        assert self.cycle is not None
        due = [k for k, t in enumerate(self._reminder_times(key), 1) if t <= now]
        if not due:
            return []
        for k in due[:-1]:
            self._handled.add((self.cycle.id, "off", key, k))
        return self._claim("off", key, due[-1], now, False, lambda: notify.reminder(now, alarm))

    def _record_passed(self, before: datetime, now: datetime, notes: dict[datetime, str]) -> None:
        """Sessions that began and ended with nothing running to alert and nobody acting:
        record them (they count as missed), never send."""
        assert self.cycle is not None and self.acc is not None
        passed = 0
        for s in self.acc.sessions(now, notes):
            if s.status == "missed" and not s.note and s.start < before and not s.reason:
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

    def _next_boundary(self, st: State, next_raise: datetime | None = None) -> datetime | None:
        assert self.cycle is not None
        candidates = []
        if st.held is not None and st.state == "off":  # held: no end by the clock but the window
            candidates.append(self.cycle.window_end)
        elif st.phase is not None:
            candidates.append(st.phase.end)
        elif st.state == "paused":
            candidates.append(self.cycle.window_end)
        if next_raise is not None:
            candidates.append(next_raise)
        if st.alarm is not None:
            key = st.raised or st.alarm
            candidates += [t for t in self._reminder_times(key) if t > st.now][:1]
        return min(candidates) if candidates else None

    # -- delivering ----------------------------------------------------------------------

    async def deliver_async(self, d: Delivery) -> Result:
        """Send one notice on a thread of its own, waiting at most the lease: a notifier
        that hangs in spite of its own limit is abandoned, and holds up nothing else."""
        self._loop = asyncio.get_running_loop()
        self._inflight.add(d.claim_id)
        try:
            fenced = self._fence(d)
            if isinstance(fenced, Result):
                return fenced
            d, send_by = fenced
            result = await _on_own_thread(
                lambda: self._send(d.notice, send_by),
                self.lease.total_seconds(),
                self.notifier.name,
            )
            if not result.ok and result.detail == HELD_UP:
                # Stopped between the fence and the send: the claim is left to its lease.
                self.report(Report("withheld", f"{d.notice.title}: {HELD_UP}", d.notice))
                return result
            self._record(d, result)
        finally:
            self._inflight.discard(d.claim_id)
        return result

    # -- fencing: a claim is sent and settled only by the runner that still holds it -----

    def _fence(self, d: Delivery) -> tuple[Delivery, float | None] | Result:
        """Right before a send: the claim must still be this runner's (a process stopped
        past its lease finds it taken over), in the file it was taken in, and the notice
        still true. Returns the delivery (its lease renewed if needed) and the monotonic
        time the send must start by; or, when it must not be sent, why, as a Result."""
        claimed = d.claimed
        if claimed is None:
            return d, None
        if d.file != self._file():
            return self._withheld(d, "the database was replaced since it was claimed")
        now = self.clock.now()
        if d.claim_id >= 0:
            try:
                if not self.store.holds(d.claim_id, self.owner, claimed):
                    return self._withheld(d, "another icecycle took it over")
                if now - claimed > LEASE_MARGIN / 2:  # queued behind a slow send
                    if not self.store.renew(d.claim_id, self.owner, claimed, now):
                        return self._withheld(d, "another icecycle took it over")
                    claimed = now
                    d = replace(d, claimed=now)
            except StoreError:
                pass  # cannot ask the store: deliver (a duplicate is a nuisance, a loss not)
        if not self._still_true(d.notice):
            if d.claim_id >= 0:
                with contextlib.suppress(StoreError):
                    self.store.record(
                        d.claim_id, now, "superseded", owner=self.owner, claimed=claimed
                    )
            else:
                self._unwritten.pop(d.claim_id, None)
            return self._withheld(d, "no longer true")
        if d.claim_id < 0:
            return d, None
        # Another runner may take the claim over once its lease has run out: the send must
        # begin early enough to end before that.
        left = claimed + LEASE_MARGIN - now
        return d, time.monotonic() + max(left.total_seconds(), 0.0)

    def _still_true(self, notice: Notice) -> bool:
        """Whether the notice still says what is so (read afresh: time may have passed).
        An ice-on notice is true while its session runs; a take-it-off alarm until it is
        answered (late is better than never: the next session may have begun meanwhile)."""
        if notice.moment is None or notice.kind not in ("on", "off", "again", "remind"):
            return True
        try:
            self.reload()
        except StoreError:
            return True
        st = self.state()
        if notice.alarm:
            if st is not None:  # the fold knows what answers an alarm (an ack that comes
                # in the same instant as the pause, before it, confirmed the session)
                return st.alarm is not None and st.alarm <= notice.moment
            return not any(e.kind in ("ack", "off") and e.at >= notice.moment for e in self.events)
        return st is not None and _still_current(notice, st)

    def _withheld(self, d: Delivery, why: str) -> Result:
        self.report(Report("withheld", f"{d.notice.title}: not sent, {why}", d.notice))
        return Result(self.notifier.name, False, f"not sent: {why}")

    def _file(self) -> int:
        """Which database file the store has open (it moves when the store follows a new
        one): a claim taken in one file is never settled in another."""
        return int(getattr(self.store, "generation", 0))

    def _send(self, notice: Notice, send_by: float | None = None) -> Result:
        if send_by is not None and time.monotonic() > send_by:
            return Result(self.notifier.name, False, HELD_UP)
        try:
            return self.notifier.send(notice)
        except Exception as exc:  # a notifier's promise not to raise is not enough
            return Result(self.notifier.name, False, f"{type(exc).__name__}: {exc}")

    def _record(self, d: Delivery, result: Result) -> None:
        now = self.clock.now()
        text = "late" if result.ok and d.late else result.text
        if d.claim_id < 0:
            if d.claim_id in self._unwritten:
                self._unwritten[d.claim_id].result = (now, text)
                self._write_behind(now)
        elif d.file == self._file():
            try:  # (only while the claim is still ours: never over another runner's result)
                owner = self.owner if d.claimed is not None else None
                self.store.record(d.claim_id, now, text, owner=owner, claimed=d.claimed)
            except StoreError:
                self._unrecorded[d.claim_id] = (now, text, d.claimed)  # retried; never resent
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

    def _record_pending(self) -> None:
        for claim_id, (at, text, claimed) in list(self._unrecorded.items()):
            owner = self.owner if claimed is not None else None
            self.store.record(claim_id, at, text, owner=owner, claimed=claimed)
            del self._unrecorded[claim_id]

    def _follow(self) -> bool:
        """Follow the database path to a new file; True if it is a new one."""
        if not self.store.follow():
            return False
        # Another file: its cycles, claims and ids are not the ones we knew.
        self._version, self._phase_seen, self._first = None, None, True
        self._handled.clear()
        self._first_notice.clear()
        self._unrecorded.clear()
        self._unwritten.clear()
        self._refused_since.clear()
        self.report(Report("changed", "the database was replaced; following the new one"))
        return True

    def _decide(self, *, force_reload: bool = False) -> list[Delivery]:
        """What to send now: what is due, then claims others (or we, before a restart)
        left unsettled past their lease."""
        force_reload = self._follow() or force_reload
        self._write_behind(self.clock.now())
        deliveries = self.due(force_reload=force_reload)
        with contextlib.suppress(Exception):  # a courtesy: it must not stop the deliveries
            self._withdraw_passed()
        try:
            return deliveries + self._orphans(self.clock.now())
        except StoreError as exc:  # (a full disk): what is due goes out all the same
            self._error(exc)
            return deliveries

    async def run_once(self, *, force_reload: bool = False) -> list[Result]:
        """Decide and deliver, waiting for every send (tests use this with a fake clock)."""
        return [await self.deliver_async(d) for d in self._decide(force_reload=force_reload)]

    def poke(self) -> None:
        """The host changed the store itself (its own writes do not move data_version)."""
        self._dispatch(force_reload=True)

    def _dispatch(self, *, force_reload: bool = False) -> None:
        """Decide and start the deliveries. Never raises: whatever goes wrong is reported in
        one line and tried again at the next tick."""
        try:
            deliveries = self._decide(force_reload=force_reload)
        except Exception as exc:  # the engine must outlive any one bad moment
            self._retry = True
            self._error(exc)
            return
        self._retry = False
        self._last_error = None
        if deliveries:
            # One moment's notices go out in the order they were decided (the take-it-off
            # alarm before the window's summary); each send has its own time limit.
            task = asyncio.get_running_loop().create_task(self._deliver_in_order(deliveries))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._tell_followers()

    def _tell_followers(self) -> None:
        """After the deliveries have started: the cycle changed, or a boundary passed."""
        if self.on_change is not None:
            with contextlib.suppress(Exception):  # a follower's trouble is its own
                self.on_change()

    async def _deliver_in_order(self, deliveries: list[Delivery]) -> None:
        for d in deliveries:
            await self.deliver_async(d)

    def _error(self, exc: BaseException) -> None:
        """Report an error once (not every second while it lasts)."""
        line = str(exc) if isinstance(exc, StoreError) else _unexpected(exc)
        if line != self._last_error:
            self._last_error = line
            self.report(Report("error", line))

    # -- the scheduler and the tick ------------------------------------------------------

    async def start(self, *, use_scheduler: bool = True, own_tick: bool = True) -> None:
        """Start on the running loop: APScheduler for boundaries, a 1 s tick for the rest.

        A host with its own 1 s timer (the TUI) passes own_tick=False and calls `tick()`.
        Tests with a fake clock pass use_scheduler=False: its jobs run on the real clock.
        """
        self._loop = asyncio.get_running_loop()
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
        """Tick when something may be due, not every second: a change in the data folder
        (inotify), the next boundary or reminder, a lease running out, a retry, or what the
        host asks for (the dashboard's next second or minute). A wall-clock timer, so a
        suspend or a clock set wakes it at once. Without one (not Linux): once a second."""
        from icecycle.watch import LoopWaker

        waker = LoopWaker.create(os.path.dirname(self.store.path), asyncio.get_running_loop())
        self._waker = waker
        try:
            while True:
                if waker is None:
                    await asyncio.sleep(self.tick_s)
                else:
                    await waker.wait(self._seconds_to_wake())
                self.tick()  # never raises
                self._host_tick()
        finally:
            self._waker = None
            if waker is not None:
                waker.close()

    #: The host's next moment of interest, given now (the dashboard: its next second or
    #: minute to draw); and what it does after each tick. Both optional.
    host_wake: Callable[[datetime], datetime | None] | None = None
    after_tick: Callable[[], None] | None = None
    _waker: Any = None

    def wake(self) -> None:
        """Look again now (the host's needs changed: the terminal came to the front)."""
        if self._waker is not None:
            self._waker.poke()

    def next_wake(self, now: datetime) -> datetime | None:
        """The next moment the runner (or its host) has something to do; None: only when
        something changes."""
        moments: list[datetime] = []
        if self.armed is not None:
            moments.append(self.armed)
        if self.cycle is not None:
            # A look anyway now and then while a cycle runs: a moment the boundary does not
            # name (a rule added later) is then late by a minute at most, never missed.
            moments.append(now + SAFETY_LOOK)
        if self._retry:
            moments.append(now + timedelta(seconds=self.tick_s))
        if self._unrecorded or self._unwritten:  # what the store refused: its next try
            moments.append(self._write_due or now + timedelta(seconds=self.tick_s))
        with contextlib.suppress(Exception):  # (a store error is reported by the tick)
            if self.cycle is not None:
                oldest = self.store.oldest_unsettled(self.cycle.id)
                if oldest is not None:  # a claim's lease runs out: deliver it if still due
                    moments.append(max(oldest + self.lease, now + timedelta(seconds=self.tick_s)))
        if self.host_wake is not None:
            with contextlib.suppress(Exception):
                host = self.host_wake(now)
                if host is not None:
                    moments.append(host)
        return min(moments) if moments else None

    def _seconds_to_wake(self) -> float | None:
        try:
            now = self.clock.now()
            at = self.next_wake(now)
        except Exception:
            return self.tick_s
        if at is None:
            return None
        if at <= now:  # (the tick just looked at now: whatever was due is handled)
            return self.tick_s
        return (at - now).total_seconds() + 0.0005

    def _host_tick(self) -> None:
        if self.after_tick is not None:
            try:
                self.after_tick()
            except Exception as exc:
                self._error(exc)

    def tick(self) -> None:
        """Once a second: APScheduler waits on a monotonic clock that stops during suspend,
        so wake it, and look at the wall clock and the store ourselves. Never raises."""
        try:
            now = self.clock.now()
            last, self._last_tick = self._last_tick, now
            if self._scheduler is not None and (
                last is None or abs((now - last).total_seconds() - self.tick_s) > 1.0
            ):
                # The wall clock jumped (a suspend, most likely): APScheduler's timer, on a
                # clock that stopped meanwhile, must look again. (Each second would cost
                # the open dashboard more than all the rest of its tick.)
                self._scheduler.wakeup()
            moved = self._follow() or self.changed()
            stale = False
            if self.cycle is not None and (moved or now >= self._orphans_due):
                # Claims another runner left unsettled: looked for every few seconds (a
                # lease is longer), and at once when the store changed.
                self._orphans_due = now + ORPHAN_LOOK
                oldest = self.store.oldest_unsettled(self.cycle.id)
                stale = oldest is not None and oldest + self.lease <= now
        except Exception as exc:
            self._error(exc)
            return
        if moved:
            self._dispatch(force_reload=True)
            newest = self.events[-1] if self.events else None
            self.report(
                Report(
                    "changed",
                    changed_elsewhere(
                        newest.kind if newest else None, newest.at if newest else None, now
                    ),
                )
            )
        elif self._retry or stale or (self.armed is not None and now >= self.armed):
            self._dispatch()
        self._write_behind(now)  # what a full disk refused, once its wait is over

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
        if isinstance(self.notifier, Answerable):
            self.notifier.close()  # no child waits for an answer nobody would take

    # -- answers from the notification ---------------------------------------------------

    def _heard(self, notice: Notice, answer: str) -> None:
        """A person pressed a button on a notice (called on the notifier's thread): act on
        the loop's thread, which owns the store's connection."""
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop has closed: we are stopping
            loop.call_soon_threadsafe(self.answer, notice, answer)

    def answer(self, notice: Notice, answer: str) -> Report:
        """Apply an answer from a notification as the same action a key or a command would
        be, if its moment is still the current one; report one line either way."""
        label = dict(notice.buttons).get(answer, answer)
        kind = ANSWERS.get(answer)
        if kind is None or not notice.buttons:
            return self._answered(Report("refused", f'"{label}": not an answer icecycle knows'))
        try:
            self.reload()
            st = self.state()
            if st is None or not _still_current(notice, st):
                return self._answered(
                    Report(
                        "refused",
                        f'"{label}" from an earlier notification: that moment has passed; '
                        "nothing was changed",
                    )
                )
            done = actions.act(self.store, kind, self.clock.now, "commands")
        except Refused as exc:
            return self._answered(Report("refused", f'"{label}" was not applied: {exc}'))
        except StoreError as exc:
            return self._answered(Report("error", f'"{label}" was not saved: {exc}'))
        line = confirmation(done.kind, done.before, done.after, done.acc, "commands")
        self._dispatch(force_reload=True)  # the reminders stop now, not at the next tick
        return self._answered(Report("answered", f'"{label}" from the notification: {line}'))

    def _answered(self, report: Report) -> Report:
        self.report(report)
        return report

    def _withdraw_passed(self) -> None:
        """Close the waiting notice once its moment has passed (answered in the dashboard or
        from the command line, or the session ended): its buttons would only be refused."""
        if not isinstance(self.notifier, Answerable):
            return
        waiting = self.notifier.waiting()
        st = self.state()
        if waiting is not None and st is not None and not _still_current(waiting, st):
            self.notifier.withdraw()


def _still_current(notice: Notice, st: State) -> bool:
    """Whether an answer to `notice` still applies: the same session, or the same alarm."""
    if notice.kind == "on":
        return st.state == "on" and st.phase is not None and st.phase.start == notice.moment
    return notice.alarm and st.alarm is not None and st.alarm == notice.moment


def _raised_again(st: State, alarm: datetime) -> Notice:
    """The take-it-off alarm raised again at a session start it held."""
    return Notice("again", HELD_TITLE, held_alarm_body(st), "critical", moment=alarm)


def _never_raising(report: Callable[[Report], None]) -> Callable[[Report], None]:
    """A host's report callback that fails (a closed log, a full disk) must not take a
    delivery or the tick down with it."""

    def safe(r: Report) -> None:
        with contextlib.suppress(Exception):
            report(r)

    return safe


def _dump(notice: Notice) -> str:
    return json.dumps(
        {
            "kind": notice.kind,
            "title": notice.title,
            "body": notice.body,
            "urgency": notice.urgency,
            "env": [list(pair) for pair in notice.env],
            "moment": notice.moment.isoformat() if notice.moment else None,
        }
    )


def _load(text: str) -> Notice | None:
    """A stored notice, or None if it is not one (then it cannot be resent, only kept)."""
    try:
        doc = json.loads(text)
        kind = doc["kind"]
        if kind not in ("on", "off", "again", "remind", "done", "test"):
            return None
        return Notice(
            kind,
            str(doc["title"]),
            str(doc["body"]),
            doc["urgency"] if doc["urgency"] in ("low", "normal", "critical") else "critical",
            tuple((str(k), str(v)) for k, v in doc.get("env", [])),
            datetime.fromisoformat(doc["moment"]) if doc.get("moment") else None,
        )
    except (ValueError, TypeError, KeyError):
        return None


async def _on_own_thread(send: Callable[[], Result], limit: float, backend: str) -> Result:
    """Run `send` on a daemon thread and wait at most `limit` seconds for it. A thread of its
    own each time: a send that never returns must not take a pool slot from the next one."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Result] = loop.create_future()

    def settle(result: Result) -> None:
        if not done.done():
            done.set_result(result)

    def work() -> None:
        result = send()
        with contextlib.suppress(RuntimeError):  # the loop closed while we were sending
            loop.call_soon_threadsafe(settle, result)

    threading.Thread(target=work, name="icecycle-send", daemon=True).start()
    try:
        return await asyncio.wait_for(asyncio.shield(done), limit)
    except TimeoutError:
        return Result(backend, False, f"no answer within {limit:g}s; abandoned")


def _unexpected(exc: BaseException) -> str:
    where = ""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is not None:
        where = f" at {os.path.basename(tb.tb_frame.f_code.co_filename)}:{tb.tb_lineno}"
    return (
        f"unexpected {type(exc).__name__}: {exc}{where}; carrying on "
        "(please report it: ICECYCLE_DEBUG=1 shows details)"
    )
