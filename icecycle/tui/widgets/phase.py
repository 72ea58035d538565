"""The phase panel: the words, a big countdown, a progress bar, and the towel line."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label

from icecycle import text
from icecycle.cycle import State
from icecycle.durations import format_clock, format_countdown
from icecycle.tui.widgets.changes import OnlyChanges, StillBar, steps
from icecycle.tui.widgets.countdown import Countdown

HEADLINES = {
    "on": "ICE ON",
    "off": "REST · ice off",
    "paused": "PAUSED",
    "done": "DONE",
    "idle": "NO CYCLE",
}
STATES = ("-on", "-off", "-paused", "-done", "-idle", "-urgent")


class PhasePanel(OnlyChanges, Vertical):
    """Shows the phase in words and numbers; its state is a CSS class (-on, -off, ...).

    While the terminal does not have the focus (nobody is looking), the countdown shows
    whole minutes and so redraws once a minute; the state, the alarm and every word still
    change at once.
    """

    focused = True
    _last: tuple[State, bool] | None = None
    _state_classes: tuple[str, bool] | None = None
    _key: tuple[object, ...] | None = None
    _phase_bar: StillBar | None = None

    def on_mount(self) -> None:
        # Textual keeps whether the terminal has the focus (AppBlur/AppFocus, or a key or a
        # click) in app_focus; this also picks up a blur that came before the panel was up.
        self.watch(self.app, "app_focus", self.set_focused)

    def set_focused(self, focused: bool) -> None:
        """The terminal gained or lost the focus: switch the countdown's form now."""
        if focused == self.focused:
            return
        self.focused = focused
        if self._last is not None:
            self.show(*self._last)

    @property
    def _bar(self) -> StillBar:
        if self._phase_bar is None:
            self._phase_bar = self.query_one("#phase-bar", StillBar)
        return self._phase_bar

    def compose(self) -> ComposeResult:
        yield Label("", id="headline")
        with Horizontal(id="clock-row"):
            yield Countdown("--:--", id="countdown")
            yield Label("", id="until")
        yield StillBar(total=1, show_eta=False, show_percentage=False, id="phase-bar")
        yield Label("", id="phase-hint")

    def show(self, st: State, urgent: bool) -> None:
        self._last = (st, urgent)
        remaining = st.phase_remaining.total_seconds()
        if st.phase is None:
            shown = "--:--"
        elif self.focused:
            shown = format_countdown(remaining)
        else:
            # Whole minutes, rounded up like the full form; the bar moves with them.
            minutes = int(-(-remaining // 60))
            shown, remaining = str(minutes), minutes * 60
        bar = steps(st.state == "done", 1)
        if st.phase is not None:
            # In steps the bar can show, no finer: a 25 min session on a 96-cell bar moves
            # every 8 s, and each move costs more than the countdown's second.
            length = st.phase.length.total_seconds()
            bar = steps(length - remaining, length, self._bar.positions)
        # Everything else the panel shows follows from these (the date: clock times name the
        # day when it is not today). Within a phase only the countdown and its bar move.
        today = st.now.astimezone().date()
        key = (st.state, urgent, st.phase, st.cycle, st.quiet_until, st.quiet_next, today, st.held)
        self.put("#countdown", shown)
        self.put("#phase-bar", bar)
        if (key, self.focused) == self._key:
            return
        self._key = (key, self.focused)
        if (st.state, urgent) != self._state_classes:  # (setting classes walks the DOM each time)
            self._state_classes = (st.state, urgent)
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
            self.put("#until", "")
            self.put("#phase-hint", _idle_hint(st, urgent))
            return
        left = "left" if self.focused else "min left"
        ends = format_clock(st.phase.end, st.now)
        last = st.cycle is not None and st.phase.end >= st.cycle.window_end
        if st.state == "on":
            self.put("#until", f"{left}\nice off at {ends}")
            self.put("#phase-hint", text.TOWEL)
            return
        if st.held is not None and not last:
            # Held by the unanswered alarm: this rest starts over from the answer, so there
            # is no clock time for the next ice yet (and the digits stand still).
            self.put("#until", "rest after\nyou answer")
        elif st.quiet_next and not last:
            self.put("#until", f"{left}\nquiet hours; ice on at {ends}")
        else:
            self.put("#until", f"{left}\n{'window ends' if last else 'ice on at'} {ends}")
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
