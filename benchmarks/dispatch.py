"""How soon after each boundary the runner hands its notice to the notifier (a recording
one: no D-Bus, no child process), with the real clock and APScheduler, as the daemon runs.

Ad hoc: `python benchmarks/dispatch.py`; prints each notice's lag behind its boundary."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from icecycle.clock import SystemClock
from icecycle.cycle import Settings
from icecycle.notify import Notice, Result
from icecycle.runner import Runner
from icecycle.store import Store


class Recorder:
    name = "recorder"

    def __init__(self, clock: SystemClock) -> None:
        self.clock = clock
        self.sent: list[tuple[str, datetime]] = []

    def send(self, notice: Notice) -> Result:
        self.sent.append((notice.kind, self.clock.now()))
        return Result(self.name, True)


async def main() -> None:
    store = Store.open(tempfile.mkdtemp())
    assert store is not None
    clock = SystemClock()
    now = clock.now()
    with store.transaction():
        cycle = store.new_cycle(now, Settings(2, 3, 12), now)
    rec = Recorder(clock)
    runner = Runner(store, clock, rec)
    await runner.start()
    await asyncio.sleep(9)
    await runner.stop()
    start = store.events(cycle.id)[0].at
    bounds = [start + timedelta(seconds=s) for s in (0, 2, 5, 7)]
    lags = [(t - b).total_seconds() for (_, t), b in zip(rec.sent, bounds, strict=False)]
    print("lag behind the boundary (ms):", ", ".join(f"{lag * 1000:.0f}" for lag in lags))


if __name__ == "__main__":
    asyncio.run(main())
