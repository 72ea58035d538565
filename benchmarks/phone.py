"""The phone calendar's cost: requests and seconds of one sync of a fresh 72 h cycle, then of
one skip (in the rest before a session: only that session changes), against Radicale on
127.0.0.1 with htpasswd auth. `python benchmarks/phone.py [--server xandikos]`."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from icecycle import actions, phone  # noqa: E402
from icecycle.config import PhoneSettings  # noqa: E402
from icecycle.cycle import Settings  # noqa: E402
from icecycle.store import Store  # noqa: E402
from tests.caldav_servers import (  # noqa: E402
    PASSWORD,
    USER,
    Reader,
    start_radicale,
    start_xandikos,
    stop,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--server", choices=["radicale", "xandikos"], default="radicale")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = start_radicale if args.server == "radicale" else start_xandikos
        server = start(Path(tmp) / "server")
        try:
            url = Reader(server.root).new_calendar()
            data = Path(tmp) / "data"
            store = Store.open(data)
            assert store is not None
            now = datetime.now(UTC).replace(microsecond=0)
            with store.transaction():
                store.new_cycle(now, Settings(), now)
            settings = PhoneSettings(url, USER)
            rows = []
            t = time.perf_counter()
            done = phone.sync(store, settings, str(data), now, PASSWORD, full=True)
            rows.append(("fresh 72 h cycle (listing first)", done, time.perf_counter() - t))
            now += timedelta(minutes=30)  # in the rest after the first session
            actions.act(store, "ack", lambda: now, "commands")
            t = time.perf_counter()
            done = phone.sync(store, settings, str(data), now, PASSWORD)
            rows.append(("the first session over, answered", done, time.perf_counter() - t))
            now += timedelta(minutes=5)
            actions.act(store, "skip", lambda: now, "commands")
            t = time.perf_counter()
            done = phone.sync(store, settings, str(data), now, PASSWORD)
            rows.append(("one skip in the rest", done, time.perf_counter() - t))
            t = time.perf_counter()
            done = phone.sync(store, settings, str(data), now, PASSWORD)
            rows.append(("nothing changed", done, time.perf_counter() - t))
            store.close()
        finally:
            stop(server)
    print(f"phone sync against {args.server} on 127.0.0.1")
    print(f"{'':36} {'requests':>8} {'PUT':>4} {'DELETE':>6} {'seconds':>8}")
    for what, d, secs in rows:
        print(f"{what:36} {d.requests:>8} {d.put:>4} {d.deleted:>6} {secs:>8.3f}")


if __name__ == "__main__":
    main()
