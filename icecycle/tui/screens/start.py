"""The start screen: when the spasm began and the three lengths, from the config, checked
by the same use case as `icecycle start`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label

from icecycle import text
from icecycle.actions import FORM_FIELDS, Plan, Refused, plan_start
from icecycle.config import Config
from icecycle.durations import format_span


class StartScreen(Screen[Plan]):
    BINDINGS = [
        Binding("escape", "cancel", "Back"),
        Binding("escape", "leave", "Quit"),  # (no cycle to go back to: Esc leaves, and says so)
        Binding("ctrl+s", "start", "Start"),
    ]

    def __init__(self, config: Config, now: Callable[[], datetime], *, can_cancel: bool) -> None:
        super().__init__()
        self.config, self.now, self.can_cancel = config, now, can_cancel
        self._warned: tuple[str, ...] = ()

    def _defaults(self) -> list[tuple[str, str, str]]:
        """(field, value, where it came from) for each field."""
        cfg = self.config
        src = cfg.sources

        def where(key: str) -> str:
            return "from your config" if src.get(key, "default") != "default" else "default"

        return [
            ("since", "now", "when the spasm began: now, 3h ago, 9pm, yesterday 21:00"),
            ("on", format_span(cfg.on_s), where("on_s")),
            ("off", format_span(cfg.off_s), where("off_s")),
            ("window", format_span(cfg.window_s), where("window_s")),
        ]

    def compose(self) -> ComposeResult:
        with Vertical(id="start"):
            yield Label("Start a cold therapy cycle", id="start-title")
            cfg = self.config
            yield Label(text.protocol(cfg.on_s, cfg.off_s, cfg.window_s), id="start-intro")
            with Grid(id="start-form"):
                for key, value, where in self._defaults():
                    yield Label(FORM_FIELDS[key])
                    yield Input(value, id=f"field-{key}", select_on_focus=True)
                    yield Label(where, classes="start-source", id=f"source-{key}")
            yield Label("", id="start-error")
            yield Button("Start: ice on now", id="start-button", variant="primary")
            yield Label(
                "Times: now, 3h ago, 9pm, 14:30, yesterday 21:00.  Lengths: 25m, 1h30m, 72h.",
                id="start-help",
            )
        yield Footer()

    def on_input_changed(self, event: Input.Changed) -> None:
        """An edited field says so, and an old error goes once the person types."""
        key = (event.input.id or "").removeprefix("field-")
        first = {k: (v, w) for k, v, w in self._defaults()}.get(key)
        if first is not None:
            self.query_one(f"#source-{key}", Label).update(
                first[1] if event.value == first[0] else "yours"
            )
        self.query_one("#start-error", Label).update("")
        self._warned = ()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_start()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_start()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return self.can_cancel
        if action == "leave":
            return not self.can_cancel
        return True

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_leave(self) -> None:
        self.app.exit()

    def action_start(self) -> None:
        values = {key: self.query_one(f"#field-{key}", Input).value for key in FORM_FIELDS}
        error = self.query_one("#start-error", Label)
        try:
            plan = plan_start(
                self.config,
                self.now(),
                values["since"],
                values["on"],
                values["off"],
                values["window"],
                audience="keys",
            )
        except Refused as exc:
            error.update(str(exc))
            return
        if plan.warnings and plan.warnings != self._warned:
            # A caution is shown once; starting again means the person read it.
            self._warned = plan.warnings
            error.update(" ".join(plan.warnings) + " Press Start again to go ahead.")
            return
        self.dismiss(plan)
