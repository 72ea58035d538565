"""`icecycle status --follow`: one long-lived process for a status bar, printing a line when
what it shows would change, and sleeping in between (no poll)."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import IO, Protocol

from icecycle import formats, text
from icecycle.actions import _idle
from icecycle.clock import Clock
from icecycle.config import ConfigError
from icecycle.cycle import Fold, State, fold
from icecycle.store import Store, StoreError

SECOND, MINUTE, _TINY = timedelta(seconds=1), timedelta(minutes=1), timedelta(microseconds=1)
_ZERO = timedelta(0)
#: Nothing visible changes for longer than this in any state but idle; a look anyway.
LONGEST = timedelta(hours=1)

Render = Callable[[State], str]


class Wait(Protocol):
    def __call__(self, seconds: float | None) -> bool:
        """Sleep at most `seconds` (None: until something happens); True if the data
        folder changed (or may have)."""
        ...


def renderer(shape: str, template: str | None = None) -> tuple[Render, Callable[[str], str]]:
    """The line for a state, and the line for a state that cannot be read, per output."""
    if shape == "waybar":
        return (
            lambda st: json.dumps(formats.waybar(st)),
            lambda reason: json.dumps(formats.waybar_error(reason)),
        )
    if shape == "json":
        return (
            lambda st: json.dumps(formats.status_json(st)),
            lambda reason: json.dumps(formats.status_error_json(reason)),
        )
    if shape == "format":
        assert template is not None
        return (lambda st: formats.format_status(template, st), lambda reason: text.FOLLOW_ERROR)
    return text.phase_line, lambda reason: text.FOLLOW_ERROR


class _Stop(Exception):
    """SIGTERM or SIGINT: end quietly."""


def _stop(signum: int, frame: object) -> None:
    raise _Stop


class Follower:
    """What `status --follow` shows, kept up to date from the store and the clock."""

    def __init__(
        self,
        data_dir: str,
        clock: Clock,
        render: Render,
        render_error: Callable[[str], str],
        out: IO[str],
        err: IO[str],
    ) -> None:
        self.data_dir, self.clock = data_dir, clock
        self.render, self.render_error = render, render_error
        self.out, self.err = out, err
        self.store: Store | None = None
        self.acc: Fold | None = None
        self.notes: dict[datetime, str] = {}
        self.version: int | None = None
        self.error: str | None = None
        self.last: str | None = None
        self._said: str | None = None  # the last error told on stderr (once each)

    # -- the model -----------------------------------------------------------------------

    def look(self) -> None:
        """Bring the model up to date with the store (cheap when nothing changed: one stat
        and `PRAGMA data_version`)."""
        try:
            if self.store is None:
                self.store = Store.open(self.data_dir, create=False)
                if self.store is None:  # not made yet: idle, until `icecycle start`
                    self.acc, self.error = None, None
                    return
                self.version = None
            moved = self.store.follow()
            version = self.store.data_version()
            if moved or version != self.version or self.error is not None:
                self.version = version
                current = self.store.current()
                if current is None:
                    self.acc, self.notes = None, {}
                else:
                    self.acc = fold(*current)
                    self.notes = self.store.session_notes(current[0].id)
            self.error = None
        except (StoreError, ConfigError) as exc:
            self.error = " ".join(str(exc).split())
        except Exception as exc:  # one line, never a traceback: the bar shows the reason
            if os.environ.get("ICECYCLE_DEBUG"):
                raise
            self.error = f"unexpected {type(exc).__name__}: {exc} (please report it)"

    def state(self, now: datetime) -> State:
        return self.acc.state_at(now, self.notes) if self.acc is not None else _idle(now)

    def line_at(self, now: datetime) -> str:
        if self.error is not None:
            return self.render_error(self.error)
        return self.render(self.state(now))

    # -- when to look again --------------------------------------------------------------

    def next_visible(self, now: datetime, current: str | None = None) -> datetime | None:
        """The first moment after `now` at which the line differs, found among the moments
        it can change at: the whole seconds (then minutes) counted from each moment the
        line is drawn from. None: nothing changes by the clock (idle, or an error)."""
        if self.error is not None or self.acc is None:
            return None
        st = self.state(now)
        anchors = [now.replace(microsecond=0)]  # the wall clock's own seconds
        if st.phase is not None:
            anchors += [st.phase.start, st.phase.end]
        if st.next_change is not None:
            anchors.append(st.next_change)
        if st.cycle is not None:
            anchors.append(st.cycle.window_end)
        if st.alarm is not None:
            anchors.append(st.alarm)
        if current is None:
            current = self.line_at(now)
        if any((now - a) % SECOND == _ZERO for a in anchors) and self.line_at(now + _TINY) != (
            current
        ):
            return now + _TINY  # `now` fell on a moment of change
        for step in (SECOND, MINUTE):
            # (a microsecond past each: a count rounded down changes just after the moment)
            for at in sorted({_after(a, now, step) + _TINY for a in anchors}):
                if self.line_at(at) != current:
                    return at
        ends = [a for a in (st.next_change, _midnight(now)) if a is not None and a > now]
        return min([*ends, now + LONGEST])

    # -- the loop ------------------------------------------------------------------------

    def show(self, now: datetime) -> None:
        line = self.line_at(now)
        if self.error is not None and self.error != self._said:
            self._said = self.error
            print(f"icecycle: error: {self.error}", file=self.err, flush=True)
        elif self.error is None:
            self._said = None
        if line != self.last:
            self.out.write(line + "\n")
            self.out.flush()
            self.last = line

    def step(self, wait: Wait) -> None:
        """Show the line now, then sleep until it may change."""
        now = self.clock.now()
        self.show(now)
        at = self.next_visible(now, self.last)
        seconds = None if at is None else max(0.0, (at - self.clock.now()).total_seconds())
        if wait(None if seconds is None else seconds + 0.0005):
            self.look()

    def run(self, wait: Wait, *, steps: int | None = None) -> None:
        self.look()
        while steps is None or steps > 0:
            self.step(wait)
            if steps is not None:
                steps -= 1


def _after(anchor: datetime, now: datetime, step: timedelta) -> datetime:
    """The first moment after `now` that is a whole number of `step`s from `anchor`."""
    return anchor + ((now - anchor) // step + 1) * step


def _midnight(now: datetime) -> datetime:
    """The next local midnight, when clock times gain or lose their day."""
    local = now.astimezone()
    return (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


def follow(
    data_dir: str, clock: Clock, shape: str, template: str | None, out: IO[str], err: IO[str]
) -> None:
    """Run until stdout goes away (then return quietly) or SIGTERM/SIGINT."""
    from icecycle.watch import OutputGone, Waker

    render, render_error = renderer(shape, template)
    follower = Follower(data_dir, clock, render, render_error, out, err)
    try:
        out_fd: int | None = out.fileno()
    except (OSError, ValueError, AttributeError):  # (a StringIO in tests)
        out_fd = None
    waker = Waker(data_dir, out_fd)
    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        follower.run(waker.wait)
    except (_Stop, OutputGone):  # asked to stop, or nobody reads us any more: quietly
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        waker.close()
        if follower.store is not None:
            follower.store.close()
