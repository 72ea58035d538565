"""The database file itself: moved or deleted under a running runner, created on a full disk,
in the way of a folder, raced for on a first start, rolled back after SQLite already did."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from pathlib import Path

import pytest

from icecycle.cycle import Settings
from icecycle.runner import Runner
from icecycle.store import DB_NAME, Store, StoreError

from ..conftest import FakeClock
from ..tui_helpers import Recorder


def begin(store: Store, clock: FakeClock, settings: Settings) -> int:
    with store.transaction():
        return store.new_cycle(clock.now(), settings, clock.now()).id


# -- finding 5: follow the file, not the inode -----------------------------------------


async def ticks(runner: Runner, n: int = 1) -> None:
    """The host's 1 s timer, n times; then wait for what the runner started sending."""
    for _ in range(n):
        runner.tick()
    for _ in range(300):
        if not runner._tasks:
            return
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("how", ["moved aside", "deleted"])
async def test_a_replaced_database_is_followed_not_haunted(data_dir: Path, clock, how) -> None:
    store = Store.open(data_dir)
    assert store is not None
    begin(store, clock, Settings(60, 600, 3600))
    rec, reports = Recorder(), []
    runner = Runner(store, clock, rec, report=reports.append)
    await runner.start(use_scheduler=False, own_tick=False)
    await ticks(runner)
    db = data_dir / DB_NAME
    if how == "moved aside":  # as the error messages tell people to do
        db.rename(data_dir / "icecycle.sqlite3.damaged")
    else:
        db.unlink()
    clock.advance(60)  # the old cycle's ice-off boundary: no alert from a ghost
    await ticks(runner, 3)
    assert [n.kind for n in rec.sent] == ["on"]
    errors = [r.text for r in reports if r.kind == "error"]
    assert errors == [
        f"{db}: the database was moved or deleted; waiting for a new one "
        "(`icecycle start` makes one)"
    ]
    fresh = Store.open(data_dir)  # `icecycle start` in another terminal
    assert fresh is not None
    begin(fresh, clock, Settings(120, 600, 3600))
    await ticks(runner)
    assert [n.kind for n in rec.sent] == ["on", "on"]
    assert runner.cycle is not None and runner.cycle.settings.on_s == 120
    assert "the database was replaced; following the new one" in [r.text for r in reports]
    clock.advance(120)
    await ticks(runner)
    assert [n.kind for n in rec.sent] == ["on", "on", "off"]
    assert [c.kind for c in fresh.claims(1)] == ["on", "off"]
    await runner.stop()


# -- finding 9: a new database on a full disk ------------------------------------------


def test_a_full_disk_never_publishes_a_half_made_database(run, tmpfs: Path, monkeypatch) -> None:
    """With every amount of room from none to enough (4 kB steps), `start` either makes a
    whole database or makes nothing and leaves no temp file; once there is room, it works."""
    data = tmpfs / "data"
    monkeypatch.setenv("ICECYCLE_DATA_DIR", str(data))
    outcomes = set()
    for pages in range(0, 26):
        for f in tmpfs.iterdir():
            if f.is_dir():
                for g in f.iterdir():
                    g.unlink()
            else:
                f.unlink()
        data.mkdir(exist_ok=True)
        filler = tmpfs / "filler"
        with contextlib.suppress(OSError), filler.open("wb") as fh:
            while True:
                fh.write(b"\0" * 4096)
                fh.flush()
        os.truncate(filler, max(0, filler.stat().st_size - pages * 4096))
        r = run("start")
        left = sorted(p.name for p in data.iterdir())
        filler.unlink()
        if r.code == 0:
            outcomes.add("made")
            assert left == [DB_NAME], (pages, left)
            with contextlib.closing(sqlite3.connect(data / DB_NAME)) as conn:
                assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        else:
            outcomes.add("refused")
            assert "disk is full" in r.err and r.err.count("\n") == 1, (pages, r.err)
            # Nothing published under the real name but a whole database, and no debris.
            assert left in ([], [DB_NAME]), (pages, left)
            if left:  # made whole, then the cycle's first write did not fit
                with contextlib.closing(sqlite3.connect(data / DB_NAME)) as conn:
                    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert run("start").code == 0, (pages, run("status").err)
    assert outcomes == {"made", "refused"}


# -- finding 11: the small ones --------------------------------------------------------


def test_a_data_dir_that_is_a_file_is_named_not_taken_for_no_cycle(
    run, data_dir: Path, monkeypatch
) -> None:
    data_dir.parent.mkdir(exist_ok=True)
    data_dir.write_text("notes\n")
    for argv in (["status"], ["history"], ["start"]):
        r = run(*argv)
        assert r.code == 1 and r.out == "" and r.err.count("\n") == 1, (argv, r)
        assert "is a file, not a folder" in r.err and str(data_dir) in r.err


def test_a_dangling_link_for_a_database_is_named(run, data_dir: Path, tmp_path: Path) -> None:
    data_dir.mkdir()
    (data_dir / DB_NAME).symlink_to(tmp_path / "on-a-usb-stick" / DB_NAME)
    for argv in (["status"], ["status", "--json"], ["start"]):
        r = run(*argv)
        assert r.code == 1 and r.out == "" and "which is not there" in r.err, (argv, r)
    assert not (tmp_path / "on-a-usb-stick").exists()  # never created through the link


def test_two_first_starts_racing_for_the_folder(data_dir: Path, monkeypatch) -> None:
    import icecycle.store as store_mod

    real = os.makedirs

    def the_other_one_got_there_first(path, *a, **kw):
        real(path, 0o700, exist_ok=True)
        return real(path, *a, **kw)

    monkeypatch.setattr(store_mod.os, "makedirs", the_other_one_got_there_first)
    assert Store.open(data_dir) is not None


