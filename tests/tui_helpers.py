"""Shared set-up for the TUI tests: an app on a fake clock, a recording notifier, a store."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from icecycle.cycle import Settings
from icecycle.notify import Notice, Result
from icecycle.store import Store
from icecycle.tui.app import IceCycleApp, make_app

from .conftest import T0, FakeClock


class Recorder:
    name = "recorder"

    def __init__(self) -> None:
        self.sent: list[Notice] = []

    def send(self, notice: Notice) -> Result:
        self.sent.append(notice)
        return Result(self.name, True)


def open_store(data_dir: Path) -> Store:
    store = Store.open(data_dir)
    assert store is not None
    return store


def start_cycle(store: Store, settings: Settings | None = None, since_h: float = 2) -> int:
    with store.transaction():
        return store.new_cycle(T0 - timedelta(hours=since_h), settings or Settings(), T0).id


def app_for(store: Store, clock: FakeClock) -> IceCycleApp:
    app = make_app(store, clock, Recorder(), use_scheduler=False)
    app.bells = 0  # type: ignore[attr-defined]

    def bell() -> None:
        app.bells += 1  # type: ignore[attr-defined]

    app.bell = bell  # type: ignore[method-assign]
    return app


def text_of(app: IceCycleApp, selector: str) -> str:
    from textual.widgets import Label

    return str(app.screen_stack[0].query_one(selector, Label).content)
