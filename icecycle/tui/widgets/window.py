"""The window panel: time left of the 48-72 h window, its end, the counts, and the strip."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label

from icecycle import text
from icecycle.cycle import Session, State
from icecycle.durations import format_clock, format_duration
from icecycle.tui.widgets.changes import OnlyChanges, StillBar, steps
from icecycle.tui.widgets.strip import WindowStrip


class WindowPanel(OnlyChanges, Vertical):
    def compose(self) -> ComposeResult:
        yield Label("", id="window-left")
        yield Label("", id="window-end")
        yield StillBar(total=1, show_eta=False, show_percentage=True, id="window-bar")
        yield WindowStrip(id="window-strip")
        yield Label("", id="sessions")

    def show(self, st: State, sessions: list[Session] | None, quiet: list[tuple[Any, Any]]) -> None:
        if st.cycle is None:
            return
        left = st.window_remaining.total_seconds()
        self.put(
            "#window-left",
            f"{format_duration(-(-left // 1))} left" if left > 0 else "Window over",
        )
        word = "ended" if left <= 0 else "ends"
        self.put("#window-end", f"{word} {format_clock(st.cycle.window_end, st.now)}")
        self.put(
            "#window-bar", steps(st.window_elapsed.total_seconds(), st.cycle.settings.window_s)
        )
        self.put("#sessions", text.counts_line(st.counts))
        if sessions is not None:
            spans: list[tuple[datetime, datetime]] = list(quiet)
            self.query_one(WindowStrip).show(
                sessions, st.cycle.window_start, st.cycle.window_end, st.now, spans
            )
