"""A headless dashboard that presses keys for a while, for the concurrency soak test.

python -m tests.faults.tui_driver DATA_DIR SECONDS LOGFILE -> prints its successful actions
"""

from __future__ import annotations

import faulthandler
import json
import random
import sys
from collections import Counter

from icecycle.clock import SystemClock
from icecycle.notify import LogNotifier
from icecycle.store import Store
from icecycle.tui.app import make_app


def main() -> None:
    data_dir, seconds, log = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    # If it ever hangs, say where, on stderr, and stop: a hung test tells nothing.
    faulthandler.dump_traceback_later(seconds + 40, exit=True)
    store = Store.open(data_dir)
    assert store is not None
    with open(log, "a") as fh:
        notifier = LogNotifier(lambda line: (fh.write(line + "\n"), fh.flush()))
        app = make_app(store, SystemClock(), notifier, bell=False)
        done: Counter[str] = Counter()
        errors: list[str] = []
        real_perform = app.perform
        real_notify = app.notify

        def perform(kind: str) -> bool:
            ok = real_perform(kind)
            if ok:  # count what was stored (`off` while resting is stored as `ack`)
                done[app.last_action or kind] += 1
            return ok

        def notify(message: str, **kw) -> None:  # type: ignore[no-untyped-def]
            if kw.get("severity") == "error":
                errors.append(message)
            real_notify(message, **kw)

        app.perform = perform  # type: ignore[method-assign]
        app.notify = notify  # type: ignore[method-assign]
        rng = random.Random()

        def act() -> None:
            app.perform(rng.choice(["pause", "resume", "on", "off", "skip", "ack"]))

        app.call_later(lambda: app.set_interval(0.15, act))
        app.call_later(lambda: app.set_timer(seconds, app.exit))
        app.run(headless=True)
    print(json.dumps({"done": done, "errors": errors}))


if __name__ == "__main__":
    main()
