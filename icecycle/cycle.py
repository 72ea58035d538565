"""The cycle: settings, events, and the pure fold of events into the state at a moment.

Value types are NamedTuples: `icecycle status` imports this module, and
`dataclasses` (with `inspect`) costs more to import than the whole status takes otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
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
    """The events of one cycle folded so far. `apply` takes them one at a time, in order."""

    def __init__(self, cycle: Cycle) -> None:
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

    # -- reading -----------------------------------------------------------------------

    def _clamp(self, moment: datetime) -> int:
        t = _us(moment)
        return t if self.last_at is None or t > self.last_at else self.last_at

    def kind_at(self, moment: datetime) -> StateName:
        """The state's name at a moment (never before the last event: time runs forward)."""
        return self._at(self._clamp(moment))[0]

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
        cyc, tl = self.cycle, self.timeline
        t = self._clamp(now)
        stopped = self.stopped_at is not None
        rest_owed = timedelta(microseconds=self._rest_owed(t))
        if stopped or t >= tl.window_end or self.seg is None:
            done, left = self.done, 0
            if self.seg is not None and not stopped:  # ran to the window end
                done += tl.on_starts(self.seg, self.seg.start, tl.window_end)
            name: StateName = "done" if stopped or t >= tl.window_end else "paused"
            if name == "paused":
                left = tl.on_starts(self._resumed(t), t, tl.window_end)
            return State(
                name, now, None, None, cyc, done, self.skipped, left, stopped, rest_owed=rest_owed
            )
        p = tl.at(self.seg, t)
        in_progress = p.kind == ON
        # A session under way counts as left, not done, from its first instant.
        split = p.start if in_progress else t
        done = self.done + tl.on_starts(self.seg, self.seg.start, split)
        left = tl.on_starts(self.seg, split, tl.window_end)
        acked = p.start in (self.confirmed if in_progress else self.acknowledged)
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
        )

    def phases_from(self, now: datetime, limit: int | None = None) -> list[Phase]:
        """The schedule ahead from the phase at `now` (as if resumed now, when paused)."""
        return [_phase(p) for p in self._phases_from(self._clamp(now), limit)]

    def _phases_from(self, t: int, limit: int | None = None) -> list[_P]:
        if self.stopped_at is not None or t >= self.timeline.window_end:
            return []
        seg = self.seg if self.seg is not None else self._resumed(t)
        out: list[_P] = []
        for p in self.timeline.phases(seg, t, self.timeline.window_end):
            out.append(p)
            if limit is not None and len(out) >= limit:
                break
        return out

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
        self.last_at = t
        kind, (now, phase) = event.kind, self._at(t)
        if kind == "started":
            self.seg = _Segment(t, ON, self.timeline.on)
            return
        if kind not in ALLOWED or now not in ALLOWED[kind]:
            self.ignored += kind in ALLOWED
            return
        if kind == "ack":
            assert phase is not None
            (self.confirmed if phase.kind == ON else self.acknowledged).add(phase.start)
            return
        if kind == "resume":
            self.paused_at = None
            self.seg = self._resumed(t)
            return
        self._close(t, phase, skipped=kind == "skip")
        if kind == "on":
            self.paused_at = None
            self.seg = _Segment(t, ON, self.timeline.on)
            self.confirmed.add(t)
        elif kind in ("off", "skip"):
            self.seg = _Segment(t, OFF, self.timeline.off)
            self.acknowledged.add(t)
        elif kind == "pause":
            self.paused_at, self.seg = t, None
        elif kind == "stop":
            self.stopped_at, self.seg = t, None

    def _close(self, t: int, phase: _P | None, *, skipped: bool) -> None:
        """End the running segment at t; an ice session in progress ends with it.

        `phase` is the phase at t, or None past the window end (a late `stop`)."""
        if self.seg is None:
            return
        seg = self.seg
        sessions = self.timeline.on_starts(seg, seg.start, t)  # one starting at t never began
        if phase is not None:
            if skipped and phase.kind == ON and phase.start < t:
                self.skipped += 1
                sessions -= 1
            self.last_off = self._ice_came_off(t, phase)
        self.done += sessions


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
    acc = Fold(cycle)
    rows: list[tuple[int, int, SessionStatus]] = []  # start, end, status
    window_end = acc.timeline.window_end

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

    for event in events:
        before = acc.seg
        t = acc._clamp(event.at)
        acc.apply(event)
        if before is not None and acc.seg is not before:
            add(before, t, event.kind)
    state = acc.state_at(now)
    t = acc._clamp(now)
    if acc.seg is not None:
        add(acc.seg, t, None)
    for p in acc._phases_from(t):
        if p.kind == ON:
            under_way = p.start <= t < p.end and state.state == ON
            rows.append((p.start, p.end, "in progress" if under_way else "upcoming"))
    # Confirmations made later in a session apply to it too, so they are read at the end.
    return [
        Session(
            _dt(start),
            _dt(end),
            status,
            start in acc.confirmed,
            notes_us.get(start, ""),
        )
        for start, end, status in rows
    ]
