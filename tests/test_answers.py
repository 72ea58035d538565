"""Answers from notification buttons, applied through the shared actions, on a fake clock."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from icecycle.cycle import Settings
from icecycle.notify import Notice, Result, ice_off, ice_on, reminder
from icecycle.runner import Report, Runner, _dump, _load
from icecycle.store import Store

from .conftest import T0, FakeClock


class Buttons:
    """A notifier whose notices have buttons: it keeps the one waiting notice, like the
    desktop one, and lets the test press a button from another thread."""

    name = "buttons"

    def __init__(self) -> None:
        self.sent: list[Notice] = []
        self.heard: Callable[[Notice, str], None] | None = None
        self.withdrawn: list[Notice] = []
        self._waiting: Notice | None = None

    def send(self, notice: Notice) -> Result:
        self.sent.append(notice)
        self._waiting = notice if notice.buttons else None
        return Result(self.name, True)

    def listen(self, heard: Callable[[Notice, str], None]) -> None:
        self.heard = heard

    def waiting(self) -> Notice | None:
        return self._waiting

    def withdraw(self) -> None:
        assert self._waiting is not None
        self.withdrawn.append(self._waiting)
        self._waiting = None

    def close(self) -> None:
        self._waiting = None

    async def press(self, notice: Notice, key: str) -> None:
        """As the desktop notifier's reader thread does: from a thread of its own."""
        assert self.heard is not None
        t = threading.Thread(target=self.heard, args=(notice, key))
        t.start()
        t.join()
        for _ in range(20):  # the runner hops onto the loop to act
            await asyncio.sleep(0.01)


@pytest.fixture
def store(data_dir: Path) -> Store:
    s = Store.open(data_dir)
    assert s is not None
    return s


def begin(store: Store, settings: Settings) -> int:
    with store.transaction():
        return store.new_cycle(T0, settings, T0).id


def kinds(store: Store, cid: int) -> list[str]:
    return [e.kind for e in store.events(cid)]


def runner_for(store: Store, clock: FakeClock, reports: list[Report]) -> tuple[Runner, Buttons]:
    b = Buttons()
    r = Runner(
        store, clock, b, report=reports.append, repeat_every=timedelta(seconds=60), repeat_count=3
    )
    return r, b


async def test_ice_is_off_answers_the_alarm_and_the_reminders_stop(store, clock) -> None:
    cid = begin(store, Settings(60, 3600, 24 * 3600))
    reports: list[Report] = []
    runner, b = runner_for(store, clock, reports)
    await runner.run_once()
    clock.advance(60)
    await runner.run_once()
    off = b.sent[-1]
    assert off.kind == "off" and off.moment == T0 + timedelta(seconds=60)
    assert [k for k, _ in off.buttons] == ["default", "ice-off"]
    await b.press(off, "ice-off")
    assert kinds(store, cid)[-1] == "ack"
    assert runner.state().alarm is None
    assert [r.kind for r in reports if r.kind == "answered"] == ["answered"]
    assert '"Ice is off" from the notification' in reports[-1].text
    for _ in range(5):  # five minutes on: the reminders (every minute) no longer come
        clock.advance(60)
        await runner.run_once()
    assert [n.kind for n in b.sent] == ["on", "off"]


async def test_a_click_on_a_reminder_answers_too(store, clock) -> None:
    cid = begin(store, Settings(60, 3600, 24 * 3600))
    reports: list[Report] = []
    runner, b = runner_for(store, clock, reports)
    await runner.run_once()
    clock.advance(60)
    await runner.run_once()
    clock.advance(60)
    await runner.run_once()
    assert b.sent[-1].kind == "remind"
    await b.press(b.sent[-1], "default")
    assert kinds(store, cid)[-1] == "ack" and runner.state().alarm is None


async def test_an_answer_whose_moment_passed_changes_nothing(store, clock) -> None:
    """A button pressed on an old notice (the alarm already answered, the session over) is
    refused in one line: "Skip" on a finished session must not skip the next one."""
    cid = begin(store, Settings(60, 3600, 24 * 3600))
    reports: list[Report] = []
    runner, b = runner_for(store, clock, reports)
    await runner.run_once()
    on = b.sent[-1]
    clock.advance(60)
    await runner.run_once()
    off = b.sent[-1]
    await b.press(off, "ice-off")
    before = kinds(store, cid)
    await b.press(off, "ice-off")  # twice: a second click, or a second server
    await b.press(on, "skip")  # the session it named is over
    await b.press(on, "ice-on")
    assert kinds(store, cid) == before
    refused = [r.text for r in reports if r.kind == "refused"]
    assert len(refused) == 3
    assert all("that moment has passed; nothing was changed" in t for t in refused)
    assert all("\n" not in t for t in refused)


async def test_ice_is_on_confirms_the_session_and_skip_skips_it(store, clock) -> None:
    cid = begin(store, Settings(60, 120, 24 * 3600))
    reports: list[Report] = []
    runner, b = runner_for(store, clock, reports)
    await runner.run_once()
    on = b.sent[-1]
    assert [label for _, label in on.buttons] == ["Ice is on", "Skip"]
    await b.press(on, "ice-on")
    assert kinds(store, cid)[-1] == "ack"
    assert runner.state().acknowledged
    await b.press(on, "ice-on")  # already confirmed: refused by the actions layer itself
    assert kinds(store, cid).count("ack") == 1
    assert "was not applied" in reports[-1].text
    clock.advance(60)  # the session ended: its take-it-off, answered from the notice
    await runner.run_once()
    await b.press(b.sent[-1], "ice-off")
    clock.advance(120)  # the next session (unanswered, the alarm would have held it)
    await runner.run_once()
    await b.press(b.sent[-1], "skip")
    assert kinds(store, cid)[-1] == "skip" and runner.state().state == "off"


async def test_a_notice_answered_elsewhere_is_withdrawn(store, clock, data_dir) -> None:
    cid = begin(store, Settings(60, 3600, 24 * 3600))
    runner, b = runner_for(store, clock, [])
    await runner.run_once()
    clock.advance(60)
    await runner.run_once()
    # The session ended: the ice-on notice's buttons no longer apply.
    assert [n.kind for n in b.withdrawn] == ["on"] and b.waiting() is not None
    other = Store.open(data_dir)  # `icecycle ack` from another terminal
    assert other is not None
    other.append(cid, "ack", clock.advance(1))
    await runner.run_once()
    assert [n.kind for n in b.withdrawn] == ["on", "off"]


async def test_a_notice_still_current_is_not_withdrawn(store, clock) -> None:
    begin(store, Settings(60, 3600, 24 * 3600))
    runner, b = runner_for(store, clock, [])
    await runner.run_once()
    clock.advance(30)
    await runner.run_once()
    assert b.withdrawn == [] and b.waiting() is not None


def test_a_stored_notice_keeps_its_moment() -> None:
    """A claim another runner delivers late still carries what its answer refers to."""
    for n in (
        ice_on(T0, T0, T0 + timedelta(minutes=25), False),
        ice_off(T0, T0, None, False),
        reminder(T0, T0),
    ):
        back = _load(_dump(n))
        assert back == n and back.buttons == n.buttons != ()
