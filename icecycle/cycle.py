"""The cycle: settings, events, and the pure fold of events into the state at a moment.

Value types are NamedTuples: `icecycle status` imports this module, and
`dataclasses` (with `inspect`) costs more to import than the whole status takes otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta
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
    status: Literal["done", "skipped", "in progress", "upcoming"]
    confirmed: bool = False
    #: What the runner recorded for it: "sent", "late", "failed", "passed" or "" (nothing).
    note: str = ""


class _Segment(NamedTuple):
    """From an anchor on, the phases alternate by themselves with the standard lengths."""

    start: datetime
    first: PhaseKind
    first_len: timedelta


def _flip(kind: PhaseKind) -> PhaseKind:
    return OFF if kind == ON else ON


def _ceil_div(a: timedelta, b: timedelta) -> int:
    return -((-a) // b)


class _Timeline:
    """Phase arithmetic for one segment: O(1) lookups, no loop over past phases."""

    def __init__(self, settings: Settings, window_end: datetime) -> None:
        self.settings = settings
        self.window_end = window_end
        self.on, self.off = settings.on, settings.off  # built once: the fold is hot
        self.period = self.on + self.off

    def length(self, kind: PhaseKind) -> timedelta:
        return self.on if kind == ON else self.off

    def phase_at(self, seg: _Segment, t: datetime) -> Phase:
        offset = max(t - seg.start, timedelta(0))
        if offset < seg.first_len:
            start, kind, length = seg.start, seg.first, seg.first_len
            by_person = True
        else:
            other = _flip(seg.first)
            rest = offset - seg.first_len
            n = rest // self.period
            base = seg.start + seg.first_len + n * self.period
            into = rest - n * self.period
            if into < self.length(other):
                start, kind, length = base, other, self.length(other)
            else:
                start = base + self.length(other)
                kind, length = seg.first, self.length(seg.first)
            by_person = False
        return Phase(kind, start, min(start + length, self.window_end), by_person)

    def on_starts(self, seg: _Segment, a: datetime, b: datetime) -> int:
        """How many ice sessions of the segment start in [a, b), within the window."""
        b = min(b, self.window_end)
        if b <= a:
            return 0
        count = 0
        if seg.first == ON:
            count += a <= seg.start < b
            first_auto = seg.start + seg.first_len + self.off
        else:
            first_auto = seg.start + seg.first_len
        count += max(0, _ceil_div(b - first_auto, self.period)) - max(
            0, _ceil_div(a - first_auto, self.period)
        )
        return count

    def phases(self, seg: _Segment, t: datetime, until: datetime) -> Iterator[Phase]:
        """The phases of the segment from the one at t up to `until` (and the window end)."""
        phase = self.phase_at(seg, t)
        while phase.start < min(until, self.window_end):
            yield phase
            nxt = phase.start + (seg.first_len if phase.by_person else self.length(phase.kind))
            kind = _flip(phase.kind)
            phase = Phase(kind, nxt, min(nxt + self.length(kind), self.window_end))


class Fold:
    """The events of one cycle folded so far. `apply` takes them one at a time, in order."""

    def __init__(self, cycle: Cycle) -> None:
        self.cycle = cycle
        self.timeline = _Timeline(cycle.settings, cycle.window_end)
        self.seg: _Segment | None = None
        self.paused_at: datetime | None = None
        self.stopped_at: datetime | None = None
        self.last_off: datetime | None = None
        self.last_at: datetime | None = None
        self.done = 0
        self.skipped = 0
        self.confirmed: set[datetime] = set()
        self.acknowledged: set[datetime] = set()
        self.ignored = 0

    # -- reading -----------------------------------------------------------------------

    def kind_at(self, t: datetime) -> StateName:
        return self._at(t)[0]

    def _at(self, t: datetime) -> tuple[StateName, Phase | None]:
        """The state's name at t, and the running phase (computed once, reused)."""
        if self.stopped_at is not None or t >= self.timeline.window_end:
            return "done", None
        if self.seg is None:
            return ("paused" if self.paused_at is not None else IDLE_STATE_KIND), None
        phase = self.timeline.phase_at(self.seg, t)
        return phase.kind, phase

    def state_at(self, now: datetime) -> State:
        """The state at `now`, by arithmetic from the last anchor."""
        cyc, tl = self.cycle, self.timeline
        t = max(now, self.last_at) if self.last_at else now
        stopped = self.stopped_at is not None
        if stopped or t >= cyc.window_end or self.seg is None:
            done, left = self.done, 0
            if self.seg is not None and not stopped:  # ran to the window end
                done += tl.on_starts(self.seg, self.seg.start, cyc.window_end)
            name: StateName = "done" if stopped or t >= cyc.window_end else "paused"
            if name == "paused":
                left = tl.on_starts(self._resumed(t), t, cyc.window_end)
            return State(
                name,
                now,
                None,
                None,
                cyc,
                done,
                self.skipped,
                left,
                stopped,
                rest_owed=self._rest_owed(t),
            )
        phase = tl.phase_at(self.seg, t)
        in_progress = phase.kind == ON
        # A session under way counts as left, not done, from its first instant.
        split = phase.start if in_progress else t
        done = self.done + tl.on_starts(self.seg, self.seg.start, split)
        left = tl.on_starts(self.seg, split, cyc.window_end)
        acked = phase.start in (self.confirmed if in_progress else self.acknowledged)
        return State(
            phase.kind,
            now,
            phase,
            phase.end,
            cyc,
            done,
            self.skipped,
            left,
            acknowledged=acked,
            rest_owed=self._rest_owed(t),
        )

    def phases_from(self, now: datetime, limit: int | None = None) -> list[Phase]:
        """The schedule ahead from the phase at `now` (as if resumed now, when paused)."""
        t = max(now, self.last_at) if self.last_at else now
        if self.stopped_at is not None or t >= self.cycle.window_end:
            return []
        seg = self.seg if self.seg is not None else self._resumed(t)
        out: list[Phase] = []
        for phase in self.timeline.phases(seg, t, self.cycle.window_end):
            out.append(phase)
            if limit is not None and len(out) >= limit:
                break
        return out

    def _ice_came_off(self, t: datetime, phase: Phase | None = None) -> datetime | None:
        """When the ice last came off, as of t (t itself if ice is on at t)."""
        if self.seg is None:
            return self.last_off
        phase = phase or self.timeline.phase_at(self.seg, t)
        if phase.kind == ON:
            return t
        return self.last_off if phase.by_person else phase.start

    def _rest_owed(self, t: datetime) -> timedelta:
        came_off = self._ice_came_off(t)
        if came_off is None or self.kind_at(t) == ON:
            return timedelta(0)
        return max(timedelta(0), self.cycle.settings.off - (t - came_off))

    def _resumed(self, t: datetime) -> _Segment:
        owed = self._rest_owed(t)
        if owed > timedelta(0):
            return _Segment(t, OFF, owed)
        return _Segment(t, ON, self.cycle.settings.on)

    # -- folding -----------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        # Events are stored in order; a clock that stepped back must not reorder the past.
        t = max(event.at, self.last_at) if self.last_at else event.at
        self.last_at = t
        kind, (now, phase) = event.kind, self._at(t)
        if kind == "started":
            self.seg = _Segment(t, ON, self.cycle.settings.on)
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

    def _close(self, t: datetime, phase: Phase | None, *, skipped: bool) -> None:
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
    notes = notes or {}
    acc = Fold(cycle)
    out: list[Session] = []

    def add(seg: _Segment, until: datetime, ended_by: str | None) -> None:
        """Sessions of a segment up to `until`; one cut short there ended by `ended_by`
        (None: it is still under way, and is listed with the schedule ahead instead)."""
        t_end = min(until, cycle.window_end)
        for phase in acc.timeline.phases(seg, seg.start, t_end):
            cut = phase.end > t_end
            if phase.kind != ON or (cut and ended_by is None):
                continue
            status: Literal["done", "skipped"] = "skipped" if cut and ended_by == "skip" else "done"
            out.append(
                Session(
                    phase.start,
                    t_end if cut else phase.end,
                    status,
                    phase.start in acc.confirmed,
                    notes.get(phase.start, ""),
                )
            )

    for event in events:
        before = acc.seg
        t = max(event.at, acc.last_at) if acc.last_at else event.at
        acc.apply(event)
        if before is not None and acc.seg is not before:
            add(before, t, event.kind)
    # Confirmations made later in a session apply to it too.
    out = [Session(s.start, s.end, s.status, s.start in acc.confirmed, s.note) for s in out]
    state = acc.state_at(now)
    if acc.seg is not None:
        t = max(now, acc.last_at) if acc.last_at else now
        add(acc.seg, t, None)
    for phase in acc.phases_from(now):
        if phase.kind != ON:
            continue
        status: Literal["in progress", "upcoming"] = (
            "in progress" if phase.start <= now < phase.end and state.state == ON else "upcoming"
        )
        out.append(
            Session(
                phase.start,
                phase.end,
                status,
                phase.start in acc.confirmed,
                notes.get(phase.start, ""),
            )
        )
    return out
