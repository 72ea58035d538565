"""The window panel: time left of the 48-72 h window, its end, and the session counts."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label

from icecycle.cycle import State
from icecycle.durations import format_clock, format_duration
from icecycle.tui.widgets.changes import OnlyChanges, StillBar, steps


class WindowPanel(OnlyChanges, Vertical):
    def compose(self) -> ComposeResult:
        yield Label("", id="window-left")
        yield Label("", id="window-end")
        yield StillBar(total=1, show_eta=False, show_percentage=True, id="window-bar")
        yield Label("", id="sessions")

    def show(self, st: State) -> None:
        if st.cycle is None:
            return
        left = st.window_remaining.total_seconds()
        self.put(
            "#window-left",
            f"{format_duration(left)} left" if left > 0 else "Window over",
        )
        self.put("#window-end", f"ends {format_clock(st.cycle.window_end, st.now)}")
        self.put(
            "#window-bar", steps(st.window_elapsed.total_seconds(), st.cycle.settings.window_s)
        )
        self.put("#sessions", f"{st.done} done · {st.skipped} skipped · {st.left} left")
