"""200 SIGKILLs of the daemon around boundaries; a hook counts what was delivered.

Not part of `make test` (about three minutes). Run: .venv/bin/python benchmarks/kill_daemon.py
[KILLS]. The daemon runs as `icecycle daemon` would, with a shorter hook time limit (0.5 s)
and lease margin (0.5 s), so that a lease runs out within a 2 s rest as it would within a
90 min one. Prints the counts: claims, deliveries, losses, duplicates.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ON_S, OFF_S = 1, 2

DAEMON = """
import sys
from datetime import timedelta
import icecycle.notify as notify, icecycle.runner as runner
notify.HookNotifier.__init__.__defaults__ = (0.5,)
runner.LEASE_MARGIN = timedelta(seconds=0.5)
from icecycle.cli import main
sys.exit(main(["daemon"]))
"""


def main() -> None:
    kills = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    rng = random.Random(12)
    with tempfile.TemporaryDirectory() as tmp:
        data, log, config = Path(tmp, "data"), Path(tmp, "hook.log"), Path(tmp, "config.toml")
        config.write_text(
            "[notifications]\ndesktop = false\nrepeat_count = 0\n[hooks]\n"
            'on_change = ["sh", "-c", "echo $ICECYCLE_KIND $ICECYCLE_PHASE_ENDS >> '
            f'{log}"]\n'
        )
        config.chmod(0o600)
        env = {**os.environ, "ICECYCLE_DATA_DIR": str(data), "ICECYCLE_CONFIG": str(config)}
        env["PYTHONPATH"] = str(ROOT)
        cli = [sys.executable, "-m", "icecycle"]
        subprocess.run(
            [*cli, "start", "--on", f"{ON_S}s", "--off", f"{OFF_S}s", "--window", "2h"],
            env=env,
            check=True,
            capture_output=True,
        )
        began = time.time()
        for n in range(kills):
            daemon = subprocess.Popen(
                [sys.executable, "-c", DAEMON], env=env, stderr=subprocess.DEVNULL
            )
            time.sleep(0.45)  # about how long it takes to start and claim
            if n % 2 == 0:  # at a boundary: just after the next one, when claims are taken
                t = time.time() - began
                period = ON_S + OFF_S
                k, r = divmod(t, period)
                nxt = k * period + (ON_S if r < ON_S else period)
                time.sleep(nxt - t + rng.uniform(0.0, 0.12))
            else:
                time.sleep(rng.uniform(0.0, 1.2))
            daemon.send_signal(signal.SIGKILL)
            daemon.wait()
        daemon = subprocess.Popen(
            [sys.executable, "-c", DAEMON], env=env, stderr=subprocess.DEVNULL
        )
        time.sleep(4)  # a lease and a bit: orphans of the last kill are delivered
        daemon.send_signal(signal.SIGTERM)
        daemon.wait()
        time.sleep(1)  # hooks still running finish their line
        rests = int((time.time() - began) // (ON_S + OFF_S))
        print(
            f"kills: {kills}; rests in the run: about {rests}; run took {time.time() - began:.0f}s"
        )
        report(data / "icecycle.sqlite3", log)


def report(db: Path, log: Path) -> None:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT phase_start, sent, result FROM notifications WHERE kind = 'off' AND seq = 0"
        ).fetchall()
    delivered = Counter(  # the hook sees times to the second
        int(datetime.fromisoformat(line.split()[1]).timestamp())
        for line in log.read_text().splitlines()
        if line.split()[0] == "off" and len(line.split()) > 1
    )
    claims = {
        int((datetime.fromisoformat(p) + timedelta(seconds=OFF_S)).timestamp()): (s, r)
        for p, s, r in rows
    }
    lost = [end for end in claims if end not in delivered and claims[end][1] != "superseded"]
    unsettled = [end for end, (sent, _) in claims.items() if sent is None]
    superseded = [end for end, (_, r) in claims.items() if r == "superseded"]
    dupes = sum(c - 1 for end, c in delivered.items() if c > 1)
    late = sum(1 for _, r in claims.values() if r == "late")
    print(f"take-it-off notices claimed: {len(claims)}")
    print(f"delivered (hook ran): {sum(1 for e in claims if e in delivered)}")
    print(f"  of which sent late by another daemon after a kill: {late}")
    print(f"superseded by a later take-it-off before its lease ran out: {len(superseded)}")
    print(f"lost (claimed, never delivered): {len(lost)}")
    print(f"unsettled at the end: {len(unsettled)}")
    print(f"duplicates: {dupes}")


if __name__ == "__main__":
    main()
