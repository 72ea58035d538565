"""Fault run (issue 19): the take-it-off alarm under findings 3, 4 and 6, with random timing.

Not part of `make test` (about two minutes). Run: .venv/bin/python benchmarks/faults.py [RUNS]
(RUNS per finding, 50 by default; add --seed N to vary the timing). For each finding it
counts the take-it-off alarms that fell due, and how many were delivered, lost, sent more
than once, and answered by something other than the person (an answer nobody gave):

- 3, a disk that stays full: a real 256 kB tmpfs filled at a random moment before or after
  the alarm (half the runs free it again later); the runner's own notifier counts.
- 4, a database replaced in place: a backup is taken, another cycle started over it from
  the command line, then the backup copied back with `cat` (half the runs truncate first
  and wait, as a slow copy does) at a random moment before or after the restored cycle's
  alarm; the restored file must hold nothing of the other cycle afterwards.
- 6, a claim holder stopped: two `icecycle daemon`s on one database, one of them stopped
  (SIGSTOP) at a random moment around each boundary for longer than the lease, then
  resumed (SIGCONT); a hook logs every notice each of them sends.

If benchmarks/fault_bus.py exists (the bus findings 7 and 9), its rows are added.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from icecycle.clock import SystemClock  # noqa: E402
from icecycle.cycle import Settings, fold  # noqa: E402
from icecycle.notify import Notice, Result  # noqa: E402
from icecycle.runner import Runner  # noqa: E402
from icecycle.store import DB_NAME, Store  # noqa: E402

Row = dict[str, Any]
COLUMNS = ("due", "delivered", "lost", "duplicated", "stranger")
PARALLEL = 10  # runs at once (each its own folder, or its own tmpfs)


class Counting:
    """A notifier that keeps what it was given (thread-safe enough: list.append)."""

    name = "count"
    limit_s = 0.5

    def __init__(self) -> None:
        self.sent: list[Notice] = []

    def send(self, notice: Notice) -> Result:
        self.sent.append(notice)
        return Result(self.name, True)


def _row(name: str, due: int, delivered: int, dupes: int, stranger: int, **extra: Any) -> Row:
    return {
        "finding": name,
        "due": due,
        "delivered": delivered,
        "lost": due - delivered,
        "duplicated": dupes,
        "stranger": stranger,
        **extra,
    }


def _add(rows: list[Row]) -> Row:
    total: Row = {"finding": rows[0]["finding"]} if rows else {"finding": "?"}
    for row in rows:
        for k, v in row.items():
            if k != "finding":
                total[k] = total.get(k, 0) + v
    return total


def _acks(db: Path) -> int:
    """Answers stored: none of these runs gives one, so each would be a stranger's."""
    with contextlib.suppress(sqlite3.Error), contextlib.closing(sqlite3.connect(db)) as conn:
        return int(conn.execute("SELECT count(*) FROM events WHERE kind = 'ack'").fetchone()[0])
    return 0


