"""Issue 19, finding 13: the smaller ways an alert, a file or a command went wrong."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from icecycle.cycle import Settings
from icecycle.notify import Notice
from icecycle.runner import Runner

from .conftest import T0
from .timing import within
from .tui_helpers import Recorder, app_for, open_store, start_cycle, text_of

# -- a button pressed on an old notice -------------------------------------------------------


async def test_a_button_on_an_old_notice_says_so_in_the_dashboard(data_dir, clock) -> None:
    store = open_store(data_dir)
    start_cycle(store, Settings(60, 3600, 86400), since_h=0)
    app = app_for(store, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        old = Notice("on", "Ice on", "", moment=T0 - timedelta(hours=5))
        report = app.runner.answer(old, "ice-on")
        await pilot.pause()
        assert report.kind == "refused"
        assert "from an earlier notification" in text_of(app, "#notice")


# -- export to a FIFO or a device -------------------------------------------------------------


@pytest.mark.parametrize("force", [False, True])
def test_export_never_waits_on_or_replaces_a_fifo(run, tmp_path: Path, force: bool) -> None:
    assert run("start").code == 0
    fifo = tmp_path / "phone.ics"
    os.mkfifo(fifo)
    args = ["export", str(fifo), *(["--force"] if force else [])]
    r = within(5, lambda: run(*args))
    assert r.code == 1 and r.err.count("\n") == 1 and "not a regular file" in r.err
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # still the FIFO it was


def test_export_force_never_replaces_a_device_node(run, tmp_path: Path) -> None:
    assert run("start").code == 0
    node = tmp_path / "null"
    try:
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # a /dev/null of our own
    except PermissionError:
        pytest.skip("making a device node needs root")
    r = within(5, lambda: run("export", str(node), "--force"))
    assert r.code == 1 and "not a regular file" in r.err
    assert stat.S_ISCHR(node.stat().st_mode)


def test_export_is_yours_alone_whatever_the_umask(run, tmp_path: Path) -> None:
    assert run("start").code == 0
    path = tmp_path / "phone.ics"
    old = os.umask(0)
    try:
        assert run("export", str(path)).code == 0
        assert run("export", str(path)).code == 0  # and again, over its own earlier file
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# -- the dashboard with stdin closed ----------------------------------------------------------


def test_the_dashboard_with_stdin_closed_says_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "ICECYCLE_DATA_DIR": str(tmp_path / "data")}
    r = subprocess.run(
        ["sh", "-c", f'exec "{sys.executable}" -m icecycle <&-'],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 1 and "Traceback" not in r.stderr + r.stdout
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("icecycle: error: ")
    assert "terminal" in r.stderr


# -- the first reminder after a wait for the store's lock -------------------------------------


async def test_reminders_count_from_when_the_alarm_went_out(data_dir, clock) -> None:
    store = open_store(data_dir)
    with store.transaction():
        cid = store.new_cycle(T0, Settings(60, 3600, 86400), T0).id
    rec = Recorder()
    runner = Runner(store, clock, rec, repeat_every=timedelta(seconds=10), repeat_count=3)
    await runner.run_once()
    clock.advance(60)  # the ice should come off now; another process holds the lock 7 s
    real = store.claim

    def slow(*args, **kw):  # type: ignore[no-untyped-def]
        clock.advance(7)  # (the wait inside SQLite's busy timeout, on the fake clock)
        return real(*args, **kw)

    store.claim = slow  # type: ignore[method-assign]
    await runner.run_once()
    store.claim = real  # type: ignore[method-assign]
    assert [n.kind for n in rec.sent] == ["on", "off"]
    sent_at = T0 + timedelta(seconds=67)
    assert store.claimed_at(cid, "off", T0 + timedelta(seconds=60), 0) == sent_at
    clock.set(sent_at + timedelta(seconds=9))
    await runner.run_once()
    assert [n.kind for n in rec.sent] == ["on", "off"]  # not 3 s after the alarm
    clock.set(sent_at + timedelta(seconds=10))
    await runner.run_once()
    assert [n.kind for n in rec.sent] == ["on", "off", "remind"]


# -- another program's SQLite file ------------------------------------------------------------


@pytest.mark.parametrize("version", [0, 1, 2])
def test_another_programs_database_is_named_as_such(run, data_dir: Path, version: int) -> None:
    data_dir.mkdir()
    conn = sqlite3.connect(data_dir / "icecycle.sqlite3")
    conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute(f"PRAGMA user_version = {version}")
    conn.commit()
    conn.close()
    before = (data_dir / "icecycle.sqlite3").read_bytes()
    for command in (["status"], ["start"], ["history"]):
        r = run(*command)
        assert r.code == 1 and "is an SQLite database but not icecycle's" in r.err
        assert "no such table" not in r.err
    assert (data_dir / "icecycle.sqlite3").read_bytes() == before  # never written
