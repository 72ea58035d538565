"""Every session of the cycle with its times and status, its strip, and the totals."""

from __future__ import annotations

from datetime import datetime

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label

from icecycle import text
from icecycle.cycle import Cycle, Session
from icecycle.durations import format_clock
from icecycle.tui.widgets.strip import CycleStrip


class HistoryScreen(Screen[None]):
    BINDINGS = [Binding("escape,h,q", "app.pop_screen", "Back")]

    def __init__(
        self,
        cycle: Cycle,
        rows: list[Session],
        totals: str,
        now: datetime,
        quiet: list[tuple[datetime, datetime]] | None = None,
    ) -> None:
        super().__init__()
        self.cycle, self.rows, self.totals, self.now = cycle, rows, totals, now
        self.quiet = quiet or []

    def compose(self) -> ComposeResult:
        with Vertical(id="history"):
            yield Label("History", id="history-title")
            yield CycleStrip(
                self.rows,
                self.cycle.window_start,
                self.cycle.window_end,
                self.quiet,
                columns=60,
                id="history-strip",
            )
            yield DataTable(id="history-table", zebra_stripes=True, cursor_type="row")
            yield Label(self.totals, id="history-totals")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("#", "ice on", "off", "status", "note")
        for n, s in enumerate(self.rows, 1):
            if s.status == "upcoming":
                continue
            table.add_row(
                str(n),
                format_clock(s.start, self.now),
                s.end.astimezone().strftime("%H:%M"),
                s.status,
                text.session_note(s.status, s.confirmed, s.note, s.ended_by),
            )