def _early_acks(db: Path, lines: list[list[str]]) -> int:
    """Answers stored before any take-it-off reached the person since the last answer:
    the person answers only what they were shown, so each of these would be a stranger's."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        acks = [
            datetime.fromisoformat(at).timestamp()
            for (at,) in conn.execute("SELECT at FROM events WHERE kind = 'ack' ORDER BY id")
        ]
    shown = sorted(float(ln[2]) for ln in lines if ln[0] == "off")
    early, last = 0, 0.0
    for at in acks:
        if not any(last < t <= at for t in shown):
            early += 1
        last = at
    return early


def _alarms(sent: list[Notice], alarm: datetime) -> int:
    return sum(1 for n in sent if n.kind == "off" and n.moment == alarm)


# -- finding 3: a disk that stays full ------------------------------------------------------


async def full_disk_once(rng: random.Random, where: Path) -> Row:
    for child in where.iterdir():
        shutil.rmtree(child) if child.is_dir() else child.unlink()
    store = Store.open(where / "data")
    assert store is not None
    clock = SystemClock()
    start = clock.now()
    with store.transaction():
        store.new_cycle(start, Settings(1, 2, 60), start)
    rec = Counting()
    runner = Runner(store, clock, rec, repeat_count=0, tick=0.05)
    await runner.start(use_scheduler=False)
    fill_at = rng.uniform(0.0, 1.3)  # the alarm is due at 1 s
    await asyncio.sleep(fill_at)
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every write now needs new room
    with contextlib.suppress(OSError), (where / "filler").open("wb") as fh:
        while True:
            fh.write(b"\0" * 4096)
            fh.flush()
    end = 2.3
    if rng.random() < 0.5:  # freed again after a while
        free_at = fill_at + rng.uniform(0.2, 0.8)
        await asyncio.sleep(max(0.0, free_at - fill_at))
        (where / "filler").unlink()
        await asyncio.sleep(max(0.0, end - free_at))
    else:
        await asyncio.sleep(end - fill_at)
    await runner.stop()
    store.close()
    n = _alarms(rec.sent, start + timedelta(seconds=1))
    return _row("3 full disk", 1, min(n, 1), max(n - 1, 0), _acks(where / "data" / DB_NAME))


async def full_disk(runs: int, rng: random.Random) -> Row | None:
    base = Path(tempfile.mkdtemp(prefix="icecycle-faults-"))
    mounts: list[Path] = []
    try:
        for i in range(PARALLEL):
            m = base / f"m{i}"
            m.mkdir()
            r = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs", str(m)],
                capture_output=True,
                text=True,
            )
            if r.returncode != 0:
                print(f"finding 3 skipped: cannot mount a tmpfs ({r.stderr.strip()})")
                return None
            mounts.append(m)
        rows: list[Row] = []
        while len(rows) < runs:
            batch = mounts[: runs - len(rows)]
            rows += await asyncio.gather(*(full_disk_once(rng, m) for m in batch))
        return _add(rows)
    finally:
        for m in mounts:
            subprocess.run(["umount", "-l", str(m)], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


# -- finding 4: a database replaced in place ---------------------------------------------


def _cli(env: dict[str, str], *argv: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "icecycle", *argv], env=env, check=True, capture_output=True
    )


async def replaced_once(rng: random.Random, where: Path) -> Row:
    data = where / "data"
    store = Store.open(data)
    assert store is not None
    clock = SystemClock()
    start = clock.now()
    with store.transaction():
        store.new_cycle(start, Settings(2, 2, 60), start)
    rec, reports = Counting(), []
    runner = Runner(store, clock, rec, repeat_count=0, tick=0.05, report=reports.append)
    await runner.start(use_scheduler=False)
    await asyncio.sleep(0.05)
    backup = where / "backup.sqlite3"
    with (
        contextlib.closing(sqlite3.connect(data / DB_NAME)) as src,
        contextlib.closing(sqlite3.connect(backup)) as dst,
    ):
        src.backup(dst)
    env = {**os.environ, "ICECYCLE_DATA_DIR": str(data), "PYTHONPATH": str(ROOT)}
    env["ICECYCLE_CONFIG"] = str(where / "none.toml")
    await asyncio.to_thread(_cli, env, "start", "--force", "--on", "60s", "--off", "60s")
    await asyncio.sleep(0.1)
    elapsed = (clock.now() - start).total_seconds()
    restore_at = max(elapsed, rng.uniform(0.3, 2.6))  # the restored alarm is due at 2 s
    await asyncio.sleep(restore_at - elapsed)
    db = data / DB_NAME
    slow = rng.random() < 0.5
    copy = f": > {db}; sleep 0.08; cat {backup} > {db}" if slow else f"cat {backup} > {db}"
    await asyncio.to_thread(subprocess.run, ["sh", "-c", copy], check=True)
    await asyncio.sleep(max(2.0, restore_at) + 0.8 - restore_at)
    await runner.stop()
    store.close()
    n = _alarms(rec.sent, start + timedelta(seconds=2))
    with contextlib.closing(sqlite3.connect(db)) as conn:
        cycles = [r[0] for r in conn.execute("SELECT id FROM cycles")]
        foreign = conn.execute("SELECT count(*) FROM notifications WHERE cycle_id <> 1").fetchone()
        whole = conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    written_into = int(cycles != [1]) + int(foreign[0]) + int(not whole)
    return _row("4 replaced in place", 1, min(n, 1), max(n - 1, 0), _acks(db), written=written_into)


async def replaced(runs: int, rng: random.Random) -> Row:
    rows: list[Row] = []
    while len(rows) < runs:
        dirs = [Path(tempfile.mkdtemp(prefix="icecycle-faults-")) for _ in range(PARALLEL)]
        try:
            batch = dirs[: runs - len(rows)]
            rows += await asyncio.gather(*(replaced_once(rng, d) for d in batch))
        finally:
            for d in dirs:
                shutil.rmtree(d, ignore_errors=True)
    return _add(rows)


# -- finding 6: a claim holder stopped past its lease --------------------------------------

ON_S, OFF_S = 1, 2
DAEMON = """
import sys
from datetime import timedelta
import icecycle.notify as notify, icecycle.runner as runner
notify.HookNotifier.__init__.__defaults__ = (0.3,)
runner.LEASE_MARGIN = timedelta(seconds=0.5)
runner.ORPHAN_LOOK = timedelta(seconds=0.3)
from icecycle.cli import main
sys.exit(main(["daemon"]))
"""


def stopped_pair(stops: int, seed: int) -> Row:
    rng = random.Random(seed)
    period = ON_S + OFF_S
    with tempfile.TemporaryDirectory(prefix="icecycle-faults-") as tmp:
        data, log, config = Path(tmp, "data"), Path(tmp, "hook.log"), Path(tmp, "config.toml")
        # The hook logs each notice; the person answers each take-it-off once it reached
        # them, and once (in the background, after the log line). Unanswered, it would
        # hold every later session (issue 18), and none of them would be due.
        answer = f"{sys.executable} -m icecycle ack >/dev/null 2>&1"
        config.write_text(
            "[notifications]\ndesktop = false\nsound = false\nrepeat_count = 0\n[hooks]\n"
            'on_change = ["sh", "-c", "echo $ICECYCLE_KIND $ICECYCLE_PHASE_ENDS '
            f"$(date +%s.%N) >> {log}; [ $ICECYCLE_KIND = off ] && "
            f'mkdir {tmp}/answered-$ICECYCLE_PHASE_ENDS 2>/dev/null && ({answer} &)"]\n'
        )
        config.chmod(0o600)
        env = {**os.environ, "ICECYCLE_DATA_DIR": str(data), "ICECYCLE_CONFIG": str(config)}
        env["PYTHONPATH"] = str(ROOT)
        _cli(env, "start", "--on", f"{ON_S}s", "--off", f"{OFF_S}s", "--window", "2h")
        with contextlib.closing(sqlite3.connect(data / DB_NAME)) as conn:
            began = datetime.fromisoformat(
                conn.execute("SELECT window_start FROM cycles").fetchone()[0]
            )
        daemons = [
            subprocess.Popen([sys.executable, "-c", DAEMON], env=env, stderr=subprocess.DEVNULL)
            for _ in range(2)
        ]
        try:
            first = began.timestamp() + ON_S + period  # the first boundary both are up for
            by_pid = {d.pid: d for d in daemons}
            for k in range(stops):
                boundary = first + k * period
                if k % 2:  # one of them, at a random moment around the boundary
                    time.sleep(max(0.0, boundary + rng.uniform(-0.15, 0.3) - time.time()))
                    victim = rng.choice(daemons)
                else:  # the one holding the alarm's claim, as soon as it has taken it
                    time.sleep(max(0.0, boundary - 0.02 - time.time()))
                    holder = _holder(data / DB_NAME, boundary + 0.5)
                    victim = by_pid.get(holder or 0) or rng.choice(daemons)
                victim.send_signal(signal.SIGSTOP)
                time.sleep(rng.uniform(1.6, 2.4))  # longer than the lease (1.1 s)
                victim.send_signal(signal.SIGCONT)
            time.sleep(max(0.0, first + stops * period - time.time()) + 1.5)
            stopped_at = time.time() - 1.0
        finally:
            for d in daemons:
                d.send_signal(signal.SIGCONT)
                d.send_signal(signal.SIGTERM)
            for d in daemons:
                try:
                    d.wait(5)
                except subprocess.TimeoutExpired:
                    d.kill()
        time.sleep(0.3)
        lines = [ln.split() for ln in log.read_text().splitlines()] if log.exists() else []
        # The take-it-off alarms due: every session that ran and ended by the clock while
        # both daemons ran (from the cycle's own history: an answer that came after a
        # session start held it, and moved the schedule on, as issue 18 says).
        store = Store.open(data, create=False)
        assert store is not None
        current = store.current()
        assert current is not None  # (the run never stops its cycle)
        cycle, events = current
        acc = fold(cycle, events, store.session_notes(cycle.id))
        listed = acc.sessions(datetime.now().astimezone())
        ran = [(x.start.timestamp(), x.end) for x in listed if x.status == "done"]
        began_ = [
            (x.start.timestamp(), x.end) for x in listed if x.status in ("done", "in progress")
        ]
        store.close()
        ends = sorted(
            e.timestamp() for _, e in ran if first - period <= e.timestamp() <= stopped_at
        )
        starts = sorted(st for st, _ in ran)
        alarms = sorted(float(ln[2]) for ln in lines if ln[0] in ("off", "again") and len(ln) > 2)
        due = set(range(len(ends)))

        def delivered_for(k: int) -> int:
            """Take-it-off notices delivered after the session's end, before the next one."""
            end = ends[k]
            nxt = min((st for st in starts if st > end), default=float("inf"))
            return sum(1 for t in alarms if end - 0.05 <= t < nxt)

        offs = Counter({k: delivered_for(k) for k in due})
        # An ice-on notice sent when no session was under way (after its session ended).
        stale_lines = [
            ln
            for ln in lines
            if ln[0] == "on" and not any(st <= float(ln[2]) < e.timestamp() for st, e in began_)
        ]
        stale = len(stale_lines)
        if stale and os.environ.get("FAULTS_DEBUG"):
            print("stale", stale_lines, [(st, e.timestamp()) for st, e in ran])
        with contextlib.closing(sqlite3.connect(data / DB_NAME)) as conn:
            results = [r for (r,) in conn.execute("SELECT result FROM notifications")]
        # A result written by a runner the claim had been taken from (its send abandoned
        # while it was stopped), over the one that sent it.
        overwritten = sum(1 for r in results if r and "abandoned" in r)
        delivered = sum(1 for k in due if offs.get(k, 0) > 0)
        shown = Counter(ln[1] for ln in lines if ln[0] == "off")  # one rest's alarm, twice
        dupes = sum(n - 1 for n in shown.values() if n > 1)
        return _row(
            "6 holder stopped",
            len(due),
            delivered,
            dupes,
            _early_acks(data / DB_NAME, lines),
            stale_on=stale,
            overwritten=overwritten,
        )


