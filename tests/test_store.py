"""The SQLite store: schema, change detection, claims, and writers racing each other."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from icecycle.cycle import Settings
from icecycle.store import DB_NAME, SCHEMA_VERSION, Store

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def test_open_creates_wal_database_with_schema(data_dir: Path) -> None:
    store = Store.open(data_dir)
    assert store is not None
    conn = sqlite3.connect(data_dir / DB_NAME)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"cycles", "events", "notifications"}
    assert not list(data_dir.glob(".*.new"))  # the build file is gone


def test_open_without_create_makes_nothing(data_dir: Path) -> None:
    assert Store.open(data_dir, create=False) is None
    assert not data_dir.exists()


def test_events_round_trip_and_current_cycle(data_dir: Path) -> None:
    store = Store.open(data_dir)
    assert store is not None
    with store.transaction():
        cycle = store.new_cycle(T0 - timedelta(hours=1), Settings(60, 120, 3600), T0)
    store.append(cycle.id, "off", T0 + timedelta(seconds=30))
    current = store.current()
    assert current is not None
    got, events = current
    assert got == cycle and [e.kind for e in events] == ["started", "off"]
    assert events[1].at == T0 + timedelta(seconds=30)
    store.append(cycle.id, "stop", T0 + timedelta(minutes=1))
    assert store.current() is None
    assert store.cycles()[0][1] == T0 + timedelta(minutes=1)


def test_data_version_sees_other_connections_only(data_dir: Path) -> None:
    a, b = Store.open(data_dir), Store.open(data_dir)
    assert a is not None and b is not None
    v = a.data_version()
    with a.transaction():
        cycle = a.new_cycle(T0, Settings(), T0)
    assert a.data_version() == v  # its own commit does not count
    vb = b.data_version()
    a.append(cycle.id, "pause", T0)
    assert b.data_version() != vb


def test_claims_are_unique(data_dir: Path) -> None:
    a, b = Store.open(data_dir), Store.open(data_dir)
    assert a is not None and b is not None
    with a.transaction():
        cycle = a.new_cycle(T0, Settings(), T0)
    first = a.claim(cycle.id, "on", T0, 0, T0)
    assert first is not None
    assert b.claim(cycle.id, "on", T0, 0, T0) is None
    assert b.claim(cycle.id, "on", T0, 1, T0) is not None  # a repeat is its own claim
    a.record(first, T0, "sent")
    assert a.session_notes(cycle.id) == {T0: "sent"}


def test_racing_writers_lose_nothing(data_dir: Path) -> None:
    store = Store.open(data_dir)
    assert store is not None
    with store.transaction():
        cycle = store.new_cycle(T0, Settings(), T0)
    store.close()
    code = f"""
import sys
from datetime import datetime, UTC
from pathlib import Path
from icecycle.store import Store
s = Store.open(Path({str(data_dir)!r}))
for i in range(100):
    with s.transaction():
        s.append({cycle.id}, "ack", datetime.now(UTC), sys.argv[1])
"""
    procs = [subprocess.Popen([sys.executable, "-c", code, str(n)]) for n in range(4)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0, 0]
    store = Store.open(data_dir)
    assert store is not None
    events = store.events(cycle.id)
    assert len(events) == 1 + 400
    assert sorted(e.data for e in events[1:]) == sorted(
        str(n) for n in range(4) for _ in range(100)
    )


def test_a_schema_1_file_is_upgraded_in_place_and_keeps_its_claims(data_dir: Path) -> None:
    store = Store.open(data_dir)
    assert store is not None
    with store.transaction():
        cycle = store.new_cycle(T0, Settings(60, 120, 3600), T0)
    store.claim(cycle.id, "on", T0, 0, T0)
    store.close()
    with sqlite3.connect(data_dir / DB_NAME) as conn:  # as icecycle 1 left it
        conn.execute("ALTER TABLE notifications DROP COLUMN notice")
        conn.execute("ALTER TABLE notifications DROP COLUMN owner")
        conn.execute("PRAGMA user_version = 1")
    store = Store.open(data_dir)
    assert store is not None
    version = store.conn.execute("PRAGMA user_version").fetchone()[0]
    assert version == 2
    [old] = store.claims(cycle.id)
    assert (old.kind, old.owner, old.notice) == ("on", None, None)
    assert store.claim(cycle.id, "off", T0, 0, T0, owner="1.ab", notice="{}") is not None
    assert store.claims(cycle.id)[-1].owner == "1.ab"
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
