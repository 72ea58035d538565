"""The towel modal at the start of every ice session."""

from __future__ import annotations

from datetime import datetime

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label

from icecycle.durations import format_clock


class TowelScreen(ModalScreen[str]):
    """Answers: "ack" (ice is on), "skip", or "dismiss"."""

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (66, "-normal")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (16, "-tall")]
    BINDINGS = [
        Binding("escape", "answer('dismiss')", "Dismiss"),
        Binding("a", "answer('ack')", "Ice is on"),
        Binding("s", "answer('skip')", "Skip"),
    ]

    def __init__(self, ends_at: str, session_start: datetime | None = None) -> None:
        super().__init__()
        self.ends_at = ends_at
        self.session_start = session_start  # the answer is about this session only

    def compose(self) -> ComposeResult:
        with Vertical(id="towel"):
            yield Label("Thin towel between the ice and your skin", id="towel-title")
            yield Label(
                "Time for a session. Wrap the ice pack in a thin towel, never straight on "
                f"the skin. It comes off at {self.ends_at}.",
                id="towel-body",
            )
            with Horizontal(id="towel-buttons"):
                yield Button("Ice is on", id="ack", variant="primary")
                yield Button("Skip this session", id="skip")
                yield Button("Dismiss", id="dismiss")

    def on_mount(self) -> None:
        self._fit()

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        # A small terminal: one-line buttons, so the question and all three answers fit.
        width, height = self.app.size
        small = width < 66 or height < 16
        for button in self.query(Button):
            button.compact = small

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id or "dismiss")

    def action_answer(self, answer: str) -> None:
        self.dismiss(answer)


def towel_for(start: datetime, end: datetime, now: datetime) -> TowelScreen:
    return TowelScreen(format_clock(end, now), start)
