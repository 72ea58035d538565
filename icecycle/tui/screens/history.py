"""Every session of the cycle with its times and status, and the totals."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label

from icecycle.cycle import Session
from icecycle.durations import format_clock

NOTES = {"passed": "passed while closed", "late": "notified late", "failed": "not notified"}


class HistoryScreen(Screen[None]):
    BINDINGS = [Binding("escape,h,q", "app.pop_screen", "Back")]

    def __init__(self, rows: list[Session], totals: str, now) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self.rows, self.totals, self.now = rows, totals, now

    def compose(self) -> ComposeResult:
        with Vertical(id="history"):
            yield Label("History", id="history-title")
            yield DataTable(id="history-table", zebra_stripes=True, cursor_type="row")
            yield Label(self.totals, id="history-totals")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("#", "ice on", "off", "status", "note")
        for n, s in enumerate(self.rows, 1):
            if s.status == "upcoming":
                continue
            note = ", ".join(
                x for x in ("confirmed" if s.confirmed else "", NOTES.get(s.note, "")) if x
            )
            table.add_row(
                str(n),
                format_clock(s.start, self.now),
                s.end.astimezone().strftime("%H:%M"),
                s.status,
                note,
            )
