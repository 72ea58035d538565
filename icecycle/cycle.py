"""The cycle: settings, events, and the pure fold of events into the state at a moment.

Value types are NamedTuples: `icecycle status` imports this module, and
`dataclasses` (with `inspect`) costs more to import than the whole status takes otherwise.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Literal, NamedTuple

__all__ = [
    "ALLOWED",
    "Cycle",
    "Event",
    "Fold",
    "Phase",
    "Session",
    "Settings",
    "State",
    "fold",
    "sessions",
]

PhaseKind = Literal["on", "off"]
StateName = Literal["on", "off", "paused", "done", "idle"]
SessionStatus = Literal["done", "skipped", "in progress", "upcoming"]
ON: PhaseKind = "on"
OFF: PhaseKind = "off"

#: Which states each action applies to; anything else is refused.
ALLOWED: Mapping[str, frozenset[str]] = {
    "on": frozenset({"off", "paused"}),
    "off": frozenset({"on"}),
    "skip": frozenset({"on"}),
    "pause": frozenset({"on", "off"}),
    "resume": frozenset({"paused"}),
    "ack": frozenset({"on", "off"}),
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
    #: Begun by the person's own action (start, on, off, skip, resume), not by the clock.
    by_person: bool = False

    @property
    def length(self) -> timedelta:
        return self.end - self.start


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
    #: The ice session in progress was confirmed, or the rest's alarm acknowledged.
    acknowledged: bool = False
    #: Rest still owed since the ice last came off (zero when rested enough).
    rest_owed: timedelta = timedelta(0)
    #: Paused by quiet hours until then (it resumes by itself).
    quiet_until: datetime | None = None
    #: This phase runs into quiet hours: no session until then.
    quiet_next: datetime | None = None

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


class _Segment(NamedTuple):
    """From an anchor on, the phases alternate by themselves with the standard lengths.

    Inside the fold, times are integer microseconds since the epoch: the same instants as
    the datetimes at the edges, at a tenth of the cost per event.
    """

    start: int
    first: PhaseKind
    first_len: int


class _P(NamedTuple):
    """A phase in microseconds (the fold's own form of Phase)."""

    kind: PhaseKind
    start: int
    end: int
    by_person: bool


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def _us(moment: datetime) -> int:
    return (moment - _EPOCH) // _US


def _dt(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _phase(p: _P) -> Phase:
    return Phase(p.kind, _dt(p.start), _dt(p.end), p.by_person)


def _flip(kind: PhaseKind) -> PhaseKind:
    return OFF if kind == ON else ON


class _Timeline:
    """Phase arithmetic for one segment: O(1) lookups, no loop over past phases."""

    def __init__(self, settings: Settings, window_end: datetime) -> None:
        self.on = settings.on_s * 1_000_000
        self.off = settings.off_s * 1_000_000
        self.period = self.on + self.off
        self.window_end = _us(window_end)

    def length(self, kind: PhaseKind) -> int:
        return self.on if kind == ON else self.off

    def at(self, seg: _Segment, t: int) -> _P:
        offset = t - seg.start
        if offset < seg.first_len:  # (also when t is before the segment: its first phase)
            start, kind, length, by_person = seg.start, seg.first, seg.first_len, True
        else:
            other = _flip(seg.first)
            n, into = divmod(offset - seg.first_len, self.period)
            base = seg.start + seg.first_len + n * self.period
            if into < self.length(other):
                start, kind, length = base, other, self.length(other)
            else:
                start, kind = base + self.length(other), seg.first
                length = self.length(kind)
            by_person = False
        end = start + length
        return _P(kind, start, end if end < self.window_end else self.window_end, by_person)

    def on_starts(self, seg: _Segment, a: int, b: int) -> int:
        """How many ice sessions of the segment start in [a, b), within the window."""
        if b > self.window_end:
            b = self.window_end
        if b <= a:
            return 0
        start = seg.start
        if seg.first == ON:
            count = 1 if a <= start < b else 0
            first_auto = start + seg.first_len + self.off
        else:
            count = 0
            first_auto = start + seg.first_len
        # ice-on starts first_auto + k * period, k >= 0, that fall in [a, b)
        upto_b = -((first_auto - b) // self.period)
        upto_a = -((first_auto - a) // self.period)
        return count + (upto_b if upto_b > 0 else 0) - (upto_a if upto_a > 0 else 0)

    def phases(self, seg: _Segment, t: int, until: int) -> Iterator[_P]:
        """The phases of the segment from the one at t up to `until` (and the window end)."""
        phase = self.at(seg, t)
        stop = min(until, self.window_end)
        while phase.start < stop:
            yield phase
            nxt = phase.start + (seg.first_len if phase.by_person else self.length(phase.kind))
            kind = _flip(phase.kind)
            phase = _P(kind, nxt, min(nxt + self.length(kind), self.window_end), False)


class Fold:
    """The events of one cycle folded so far. `apply` takes them one at a time, in order.

    Quiet hours are folded in too, as arithmetic: the first automatic ice-on start that falls
    inside them is held (the cycle pauses there) until they end, when it resumes with the
    rest rule. A session under way when they begin ends at its normal time.
    """

    def __init__(self, cycle: Cycle, *, record: bool = False) -> None:
        self.cycle = cycle
        self.timeline = _Timeline(cycle.settings, cycle.window_end)
        self.seg: _Segment | None = None
        self.paused_at: int | None = None
        self.stopped_at: int | None = None
        self.last_off: int | None = None
        self.last_at: int | None = None
        self.done = 0
        self.skipped = 0
        self.confirmed: set[int] = set()
        self.acknowledged: set[int] = set()
        self.ignored = 0
        self.quiet: tuple[int, int] | None = None  # minutes after local midnight
        self.tz: tzinfo | None = None  # None: the system's local time
        self.hold: tuple[int, int] | None = None  # (held ice-on start, quiet end) of seg
        self.quiet_until: int | None = None  # paused by quiet hours until then
        self.record = record
        self.closed: list[tuple[_Segment, int, str]] = []  # segment, ended at, ended by

    # -- quiet hours -------------------------------------------------------------------

    def _set_seg(self, seg: _Segment | None) -> None:
        self.seg = seg
        self.hold = self._find_hold(seg) if seg is not None and self.quiet else None

    def _find_hold(self, seg: _Segment, after: int = 0) -> tuple[int, int] | None:
        """The first automatic ice-on start of seg (after `after`) inside quiet hours."""
        tl = self.timeline
        first_auto = seg.start + seg.first_len + (tl.off if seg.first == ON else 0)
        low = max(first_auto, after)
        for qs, qe in self._quiet_intervals(low, tl.window_end):
            target = max(qs, low)
            k = max(0, -((first_auto - target) // tl.period))
            x = first_auto + k * tl.period
            if x < qe and x < tl.window_end:
                return x, qe
        return None

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

    def _set_quiet(self, data: str | None) -> None:
        import json

        try:
            doc = json.loads(data) if data else {}
        except ValueError:
            doc = {}
        span = doc.get("quiet_hours") if isinstance(doc, dict) else None
        self.quiet = _parse_quiet(span) if span else None
        self.tz = _zone(doc.get("tz")) if self.quiet else None

    def _advance(self, t: int) -> None:
        """Carry out the quiet-hours pauses and resumptions due by t."""
        while True:
            if self.seg is not None and self.hold is not None and self.hold[0] <= t:
                x, qe = self.hold
                self._end_segment(x, self.timeline.at(self.seg, x - 1), "quiet")
                self.paused_at, self.quiet_until = x, qe
                self._set_seg(None)
            elif (
                self.seg is None
                and self.quiet_until is not None
                and self.quiet_until <= t
                and self.stopped_at is None
            ):
                qe = self.quiet_until
                self.paused_at = self.quiet_until = None
                self._set_seg(self._resumed(qe))
            else:
                return

    def _probe(self, t: int) -> Fold:
        """This fold as it stands at t: a copy advanced through quiet hours, if any are due."""
        due = (self.seg is not None and self.hold is not None and self.hold[0] <= t) or (
            self.seg is None and self.quiet_until is not None and self.quiet_until <= t
        )
        if not due:
            return self
        probe = copy.copy(self)
        probe.record, probe.closed = False, []
        probe._advance(t)
        return probe

    # -- reading -----------------------------------------------------------------------

    def _clamp(self, moment: datetime) -> int:
        t = _us(moment)
        return t if self.last_at is None or t > self.last_at else self.last_at

    def kind_at(self, moment: datetime) -> StateName:
        """The state's name at a moment (never before the last event: time runs forward)."""
        t = self._clamp(moment)
        return self._probe(t)._at(t)[0]

    def _at(self, t: int) -> tuple[StateName, _P | None]:
        """The state's name at t, and the running phase (computed once, reused)."""
        if self.stopped_at is not None or t >= self.timeline.window_end:
            return "done", None
        if self.seg is None:
            return ("paused" if self.paused_at is not None else IDLE_STATE_KIND), None
        phase = self.timeline.at(self.seg, t)
        return phase.kind, phase

    def state_at(self, now: datetime) -> State:
        """The state at `now`, by arithmetic from the last anchor."""
        t = self._clamp(now)
        return self._probe(t)._state(now, t)

    def _state(self, now: datetime, t: int) -> State:
        cyc, tl = self.cycle, self.timeline
        stopped = self.stopped_at is not None
        rest_owed = timedelta(microseconds=self._rest_owed(t))
        if stopped or t >= tl.window_end or self.seg is None:
            done, left = self.done, 0
            if self.seg is not None and not stopped:  # ran to the window end
                done += tl.on_starts(self.seg, self.seg.start, tl.window_end)
            name: StateName = "done" if stopped or t >= tl.window_end else "paused"
            quiet_until = None
            if name == "paused":
                after = self._resumed(self.quiet_until if self.quiet_until else t)
                left = self._left_from(after, after.start)
                quiet_until = _dt(self.quiet_until) if self.quiet_until else None
            return State(
                name,
                now,
                None,
                quiet_until,
                cyc,
                done,
                self.skipped,
                left,
                stopped,
                rest_owed=rest_owed,
                quiet_until=quiet_until,
            )
        p = tl.at(self.seg, t)
        in_progress = p.kind == ON
        # A session under way counts as left, not done, from its first instant.
        split = p.start if in_progress else t
        done = self.done + tl.on_starts(self.seg, self.seg.start, split)
        left = self._left_from(self.seg, split, self.hold)
        acked = p.start in (self.confirmed if in_progress else self.acknowledged)
        quiet_next = None
        if self.hold is not None and p.end >= self.hold[0]:  # the rest runs into quiet hours
            quiet_next = _dt(self.hold[1])
        phase = _phase(p)
        return State(
            p.kind,
            now,
            phase,
            phase.end,
            cyc,
            done,
            self.skipped,
            left,
            acknowledged=acked,
            rest_owed=rest_owed,
            quiet_next=quiet_next,
        )

    def _left_from(self, seg: _Segment, t: int, hold: tuple[int, int] | bool | None = True) -> int:
        """Ice-on starts from t to the window end, following the quiet-hours holds."""
        tl = self.timeline
        if hold is True:
            hold = self._find_hold(seg) if self.quiet else None
        count = 0
        while True:
            end = min(hold[0], tl.window_end) if hold else tl.window_end
            count += tl.on_starts(seg, t, end)
            if not hold or hold[1] >= tl.window_end:
                return count
            seg = _Segment(hold[1], ON, tl.on)  # after a night's hold the rest is long done
            t = seg.start
            hold = self._find_hold(seg)

    def phases_from(self, now: datetime, limit: int | None = None) -> list[Phase]:
        """The schedule ahead from the phase at `now` (as if resumed now, when paused)."""
        t = self._clamp(now)
        return [_phase(p) for p in self._probe(t)._phases_from(t, limit)]

    def _phases_from(self, t: int, limit: int | None = None) -> list[_P]:
        tl = self.timeline
        if self.stopped_at is not None or t >= tl.window_end:
            return []
        if self.seg is not None:
            seg, hold = self.seg, self.hold
        else:
            seg = self._resumed(self.quiet_until if self.quiet_until else t)
            t = seg.start
            hold = self._find_hold(seg) if self.quiet else None
        out: list[_P] = []
        while True:
            stop = min(hold[0], tl.window_end) if hold else tl.window_end
            for p in tl.phases(seg, t, stop):
                if hold and p.end > hold[0]:
                    p = _P(p.kind, p.start, hold[0], p.by_person)
                out.append(p)
                if limit is not None and len(out) >= limit:
                    return out
            if not hold or hold[1] >= tl.window_end:
                return out
            seg = _Segment(hold[1], ON, tl.on)
            t = seg.start
            hold = self._find_hold(seg)

    def _ice_came_off(self, t: int, phase: _P | None = None) -> int | None:
        """When the ice last came off, as of t (t itself if ice is on at t)."""
        if self.seg is None:
            return self.last_off
        phase = phase or self.timeline.at(self.seg, t)
        if phase.kind == ON:
            return t
        return self.last_off if phase.by_person else phase.start

    def _rest_owed(self, t: int) -> int:
        came_off = self._ice_came_off(t)
        if came_off is None or self._at(t)[0] == ON:
            return 0
        return max(0, self.timeline.off - (t - came_off))

    def _resumed(self, t: int) -> _Segment:
        owed = self._rest_owed(t)
        if owed > 0:
            return _Segment(t, OFF, owed)
        return _Segment(t, ON, self.timeline.on)

    # -- folding -----------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        # Events are stored in order; a clock that stepped back must not reorder the past.
        t = (event.at - _EPOCH) // _US
        if self.last_at is not None and t < self.last_at:
            t = self.last_at
        if self.quiet_until is not None or self.hold is not None:
            self._advance(t)
        self.last_at = t
        kind, (now, phase) = event.kind, self._at(t)
        if kind == "started":
            self._set_quiet(event.data)
            self._set_seg(_Segment(t, ON, self.timeline.on))
            return
        if kind == "quiet":  # the quiet hours changed from here on
            self._set_quiet(event.data)
            self.hold = self._find_hold(self.seg, t) if self.seg and self.quiet else None
            return
        if kind not in ALLOWED or now not in ALLOWED[kind]:
            self.ignored += kind in ALLOWED
            return
        if kind == "ack":
            assert phase is not None
            (self.confirmed if phase.kind == ON else self.acknowledged).add(phase.start)
            return
        if kind == "resume":
            self.paused_at = self.quiet_until = None
            self._set_seg(self._resumed(t))
            return
        if self.seg is not None:
            self._end_segment(t, phase, kind)
        if kind == "on":
            self.paused_at = self.quiet_until = None
            self._set_seg(_Segment(t, ON, self.timeline.on))
            self.confirmed.add(t)
        elif kind in ("off", "skip"):
            self._set_seg(_Segment(t, OFF, self.timeline.off))
            self.acknowledged.add(t)
        elif kind == "pause":
            self.paused_at = t
            self._set_seg(None)
        elif kind == "stop":
            self.stopped_at, self.quiet_until = t, None
            self._set_seg(None)

    def _end_segment(self, t: int, phase: _P | None, ended_by: str) -> None:
        """End the running segment at t; an ice session in progress ends with it.

        `phase` is the phase at t, or None past the window end (a late `stop`)."""
        assert self.seg is not None
        seg = self.seg
        sessions = self.timeline.on_starts(seg, seg.start, t)  # one starting at t never began
        if phase is not None:
            if ended_by == "skip" and phase.kind == ON and phase.start < t:
                self.skipped += 1
                sessions -= 1
            self.last_off = self._ice_came_off(t, phase)
        self.done += sessions
        if self.record:
            self.closed.append((seg, t, ended_by))


def _parse_quiet(span: str) -> tuple[int, int] | None:
    try:
        start, end = span.split("-")
        (sh, sm), (eh, em) = start.strip().split(":"), end.strip().split(":")
        return int(sh) * 60 + int(sm), int(eh) * 60 + int(em)
    except ValueError:
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
    naive = datetime(day.year, day.month, day.day) + timedelta(minutes=minute)
    return _us(naive.replace(tzinfo=tz) if tz is not None else naive.astimezone())


def fold(cycle: Cycle, events: Iterable[Event]) -> Fold:
    """Fold a cycle's events, in stored order, into its running state. O(events)."""
    acc = Fold(cycle)
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
    notes_us = {_us(k): v for k, v in (notes or {}).items()}
    acc = Fold(cycle, record=True)
    for event in events:
        acc.apply(event)
    t = acc._clamp(now)
    acc._advance(t)
    state = acc._state(now, t)
    window_end = acc.timeline.window_end
    rows: list[tuple[int, int, SessionStatus]] = []  # start, end, status

    def add(seg: _Segment, until: int, ended_by: str | None) -> None:
        """Sessions of a segment up to `until`; one cut short there ended by `ended_by`
        (None: it is still under way, and is listed with the schedule ahead instead)."""
        t_end = min(until, window_end)
        for p in acc.timeline.phases(seg, seg.start, t_end):
            cut = p.end > t_end
            if p.kind != ON or (cut and ended_by is None):
                continue
            status: SessionStatus = "skipped" if cut and ended_by == "skip" else "done"
            rows.append((p.start, t_end if cut else p.end, status))

    for seg, ended_at, ended_by in acc.closed:
        add(seg, ended_at, ended_by)
    if acc.seg is not None:
        add(acc.seg, t, None)
    for p in acc._phases_from(t):
        if p.kind == ON:
            under_way = p.start <= t < p.end and state.state == ON
            rows.append((p.start, p.end, "in progress" if under_way else "upcoming"))
    # Confirmations made later in a session apply to it too, so they are read at the end.
    return [
        Session(_dt(start), _dt(end), status, start in acc.confirmed, notes_us.get(start, ""))
        for start, end, status in rows
    ]