def _holder(db: Path, until: float) -> int | None:
    """The pid of the daemon holding a take-it-off claim it has not settled yet."""
    with contextlib.closing(sqlite3.connect(db, timeout=1)) as conn:
        while time.time() < until:
            row = conn.execute(
                "SELECT owner FROM notifications WHERE kind = 'off' AND sent IS NULL "
                "ORDER BY id DESC LIMIT 1"
            ).fetchone()
            if row and row[0]:
                return int(row[0].split(".")[0])
            time.sleep(0.001)
    return None


def stopped(runs: int, seed: int) -> Row:
    pairs = 5
    per = [runs // pairs + (1 if i < runs % pairs else 0) for i in range(pairs)]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(pairs) as pool:
        rows = list(pool.map(stopped_pair, per, [seed * 100 + i for i in range(pairs)]))
    return _add([r for r in rows if r])


# -- the table ------------------------------------------------------------------------------


def bus_rows(runs: int) -> list[Row]:
    """Findings 7 and 9 (the bus), from benchmarks/fault_bus.py when it is there: its
    `main(runs)` returns {finding: {due, delivered, lost, duplicated,
    answered_by_stranger, ...}} beside a few plain figures."""
    try:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        import fault_bus  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return []
    t = time.monotonic()
    try:
        found = fault_bus.main(runs)
    except (Exception, SystemExit) as exc:  # (no dbus-daemon here, say)
        print(f"fault_bus did not run: {exc}")
        return []
    rows: list[Row] = []
    for name, doc in found.items():
        if not isinstance(doc, dict):
            continue
        row: Row = {"finding": str(name)}
        for k, v in doc.items():
            if k == "answered_by_stranger":
                row["stranger"] = v
            elif isinstance(v, dict):
                row.update({f"{k2}": v2 for k2, v2 in v.items()})
            else:
                row[k] = v
        rows.append(row)
    if rows:
        rows[-1]["seconds"] = round(time.monotonic() - t)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="?", type=int, default=50)
    ap.add_argument("--seed", type=int, default=19)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    began = time.monotonic()
    rows: list[Row] = []
    t = time.monotonic()
    if (row := asyncio.run(full_disk(args.runs, rng))) is not None:
        rows.append({**row, "seconds": round(time.monotonic() - t)})
    t = time.monotonic()
    rows.append({**asyncio.run(replaced(args.runs, rng)), "seconds": round(time.monotonic() - t)})
    t = time.monotonic()
    rows.append({**stopped(args.runs, args.seed), "seconds": round(time.monotonic() - t)})
    rows += bus_rows(args.runs)
    width = max(len(r["finding"]) for r in rows)
    print(f"{'finding':<{width}}  " + "  ".join(f"{c:>10}" for c in COLUMNS) + "  notes")
    for r in rows:
        cells = "  ".join(f"{r.get(c, '-'):>10}" for c in COLUMNS)
        notes = ", ".join(f"{k} {v}" for k, v in r.items() if k not in (*COLUMNS, "finding"))
        print(f"{r['finding']:<{width}}  {cells}  {notes}")
    print(f"{args.runs} runs per finding, seed {args.seed}, {time.monotonic() - began:.0f} s")
    bad = [r["finding"] for r in rows if r.get("lost", 0) or r.get("stranger", 0)]
    if bad:
        print("LOST OR ANSWERED BY A STRANGER: " + ", ".join(bad))
        sys.exit(1)


if __name__ == "__main__":
    main()
