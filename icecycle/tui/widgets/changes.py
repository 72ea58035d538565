"""Update a widget only when what it shows has changed: the 1 s tick redraws no more."""

from __future__ import annotations

from typing import Any

from textual.events import Mount
from textual.widget import Widget
from textual.widgets import Label, ProgressBar

from icecycle.tui.widgets.countdown import Countdown


class StillBar(ProgressBar):
    """A ProgressBar without its once-a-second ETA timer, which repainted the bar (and its
    containers) every second even when nothing moved: this one changes only when updated."""

    _positions: int | None = None

    def _on_mount(self, event: Mount) -> None:
        # ProgressBar.on_mount would start the timer; no ETA is shown here, so stop the
        # handlers below this one (Widget's only sets up scrollbars, which a bar never has).
        event.prevent_default()
        self.update()

    def on_resize(self) -> None:
        self._positions = None

    @property
    def positions(self) -> int:
        """How many places the bar's end can be drawn at: two a cell (whole and half bars)."""
        if self._positions is None:  # (a widget's size is looked up in the compositor's map)
            width = self.query_one("#bar").size.width
            if not width:
                return 400  # not laid out yet
            self._positions = 2 * width
        return self._positions


class OnlyChanges:
    """Mixin for containers: remembers what each child shows and skips equal updates."""

    _shown: dict[str, Any]

    def put(self, selector: str, value: Any) -> None:
        shown = self.__dict__.setdefault("_shown", {})
        if shown.get(selector) == value:
            return
        shown[selector] = value
        widget: Widget = self.query_one(selector)  # type: ignore[attr-defined]
        if isinstance(widget, ProgressBar):
            # The values themselves, not update(): that also keeps an ETA, shown nowhere
            # here, and each change of it repaints the whole bar a second time.
            widget.total, widget.progress = value
        elif isinstance(widget, Label | Countdown):
            widget.update(value)


def steps(progress: float, total: float, resolution: int = 400) -> tuple[float, float]:
    """A progress bar's value rounded to what a terminal can show, so most ticks change nothing."""
    total = total or 1
    return float(resolution), float(round(min(max(progress / total, 0), 1) * resolution))
