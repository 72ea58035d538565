"""`status --follow`: a line when what it shows changes and none in between, asleep between;
changes made elsewhere, a clock jump, and a database deleted, replaced or damaged."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from icecycle import formats
from icecycle.follow import Follower, renderer
from icecycle.store import DB_NAME

from .conftest import T0, FakeClock

Action = Callable[[], object]


class Script:
    """A fake wait: the fake clock moves to the moment asked for, and what the test put on
    the way happens there (a change elsewhere wakes the follower, as inotify would)."""

    def __init__(self, clock: FakeClock, actions: dict[datetime, Action] | None = None) -> None:
        self.clock = clock
        self.actions = dict(sorted((actions or {}).items()))
        self.wakes: list[datetime] = []

    def __call__(self, seconds: float | None) -> bool:
        target = None if seconds is None else self.clock.now() + timedelta(seconds=seconds)
        if self.actions:
            at = next(iter(self.actions))
            if target is None or at <= target:
                action = self.actions.pop(at)
                self.clock.set(at)
                self.wakes.append(at)
                return bool(action())
        if target is None:  # asleep until something happens, and nothing will
            self.wakes.append(self.clock.now())
            return False
        self.clock.set(target)
        self.wakes.append(target)
        return False


def follower(
    clock: FakeClock, data_dir: Path, shape: str, template: str | None = None
) -> tuple[Follower, list[tuple[datetime, str]]]:
    printed: list[tuple[datetime, str]] = []

    class Out:
        def write(self, s: str) -> int:
            printed.append((clock.now(), s.rstrip("\n")))
            return len(s)

        def flush(self) -> None:
            pass

    render, render_error = renderer(shape, template)
    err = open(os.devnull, "w")  # noqa: SIM115 (lives as long as the test)
    return Follower(str(data_dir), clock, render, render_error, Out(), err), printed  # type: ignore[arg-type]


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_minutes_shown_wakes_once_a_minute_and_prints_each_change(run, clock, data_dir) -> None:
    run("start")
    clock.set(at(0.5))
    f, printed = follower(clock, data_dir, "format", "{phase} {window_remaining}")
    script = Script(clock)
    f.run(script, steps=4)
    late = timedelta(microseconds=501)  # (the count changes just past the minute; a margin)
    assert printed == [
        (at(0.5), "ICE ON 71h 59m"),
        (at(1) + late, "ICE ON 71h 58m"),
        (at(2) + late, "ICE ON 71h 57m"),
        (at(3) + late, "ICE ON 71h 56m"),
    ]
    assert script.wakes == [at(1) + late, at(2) + late, at(3) + late, at(4) + late]  # no other


def test_the_waybar_follower_wakes_once_a_minute_seconds_only_at_the_end(
    run, clock, data_dir
) -> None:
    """Issue 22: a bar shows whole minutes (seconds in the last one), so the follower wakes
    once a minute, not every second."""
    run("start")
    clock.set(at(0.5))
    f, printed = follower(clock, data_dir, "waybar")
    script = Script(clock)
    f.run(script, steps=24)
    texts = [json.loads(line)["text"] for _, line in printed]
    assert texts == [f"ICE ON {n}m" for n in range(25, 1, -1)]  # a line a minute
    assert script.wakes == [at(m) + timedelta(microseconds=501) for m in range(1, 25)]
    f.run(script, steps=15)  # the last minute: its seconds, then the rest
    texts = [json.loads(line)["text"] for _, line in printed][24:]
    assert texts[:3] == ["ICE ON 1m", "ICE ON 59s", "ICE ON 58s"]


@pytest.mark.parametrize(
    "shape, template",
    [("waybar", None), ("format", "{phase} {window_remaining} {alarm}"), ("json", None)],
)
def test_never_stale_never_twice_the_same(run, clock, data_dir, shape, template) -> None:
    """Across a boundary, an alarm and its answer: every printed line is what a one-shot
    `status` would print at any moment until the next line, and no two in a row are equal."""
    run("start")
    clock.set(at(20))

    def ack() -> bool:
        assert run("ack").code == 0
        return True

    script = Script(clock, {at(27.25): ack})
    f, printed = follower(clock, data_dir, shape, template)

    def checking(seconds: float | None) -> bool:
        """Before each sleep: what a one-shot status would show at every quarter second
        until it wakes (or the change elsewhere lands) is the line it just printed."""
        assert seconds is not None
        until = min([clock.now() + timedelta(seconds=seconds), *script.actions])
        t = clock.now() + timedelta(milliseconds=1)  # (it wakes half a millisecond past)
        while t < until:
            assert f.line_at(t) == f.last, t
            t += timedelta(seconds=0.25)
        return script(seconds)

    f.look()
    steps = 0
    while clock.now() < at(32):
        f.step(checking)
        steps += 1
    lines = [line for _, line in printed]
    assert all(a != b for a, b in itertools.pairwise(lines))
    alarm = "TAKE THE ICE OFF" if shape != "json" else '"alarm": "2026-11-25T10:25:00+00:00"'
    assert any(alarm in line for line in lines)  # the alarm showed, and went with the ack
    assert alarm not in lines[-1]
    if shape == "format":
        assert steps <= len(lines) + 1  # woke only for changes (and the change elsewhere)


def test_the_one_shot_and_the_follower_agree(run, clock, data_dir) -> None:
    run("start")
    clock.set(at(3))
    one_shot = run("status", "--waybar").out.strip()
    f, printed = follower(clock, data_dir, "waybar")
    f.run(Script(clock), steps=1)
    assert printed[0] == (at(3), one_shot)


def test_a_change_elsewhere_shows_at_once(run, clock, data_dir) -> None:
    run("start")
    clock.set(at(5))
    script = Script(clock, {at(5.5): lambda: run("skip").code == 0})
    f, printed = follower(clock, data_dir, "format", "{phase} {done} {skipped}")
    f.run(script, steps=2)
    assert printed == [(at(5), "ICE ON 0 0"), (at(5.5), "REST 0 1")]


def test_a_clock_jump_shows_the_right_line_at_once(run, clock, data_dir) -> None:
    """A suspend: the wall timer fires on resume, whatever time the wait was for."""
    run("start")
    clock.set(at(10))

    def suspend() -> bool:
        clock.set(at(200))  # two hours and a half later
        return False  # (the timer fired: nothing changed in the folder)

    script = Script(clock, {at(10) + timedelta(seconds=0.5): suspend})
    f, printed = follower(clock, data_dir, "format", "{phase} {phase_remaining}|{alarm}")
    f.run(script, steps=2)
    clock.set(at(200))
    one_shot = run("status", "--format", "{phase} {phase_remaining}|{alarm}").out.strip()
    assert printed == [(at(10), "ICE ON 15:00|"), (at(200), one_shot)]
    assert one_shot.startswith("REST ") and one_shot.endswith("|TAKE THE ICE OFF")


def _error(reason: str) -> str:
    return json.dumps(formats.waybar_error(reason))


def test_deleted_then_made_again(run, clock, data_dir) -> None:
    run("start")
    db = data_dir / DB_NAME

    def delete() -> bool:
        for suffix in ("", "-wal", "-shm"):
            (data_dir / (DB_NAME + suffix)).unlink(missing_ok=True)
        return True

    def start() -> bool:
        assert run("start").code == 0, run("status").err
        return True

    script = Script(clock, {at(1): delete, at(2): start})
    f, printed = follower(clock, data_dir, "format", "{phase} {phase_ends}")
    f.run(script, steps=3)
    assert printed == [
        (at(0), "ICE ON 10:25"),
        (at(1), "icecycle: error (its state cannot be read; see its log)"),
        (at(2), "ICE ON 10:27"),
    ]
    assert f.error is None and db.exists()
    f2, printed2 = follower(clock, data_dir, "waybar")
    f2.run(Script(clock, {at(2.5): delete}), steps=2)
    assert printed2[1][1] == _error(
        f"{db}: the database was moved or deleted; "
        "waiting for a new one (`icecycle start` makes one)"
    )


def test_replaced_by_another_file(run, clock, data_dir, tmp_path, monkeypatch) -> None:
    run("start")
    other = tmp_path / "other"
    monkeypatch.setenv("ICECYCLE_DATA_DIR", str(other))
    clock.set(at(-60))
    run("start", "--on", "40m")
    clock.set(at(0))
    monkeypatch.setenv("ICECYCLE_DATA_DIR", str(data_dir))

    def replace() -> bool:
        os.replace(other / DB_NAME, data_dir / DB_NAME)
        return True

    f, printed = follower(clock, data_dir, "format", "{phase} {phase_ends}|{alarm}")
    f.run(Script(clock, {at(1): replace}), steps=2)
    assert printed[0] == (at(0), "ICE ON 10:25|")
    assert printed[1][0] == at(1) and printed[1][1].startswith("REST ")
    assert printed[1][1].endswith("|TAKE THE ICE OFF")  # the other file's cycle (40m on)


def test_damaged_in_place(run, clock, data_dir) -> None:
    run("start")
    db = data_dir / DB_NAME

    def damage() -> bool:
        with open(db, "r+b") as fh:
            fh.write(b"not a database at all, sorry")
        return True

    f, printed = follower(clock, data_dir, "waybar")
    half = at(0) + timedelta(seconds=0.5)
    f.run(Script(clock, {half: damage}), steps=2)
    assert printed[1] == (
        half,
        _error(
            f"{db} is not an SQLite database any more, so icecycle will not touch it; "
            "move it aside (icecycle then starts a new one) or use --data-dir"
        ),
    )


def test_no_database_yet_is_idle_until_one_appears(run, clock, data_dir) -> None:
    f, printed = follower(clock, data_dir, "json")
    f.run(Script(clock, {at(1): lambda: run("start").code == 0}), steps=2)
    assert [json.loads(line)["state"] for _, line in printed] == ["idle", "on"]
    assert printed[1][0] == at(1)


# -- the real program ---------------------------------------------------------------------


def _icecycle(*args: str, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "icecycle", *args], capture_output=True, text=True, timeout=30, **kw
    )


def _follow(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "icecycle", "status", "--follow", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )


def _readline(proc: subprocess.Popen[str], timeout: float) -> tuple[str, float]:
    import selectors

    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    start = time.monotonic()
    assert sel.select(timeout), f"no line within {timeout} s"
    return proc.stdout.readline().rstrip("\n"), time.monotonic() - start


def test_real_skip_elsewhere_within_a_second_then_sigterm_quietly(data_dir) -> None:
    assert _icecycle("start").returncode == 0
    proc = _follow("--format", "{phase} {done} {skipped}")
    try:
        assert _readline(proc, 10)[0] == "ICE ON 0 0"
        assert _icecycle("skip").returncode == 0
        line, waited = _readline(proc, 5)  # (from the moment `skip` has exited)
        assert line == "REST 0 1"
        assert waited < 1.0
        with pytest.raises(AssertionError):  # and nothing more: minutes are shown, not seconds
            _readline(proc, 1.2)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=5)
        assert proc.returncode == 0 and out == "" and err == ""
    finally:
        proc.kill()
        proc.wait()


def test_real_closed_stdout_ends_it_quietly(data_dir) -> None:
    proc = _follow("--waybar")
    try:
        line, _ = _readline(proc, 10)
        assert json.loads(line)["class"] == "idle"
        assert proc.stdout is not None
        proc.stdout.close()  # the bar went away; the follower sleeps with nothing to show
        assert proc.wait(timeout=5) == 0
        assert proc.stderr is not None and proc.stderr.read() == ""
    finally:
        proc.kill()
        proc.wait()


def test_real_sigint_quietly(data_dir) -> None:
    proc = _follow("--json")
    try:
        assert json.loads(_readline(proc, 10)[0])["state"] == "idle"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=5)
        assert (proc.returncode, out, err) == (0, "", "")
    finally:
        proc.kill()
        proc.wait()


def test_the_waker_sleeps_until_the_time_or_a_change(data_dir) -> None:
    from icecycle.watch import RECHECK_S, Waker

    data_dir.mkdir()
    waker = Waker(str(data_dir))
    try:
        assert waker.watch.available and waker.timer.fileno() is not None
        start = time.monotonic()
        assert waker.wait(0.2) is False  # the wall timer, nothing changed
        assert 0.19 < time.monotonic() - start < 0.6
        (data_dir / "unrelated.txt").write_text("x")  # not the database: sleeps on
        start = time.monotonic()
        assert waker.wait(0.2) is False and time.monotonic() - start > 0.19
        (data_dir / (DB_NAME + "-wal")).write_bytes(b"x")
        start = time.monotonic()
        assert waker.wait(5) is True and time.monotonic() - start < 0.1
        for _ in RECHECK_S:  # and looks again shortly after, in case SQLite was mid-commit
            assert waker.wait(5) is True
        assert time.monotonic() - start < 1.0
    finally:
        waker.close()


def test_without_inotify_it_polls_slowly(data_dir, monkeypatch) -> None:
    from icecycle import watch

    monkeypatch.setattr(watch, "POLL_S", 0.1)
    monkeypatch.setitem(sys.modules, "inotify_simple", None)  # (import fails)
    waker = watch.Waker(str(data_dir))
    try:
        assert not waker.watch.available
        start = time.monotonic()
        assert waker.wait(None) is True  # each POLL_S the caller looks at data_version
        assert 0.09 < time.monotonic() - start < 0.5
    finally:
        waker.close()


def test_follow_loads_no_ui_scheduler_or_notifier() -> None:
    code = (
        "import sys, tempfile\n"
        "from icecycle import follow, watch\n"
        "watch.Waker(tempfile.mkdtemp()).wait(0)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('textual', 'apscheduler', 'plyer')))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_the_watch_follows_the_folder_away_and_back(tmp_path) -> None:
    from icecycle.watch import FolderWatch

    folder = tmp_path / "a" / "data"
    watch = FolderWatch(str(folder))
    try:
        assert watch._watching == str(tmp_path)  # waiting for "a" to appear
        folder.mkdir(parents=True)
        assert _drained(watch) is True and watch._watching == str(folder)
        (folder / DB_NAME).write_bytes(b"")
        assert _drained(watch) is True
        os.rename(folder, tmp_path / "a" / "moved")
        assert _drained(watch) is True and watch._watching == str(tmp_path / "a")
        assert _drained(watch) is False  # and then quiet: no wake for nothing
    finally:
        watch.close()


def _drained(watch) -> bool:
    import select as _select

    _select.select([watch.fileno()], [], [], 0.2)
    return watch.drain()


def test_a_one_shot_status_elsewhere_wakes_no_follower(run, data_dir) -> None:
    """Prompts and scripts call `icecycle status` often; reading must not wake anyone."""
    from icecycle.store import Store
    from icecycle.watch import Waker

    run("start")
    store = Store.open(data_dir)  # held open, as a follower holds it
    waker = Waker(str(data_dir))
    try:
        env = {**os.environ, "ICECYCLE_DATA_DIR": str(data_dir)}
        assert _icecycle("status", "--waybar", env=env).returncode == 0
        start = time.monotonic()
        assert waker.wait(0.5) is False  # slept the whole half second
        assert time.monotonic() - start > 0.45
    finally:
        waker.close()
        assert store is not None
        store.close()
