"""The wall clock, passed into the shells so tests can bring their own; made steady, so a
clock that steps back while icecycle runs cannot stretch a session."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

#: A wall clock that moves this much less than real time has stepped back (NTP slews
#: smaller corrections, so they never reach this).
STEP = timedelta(seconds=2)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


def _elapsed() -> float:
    """Seconds on a clock that never steps back and counts suspend (CLOCK_BOOTTIME)."""
    try:
        return time.clock_gettime(time.CLOCK_BOOTTIME)
    except (AttributeError, OSError):  # not Linux: monotonic (it may stop during suspend)
        return time.monotonic()


class SystemClock:
    """The wall clock, plus a clock that never steps back.

    If the wall clock steps back while this process runs (an NTP correction after a dual
    boot, a person setting it), `now()` keeps counting real elapsed time from where it was,
    so a session in progress still ends after its real length; `behind` says by how much the
    wall clock trails, and shrinks again when it steps forward. A process that starts with
    the clock already wrong cannot know: `actions` refuses to put ice on then.
    """

    def __init__(
        self,
        wall: Callable[[], datetime] | None = None,
        elapsed: Callable[[], float] | None = None,
    ) -> None:
        self._wall = wall or (lambda: datetime.now(UTC))
        self._elapsed = elapsed or _elapsed
        self._last: tuple[datetime, float] | None = None
        self.behind = timedelta(0)
        #: the stored change now was held to, when the clock was behind it from the start
        self.held_at: datetime | None = None

    def not_before(self, moment: datetime) -> bool:
        """Never earlier than `moment` (the last change icecycle stored): a wall clock
        behind it went back before this process started. From then on real time is counted
        from `moment`, as after a step back seen while running. True if it moved now."""
        now = self.now()
        if now >= moment - STEP:
            return False
        self.behind += moment - now
        self.held_at = moment
        return True

    def now(self) -> datetime:
        wall, real = self._wall(), self._elapsed()
        if self._last is not None:
            last_wall, last_real = self._last
            passed = timedelta(seconds=real - last_real)
            moved = wall - last_wall
            if moved < passed - STEP:  # stepped back
                self.behind += passed - moved
            elif moved > passed + STEP and self.behind:  # stepped forward: catch up
                self.behind = max(timedelta(0), self.behind - (moved - passed))
        self._last = (wall, real)
        return wall + self.behind
