"""`icecycle daemon`: the runner with no UI, one log line per event, for a user service."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from datetime import datetime
from typing import IO

from icecycle.answers import printable
from icecycle.clock import Clock
from icecycle.config import Config
from icecycle.engine import build_runner, tell_config_problems
from icecycle.runner import Report
from icecycle.store import Store

#: The longest line the daemon logs (a path and a reason fit; a flood does not).
LOG_LIMIT = 2000


def run_daemon(store: Store, clock: Clock, log: IO[str], cfg: Config | None = None) -> None:
    asyncio.run(_main(store, clock, log, cfg or Config()))


async def _main(store: Store, clock: Clock, log: IO[str], cfg: Config) -> None:
    def say(line: str) -> None:
        # journald stamps each line itself; a plain terminal still wants the time.
        # A log that cannot be written (closed, full) must not stop the alerts.
        with contextlib.suppress(Exception):
            stamp = clock.now().astimezone().strftime("%H:%M:%S")
            # One event, one line: whatever came from outside is escaped and cut.
            log.write(f"icecycle daemon {stamp} {printable(line, LOG_LIMIT)}\n")
            log.flush()

    def report(r: Report) -> None:
        say(r.text)

    # Run by hand in a terminal: ring its bell too.
    terminal = log if _isatty(log) else None
    runner = build_runner(store, clock, cfg, report=report, log=say, terminal=terminal)
    for problem in cfg.problems:  # a bad setting uses its default; said once, loudly
        say(f"config: {problem.line}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # SIGHUP too: the terminal it was started from closing is a request to stop, cleanly.
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    await runner.start()
    tell_config_problems(runner, cfg)
    from icecycle import phone

    calendar = phone.attach(runner, cfg.phone, clock, report=say)  # None without [phone]
    try:
        st = runner.state()
        say(
            "started; "
            + (
                _describe(st.state, st.next_change)
                if st
                else "no cycle yet, waiting for `icecycle start`"
            )
        )
    except Exception:  # the runner has reported what it could not read; it carries on
        say("started")
    await stop.wait()
    if calendar is not None:
        calendar.stop()
    await runner.stop()
    say("stopped")


def _isatty(log: IO[str]) -> bool:
    try:
        return log.isatty()
    except (OSError, ValueError):
        return False


def _describe(state: str, next_change: datetime | None) -> str:
    when = f", next change {next_change.astimezone():%H:%M:%S}" if next_change else ""
    return f"cycle is {state}{when}"
