"""What comes next: the next few phases with their clock times."""

from __future__ import annotations

from textual.widgets import Static

from icecycle.cycle import Fold, State
from icecycle.durations import format_clock

ROWS = 4


class Upcoming(Static):
    _key: object = None

    def show(self, st: State, acc: Fold | None) -> None:
        # The list changes only with the phase (or the date, for its day names).
        # (while paused the preview is "as if resumed now": it moves with the clock)
        # (and while held: "as if answered now")
        moving = st.state == "paused" or st.held is not None
        minute = st.now.replace(second=0, microsecond=0) if moving else None
        key = (
            st.state,
            st.phase.start if st.phase else None,
            st.now.astimezone().date(),
            acc,
            minute,
        )
        if key == self._key:
            return
        self._key = key
        if acc is None or st.state in ("done", "idle"):
            self.update("Nothing more in this window.")
            return
        phases = acc.phases_from(st.now, ROWS + 1)
        if st.phase is not None:
            phases = phases[1:]  # the current one is shown above
        lines = []
        for p in phases[:ROWS]:
            what = "ice on" if p.kind == "on" else "rest"
            lines.append(f"{format_clock(p.start, st.now):<16}  {what}")
        if st.state == "paused" and not st.quiet_until and lines:
            lines.insert(0, "if resumed now:")
        elif st.held is not None and lines:
            lines.insert(0, "if answered now:")
        end = format_clock(st.cycle.window_end, st.now) if st.cycle else ""
        if len(phases) < ROWS and end:
            lines.append(f"{end:<16}  window ends")
        self.update("\n".join(lines[: ROWS + 1]) or "Nothing more in this window.")
