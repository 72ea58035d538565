"""The dashboard: the phase, the window at a glance, what comes next, and the keys."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Label

from icecycle.cycle import Fold, Session, State
from icecycle.tui.keys import bindings
from icecycle.tui.widgets.phase import PhasePanel
from icecycle.tui.widgets.upcoming import Upcoming
from icecycle.tui.widgets.window import WindowPanel


class DashboardScreen(Screen[None]):
    """What a person leaves open through recovery. It shows; the App decides and acts."""

    BINDINGS = bindings()
    # Small terminals drop what matters least first (see app.tcss: -narrow, -short).
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (70, "-normal"), (140, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (20, "-normal-height"), (40, "-tall")]

    def __init__(self, desktop_line: str, on_ready: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.desktop_line = desktop_line
        self.on_ready = on_ready

    def compose(self) -> ComposeResult:
        yield PhasePanel(id="phase")
        with Horizontal(id="lower"):
            with Vertical(id="window-box") as box:
                box.border_title = "Window"
                yield WindowPanel()
            with Vertical(id="next-box") as box:
                box.border_title = "Next"
                yield Upcoming(id="upcoming")
        yield Label("", id="notice")
        yield Label(self.desktop_line, id="desktop")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        # Filled at once, in this same step: the first frame already shows the phase.
        if self.on_ready is not None:
            self.on_ready()

    def show(
        self,
        st: State,
        urgent: bool,
        acc: Fold | None,
        sessions: list[Session] | None,
        quiet: list[tuple[datetime, datetime]] | None = None,
    ) -> None:
        self.query_one(PhasePanel).show(st, urgent)
        self.query_one(WindowPanel).show(st, sessions, quiet or [])
        self.query_one(Upcoming).show(st, acc)

    def set_line(self, selector: str, value: str) -> None:
        self.query_one(selector, Label).update(value)

    def line(self, selector: str) -> str:
        return str(self.query_one(selector, Label).content)
