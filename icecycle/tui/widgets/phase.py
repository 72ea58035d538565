"""The phase panel: the words, a big countdown, a progress bar, and the towel line."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Digits, Label, ProgressBar

from icecycle import text
from icecycle.cycle import State
from icecycle.durations import format_clock, format_countdown
from icecycle.tui.widgets.changes import OnlyChanges, steps

HEADLINES = {
    "on": "ICE ON",
    "off": "REST · ice off",
    "paused": "PAUSED",
    "done": "DONE",
    "idle": "NO CYCLE",
}
STATES = ("-on", "-off", "-paused", "-done", "-idle", "-urgent")


class PhasePanel(OnlyChanges, Vertical):
    """Shows the phase in words and numbers; its state is a CSS class (-on, -off, ...)."""

    def compose(self) -> ComposeResult:
        yield Label("", id="headline")
        with Horizontal(id="clock-row"):
            yield Digits("--:--", id="countdown")
            yield Label("", id="until")
        yield ProgressBar(total=1, show_eta=False, show_percentage=False, id="phase-bar")
        yield Label("", id="phase-hint")

    def show(self, st: State, urgent: bool) -> None:
        for cls in STATES:
            self.set_class(cls == f"-{st.state}", cls)
        self.set_class(urgent, "-urgent")
        headline = HEADLINES[st.state]
        if st.quiet_until:
            headline = f"QUIET HOURS until {format_clock(st.quiet_until, st.now)}"
        if urgent:
            headline = "TAKE THE ICE OFF NOW"
        self.put("#headline", headline)
        if st.phase is None:
            self.put("#countdown", "--:--")
            self.put("#phase-bar", steps(st.state == "done", 1))
            self.put("#until", "")
            self.put("#phase-hint", _idle_hint(st, urgent))
            return
        remaining = st.phase_remaining.total_seconds()
        self.put("#countdown", format_countdown(remaining))
        length = st.phase.length.total_seconds()
        self.put("#phase-bar", steps(length - remaining, length))
        ends = format_clock(st.phase.end, st.now)
        last = st.cycle is not None and st.phase.end >= st.cycle.window_end
        if st.state == "on":
            self.put("#until", f"left\nice off at {ends}")
            self.put("#phase-hint", text.TOWEL)
            return
        if st.quiet_next and not last:
            self.put("#until", f"left\nquiet hours; ice on at {ends}")
        else:
            self.put("#until", f"left\n{'window ends' if last else 'ice on at'} {ends}")
        if urgent:  # the alarm's line, never the towel's (issue 10, finding 3)
            hint = "Take the ice off now, then press a."
        elif st.quiet_until or st.quiet_next:
            hint = "Rest. Quiet hours: no reminders until they end."
        else:
            hint = "Rest. No ice now."
        self.put("#phase-hint", hint)


def _idle_hint(st: State, urgent: bool) -> str:
    if urgent:
        paused = " The cycle is paused." if st.state == "paused" else ""
        return f"Take the ice off now, then press a.{paused}"
    if st.state == "paused":
        return "No reminders while paused. Press p to resume; the window keeps running."
    if st.state == "done":
        return "The window is over. Press n for a new cycle, h for the history, q to leave."
    return "No cycle is running."
