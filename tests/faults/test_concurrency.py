"""The CLI, two dashboards and a daemon on one cycle at once: nothing locked, nothing lost."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

SECONDS = float(os.environ.get("ICECYCLE_SOAK_SECONDS", "30"))
ROOT = Path(__file__).resolve().parents[2]


def test_everyone_at_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {
        **os.environ,
        "ICECYCLE_DATA_DIR": str(data),
        "DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path}/no-bus",
    }
    env.pop("DISPLAY", None)

    def cli(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "icecycle", *argv],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert cli("start", "--on", "1s", "--off", "2s", "--window", "10m").returncode == 0
    daemon_log = tmp_path / "daemon.log"
    daemon = subprocess.Popen(
        [sys.executable, "-m", "icecycle", "daemon"],
        env=env,
        cwd=ROOT,
        stderr=daemon_log.open("wb"),
    )
    tuis = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.faults.tui_driver",
                str(data),
                str(SECONDS),
                str(tmp_path / f"tui{i}.log"),
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    rng = random.Random(7)
    cli_done: Counter[str] = Counter()
    codes: Counter[int] = Counter()
    errors: list[str] = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < SECONDS:
        kind = rng.choice(["status", "pause", "resume", "on", "off", "skip", "ack", "history"])
        r = cli(kind)
        codes[r.returncode] += 1
        if r.returncode == 0 and kind not in ("status", "history"):
            cli_done[
                kind if not (kind == "off" and r.stdout.startswith("Acknowledged")) else "ack"
            ] += 1
        if r.returncode not in (0, 1) or "locked" in r.stderr or "busy" in r.stderr:
            errors.append(f"{kind}: {r.returncode} {r.stderr.strip()}")
    tui_done: Counter[str] = Counter()
    for i, p in enumerate(tuis):
        out, _ = p.communicate(timeout=SECONDS + 60)
        assert p.returncode == 0, (tmp_path / f"tui{i}.err").read_text()[-3000:]
        report = json.loads(out.strip().splitlines()[-1])
        tui_done.update(report["done"])
        errors += report["errors"]
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=15) == 0
    assert errors == []
    log = daemon_log.read_text()
    assert "locked" not in log and "Traceback" not in log
    with contextlib.closing(sqlite3.connect(data / "icecycle.sqlite3")) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = Counter(
            k for (k,) in conn.execute("SELECT kind FROM events WHERE kind != 'started'")
        )
        claims = conn.execute("SELECT kind, phase_start, seq, result FROM notifications").fetchall()
    # Every action any of them said it did is stored, once.
    assert stored == cli_done + tui_done, (stored, cli_done, tui_done)
    # Each notification claimed once (the UNIQUE key), and every claim was settled.
    assert len({c[:3] for c in claims}) == len(claims) > 0
    assert all(c[3] for c in claims)
    print(
        f"{sum(codes.values())} CLI calls ({dict(codes)}), {sum(stored.values())} events, "
        f"{len(claims)} notification claims, 0 locked"
    )
