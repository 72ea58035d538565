"""The daemon and the dashboard wake for something (a change elsewhere, a boundary, a lease,
the next second or minute shown), not every second."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from textual import events

from icecycle.clock import SystemClock
from icecycle.cycle import Settings
from icecycle.runner import Runner
from icecycle.store import Store

from .tui_helpers import Recorder, app_for, open_store, start_cycle


def counting(runner: Runner) -> list[float]:
    ticks: list[float] = []
    real = runner.tick

    def tick() -> None:
        ticks.append(time.monotonic())
        real()

    runner.tick = tick  # type: ignore[method-assign]
    return ticks


async def test_the_daemon_sleeps_between_a_boundary_and_a_change_elsewhere(data_dir) -> None:
    store = Store.open(data_dir)
    assert store is not None
    clock = SystemClock()
    now = clock.now()
    with store.transaction():
        store.new_cycle(now, Settings(1, 60, 600), now)  # ice on for 1 s, then a minute off
    rec, reports = Recorder(), []
    runner = Runner(store, clock, rec, report=reports.append)
    ticks = counting(runner)
    await runner.start(use_scheduler=False)  # (no APScheduler: the runner's own timer)
    try:
        for _ in range(60):
            await asyncio.sleep(0.05)
            claims = store.claims(1)
            if len(claims) >= 2 and claims[1].sent is not None:  # sent, and recorded
                break
        assert [n.kind for n in rec.sent] == ["on", "off"]
        sent = store.claims(1)[1].sent
        assert sent is not None
        assert sent - (now + timedelta(seconds=1)) < timedelta(seconds=0.3)  # the boundary
        await asyncio.sleep(1.0)  # (its own writes are looked at again, briefly)
        quiet = len(ticks)
        await asyncio.sleep(1.5)
        assert len(ticks) == quiet  # nothing due, nothing changed: asleep
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "icecycle", "ack"],
            capture_output=True,
            env={"ICECYCLE_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin"},
        )
        assert done.returncode == 0, done.stderr
        answered = time.monotonic()
        while not any(r.kind == "changed" for r in reports):
            assert time.monotonic() - answered < 1.0, "the change elsewhere was not seen"
            await asyncio.sleep(0.02)
    finally:
        await runner.stop()


@pytest.mark.parametrize("focused", [True, False])
async def test_the_dashboard_ticks_each_second_in_front_and_not_at_all_behind(
    data_dir: Path, clock, focused: bool
) -> None:
    store = open_store(data_dir)
    start_cycle(store, Settings(), since_h=0)
    app = app_for(store, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("a")  # the towel question
        await pilot.pause()
        if not focused:
            app.post_message(events.AppBlur())
            await pilot.pause()
        await asyncio.sleep(1.0)  # (the answer's own write is looked at again, briefly)
        ticks = counting(app.runner)
        await asyncio.sleep(2.2)
        # (the fake clock stands still: in front, a second of real time per tick; behind,
        # the next minute is a minute away)
        assert len(ticks) == (2 if focused else 0), ticks
        if not focused:
            app.post_message(events.AppFocus())  # back in front: the seconds again at once
            await pilot.pause()
            await asyncio.sleep(0.1)
            assert len(ticks) == 1


@pytest.mark.tmux
def test_in_a_real_terminal_the_input_thread_sleeps_until_a_key(tmp_path: Path) -> None:
    """Textual's stock driver looks at the terminal ten times a second; ours waits for a key
    (and Esc, a key that starts sequences, still works alone)."""
    import os
    import shutil

    if shutil.which("tmux") is None:
        if os.environ.get("ICECYCLE_REQUIRE_DESKTOP") == "1":
            pytest.fail("needs tmux (bash .ci/run installs it)")
        pytest.skip("needs tmux (bash .ci/run installs it)")
    env = {**os.environ, "ICECYCLE_DATA_DIR": str(tmp_path / "data"), "TERM": "xterm-256color"}
    sock = f"icecycle-wake-{os.getpid()}"

    def tmux(*args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", sock, *args], env=env, capture_output=True, text=True, timeout=30
        ).stdout

    subprocess.run([sys.executable, "-m", "icecycle", "start"], env=env, check=True, timeout=30)
    try:
        tmux(
            "new-session", "-d", "-s", "w", "-x", "100", "-y", "30", f"{sys.executable} -m icecycle"
        )
        deadline = time.monotonic() + 15
        while "Thin towel between the ice" not in tmux("capture-pane", "-p", "-t", "w"):
            assert time.monotonic() < deadline, "the dashboard did not come up"
            time.sleep(0.1)
        app = int(tmux("display-message", "-p", "-t", "w", "#{pane_pid}").strip())
        children = Path(f"/proc/{app}/task/{app}/children").read_text().split()
        app = int(children[0]) if children else app  # (a shell in between, or exec'd)

        def wakes() -> int:
            total = 0
            for task in Path(f"/proc/{app}/task").iterdir():
                for line in (task / "status").read_text().splitlines():
                    if line.startswith("voluntary_ctxt_switches:"):
                        total += int(line.split()[1])
            return total

        time.sleep(1)
        before = wakes()
        time.sleep(3)
        # the screen's second (and its write to the terminal), not ten looks a second more
        assert wakes() - before < 24
        tmux("send-keys", "-t", "w", "Escape")  # the towel question closes on a lone Esc
        deadline = time.monotonic() + 5
        while "Thin towel between the ice and your skin" in tmux("capture-pane", "-p", "-t", "w"):
            assert time.monotonic() < deadline, "Esc alone did nothing"
            time.sleep(0.1)
    finally:
        tmux("kill-server")


def test_input_that_ends_without_a_hangup_ends_the_dashboard(tmp_path: Path) -> None:
    """A terminal can go away with no SIGHUP (it was not the controlling one, or the signal
    was lost): the input then reads as ended, again and again. Found orphaned dashboards
    spinning a core on it for an hour; the input thread must stop and the app leave."""
    import os
    import pty

    env = {**os.environ, "ICECYCLE_DATA_DIR": str(tmp_path / "data"), "TERM": "xterm-256color"}
    subprocess.run([sys.executable, "-m", "icecycle", "start"], env=env, check=True, timeout=30)
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "icecycle"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,  # a session of its own, without a controlling terminal
    )
    os.close(slave)
    try:
        seen = b""
        deadline = time.monotonic() + 15
        while b"Thin towel" not in seen:
            assert time.monotonic() < deadline, "the dashboard did not come up"
            import select

            if select.select([master], [], [], 0.2)[0]:
                seen += os.read(master, 65536)
        os.close(master)  # the terminal goes away; no signal is sent
        master = -1
        proc.wait(timeout=3)  # (raises if it is still there, e.g. spinning on the end)
    finally:
        if master >= 0:
            os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
