"""Baseline for the TUI: a Textual app with one label (updated once a second with --tick)."""
# With --timer it runs the same 1 s timer but changes nothing: the floor for a program that
# must look at the clock every second without drawing.

import sys
from datetime import datetime

from textual.app import App, ComposeResult
from textual.widgets import Label


class Minimal(App[None]):
    def compose(self) -> ComposeResult:
        yield Label("ICE ON baseline", id="label")

    def on_mount(self) -> None:
        if "--tick" in sys.argv:
            self.set_interval(1, self.tick)
        elif "--timer" in sys.argv:
            self.set_interval(1, self.look)

    def look(self) -> None:
        self.now = datetime.now()

    def tick(self) -> None:
        self.query_one(Label).update(f"ICE ON baseline {datetime.now():%H:%M:%S}")


if __name__ == "__main__":
    Minimal().run()
