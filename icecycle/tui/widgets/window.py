"""The window panel: time left of the 48-72 h window, its end, and the session counts."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, ProgressBar

from icecycle.cycle import State
from icecycle.durations import format_clock, format_duration


class WindowPanel(Vertical):
    def compose(self) -> ComposeResult:
        yield Label("", id="window-left")
        yield Label("", id="window-end")
        yield ProgressBar(total=1, show_eta=False, show_percentage=True, id="window-bar")
        yield Label("", id="sessions")

    def show(self, st: State) -> None:
        if st.cycle is None:
            return
        left = st.window_remaining.total_seconds()
        self.query_one("#window-left", Label).update(
            f"{format_duration(left, with_seconds=False)} left" if left > 0 else "Window over"
        )
        self.query_one("#window-end", Label).update(
            f"ends {format_clock(st.cycle.window_end, st.now)}"
        )
        total = st.cycle.settings.window_s
        self.query_one("#window-bar", ProgressBar).update(
            total=total, progress=st.window_elapsed.total_seconds()
        )
        self.query_one("#sessions", Label).update(
            f"{st.done} done · {st.skipped} skipped · {st.left} left"
        )
