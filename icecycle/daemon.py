"""`icecycle daemon`: the runner with no UI, one log line per event, for a user service."""

from __future__ import annotations

import asyncio
import signal
from datetime import datetime
from typing import IO

from icecycle.clock import Clock
from icecycle.notify import DesktopNotifier
from icecycle.runner import Report, Runner
from icecycle.store import Store


def run_daemon(store: Store, clock: Clock, log: IO[str]) -> None:
    asyncio.run(_main(store, clock, log))


async def _main(store: Store, clock: Clock, log: IO[str]) -> None:
    def say(line: str) -> None:
        # journald stamps each line itself; a plain terminal still wants the time.
        stamp = clock.now().astimezone().strftime("%H:%M:%S")
        log.write(f"icecycle daemon {stamp} {line}\n")
        log.flush()

    def report(r: Report) -> None:
        say(r.text)

    runner = Runner(store, clock, DesktopNotifier(), report=report)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await runner.start()
    st = runner.state()
    say(
        "started; "
        + (
            _describe(st.state, st.next_change)
            if st
            else "no cycle yet, waiting for `icecycle start`"
        )
    )
    await stop.wait()
    await runner.stop()
    say("stopped")


def _describe(state: str, next_change: datetime | None) -> str:
    when = f", next change {next_change.astimezone():%H:%M:%S}" if next_change else ""
    return f"cycle is {state}{when}"
