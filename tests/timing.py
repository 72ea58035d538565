"""Bounded waits for tests: fail instead of hanging the suite."""

from __future__ import annotations

import threading


def within(seconds: float, work):  # type: ignore[no-untyped-def]
    """Run `work` on a thread; fail (instead of hanging the suite) if it takes longer."""
    box: list[object] = []
    t = threading.Thread(target=lambda: box.append(work()), daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"still running after {seconds}s"
    return box[0]
