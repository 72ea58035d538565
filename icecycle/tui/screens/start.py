"""The start screen: when the spasm began and the three lengths, checked like the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label

from icecycle import text
from icecycle.actions import parse_setting, parse_since
from icecycle.cycle import Settings
from icecycle.durations import InputError

FIELDS = [  # id, label, default
    ("since", "Spasm began", "now"),
    ("on", "Ice on for", "25m"),
    ("off", "Ice off for", "90m"),
    ("window", "Window", "72h"),
]


@dataclass(frozen=True)
class StartRequest:
    since: datetime
    settings: Settings


class StartScreen(Screen[StartRequest]):
    BINDINGS = [Binding("escape", "app.quit", "Quit"), Binding("ctrl+s", "start", "Start")]

    def __init__(self, now: datetime) -> None:
        super().__init__()
        self.now = now

    def compose(self) -> ComposeResult:
        with Vertical(id="start"):
            yield Label("Start a cold therapy cycle", id="start-title")
            yield Label(text.PROTOCOL, id="start-intro")
            with Grid(id="start-form"):
                for key, label, default in FIELDS:
                    yield Label(label)
                    yield Input(default, id=f"field-{key}", select_on_focus=True)
            yield Label("", id="start-error")
            yield Button("Start: ice on now", id="start-button", variant="primary")
            yield Label("Times: now, 3h ago, 14:30.  Lengths: 25m, 1h30m, 72h.", id="start-help")
        yield Footer()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_start()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_start()

    def action_start(self) -> None:
        values = {key: self.query_one(f"#field-{key}", Input).value for key, _, _ in FIELDS}
        error = self.query_one("#start-error", Label)
        try:
            lengths = {k: parse_setting(k, values[k]) for k in ("on", "off", "window")}
        except InputError as exc:
            error.update(str(exc))
            return
        try:
            since = parse_since(values["since"], self.app_now(), lengths["window"])
        except InputError as exc:
            error.update(f"Spasm began: {exc}")
            return
        self.dismiss(
            StartRequest(since, Settings(lengths["on"], lengths["off"], lengths["window"]))
        )

    def app_now(self) -> datetime:
        clock = getattr(self.app, "clock", None)
        return clock.now() if clock is not None else self.now
