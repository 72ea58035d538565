"""A realistic busy cycle for the benchmarks: 71 h into the window, 400 events in the store."""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from icecycle.cycle import Cycle, Event, Settings, fold
from icecycle.store import Store

EVENTS = 400
STEP = timedelta(minutes=5)


def person(rng: random.Random, events: list[Event], cycle: Cycle, t: datetime) -> list[Event]:
    """What someone using it all day might do at t: answer prompts, take the ice off a
    little early, note pain scores, pause now and then. Decided from the public fold, so
    every action is one the state allows."""
    st = fold(cycle, events).state_at(t)
    if st.state == "on" and st.phase is not None:
        if not st.acknowledged:
            return [Event("skip" if rng.random() < 0.05 else "ack", t)]
        if st.phase_remaining < timedelta(minutes=6) and rng.random() < 0.5:
            return [
                Event("off", t),
                Event("pain", t + timedelta(seconds=20), str(rng.randint(2, 7))),
            ]
    if st.state == "off" and st.phase is not None:
        if not st.phase.by_person and not st.acknowledged:  # the alarm: take the ice off
            return [
                Event("ack", t),
                Event("pain", t + timedelta(seconds=30), str(rng.randint(2, 7))),
            ]
        if rng.random() < 0.05:
            return [Event("pause", t)]
        if rng.random() < 0.4:
            return [Event("pain", t, str(rng.randint(1, 7)))]
    if st.state == "paused" and rng.random() < 0.5:
        return [Event("resume", t)]
    return []


def build(data_dir: Path, now: datetime | None = None) -> tuple[Cycle, list[Event], datetime]:
    """Write the cycle into a store at data_dir; returns it, its events, and `now`."""
    now = now or datetime.now(UTC)
    start = now - timedelta(hours=71)
    cycle = Cycle(0, start, Settings())
    events = [Event("started", start)]
    rng = random.Random(14)
    t = start + timedelta(seconds=30)
    while len(events) < EVENTS and t < now:
        events += person(rng, events, cycle, t)
        t += STEP
    events = events[:EVENTS]
    store = Store.open(data_dir)
    assert store is not None
    with store.transaction():
        cycle = store.new_cycle(start, Settings(), start)
        for e in events[1:]:
            store.append(cycle.id, e.kind, e.at, e.data)
    current = store.current()
    store.close()
    assert current is not None and len(current[1]) == len(events)
    return current[0], current[1], now


if __name__ == "__main__":
    import tempfile
    from collections import Counter

    cyc, evs, at = build(Path(tempfile.mkdtemp()))
    print(len(evs), Counter(e.kind for e in evs), fold(cyc, evs).state_at(at))
