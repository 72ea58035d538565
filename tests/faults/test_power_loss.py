"""Power loss: a writer killed with SIGKILL 200 times loses no event it said was committed."""

from __future__ import annotations

import contextlib
import io
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from icecycle import cli
from icecycle.cycle import Settings
from icecycle.store import DB_NAME, Store

KILLS = 200

WRITER = r"""
import sys
from datetime import datetime, UTC
from icecycle.store import Store
store = Store.open(sys.argv[1])
cycle_id = int(sys.argv[2])
print("ready", flush=True)
n = 0
while True:
    n += 1
    ev = store.append(cycle_id, "ack", datetime.now(UTC), f"{sys.argv[3]}-{n}")
    print(ev.id, flush=True)  # said only after the commit returned
"""


def test_sigkill_at_random_moments(data_dir: Path) -> None:
    store = Store.open(data_dir)
    assert store is not None
    now = datetime.now(UTC)
    with store.transaction():
        cycle = store.new_cycle(now, Settings(), now)
    store.close()
    rng = random.Random(1234)
    reported: set[int] = set()
    db = data_dir / DB_NAME
    for k in range(KILLS):
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(data_dir), str(cycle.id), str(k)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0, 0.03))
        os.kill(child.pid, signal.SIGKILL)
        out, _ = child.communicate()
        reported.update(int(x) for x in out.split())
        # After every kill: the database is whole, and status answers.
        if k % 20 == 0 or k == KILLS - 1:
            with contextlib.closing(sqlite3.connect(db)) as conn:
                assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        err = io.StringIO()
        assert (
            cli.main(["--data-dir", str(data_dir), "status", "--json"], out=io.StringIO(), err=err)
            == 0
        ), err.getvalue()
    with contextlib.closing(sqlite3.connect(db)) as conn:
        stored = {i for (i,) in conn.execute("SELECT id FROM events WHERE kind = 'ack'")}
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert reported <= stored, f"lost {len(reported - stored)} committed events"
    assert len(reported) > KILLS  # the writers got real work done between kills
    print(
        f"{KILLS} kills survived; {len(reported)} reported events all stored ({len(stored)} in all)"
    )
