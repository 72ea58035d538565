"""`make bench`: every figure against a baseline in the same run; writes docs/performance.md."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import cpu_seconds, interleaved, rss_mb, tree_pids

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PY = sys.executable
ICECYCLE = str(BIN / "icecycle")
SECONDS = int(os.environ.get("BENCH_SECONDS", "60"))
rows: list[tuple[str, str, str, str, str, bool]] = []  # figure, ours, base, ratio, target, ok


def row(figure: str, ours: str, base: str, ratio: str, target: str, ok: bool) -> None:
    rows.append((figure, ours, base, ratio, target, ok))
    print(
        f"{figure:<48} {ours:>12} {base:>12} {ratio:>8}  {target:<14} {'ok' if ok else 'MISS'}",
        flush=True,
    )


def bench_status(env: dict[str, str]) -> None:
    subprocess.run([ICECYCLE, "start", "--force"], env=env, check=True, capture_output=True)
    # The person answered the towel prompt, as they usually will: the dashboard then shows
    # the countdown, not the modal.
    subprocess.run([ICECYCLE, "ack"], env=env, check=True, capture_output=True)
    for flag in ("--json", "--waybar"):
        ours, base = interleaved([ICECYCLE, "status", flag], [PY, "-c", "pass"], 30, env)
        r = ours / base
        row(
            f"`icecycle status {flag}` wall time (median of 30)",
            f"{ours * 1000:.1f} ms",
            f"{base * 1000:.1f} ms",
            f"{r:.2f}",
            "ratio <= 3.5",
            r <= 3.5,
        )


def bench_fold() -> None:
    sys.path.insert(0, str(ROOT))
    from icecycle.cycle import Cycle, Event, Settings, fold

    t0 = datetime(2026, 11, 25, tzinfo=UTC)
    cycle = Cycle(1, t0, Settings(window_s=7 * 86400))
    events = [Event("started", t0)] + [
        Event("off" if i % 2 == 0 else "on", t0 + timedelta(seconds=30 * i + 10))
        for i in range(9999)
    ]
    times = []
    for _ in range(15):
        t = time.perf_counter()
        fold(cycle, events).state_at(t0 + timedelta(days=5))
        times.append(time.perf_counter() - t)
    f = statistics.median(times) * 1000
    row("fold of 10,000 events + state (median of 15)", f"{f:.1f} ms", "—", "—", "< 20 ms", f < 20)
    c72 = Cycle(1, t0, Settings())
    acc = fold(c72, [Event("started", t0)])
    times = []
    for _ in range(50):
        t = time.perf_counter()
        phases = acc.phases_from(t0)
        times.append(time.perf_counter() - t)
    s = statistics.median(times) * 1000
    row(
        f"full 72 h schedule ({len(phases)} phases, median of 50)",
        f"{s:.2f} ms",
        "—",
        "—",
        "< 5 ms",
        s < 5,
    )


def first_frame(cmd: str, marker: str, env: dict[str, str], sock: str) -> float:
    subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)
    t0 = time.perf_counter()
    subprocess.run(
        ["tmux", "-L", sock, "new-session", "-d", "-s", "b", "-x", "100", "-y", "30", cmd],
        env=env,
        check=True,
    )
    while time.perf_counter() - t0 < 20:
        out = subprocess.run(
            ["tmux", "-L", sock, "capture-pane", "-p", "-t", "b"], capture_output=True, text=True
        ).stdout
        if marker in out:
            break
        time.sleep(0.005)
    took = time.perf_counter() - t0
    subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)
    return took


def bench_first_frame(env: dict[str, str]) -> None:
    minimal = f"{PY} {ROOT / 'benchmarks' / 'minimal_label.py'}"
    ours, base = [], []
    for _ in range(7):
        ours.append(first_frame(ICECYCLE, "ICE ON", env, "bench-ff"))
        base.append(first_frame(minimal, "ICE ON baseline", env, "bench-ff"))
    o, b = statistics.median(ours), statistics.median(base)
    row(
        "TUI time to first frame in tmux (median of 7)",
        f"{o * 1000:.0f} ms",
        f"{b * 1000:.0f} ms",
        f"{o / b:.2f}",
        "ratio <= 1.3",
        o / b <= 1.3,
    )


def bench_idle(env: dict[str, str]) -> None:
    """Daemon and TUI, each beside its baseline, all at once for SECONDS."""
    minimal = f"{PY} {ROOT / 'benchmarks' / 'minimal_label.py'} --tick"
    procs = {
        "daemon": subprocess.Popen([ICECYCLE, "daemon"], env=env, stderr=subprocess.DEVNULL),
        "sleep": subprocess.Popen(
            [PY, "-c", f"import asyncio; asyncio.run(asyncio.sleep({SECONDS + 30}))"]
        ),
    }
    for name, cmd in (("tui", ICECYCLE), ("label", minimal)):
        subprocess.run(
            [
                "tmux",
                "-L",
                f"bench-{name}",
                "new-session",
                "-d",
                "-s",
                "b",
                "-x",
                "100",
                "-y",
                "30",
                cmd,
            ],
            env=env,
            check=True,
        )
    time.sleep(3)  # let them settle: measure the steady state, not start-up
    pids = {n: [p.pid] for n, p in procs.items()}
    for name in ("tui", "label"):
        pane = subprocess.run(
            ["tmux", "-L", f"bench-{name}", "display-message", "-p", "-t", "b", "#{pane_pid}"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        pids[name] = tree_pids(int(pane))
    start = {n: sum(cpu_seconds(p) for p in ps) for n, ps in pids.items()}
    time.sleep(SECONDS)
    cpu = {
        n: (sum(cpu_seconds(p) for p in ps) - start[n]) / SECONDS * 100 for n, ps in pids.items()
    }
    rss = {n: sum(rss_mb(p) for p in ps) for n, ps in pids.items()}
    for p in procs.values():
        p.terminate()
        p.wait()
    for name in ("tui", "label"):
        subprocess.run(["tmux", "-L", f"bench-{name}", "kill-server"], capture_output=True)
    r = cpu["tui"] / max(cpu["label"], 1e-9)
    row(
        f"TUI CPU over {SECONDS} s, cycle running (% of a core)",
        f"{cpu['tui']:.2f} %",
        f"{cpu['label']:.2f} %",
        f"{r:.2f}",
        "ratio <= 1.5",
        r <= 1.5,
    )
    r = rss["tui"] / rss["label"]
    row(
        f"TUI RSS after {SECONDS} s",
        f"{rss['tui']:.1f} MB",
        f"{rss['label']:.1f} MB",
        f"{r:.2f}",
        "ratio <= 1.35",
        r <= 1.35,
    )
    row(
        f"daemon CPU over {SECONDS} s (% of a core)",
        f"{cpu['daemon']:.3f} %",
        f"{cpu['sleep']:.3f} %",
        "—",
        "<= 0.2 %",
        cpu["daemon"] <= 0.2,
    )
    row(
        "daemon RSS",
        f"{rss['daemon']:.1f} MB",
        f"{rss['sleep']:.1f} MB",
        f"{rss['daemon'] / rss['sleep']:.2f}",
        "<= 40 MB",
        rss["daemon"] <= 40,
    )


def bench_latency() -> None:
    lag_file = Path(tempfile.mkdtemp()) / "lags.json"
    env = {**os.environ, "ICECYCLE_LAG_FILE": str(lag_file)}
    done = subprocess.run(
        [
            PY,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_desktop.py::test_daemon_notifies_every_change_once_and_on_time",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if not lag_file.exists():
        row(
            "notification latency after a boundary (D-Bus)",
            "not run",
            "—",
            "—",
            "max <= 1 s",
            False,
        )
        print(done.stdout[-500:])
        return
    lags = json.loads(lag_file.read_text())[1:]  # the first is `start` being picked up
    med, mx = statistics.median(lags), max(lags)
    row(
        "notification latency after a boundary, real D-Bus (median / max)",
        f"{med * 1000:.0f} / {mx * 1000:.0f} ms",
        "—",
        "—",
        "max <= 1 s",
        mx <= 1.0,
    )


def main() -> None:
    # Measure icecycle as installed: pip and pipx compile bytecode, but an editable install
    # under PYTHONDONTWRITEBYTECODE=1 (set on these machines) would recompile every run.
    subprocess.run([PY, "-m", "compileall", "-q", str(ROOT / "icecycle")], check=True)
    tmp = Path(tempfile.mkdtemp(prefix="icecycle-bench-"))
    env = {
        **os.environ,
        "ICECYCLE_DATA_DIR": str(tmp / "data"),
        "TERM": "xterm-256color",
        "DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp}/no-bus",
    }
    env.pop("DISPLAY", None)
    print(f"{'figure':<48} {'icecycle':>12} {'baseline':>12} {'ratio':>8}  target")
    bench_status(env)
    bench_fold()
    bench_first_frame(env)
    bench_idle(env)
    bench_latency()
    write_report()


def write_report() -> None:
    from importlib.metadata import version

    libs = ", ".join(
        f"{n} {version(n)}" for n in ("textual", "apscheduler", "plyer", "platformdirs")
    )
    lines = [
        "# Performance",
        "",
        "Written by `make bench` (benchmarks/run.py). Every figure is a median of repeated runs,",
        "interleaved with (or run beside) its baseline in the same invocation; the targets are",
        "ratios where a baseline exists, since machines here are shared and noisy.",
        "",
        f"- Run: {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        f"- Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        f"- Python {platform.python_version()}, {libs}",
        "",
        "| figure | icecycle | baseline | ratio | target | |",
        "|---|---|---|---|---|---|",
    ]
    for figure, ours, base, ratio, target, ok in rows:
        lines.append(
            f"| {figure} | {ours} | {base} | {ratio} | {target} | {'ok' if ok else 'MISS'} |"
        )
    lines += [
        "",
        "Baselines: `python -c pass` for status; `benchmarks/minimal_label.py` (a one-label",
        "Textual app; with `--tick` it updates the label once a second) for the TUI;",
        "`asyncio.run(asyncio.sleep(...))` for the daemon. CPU is utime+stime from",
        "`/proc/PID/stat` over the window; RSS is VmRSS from `/proc/PID/status` (the TUI's",
        "figures include the shell tmux starts it under, and so do the baseline's).",
        "",
        "The notification latency is from the real D-Bus end-to-end test: the time dbus-monitor",
        "saw each `Notify` call minus the phase boundary; the first notice (the daemon noticing",
        "`icecycle start` from another process, within its 1 s tick) is left out.",
        "",
    ]
    out = ROOT / "docs" / "performance.md"
    notes = ROOT / "docs" / "performance-notes.md"
    if notes.exists():
        lines += ["", notes.read_text().strip()]
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
