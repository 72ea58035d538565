"""Storage faults: bad files, read-only and full disks. Nothing is lost, nothing overwritten."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from icecycle.store import DB_NAME

from ..conftest import T0  # noqa: F401  (the fake clock's start, used through `run`)


def one_line_error(r, path: Path | str) -> None:
    assert r.code == 1, (r.code, r.err)
    assert r.err.count("\n") == 1 and r.err.startswith("icecycle: error: ")
    assert str(path) in r.err and "Traceback" not in r.err


def make_db(run) -> None:
    assert run("start").code == 0


@pytest.mark.parametrize(
    "damage",
    ["garbage", "truncated", "zero bytes", "newer schema", "foreign sqlite"],
)
def test_damaged_files_are_named_and_left_byte_for_byte(run, data_dir: Path, damage: str) -> None:
    db = data_dir / DB_NAME
    if damage == "garbage":
        data_dir.mkdir()
        db.write_bytes(os.urandom(8192))
    elif damage == "zero bytes":
        data_dir.mkdir()
        db.write_bytes(b"")
    elif damage == "truncated":
        make_db(run)
        for i in range(50):
            run("pause" if i % 2 == 0 else "resume")
        content = db.read_bytes()
        db.write_bytes(content[: len(content) // 3])
    elif damage == "newer schema":
        make_db(run)
        with contextlib.closing(sqlite3.connect(db)) as conn:
            conn.execute("PRAGMA user_version = 7")
            conn.commit()
    else:
        data_dir.mkdir()
        with contextlib.closing(sqlite3.connect(db)) as conn:
            conn.execute("CREATE TABLE notes (x)")
            conn.commit()
    before = db.read_bytes()
    for argv in (["status"], ["status", "--json"], ["on"], ["start", "--force"], ["history"]):
        one_line_error(run(*argv), db)
    assert db.read_bytes() == before


def test_a_directory_where_the_file_should_be(run, data_dir: Path) -> None:
    (data_dir / DB_NAME).mkdir(parents=True)
    r = run("status")
    one_line_error(r, data_dir / DB_NAME)
    assert "is a directory" in r.err


def test_new_files_are_private(run, data_dir: Path) -> None:
    old = os.umask(0o022)
    try:
        make_db(run)
    finally:
        os.umask(old)
    assert (data_dir.stat().st_mode & 0o777, (data_dir / DB_NAME).stat().st_mode & 0o777) == (
        0o700,
        0o600,
    )


# -- read-only and full: real mounts when the machine lets us (CI runs as root) --------


def test_read_only_filesystem(run, tmpfs: Path, monkeypatch) -> None:
    data = tmpfs / "data"
    monkeypatch.setenv("ICECYCLE_DATA_DIR", str(data))
    make_db(run)
    db = data / DB_NAME
    before = db.read_bytes()
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    r = run("pause")
    one_line_error(r, db)
    r = run("status")
    assert r.code in (0, 1) and "Traceback" not in r.err and r.err.count("\n") <= 1
    assert db.read_bytes() == before


def test_read_only_directory_for_a_new_database(run, tmpfs: Path, monkeypatch) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    monkeypatch.setenv("ICECYCLE_DATA_DIR", str(tmpfs / "data"))
    r = run("start")
    assert r.code == 1 and r.err.count("\n") == 1 and str(tmpfs) in r.err
    assert "Read-only file system" in r.err


def test_full_disk(run, tmpfs: Path, monkeypatch) -> None:
    data = tmpfs / "data"
    monkeypatch.setenv("ICECYCLE_DATA_DIR", str(data))
    make_db(run)
    db = data / DB_NAME
    with contextlib.suppress(OSError), (tmpfs / "filler").open("wb") as fh:
        while True:
            fh.write(b"\0" * 4096)
            fh.flush()
    failures, ok = 0, 0
    for i in range(40):  # enough writes to need new pages
        r = run("pause" if i % 2 == 0 else "resume")
        if r.code == 1:
            failures += 1
            one_line_error(r, db)
            assert "disk is full" in r.err
            break
        ok += 1
    assert failures == 1
    (tmpfs / "filler").unlink()
    assert run("pause" if ok % 2 == 0 else "resume").code == 0  # with room again, it goes on
    with contextlib.closing(sqlite3.connect(db)) as conn:
        kinds = [k for (k,) in conn.execute("SELECT kind FROM events ORDER BY id")]
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert len(kinds) == 1 + ok + 1  # every write that said it succeeded is there


@pytest.mark.parametrize(
    ("errno_name", "message"),
    [("EROFS", "Read-only file system"), ("ENOSPC", "disk is full"), ("EACCES", "Permission")],
)
def test_injected_os_errors(run, monkeypatch, errno_name: str, message: str) -> None:
    """Where mounting is impossible: the same failure, injected at the store's boundary."""
    import errno

    import icecycle.store as store_mod

    code = getattr(errno, errno_name)

    def refuse(*a, **kw):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(store_mod.os, "makedirs", refuse)
    r = run("start")
    assert r.code == 1 and r.err.count("\n") == 1 and "Traceback" not in r.err
    assert message.lower().split()[0] in r.err.lower() or "cannot" in r.err