def test_a_transaction_that_sqlite_already_rolled_back_keeps_its_own_error(
    data_dir: Path,
) -> None:
    store = Store.open(data_dir)
    assert store is not None
    with pytest.raises(StoreError) as caught, store.transaction():
        store.conn.execute("ROLLBACK")  # as SQLite does by itself on SQLITE_FULL or IOERR
        raise sqlite3.OperationalError("database or disk is full")
    assert "disk is full" in str(caught.value)
    with store.transaction():  # and the connection is usable after
        pass


def test_a_database_overwritten_in_place_is_never_written_into(data_dir: Path, clock) -> None:
    """Found by a new user: `cat garbage > icecycle.sqlite3` (same file, new bytes) while
    the dashboard runs, then a key press: the garbage must stay exactly as it is."""
    store = Store.open(data_dir)
    assert store is not None
    cid = begin(store, clock, Settings(60, 60, 600))
    path = data_dir / DB_NAME
    garbage = os.urandom(60_000)
    with open(path, "r+b") as fh:  # the same inode, other bytes
        fh.write(garbage)
        fh.truncate()
    with pytest.raises(StoreError, match="not an SQLite database any more"):
        store.follow()
    with pytest.raises(StoreError):
        store.append(cid, "ack", clock.now())
    with pytest.raises(StoreError):  # and it stays let go of, tick after tick
        store.follow()
    store.close()
    assert path.read_bytes() == garbage


def test_following_the_file_never_opens_and_closes_it(data_dir: Path, clock, monkeypatch) -> None:
    """Closing any descriptor of the database drops every POSIX lock this process holds on
    it, SQLite's too, and concurrent writers then corrupt it (the 30 s soak in
    test_concurrency.py caught exactly that). follow() runs every second: it must look
    through the one descriptor kept open for it, never open (and close) the file anew."""
    import builtins

    store = Store.open(data_dir)
    assert store is not None
    begin(store, clock, Settings(60, 60, 600))
    path = str(data_dir / DB_NAME)
    opened: list[str] = []
    real_open, real_os_open = builtins.open, os.open

    def spy_open(file, *a, **kw):  # type: ignore[no-untyped-def]
        opened.append(str(file))
        return real_open(file, *a, **kw)

    def spy_os_open(file, *a, **kw):  # type: ignore[no-untyped-def]
        opened.append(str(file))
        return real_os_open(file, *a, **kw)

    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(os, "open", spy_os_open)
    for _ in range(3):
        assert store.follow() is False
    assert path not in opened


# -- issue 19, finding 4: a database replaced in place, or truncated, under the runner ---


def _overwrite(path: Path, content: bytes) -> None:
    """`cat backup.sqlite3 > icecycle.sqlite3`: the same inode, other bytes."""
    with open(path, "r+b") as fh:
        fh.write(content)
        fh.truncate()


async def test_a_backup_copied_over_the_database_is_followed(data_dir: Path, clock) -> None:
    store = Store.open(data_dir)
    assert store is not None
    begin(store, clock, Settings(60, 600, 3600))
    rec, reports = Recorder(), []
    runner = Runner(store, clock, rec, report=reports.append)
    await runner.start(use_scheduler=False, own_tick=False)
    await ticks(runner)
    backup = data_dir / "backup.sqlite3"
    with (
        contextlib.closing(sqlite3.connect(backup)) as dst,
        contextlib.closing(sqlite3.connect(data_dir / DB_NAME)) as src,
    ):
        src.backup(dst)
    elsewhere = Store.open(data_dir)  # `icecycle start --force --on 5m` in another terminal
    assert elsewhere is not None
    with elsewhere.transaction():
        elsewhere.append(1, "stop", clock.now())
        elsewhere.new_cycle(clock.now(), Settings(300, 600, 3600), clock.now())
    elsewhere.close()
    await ticks(runner)
    assert runner.cycle is not None and runner.cycle.id == 2
    assert [n.kind for n in rec.sent] == ["on", "on"]
    _overwrite(data_dir / DB_NAME, backup.read_bytes())  # and then thought better of it
    await ticks(runner)
    clock.advance(60)  # the restored cycle's take-it-off moment
    await ticks(runner, 2)
    assert runner.cycle is not None and runner.cycle.id == 1
    assert [n.kind for n in rec.sent] == ["on", "on", "off"]
    assert "the database was replaced; following the new one" in [r.text for r in reports]
    await runner.stop()
    store.close()
    with contextlib.closing(sqlite3.connect(data_dir / DB_NAME)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert [r[0] for r in conn.execute("SELECT id FROM cycles")] == [1]
        claims = conn.execute("SELECT cycle_id, kind FROM notifications ORDER BY id").fetchall()
    assert claims == [(1, "on"), (1, "off")]  # nothing of cycle 2's written into it


async def test_a_database_truncated_to_nothing_is_let_go_of_not_checkpointed_into(
    data_dir: Path, clock
) -> None:
    store = Store.open(data_dir)
    assert store is not None
    begin(store, clock, Settings(60, 600, 3600))
    runner = Runner(store, clock, Recorder())
    await runner.run_once()
    path = data_dir / DB_NAME
    os.truncate(path, 0)
    with pytest.raises(StoreError, match="not an SQLite database any more"):
        store.follow()
    store.close()  # as the daemon does on its way out
    assert path.stat().st_size == 0  # never written into
