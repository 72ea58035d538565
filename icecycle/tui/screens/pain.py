"""After a session: "Pain now, 0-10?", one keypress, Esc skips."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label


class PainScreen(ModalScreen[int | None]):
    BINDINGS = [
        *(Binding(str(n), f"score({n})", str(n), show=False) for n in range(10)),
        Binding("plus", "score(10)", "10", show=False),
        Binding("escape", "dismiss(None)", "Skip"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="pain"):
            yield Label("Pain now, 0 to 10?", id="pain-title")
            yield Label(
                "Press 0-9, or + for 10. Esc skips. It goes in your history, so you "
                "can see the trend.",
                id="pain-body",
            )

    def action_score(self, score: int) -> None:
        self.dismiss(score)