# -- issue 19, finding 3: a disk that stays full still gets the alarm out ------------


def _fill(where: Path) -> Path:
    filler = where / "filler"
    with contextlib.suppress(OSError), filler.open("wb") as fh:
        while True:
            fh.write(b"\0" * 4096)
            fh.flush()
    return filler


async def _full_disk_alarm(store, clock, fill, free) -> None:
    from datetime import timedelta

    from icecycle.cycle import Settings
    from icecycle.runner import Runner

    from ..tui_helpers import Recorder

    with store.transaction():
        store.new_cycle(clock.now(), Settings(60, 600, 3600), clock.now())
    rec, reports = Recorder(), []
    runner = Runner(store, clock, rec, report=reports.append, repeat_every=timedelta(minutes=2))
    await runner.run_once()
    fill()
    clock.advance(60)
    await runner.run_once()  # the claim cannot be written: the alarm goes out all the same
    await runner.run_once()  # once
    clock.advance(120)
    await runner.run_once()  # and its reminder
    assert [n.kind for n in rec.sent] == ["on", "off", "remind"]
    assert any("disk is full" in r.text for r in reports if r.kind == "error")
    assert [c.kind for c in store.claims(1)] == ["on"]  # nothing of it stored yet
    free()
    clock.advance(5)
    await runner.run_once()  # room again: the claims kept in memory are written
    await runner.run_once()
    assert [n.kind for n in rec.sent] == ["on", "off", "remind"]  # and nothing resent
    claims = [(c.kind, c.seq, c.result, c.owner) for c in store.claims(1)]
    assert claims == [
        ("on", 0, "sent", runner.owner),
        ("off", 0, "sent", runner.owner),
        ("off", 1, "sent", runner.owner),
    ]


async def test_a_disk_that_stays_full_still_gets_the_alarm_out(tmpfs: Path, clock) -> None:
    from icecycle.store import Store

    store = Store.open(tmpfs / "data")
    assert store is not None
    filler = tmpfs / "filler"

    def fill() -> None:
        # The log emptied (as when the daemon starts), so each write needs new room.
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        _fill(tmpfs)

    await _full_disk_alarm(store, clock, fill, filler.unlink)


async def test_a_claim_the_store_refuses_is_delivered_first(data_dir: Path, clock) -> None:
    """The same where mounting is not allowed: every write refused, as on a full disk."""
    from icecycle.store import Store, StoreError

    store = Store.open(data_dir)
    assert store is not None
    real = store.claim, store.record

    def full(*args: object, **kw: object) -> None:
        raise StoreError(f"cannot write {store.path}: the disk is full; free some space")

    def fill() -> None:
        store.claim = full  # type: ignore[assignment]
        store.record = full  # type: ignore[assignment]

    def free() -> None:
        store.claim, store.record = real  # type: ignore[method-assign]

    await _full_disk_alarm(store, clock, fill, free)


async def test_claims_kept_in_memory_are_written_by_the_tick_once_there_is_room(
    data_dir: Path, clock
) -> None:
    """No boundary needed: the 1 s tick writes them, with a growing wait between tries."""
    from icecycle.cycle import Settings
    from icecycle.runner import Runner
    from icecycle.store import Store, StoreError

    from ..tui_helpers import Recorder

    store = Store.open(data_dir)
    assert store is not None
    with store.transaction():
        store.new_cycle(clock.now(), Settings(60, 600, 3600), clock.now())
    runner = Runner(store, clock, Recorder(), repeat_count=0)
    await runner.run_once()
    real = store.claim
    tries: list[object] = []

    def full(*args: object, **kw: object) -> None:
        tries.append(args)
        raise StoreError(f"cannot write {store.path}: the disk is full; free some space")

    store.claim = full  # type: ignore[assignment]
    clock.advance(60)
    await runner.run_once()
    # the alarm's claim refused, the alarm delivered all the same, its claim tried again
    assert len(tries) == 2 and [n.kind for n in runner.notifier.sent] == ["on", "off"]  # type: ignore[attr-defined]
    for _ in range(10):  # ten ticks a second apart: tried again 1, 2 and 4 s after each
        clock.advance(1)
        runner.tick()
    assert len(tries) == 2 + 3
    store.claim = real  # type: ignore[method-assign]
    clock.advance(16)
    runner.tick()
    assert [(c.kind, c.result) for c in store.claims(1)] == [("on", "sent"), ("off", "sent")]
