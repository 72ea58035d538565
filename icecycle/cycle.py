"""The cycle: settings, events, and the pure fold of events into the state at a moment.

Value types are NamedTuples: `icecycle status` imports this module, and
`dataclasses` (with `inspect`) costs more to import than the whole status takes otherwise.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Literal, NamedTuple

__all__ = [
    "ACTIONS",
    "ALLOWED",
    "Counts",
    "Cycle",
    "Event",
    "Fold",
    "Phase",
    "Session",
    "Settings",
    "State",
    "fold",
    "pain_scores",
    "sessions",
]

PhaseKind = Literal["on", "off"]
StateName = Literal["on", "off", "paused", "done", "idle"]
SessionStatus = Literal["done", "skipped", "missed", "in progress", "upcoming"]
Action = Literal["on", "off", "skip", "pause", "resume", "ack", "stop"]
#: Why an action does not apply now (text.refusal turns each into words).
Reason = Literal["state", "no-room", "nothing-to-ack", "nothing-to-skip"]
#: What ended a stretch of the schedule: the person's action, or its own end ("time").
EndedBy = Literal["time", "on", "off", "skip", "pause", "resume", "stop", "ack", "held"]
ON: PhaseKind = "on"
OFF: PhaseKind = "off"

ACTIONS: tuple[Action, ...] = ("on", "off", "skip", "pause", "resume", "ack", "stop")

#: Which states each action can apply to. `Fold.check` has the precise answer (an ice
#: session must fit before the window ends; `ack` needs something to acknowledge).
ALLOWED: Mapping[str, frozenset[str]] = {
    "on": frozenset({"off", "paused"}),
    "off": frozenset({"on"}),
    "skip": frozenset({"on", "off"}),
    "pause": frozenset({"on", "off"}),
    "resume": frozenset({"paused"}),
    "ack": frozenset({"on", "off", "paused", "done"}),
    "stop": frozenset({"on", "off", "paused", "done"}),
}


class Settings(NamedTuple):
    on_s: int = 25 * 60
    off_s: int = 90 * 60
    window_s: int = 72 * 3600

    @property
    def on(self) -> timedelta:
        return timedelta(seconds=self.on_s)

    @property
    def off(self) -> timedelta:
        return timedelta(seconds=self.off_s)

    @property
    def window(self) -> timedelta:
        return timedelta(seconds=self.window_s)

    def length(self, kind: PhaseKind) -> timedelta:
        return self.on if kind == ON else self.off


#: The shortest and longest each setting may be, in seconds (the short ends are for trying
#: icecycle out); the command line, the config file and the start screen all check these.
LIMITS: Mapping[str, tuple[int, int]] = {
    "on": (1, 2 * 3600),
    "off": (1, 24 * 3600),
    "window": (5, 7 * 86400),
}


class Cycle(NamedTuple):
    id: int
    window_start: datetime
    settings: Settings

    @property
    def window_end(self) -> datetime:
        return self.window_start + self.settings.window


class Event(NamedTuple):
    kind: str
    at: datetime
    data: str | None = None
    id: int = 0


class Phase(NamedTuple):
    kind: PhaseKind
    start: datetime
    end: datetime
    #: Begun without the ice coming off by the clock (start, on, off, skip, resume): an
    #: ice-off phase with this set has no take-it-off alarm of its own.
    by_person: bool = False

    @property
    def length(self) -> timedelta:
        return self.end - self.start


class Counts(NamedTuple):
    """The sessions of a cycle, counted one way everywhere: done + skipped + missed + left
    is every session the schedule held; confirmed is part of done."""

    done: int = 0
    confirmed: int = 0
    skipped: int = 0
    missed: int = 0
    left: int = 0


class State(NamedTuple):
    state: StateName
    now: datetime
    phase: Phase | None
    next_change: datetime | None
    cycle: Cycle | None
    done: int = 0
    skipped: int = 0
    left: int = 0
    stopped: bool = False
    #: Ice on: the person confirmed this session. Otherwise: no take-it-off alarm is open.
    acknowledged: bool = False
    #: Rest still owed since the ice last came off (zero when rested enough).
    rest_owed: timedelta = timedelta(0)
    #: Inside quiet hours: the rest goes on until then, and the next session starts then.
    quiet_until: datetime | None = None
    #: This rest runs into quiet hours: no session until then.
    quiet_next: datetime | None = None
    confirmed: int = 0
    missed: int = 0
    #: When the ice should have come off, while nobody has said it is off: the alarm is on.
    alarm: datetime | None = None
    #: The start of the session that alarm belongs to (None: no alarm open).
    alarm_session: datetime | None = None
    #: The schedule is held by the open alarm: the first session start that did not begin
    #: because of it (None: not held). Answering starts a whole rest from the answer.
    held: datetime | None = None
    #: The latest would-be session start while held, when the alarm was raised again.
    raised: datetime | None = None

    @property
    def counts(self) -> Counts:
        return Counts(self.done, self.confirmed, self.skipped, self.missed, self.left)

    @property
    def phase_remaining(self) -> timedelta:
        return self.phase.end - self.now if self.phase else timedelta(0)

    @property
    def window_elapsed(self) -> timedelta:
        if self.cycle is None:
            return timedelta(0)
        elapsed = self.now - self.cycle.window_start
        return max(timedelta(0), min(elapsed, self.cycle.settings.window))

    @property
    def window_remaining(self) -> timedelta:
        if self.cycle is None:
            return timedelta(0)
        return self.cycle.settings.window - self.window_elapsed


IDLE_STATE_KIND: StateName = "idle"


class Session(NamedTuple):
    start: datetime
    end: datetime
    status: SessionStatus
    confirmed: bool = False
    #: What the runner recorded for it: "sent", "late", "failed", "passed" or "" (nothing).
    note: str = ""
    #: What ended it, for one that ended: "time" (its full length), or the person's action.
    ended_by: str = ""
    #: Why a missed session did not begin: "held" (a take-it-off alarm was unanswered).
    reason: str = ""


class _Segment(NamedTuple):
    """From an anchor on, the phases alternate by themselves with the standard lengths.

    Inside the fold, times are integer microseconds since the epoch: the same instants as
    the datetimes at the edges, at a tenth of the cost per event.
    """

    start: int
    first: PhaseKind
    first_len: int
    by_person: bool


class _Hold(NamedTuple):
    """Where a segment's alternation stops: the first automatic ice-on start `x` that may
    not happen (inside quiet hours, or too late to fit before the window ends). The rest
    before it (from `off_start`) runs on until `resume` (quiet hours' end), or to the end."""

    x: int
    off_start: int
    by_person: bool
    resume: int | None
    quiet: bool
    #: Held by an unanswered take-it-off alarm: the first session start that may not begin
    #: (the rest runs on until someone answers), and the hold it replaced (whose sessions
    #: are the ones that would have begun).
    held: int | None = None
    then: _Hold | None = None


class _P(NamedTuple):
    """A phase in microseconds (the fold's own form of Phase)."""

    kind: PhaseKind
    start: int
    end: int
    by_person: bool


class _Closed(NamedTuple):
    seg: _Segment
    hold: _Hold | None
    end: int
    ended_by: EndedBy


#: A session inside the fold: start, end, status (None: ended, not yet classified), what
#: ended it.
_Row = tuple[int, int, "SessionStatus | None", "EndedBy"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def _us(moment: datetime) -> int:
    return (moment - _EPOCH) // _US


def _dt(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _phase(p: _P) -> Phase:
    return Phase(p.kind, _dt(p.start), _dt(p.end), p.by_person)


class Fold:
    """The events of one cycle folded so far. `apply` takes them one at a time, in order.

    Rules (DESIGN.md, "The cycle: rules"): an ice session is scheduled only if it fits
    whole before the window ends, so the window ends in rest; an automatic session that
    would start inside quiet hours waits (the rest goes on) until they end; every session
    that ends other than by `off` or `skip` leaves a take-it-off alarm open until answered.
    """

    def __init__(self, cycle: Cycle, notes: Mapping[datetime, str] | None = None) -> None:
        self.cycle = cycle
        s = cycle.settings
        self.on, self.off = s.on_s * 1_000_000, s.off_s * 1_000_000
        self.period = self.on + self.off
        self.start_us = _us(cycle.window_start)
        self.end_us = _us(cycle.window_end)
        self.seg: _Segment | None = None
        self.hold: _Hold | None = None
        self.paused_at: int | None = None
        self.stopped_at: int | None = None
        self.last_off: int | None = None
        self.last_at: int | None = None
        self.closed: list[_Closed] = []
        self.skipped_ahead: list[tuple[int, int]] = []
        self.confirmed: set[int] = set()
        #: When someone answered a take-it-off alarm (`ack`, or `off` while it rang).
        self.answered: list[int] = []
        self.ignored = 0
        self._rows_cache: tuple[object, list[_Row]] | None = None
        self.quiet: tuple[int, int] | None = None  # minutes after local midnight
        self.tz: tzinfo | None = None  # None: the system's local time
        #: What the runner recorded for each session (by start, in microseconds); None: no
        #: notes given, so no session counts as missed and nothing holds the plan.
        self.notes_us: dict[int, str] | None = _notes_us(notes)
        self.notes_key = _announced(self.notes_us)
        #: The starts of the sessions someone was told of or confirmed, sorted.
        self._ann: list[int] = sorted(self.notes_key) if self.notes_key is not None else []
        #: The take-it-off alarm open at `anchor` (its time, its session's start), if any.
        self.carry: tuple[int, int] | None = None
        self.anchor = 0
        #: An alarm the cycle before left open (a new cycle started over it).
        self.initial_alarm: tuple[int, int] | None = None
        self._events: list[Event] = []
        self._other: Fold | None = None  # the same events folded with other notes

    # -- phase arithmetic (O(1) within a segment) --------------------------------------

    def _first_auto(self, seg: _Segment) -> int:
        return seg.start + seg.first_len + (self.off if seg.first == ON else 0)

    def _at(self, seg: _Segment, hold: _Hold | None, t: int) -> _P:
        """The phase of the segment running at t (its first phase for any t before it)."""
        if hold is not None and t >= hold.off_start:
            if hold.held is not None:  # the usual rest, then (unanswered) on and on
                end = hold.held if t < hold.held else self.end_us
            else:
                end = hold.resume if hold.resume is not None else self.end_us
            return _P(OFF, hold.off_start, max(end, hold.off_start), hold.by_person)
        offset = t - seg.start
        if offset < seg.first_len:
            end = seg.start + seg.first_len
            if seg.first == ON:
                end = min(end, self.end_us)
            return _P(seg.first, seg.start, end, seg.by_person)
        other: PhaseKind = OFF if seg.first == ON else ON
        n, into = divmod(offset - seg.first_len, self.period)
        base = seg.start + seg.first_len + n * self.period
        first_len = self.on if other == ON else self.off
        if into < first_len:
            return _P(other, base, base + first_len, False)
        kind = seg.first
        return _P(kind, base + first_len, base + self.period, False)

    def _find_hold(self, seg: _Segment, after: int = 0) -> _Hold:
        """The first automatic ice-on start of seg (from `after`) that may not happen."""
        fa, period = self._first_auto(seg), self.period
        latest = self.end_us - self.on  # the last moment a whole session can start
        k = 0 if fa > latest else (latest - fa) // period + 1
        x, resume, quiet = fa + k * period, None, False
        if self.quiet is not None:
            low = max(fa, after)
            for qs, qe in self._quiet_intervals(low, min(x, self.end_us)):
                target = max(qs, low)
                q = fa + max(0, -((fa - target) // period)) * period
                if q < qe and q < x:
                    x, quiet = q, True
                    resume = qe if qe <= latest else None
                    break
        if x == fa and seg.first == OFF:
            return _Hold(x, seg.start, seg.by_person, resume, quiet)
        return _Hold(x, x - self.off, False, resume, quiet)

    def _quiet_intervals(self, low: int, high: int) -> Iterator[tuple[int, int]]:
        """Quiet hours as instants, in order, for every local night between low and high."""
        assert self.quiet is not None
        qs_min, qe_min = self.quiet
        day = _local_date(low, self.tz) - timedelta(days=1)
        last = _local_date(high, self.tz) + timedelta(days=1)
        while day <= last:
            qs = _local_us(day, qs_min, self.tz)
            qe = _local_us(day + timedelta(days=1 if qe_min <= qs_min else 0), qe_min, self.tz)
            if qe > low and qs < high:
                yield qs, qe
            day += timedelta(days=1)

    def quiet_spans(self, low: datetime, high: datetime) -> list[tuple[datetime, datetime]]:
        """The quiet hours between two moments (for pictures of the window)."""
        if self.quiet is None:
            return []
        return [(_dt(a), _dt(b)) for a, b in self._quiet_intervals(_us(low), _us(high))]

    def _current(self, t: int) -> tuple[_Segment | None, _Hold | None, list[_Closed]]:
        """The running segment at t: after quiet hours end, a new one begins by itself."""
        seg, hold, passed = self.seg, self.hold, []
        while (
            seg is not None
            and hold is not None
            and hold.resume is not None
            and hold.resume <= t
            and self.stopped_at is None
        ):
            passed.append(_Closed(seg, hold, hold.resume, "time"))
            seg = _Segment(hold.resume, ON, self.on, False)
            hold = self._hold_for(seg, seg.start, None)
        return seg, hold, passed

    def _set_seg(self, seg: _Segment | None, after: int = 0, q: _Hold | None = None) -> None:
        """Run seg from `after` on (its quiet or window hold q, if already worked out)."""
        self.seg = seg
        self.anchor = after
        self.hold = self._hold_for(seg, after, self.carry, q) if seg is not None else None

    def _keep_seg(self, after: int, q_after: int | None = None) -> None:
        """The same segment, its alarm hold worked out again from `after` (an answer, a
        confirmation, other quiet hours from q_after on)."""
        assert self.seg is not None and self.hold is not None
        if q_after is not None:
            q = self._find_hold(self.seg, q_after)
        else:
            q = self.hold.then if self.hold.then is not None else self.hold
        self._set_seg(self.seg, after, q)

    # -- the hold of an unanswered alarm ---------------------------------------------------

    def _hold_for(
        self, seg: _Segment, after: int, carry: tuple[int, int] | None, q: _Hold | None = None
    ) -> _Hold:
        """seg's hold: the quiet hours' or the window's, or, sooner, the first session start
        (from `after`) that comes while a take-it-off alarm is open: `carry` (open at
        `after`), or that of the first session announced in seg that has not ended by then.
        """
        if q is None:
            q = self._find_hold(seg)
        if self.notes_key is None:
            return q  # no notes, so nothing known of who was told: the plan as made
        if seg.first == ON and seg.by_person:
            # `on` or `start`: the person began this session, and the alarm before it is
            # over. (`resume` owing no rest does not: with an alarm open it stays held.)
            carry = None
        x: int | None
        if carry is not None:
            x = self._next_on(seg, q, after)
        else:
            s = self._first_announced(seg, q, after)
            x = None if s is None else s + self.period
        if x is None:
            return q
        if x < q.x:
            if x == self._first_auto(seg) and seg.first == OFF:
                return _Hold(x, seg.start, seg.by_person, None, False, x, q)
            return _Hold(x, x - self.off, False, None, False, x, q)
        if q.resume is not None:  # still open when quiet hours end: that session waits too
            return q._replace(resume=None, held=q.resume, then=q)
        return q

    def _next_on(self, seg: _Segment, q: _Hold, after: int) -> int:
        """The first session start of seg at or after `after` (q.x or later: none before)."""
        p = self._at(seg, q, after)
        if p.kind == ON:
            return p.start if p.start >= after else p.end + self.off
        return q.x if p.start == q.off_start else p.end

    def _first_announced(self, seg: _Segment, q: _Hold, after: int) -> int | None:
        """The start of seg's first session that someone was told of, began or confirmed,
        and that has not ended by `after` (None: none before q.x)."""
        if _person_on(seg) and seg.start + self.on > after:
            return seg.start
        ann = self._ann
        for i in range(bisect_left(ann, max(seg.start, after - self.on + 1)), len(ann)):
            a = ann[i]
            if a >= q.x:
                break
            p = self._at(seg, q, a)
            if p.kind == ON and p.start == a:
                return a
        return None

    def _open_at(self, seg: _Segment | None, hold: _Hold | None, t: int) -> tuple[int, int] | None:
        """The take-it-off alarm open at t (before an event there), as the fold sees it."""
        if self.carry is not None or seg is None or hold is None:
            return self.carry
        q = hold.then if hold.then is not None else hold
        s = self._first_announced(seg, q, self.anchor)
        if s is not None and s + self.on <= t and s + self.on <= self.end_us:
            return (s + self.on, s)
        return None

    # -- reading -----------------------------------------------------------------------

    def _clamp(self, moment: datetime) -> int:
        t = _us(moment)
        return t if self.last_at is None or t > self.last_at else self.last_at

    def _name(self, seg: _Segment | None, hold: _Hold | None, t: int) -> StateName:
        if self.stopped_at is not None or t >= self.end_us:
            return "done"
        if seg is None:
            return "paused" if self.paused_at is not None else IDLE_STATE_KIND
        return self._at(seg, hold, t).kind

    def kind_at(self, moment: datetime) -> StateName:
        """The state's name at a moment (never before the last event: time runs forward)."""
        t = self._clamp(moment)
        seg, hold, _ = self._current(t)
        return self._name(seg, hold, t)

    def _alarm(self, rows: list[_Row], t: int) -> tuple[int, int] | None:
        """When the ice should have come off, if nobody has answered that yet: the end of
        the last session that ended other than by `off`, `skip` or `stop` (its length, a
        pause, the window end), unless a session began since. A missed session neither
        raises an alarm nor silences an earlier one (nothing told them to put ice on)."""
        if self.stopped_at is not None:
            return None
        alarm = self.initial_alarm  # one the cycle before left open
        skipped_ahead = set(self.skipped_ahead)
        for start, end, status, ended_by in rows:
            if start > t or status in ("upcoming", "missed"):
                continue
            if status == "in progress":
                alarm = None
            elif (start, end) in skipped_ahead:
                continue  # skipped before it began: it never happened
            else:
                alarm = None if ended_by in ("off", "skip", "stop") else (end, start)
        if alarm is None or alarm[0] > t or any(a >= alarm[0] for a in self.answered):
            return None
        return alarm

    def check(
        self, kind: str, now: datetime, notes: Mapping[datetime, str] | None = None
    ) -> Reason | None:
        """None if the action applies at `now`, else why not."""
        if notes is not None and self._for(notes) is not self:
            return self._for(notes).check(kind, now)
        t = self._clamp(now)
        seg, hold, passed = self._current(t)
        name = self._name(seg, hold, t)
        if kind == "ack" and name != ON:
            rows = self._classified(t, seg, hold, passed)
            return None if self._alarm(rows, t) is not None else "nothing-to-ack"
        return self._check(kind, t, seg, hold, name)

    def _check(
        self, kind: str, t: int, seg: _Segment | None, hold: _Hold | None, name: StateName
    ) -> Reason | None:
        """check's answer from what the caller already worked out (all but an alarm)."""
        if kind == "ack" and name == ON:
            assert seg is not None
            return "nothing-to-ack" if self._at(seg, hold, t).start in self.confirmed else None
        if name not in ALLOWED.get(kind, ()):
            return "state"
        if kind == "on" and t + self.on > self.end_us:
            return "no-room"
        if kind == "skip" and name == OFF:
            assert seg is not None
            p = self._at(seg, hold, t)
            if p.end + self.on > self.end_us or (
                hold is not None
                and p.start == hold.off_start
                and (hold.resume is None if hold.held is None else t >= hold.held)
            ):
                return "nothing-to-skip"
        return None

    def state_at(self, now: datetime, notes: Mapping[datetime, str] | None = None) -> State:
        """The state at `now`, by arithmetic from the last anchor.

        `notes` (what the runner recorded for each session, by start) tells sessions that
        passed with nothing running to alert (missed) from those that were notified; without
        them, no session counts as missed.
        """
        if notes is not None and self._for(notes) is not self:
            return self._for(notes).state_at(now)
        t = self._clamp(now)
        seg, hold, passed = self._current(t)
        cyc = self.cycle
        name = self._name(seg, hold, t)
        rows = self._classified(t, seg, hold, passed)
        counts = _count(rows, self.confirmed)
        open_alarm = self._alarm(rows, t)
        alarm = open_alarm[0] if open_alarm is not None else None
        alarm_dt = _dt(alarm) if alarm is not None else None
        rest_owed = timedelta(microseconds=self._rest_owed(seg, hold, t))
        held = raised = None
        if (
            name in (OFF, "done")
            and self.stopped_at is None
            and hold is not None
            and hold.held is not None
            and t >= hold.held
        ):
            starts = [a for a, _b, _s, by in rows if by == "held" and hold.held <= a <= t]
            if starts:
                held, raised = _dt(hold.held), _dt(max(starts))
        common = {
            "done": counts.done,
            "skipped": counts.skipped,
            "left": counts.left,
            "confirmed": counts.confirmed,
            "missed": counts.missed,
            "rest_owed": rest_owed,
            "alarm": alarm_dt,
            "alarm_session": _dt(open_alarm[1]) if open_alarm is not None else None,
            "held": held,
            "raised": raised,
        }
        if name in ("done", "paused", "idle") or seg is None:
            return State(
                name,
                now,
                None,
                None,
                cyc,
                stopped=self.stopped_at is not None,
                acknowledged=alarm is None,
                **common,  # type: ignore[arg-type]
            )
        p = self._at(seg, hold, t)
        if held is not None and name == OFF:  # as if answered now: a whole rest from now
            p = next(self._ahead(t))
        quiet_next = quiet_until = None
        qh = hold
        if hold is not None and hold.then is not None and hold.x == hold.then.x:
            # The alarm is still open at quiet hours' end: they are quiet all the same.
            qh = hold.then if held is None else None
        if p.kind == OFF and qh is not None and qh.quiet and p.start == qh.off_start:
            quiet_next = _dt(qh.resume) if qh.resume is not None else None
            if t >= qh.x and qh.resume is not None:
                quiet_until = quiet_next
        acked = p.start in self.confirmed if p.kind == ON else alarm is None
        phase = _phase(p)
        return State(
            p.kind,
            now,
            phase,
            phase.end,
            cyc,
            acknowledged=acked,
            quiet_until=quiet_until,
            quiet_next=quiet_next,
            **common,  # type: ignore[arg-type]
        )

    def _rest_owed(self, seg: _Segment | None, hold: _Hold | None, t: int) -> int:
        if seg is None:
            came_off = self.last_off
        else:
            p = self._at(seg, hold, t)
            if p.kind == ON:
                return 0
            came_off = self.last_off if p.by_person else p.start
        if came_off is None:
            return 0
        return max(0, self.off - (t - came_off))

    def _resumed(self, t: int) -> _Segment:
        """After a pause: the rest still owed first (none: ice on now)."""
        return _Segment(t, OFF, self._rest_owed(None, None, t), True)

    # -- the schedule and the sessions ---------------------------------------------------

    def _walk(self, seg: _Segment, hold: _Hold | None, t: int, until: int) -> Iterator[_P]:
        """Phases from the one at t, following quiet hours' ends, while they start < until."""
        until = min(until, self.end_us)
        p = self._at(seg, hold, t)
        while p.start < until:
            yield p
            if p.end >= self.end_us:
                return
            if hold is not None and p.start == hold.off_start:
                if hold.resume is None:
                    return
                seg = _Segment(hold.resume, ON, self.on, False)
                hold = self._find_hold(seg)
            p = self._at(seg, hold, p.end)

    def next_raise(
        self, now: datetime, notes: Mapping[datetime, str] | None = None
    ) -> datetime | None:
        """While the open alarm holds the schedule: the next would-be session start after
        `now`, when the alarm is raised again (None: not held, or none left)."""
        f = self._for(notes) if notes is not None else self
        t = f._clamp(now)
        seg, hold, _ = f._current(t)
        if seg is None or hold is None or hold.held is None or f._name(seg, hold, t) != OFF:
            return None
        for p in f._walk(seg, hold.then, max(t, hold.held), f.end_us):
            if p.kind == ON and p.start > t:
                return _dt(p.start)
        return None

    def phases_from(self, now: datetime, limit: int | None = None) -> list[Phase]:
        """The schedule ahead from the phase at `now` (as if resumed now, when paused)."""
        t = self._clamp(now)
        out = []
        for p in self._ahead(t):
            out.append(_phase(p))
            if limit is not None and len(out) >= limit:
                break
        return out

    def _ahead(self, t: int) -> Iterator[_P]:
        if self.stopped_at is not None or t >= self.end_us:
            return
        seg, hold, _ = self._current(t)
        if seg is None:
            seg = self._resumed(t)
            hold = self._find_hold(seg)
            t = seg.start
        elif hold is not None and hold.held is not None and t >= hold.held:
            # Held: the plan as if the alarm were answered now (a whole rest from now).
            new = _Segment(t, OFF, self.off, True)
            ahead = self._walk(new, self._find_hold(new), t, self.end_us)
            first = next(ahead)
            yield _P(OFF, hold.off_start, first.end, hold.by_person)
            yield from ahead
            return
        elif hold is not None and hold.then is not None:
            hold = hold.then  # ahead of now, the alarm is taken to be answered in time
        yield from self._walk(seg, hold, t, self.end_us)

    def _rows(
        self, t: int, seg: _Segment | None, hold: _Hold | None, passed: list[_Closed]
    ) -> list[tuple[int, int, SessionStatus | None, EndedBy]]:
        """Every session as (start, end, status or None if it ended, what ended it)."""
        rows: list[tuple[int, int, SessionStatus | None, EndedBy]] = []
        for c in (*self.closed, *passed):
            end = min(c.end, self.end_us)
            for p in self._walk(c.seg, c.hold, c.seg.start, end):
                if p.kind == ON:
                    if p.end <= end:
                        rows.append((p.start, p.end, None, "time"))
                    else:
                        rows.append((p.start, end, None, c.ended_by))
            if c.ended_by in ("off", "skip", "pause", "stop") and c.end < self.end_us:
                p = self._at(c.seg, c.hold, c.end)
                if p.kind == ON and p.start == c.end:  # acted on in the instant it began
                    rows.append((p.start, p.start, None, c.ended_by))
            rows += self._held_rows(c.seg, c.hold, end)
        rows += [(x, e, "skipped", "skip") for x, e in self.skipped_ahead]
        if seg is not None:
            for p in self._walk(seg, hold, seg.start, min(t, self.end_us) + 1):
                if p.kind == ON and (p.end <= t or t >= self.end_us):
                    rows.append((p.start, p.end, None, "time"))
            rows += self._held_rows(seg, hold, min(t, self.end_us) + 1)
        if self.stopped_at is None and t < self.end_us:
            for p in self._ahead(t):
                if p.kind == ON:
                    under_way = seg is not None and p.start <= t
                    status: SessionStatus = "in progress" if under_way else "upcoming"
                    rows.append((p.start, p.end, status, "time"))
        rows.sort(key=lambda r: (r[0], r[1]))  # stable: same-instant rows in event order
        return rows

    def _held_rows(self, seg: _Segment, hold: _Hold | None, until: int) -> list[_Row]:
        """The sessions an open alarm held (missed), of those starting before `until`."""
        if hold is None or hold.held is None:
            return []
        return [
            (p.start, p.end, "missed", "held")
            for p in self._walk(seg, hold.then, hold.held, until)
            if p.kind == ON and p.start >= hold.held
        ]

    def _status(
        self,
        start: int,
        end: int,
        status: SessionStatus | None,
        ended_by: EndedBy,
        notes: Mapping[int, str] | None,
    ) -> SessionStatus:
        if status is not None:
            return status
        confirmed = start in self.confirmed
        if ended_by == "skip":
            return "skipped"
        if ended_by in ("pause", "stop", "on", "resume") and not confirmed:
            # Cut short before anyone confirmed it: done only if it ran half its length.
            return "done" if 2 * (end - start) >= self.on else "skipped"
        if (
            ended_by == "time"
            and not confirmed
            and notes is not None
            and notes.get(start, "") in ("", "passed")
            and not self._begun_by_person(start)
        ):
            return "missed"
        return "done"

    def _begun_by_person(self, start: int) -> bool:
        return any(c.seg.start == start and c.seg.by_person for c in self.closed) or (
            self.seg is not None and self.seg.start == start and self.seg.by_person
        )

    def sessions(self, now: datetime, notes: Mapping[datetime, str] | None = None) -> list[Session]:
        """Every ice session of the cycle, past, current and (as scheduled now) upcoming."""
        if notes is not None and self._for(notes) is not self:
            return self._for(notes).sessions(now)
        t = self._clamp(now)
        seg, hold, passed = self._current(t)
        notes_us = self.notes_us
        return [
            Session(
                _dt(a),
                _dt(b),
                self._status(a, b, status, by, notes_us),
                a in self.confirmed,
                (notes_us or {}).get(a, ""),
                "" if status in ("in progress", "upcoming") or by == "held" else by,
                "held" if by == "held" else "",
            )
            for a, b, status, by in self._rows(t, seg, hold, passed)
        ]

    def with_notes(self, notes: Mapping[datetime, str]) -> Fold:
        """These events folded with these notes (itself, if they announce the same)."""
        return self._for(notes)

    def _for(self, notes: Mapping[datetime, str]) -> Fold:
        """These events folded with these notes: which sessions were announced decides
        where an unanswered alarm holds the schedule. Kept and caught up, not redone."""
        notes_us = _notes_us(notes)
        key = _announced(notes_us)
        if key == self.notes_key:
            if notes_us != self.notes_us:
                self.notes_us = notes_us  # the same sessions announced; new words only
                self._rows_cache = None
            return self
        other = self._other
        if other is None or other.notes_key != key or len(other._events) > len(self._events):
            other = self._other = Fold(self.cycle, notes)
        for event in self._events[len(other._events) :]:
            other.apply(event)
        other.notes_us = notes_us
        return other

    def _classified(
        self,
        t: int,
        seg: _Segment | None,
        hold: _Hold | None,
        passed: list[_Closed],
    ) -> list[_Row]:
        # Within one phase the list cannot change (a session ends or begins only at a
        # boundary), so the dashboard's every second reuses it; paused, the plan "as if
        # resumed now" moves with the clock, so it is worked out each time.
        phase = self._at(seg, hold, t) if seg is not None else None
        if hold is not None and hold.held is not None and hold.held <= t < self.end_us:
            phase = None  # held: the plan "as if answered now" moves with the clock
        notes = self.notes_us
        key = (
            (phase.start, phase.kind) if phase is not None else t,
            t >= self.end_us,
            self.seg,
            self.hold,
            len(self.closed),
            len(passed),
            len(self.confirmed),
            len(self.skipped_ahead),
            self.stopped_at,
            self.paused_at,
            None if notes is None else tuple(notes.items()),
        )
        if self._rows_cache is not None and self._rows_cache[0] == key:
            return self._rows_cache[1]
        rows: list[_Row] = [
            (a, b, self._status(a, b, status, by, notes), by)
            for a, b, status, by in self._rows(t, seg, hold, passed)
        ]
        self._rows_cache = (key, rows)
        return rows

    # -- folding -----------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        # Events are stored in order; a clock that stepped back must not reorder the past.
        t = (event.at - _EPOCH) // _US
        if self.last_at is not None and t < self.last_at:
            t = self.last_at
        self._events.append(event)
        seg, hold, passed = self._current(t)
        if passed:
            self.closed += passed
            self.seg, self.hold = seg, hold
            self.carry, self.anchor = None, passed[-1].end  # (else it would hold there)
        self.last_at = t
        kind = event.kind
        if kind == "started":
            self._set_quiet(event.data)
            rest = _rest_first(event.data)
            self.carry = self.initial_alarm = _alarm_left(event.data)
            if rest > 0:  # it replaced a cycle whose ice was on: the rest comes first
                # (owed from this moment on, whatever this cycle's own rest is)
                self.last_off = t - (self.off - min(rest, self.off))
                self._set_seg(_Segment(t, OFF, min(rest, self.off), True), t)
            else:
                self._set_seg(_Segment(t, ON, self.on, True), t)
            return
        if kind == "quiet":  # the quiet hours changed from here on
            self._set_quiet(event.data)
            if self.seg is not None:
                self.carry = self._open_at(seg, hold, t)
                self._keep_seg(t, t)
            return
        if kind not in ACTIONS:
            return  # pain scores, exports and the like: not part of the schedule
        name = self._name(seg, hold, t)
        if kind == "off" and name != ON:
            kind = "ack"  # "I took it off" while the alarm rings answers the alarm
        # A stored `ack` that answers nothing changes nothing (the actions refuse it first).
        if kind == "ack" and name != ON:
            applies = name in ALLOWED["ack"]
        else:
            applies = self._check(kind, t, seg, hold, name) is None
        if not applies:
            self.ignored += 1
            return
        if kind == "ack":
            if name == ON:
                assert seg is not None
                start = self._at(seg, hold, t).start
                self.confirmed.add(start)
                if self.notes_key is not None:
                    insort(self._ann, start)
                self._keep_seg(t)  # a confirmed session is one someone knows of
            elif seg is not None and hold is not None and hold.held is not None and t >= hold.held:
                # Answered while it held the schedule: a whole rest from the answer.
                self.answered.append(t)
                self._end_segment(t, "ack")
                self.last_off, self.carry = t, None
                self._set_seg(_Segment(t, OFF, self.off, True), t)
            else:
                self.answered.append(t)  # before the next session was due: nothing moves
                self.carry = None
                if seg is not None:
                    self._keep_seg(t)
            return
        if kind == "resume":
            self.paused_at = None
            self._set_seg(self._resumed(t), t)  # an alarm still open holds it again
            return
        if kind == "skip" and name == OFF:
            self.carry = self._open_at(seg, hold, t)
            self._skip_ahead(t)
            return
        if name == ON:
            assert seg is not None
            start = self._at(seg, hold, t).start
            # A session cut short by a pause still rings; by off, skip or stop it does not.
            self.carry = (t, start) if kind == "pause" else None
        else:
            self.carry = None if kind in ("on", "stop") else self._open_at(seg, hold, t)
        if self.seg is not None:
            self._end_segment(t, kind)  # type: ignore[arg-type]
        if kind == "on":
            self.paused_at = None
            self._set_seg(_Segment(t, ON, self.on, True), t)
            self.confirmed.add(t)
            if self.notes_key is not None:
                insort(self._ann, t)
        elif kind in ("off", "skip"):
            self._set_seg(_Segment(t, OFF, self.off, True), t)
        elif kind == "pause":
            self.paused_at = t
            self._set_seg(None)
        elif kind == "stop":
            self.stopped_at = t
            self._set_seg(None)

    def _skip_ahead(self, t: int) -> None:
        """`skip` during rest: the next session is skipped and the rest runs on into the one
        after (the rest keeps its start, so its alarm and answers stay its own)."""
        assert self.seg is not None
        p = self._at(self.seg, self.hold, t)
        self.skipped_ahead.append((p.end, p.end + self.on))
        self.closed.append(_Closed(self.seg, self.hold, t, "skip"))
        longer = (p.end - p.start) + self.period
        self._set_seg(_Segment(p.start, OFF, longer, p.by_person), t)

    def _end_segment(self, t: int, ended_by: EndedBy) -> None:
        """End the running segment at t; an ice session in progress ends with it."""
        assert self.seg is not None
        # A session skipped ahead of time that has not come yet is planned anew from here.
        self.skipped_ahead = [(x, min(e, t)) for x, e in self.skipped_ahead if x < t]
        p = self._at(self.seg, self.hold, min(t, self.end_us - 1))
        if t < self.end_us:
            if p.kind == ON:
                self.last_off = t
            elif not p.by_person:
                self.last_off = p.start
        self.closed.append(_Closed(self.seg, self.hold, t, ended_by))

    def _set_quiet(self, data: str | None) -> None:
        import json

        try:
            doc = json.loads(data) if data else {}
        except ValueError:
            doc = {}
        span = doc.get("quiet_hours") if isinstance(doc, dict) else None
        self.quiet = _parse_quiet(span) if isinstance(span, str) and span else None
        self.tz = _zone(doc.get("tz")) if self.quiet else None


def _person_on(seg: _Segment) -> bool:
    """seg begins with ice that the person put on (`on`, `start`, `resume` owing no rest)."""
    return seg.by_person and (seg.first == ON or seg.first_len == 0)


def _count(rows: list[_Row], confirmed: set[int]) -> Counts:
    done = confirmed_done = skipped = missed = left = 0
    for start, _end, status, _by in rows:
        if status == "done":
            done += 1
            confirmed_done += start in confirmed
        elif status == "skipped":
            skipped += 1
        elif status == "missed":
            missed += 1
        else:
            left += 1
    return Counts(done, confirmed_done, skipped, missed, left)


def _doc(data: str | None) -> dict[str, object]:
    import json

    try:
        doc = json.loads(data) if data else {}
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _rest_first(data: str | None) -> int:
    """Microseconds of rest a new cycle owes first (it began over ice that was on, an open
    alarm, or a rest not yet over): `rest_us`, or `rest_s` as older versions stored it."""
    doc = _doc(data)
    try:
        us = doc.get("rest_us")
        if isinstance(us, int) and not isinstance(us, bool):
            return max(0, us)
        seconds = doc.get("rest_s", 0)
        if isinstance(seconds, int | float) and not isinstance(seconds, bool):
            return max(0, int(seconds)) * 1_000_000
    except (ValueError, OverflowError):
        pass
    return 0


def _alarm_left(data: str | None) -> tuple[int, int] | None:
    """The take-it-off alarm the cycle before left open (when, and its session's start)."""
    doc = _doc(data)
    try:
        at = datetime.fromisoformat(str(doc["alarm"]))
        session = datetime.fromisoformat(str(doc.get("alarm_session") or doc["alarm"]))
        if at.tzinfo is None or session.tzinfo is None:
            return None
        return (_us(at), _us(session))
    except (KeyError, ValueError, TypeError, OverflowError):
        return None


def _notes_us(notes: Mapping[datetime, str] | None) -> dict[int, str] | None:
    return {_us(k): v for k, v in notes.items()} if notes is not None else None


def _announced(notes_us: Mapping[int, str] | None) -> frozenset[int] | None:
    """The starts of the sessions a runner told someone of (None: no notes, so all)."""
    if notes_us is None:
        return None
    return frozenset(k for k, v in notes_us.items() if v not in ("", "passed"))


def _parse_quiet(span: str) -> tuple[int, int] | None:
    """A cycle's recorded quiet hours, read by the one strict parser (None if unreadable:
    a damaged record must not make the cycle unusable)."""
    from icecycle.durations import InputError, QuietHours

    try:
        return QuietHours.parse(span)
    except InputError:
        return None


def _zone(name: object) -> tzinfo | None:
    if not isinstance(name, str) or not name:
        return None
    from zoneinfo import ZoneInfo

    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError):  # unknown or malformed: the system's local time
        return None


def _local_date(us: int, tz: tzinfo | None) -> date:
    moment = _dt(us)
    return (moment.astimezone(tz) if tz is not None else moment.astimezone()).date()


def _local_us(day: date, minute: int, tz: tzinfo | None) -> int:
    """The instant of a local wall time; one that falls in a spring-forward gap is read as
    the moment the gap ends (02:30 on a night that skips 02:00-03:00 is 03:00)."""
    naive = datetime(day.year, day.month, day.day) + timedelta(minutes=minute)
    if tz is None:
        return _us(naive.astimezone())
    early = naive.replace(tzinfo=tz, fold=1)  # a gap time read with the offset after it
    late = naive.replace(tzinfo=tz, fold=0)  # ... and with the offset before it
    a, b = _us(early), _us(late)
    if a >= b:  # no gap (or a repeated hour, where fold=0 is the first): the usual reading
        return b
    # In a gap: find the first instant whose local time is past the gap's start.
    target = naive
    lo, hi = a, b
    while hi - lo > 1_000_000:
        mid = (lo + hi) // 2
        if _dt(mid).astimezone(tz).replace(tzinfo=None) >= target:
            hi = mid
        else:
            lo = mid
    return hi - hi % 1_000_000 if hi % 1_000_000 else hi


def fold(
    cycle: Cycle, events: Iterable[Event], notes: Mapping[datetime, str] | None = None
) -> Fold:
    """Fold a cycle's events, in stored order, into its running state. O(events).

    `notes` (the store's session notes) tell which sessions were announced; reading with
    other notes later folds again once (see Fold._for)."""
    acc = Fold(cycle, notes)
    for event in events:
        acc.apply(event)
    return acc


def sessions(
    cycle: Cycle,
    events: Iterable[Event],
    now: datetime,
    notes: Mapping[datetime, str] | None = None,
) -> list[Session]:
    """Every ice session of the cycle, past, current and (as scheduled now) upcoming."""
    return fold(cycle, events, notes).sessions(now)


def pain_scores(events: Iterable[Event]) -> list[int]:
    """The pain scores recorded in a cycle, oldest first (anything unreadable left out)."""
    return [
        int(e.data)
        for e in events
        if e.kind == "pain" and e.data and e.data.isascii() and e.data.isdigit()
    ]
