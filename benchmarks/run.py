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
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from common import interleaved
from idle import load, measure, ratio
from realistic import build

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PY = sys.executable
ICECYCLE = str(BIN / "icecycle")
SECONDS = int(os.environ.get("BENCH_SECONDS", "60"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
HOURS_72 = 72 * 3600
RESULTS = ROOT / "benchmarks" / "results.json"
# Each part's last run: when, on which commit, the load average before and after, and its
# rows: figure, ours, base, ratio, target, ok (None: a figure with no target of its own).
results: dict[str, dict[str, Any]] = {}
part = ""


def verdict(ok: bool | None) -> str:
    return "" if ok is None else "ok" if ok else "MISS"


def row(figure: str, ours: str, base: str, ratio: str, target: str, ok: bool | None) -> None:
    results[part]["rows"].append((figure, ours, base, ratio, target, ok))
    print(f"{figure:<48} {ours:>12} {base:>12} {ratio:>8}  {target:<14} {verdict(ok)}", flush=True)


def bench_status(env: dict[str, str]) -> None:
    """`icecycle status` on a busy cycle: 71 h in, 400 events, as after a heavy three days."""
    busy = {**env, "ICECYCLE_DATA_DIR": str(Path(env["ICECYCLE_DATA_DIR"]).parent / "busy")}
    build(Path(busy["ICECYCLE_DATA_DIR"]))
    for flag in ("--json", "--waybar"):
        (ours, ours_cpu), (base, base_cpu) = interleaved(
            [ICECYCLE, "status", flag], [PY, "-c", "pass"], 30, busy
        )
        r = ours_cpu / base_cpu
        row(
            f"`icecycle status {flag}`, 72 h cycle with 400 events: CPU time (wall), median of 30",
            f"{ours_cpu * 1000:.1f} ms ({ours * 1000:.0f})",
            f"{base_cpu * 1000:.1f} ms ({base * 1000:.0f})",
            f"{r:.2f}",
            "ratio <= 3.5",
            r <= 3.5,
        )


def bench_fold() -> None:
    sys.path.insert(0, str(ROOT))
    from icecycle.cycle import Cycle, Event, Settings, fold

    # No real cycle has more than a few hundred events: a busy 72 h one, through the
    # public API only (the fold's insides change).
    cycle, events, now = build(Path(tempfile.mkdtemp()) / "data")
    times = []
    for _ in range(50):
        t = time.thread_time()
        fold(cycle, events).state_at(now)
        times.append(time.thread_time() - t)
    f = statistics.median(times) * 1000
    row(
        f"fold of a 72 h cycle with {len(events)} events + state, CPU time (median of 50)",
        f"{f:.2f} ms",
        "—",
        "—",
        "<= 2 ms",
        f <= 2,
    )
    t0 = datetime(2026, 11, 25, tzinfo=UTC)
    c72 = Cycle(1, t0, Settings())
    acc = fold(c72, [Event("started", t0)])
    times = []
    for _ in range(50):
        t = time.thread_time()
        phases = acc.phases_from(t0)
        times.append(time.thread_time() - t)
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
    """The dashboard focused and blurred, its baselines, the daemon and its baseline: all at
    once, through ROUNDS windows of SECONDS each."""
    minimal = f"{PY} {ROOT / 'benchmarks' / 'minimal_label.py'}"
    daemon = subprocess.Popen([ICECYCLE, "daemon"], env=env, stderr=subprocess.DEVNULL)
    follower = subprocess.Popen(
        [ICECYCLE, "status", "--follow", "--waybar"], env=env, stdout=subprocess.DEVNULL
    )
    sleeper = subprocess.Popen(
        [PY, "-c", f"import asyncio; asyncio.run(asyncio.sleep({SECONDS * ROUNDS + 60}))"]
    )
    try:
        cpu, rss = measure(
            {
                "tui": (ICECYCLE, False),
                "blurred": (ICECYCLE, True),
                "label": (f"{minimal} --tick", False),
                "timer": (f"{minimal} --timer", False),
            },
            env,
            SECONDS,
            ROUNDS,
            also={"daemon": daemon.pid, "follow": follower.pid, "sleep": sleeper.pid},
        )
    finally:
        for p in (daemon, follower, sleeper):
            p.terminate()
            p.wait()
    med = {n: statistics.median(v) for n, v in cpu.items()}
    window = f"median of {ROUNDS} × {SECONDS} s"
    for name, what, target in (
        ("tui", "focused", 1.3),
        ("blurred", "blurred (terminal lost focus)", 0.25),
    ):
        r = ratio(cpu[name], cpu["label"])
        row(
            f"TUI CPU, cycle running, {what} (% of a core, {window})",
            f"{med[name]:.3f} %",
            f"{med['label']:.3f} %",
            f"{r:.2f}",
            f"ratio <= {target}",
            r <= target,
        )
    for name, what in (("tui", "focused"), ("blurred", "blurred")):
        row(
            f"72 h of the open dashboard, {what}: CPU seconds (extrapolated)",
            f"{med[name] / 100 * HOURS_72:.0f} s",
            f"{med['label'] / 100 * HOURS_72:.0f} s",
            f"{ratio(cpu[name], cpu['label']):.2f}",
            "—",
            None,
        )
    row(
        "reference: the one-label app's 1 s timer alone, no redraw (% of a core)",
        f"{med['timer']:.3f} %",
        f"{med['label']:.3f} %",
        f"{ratio(cpu['timer'], cpu['label']):.2f}",
        "—",
        None,
    )
    r = rss["tui"] / rss["label"]
    row(
        f"TUI RSS after {ROUNDS * SECONDS} s",
        f"{rss['tui']:.1f} MB",
        f"{rss['label']:.1f} MB",
        f"{r:.2f}",
        "ratio <= 1.35",
        r <= 1.35,
    )
    row(
        f"daemon CPU (% of a core, {window})",
        f"{med['daemon']:.4f} %",
        f"{med['sleep']:.4f} %",
        "—",
        "<= 0.02 %",
        med["daemon"] <= 0.02,
    )
    setup = [
        d + f + b for d, f, b in zip(cpu["daemon"], cpu["follow"], cpu["blurred"], strict=True)
    ]
    r = ratio(setup, cpu["label"])
    row(
        f"whole setup: daemon + `status --follow --waybar` + dashboard blurred ({window})",
        f"{statistics.median(setup):.3f} %",
        f"{med['label']:.3f} %",
        f"{r:.2f}",
        "ratio <= 1.0",
        r <= 1.0,
    )
    row(
        "72 h of the whole setup: CPU seconds (extrapolated)",
        f"{statistics.median(setup) / 100 * HOURS_72:.0f} s",
        f"{med['label'] / 100 * HOURS_72:.0f} s",
        f"{r:.2f}",
        "—",
        None,
    )
    row(
        "daemon RSS",
        f"{rss['daemon']:.1f} MB",
        f"{rss['sleep']:.1f} MB",
        f"{rss['daemon'] / rss['sleep']:.2f}",
        "<= 40 MB",
        rss["daemon"] <= 40,
    )


def _lines(proc: subprocess.Popen[str], seen: list[tuple[float, str]]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append((time.monotonic(), line))


def _toggle(env: dict[str, str], n: int) -> None:
    """One change made elsewhere: skip this session, or put the ice back on."""
    kind = "skip" if n % 2 == 0 else "on"
    subprocess.run([ICECYCLE, kind], env=env, capture_output=True, check=True)


def bench_follow(env: dict[str, str]) -> None:
    """`status --follow --waybar` against `status --waybar` every 5 s, the same windows, with
    one change made elsewhere in each; and how soon each open dashboard and follower shows
    that change."""
    import threading

    from common import children_cpu, run_seconds, time_cmd
    from idle import launch, tmux

    follower = subprocess.Popen(
        [ICECYCLE, "status", "--follow", "--waybar"], env=env, stdout=subprocess.PIPE, text=True
    )
    seen: list[tuple[float, str]] = []
    threading.Thread(target=_lines, args=(follower, seen), daemon=True).start()
    # A line without seconds, as for a calmer bar: it wakes once a minute.
    minutes = subprocess.Popen(
        [ICECYCLE, "status", "--follow", "--format", "{phase} {window_remaining}"],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    socks = {
        name: launch(name, ICECYCLE, env, blurred)
        for name, blurred in (("focused", False), ("blurred", True))
    }
    ours, calm, base = [], [], []
    lags: dict[str, list[float]] = {"follower": [], "focused": [], "blurred": []}
    try:
        time.sleep(3)
        for n in range(ROUNDS):
            c0, m0 = run_seconds(follower.pid), run_seconds(minutes.pid)
            p0, t0 = 0.0, time.monotonic()
            changed = False
            while time.monotonic() - t0 < SECONDS:
                p0 += time_cmd([ICECYCLE, "status", "--waybar"], env)[1]
                if not changed and time.monotonic() - t0 >= SECONDS / 2:
                    changed = True
                    count = len(seen)
                    c_before = children_cpu()
                    _toggle(env, n)
                    p0 -= children_cpu() - c_before  # (the change is neither's cost)
                    done = time.monotonic()
                    left = set(lags)
                    while left and time.monotonic() - done < 3:
                        new = [t for t, line in seen[count:] if _shows(line, n)]
                        if "follower" in left and new:
                            lags["follower"].append(max(0.0, new[0] - done))
                            left.discard("follower")
                        for k, sock in socks.items():
                            if k in left and _shows(_pane(sock), n):
                                lags[k].append(time.monotonic() - done)
                                left.discard(k)
                        time.sleep(0.01)
                    for k in left:
                        lags[k].append(float("inf"))
                time.sleep(max(0.0, 5 - (time.monotonic() - t0) % 5))
            took = time.monotonic() - t0
            ours.append((run_seconds(follower.pid) - c0) / took * 100)
            calm.append((run_seconds(minutes.pid) - m0) / took * 100)
            base.append(p0 / took * 100)
    finally:
        for p in (follower, minutes):
            p.terminate()
            p.wait()
        for sock in socks.values():
            tmux(sock, "kill-server")
    r = ratio(ours, base)
    window = f"median of {ROUNDS} × {SECONDS} s, one change elsewhere in each"
    row(
        f"`status --follow --waybar` vs `status --waybar` every 5 s: CPU ({window})",
        f"{statistics.median(ours):.4f} %",
        f"{statistics.median(base):.3f} %",
        f"{r:.3f}",
        "ratio <= 0.02",
        r <= 0.02,
    )
    r = ratio(calm, base)
    row(
        "`status --follow --format '{phase} {window_remaining}'` (minutes) vs the same poll",
        f"{statistics.median(calm):.4f} %",
        f"{statistics.median(base):.3f} %",
        f"{r:.3f}",
        "ratio <= 0.02",
        r <= 0.02,
    )
    for k, what in (
        ("follower", "`status --follow`"),
        ("focused", "the dashboard, focused"),
        ("blurred", "the dashboard, blurred"),
    ):
        worst = max(lags[k])
        row(
            f"a change made elsewhere (`icecycle skip`/`on`) shown by {what} (max of {ROUNDS})",
            f"{worst * 1000:.0f} ms",
            "—",
            "—",
            "<= 1 s",
            worst <= 1.0,
        )


def _shows(screen: str, n: int) -> bool:
    """The change of round n is on this screen or line (see _toggle)."""
    return ("ICE ON" in screen) == (n % 2 == 1)


def _pane(sock: str) -> str:
    from idle import tmux

    return tmux(sock, "capture-pane", "-p", "-t", "b")


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
            "max <= 0.3 s",
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
        "max <= 0.3 s",
        mx <= 0.3,
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
    # `run.py idle fold` runs those parts only; the report keeps the others' last run.
    # `run.py report` runs nothing: it rewrites the report (after editing the notes).
    parts = [p for p in PARTS if p in sys.argv[1:]] or list(PARTS)
    if (RESULTS.exists() and parts != list(PARTS)) or sys.argv[1:] == ["report"]:
        results.update(json.loads(RESULTS.read_text()))
    if sys.argv[1:] == ["report"]:
        write_report()
        return

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, text=True
        ).stdout.strip()

    # The commit of icecycle/ measured ("+changes": with uncommitted changes to it).
    commit = git("rev-parse", "--short", "HEAD")
    commit += "+changes" if git("status", "--porcelain", "--", "icecycle") else ""
    print(f"{'figure':<48} {'icecycle':>12} {'baseline':>12} {'ratio':>8}  target")
    subprocess.run([ICECYCLE, "start", "--force"], env=env, check=True, capture_output=True)
    # The person answered the towel prompt, as they usually will: the dashboard then shows
    # the countdown, not the modal.
    subprocess.run([ICECYCLE, "ack"], env=env, check=True, capture_output=True)
    global part
    for part in parts:
        started = f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z}"
        results[part] = {"run": started, "commit": commit, "loads": [load()], "rows": []}
        PARTS[part](env)
        results[part]["loads"].append(load())
    RESULTS.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    write_report()


PARTS: dict[str, Callable[[dict[str, str]], None]] = {
    "status": bench_status,
    "fold": lambda env: bench_fold(),
    "first-frame": bench_first_frame,
    "idle": bench_idle,
    "follow": bench_follow,
    "latency": lambda env: bench_latency(),
}


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
        f"- Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        f"- Python {platform.python_version()}, {libs}",
        "- Runs (each part, the commit of icecycle/ measured, and the load average (1, 5,",
        "  15 min) before and after it; the machine is shared, so the load is others' work):",
    ]
    for name in PARTS:
        if name in results:
            r = results[name]
            lines.append(
                f"  - {name}: {r['run']} on {r['commit']}, load {r['loads'][0]}; {r['loads'][-1]}"
            )
    lines += [
        "",
        "| figure | icecycle | baseline | ratio | target | |",
        "|---|---|---|---|---|---|",
    ]
    for name in PARTS:
        for figure, ours, base, ratio_, target, ok in results.get(name, {}).get("rows", []):
            lines.append(f"| {figure} | {ours} | {base} | {ratio_} | {target} | {verdict(ok)} |")
    lines += [
        "",
        "Baselines: `python -c pass` for status; `benchmarks/minimal_label.py` (a one-label",
        "Textual app; with `--tick` it updates the label once a second) for the TUI;",
        "`asyncio.run(asyncio.sleep(...))` for the daemon. `status` is timed by the CPU time",
        "(user + system) of the child process, wall time in brackets. For the idle figures all",
        "programs run side by side through the same windows (benchmarks/idle.py), each in its",
        "own tmux server; CPU is the scheduler's run time of every thread",
        "(`/proc/PID/task/*/schedstat`, to the nanosecond), and a ratio is the median of the",
        "per-window ratios. The blurred dashboard runs in a tmux server with `focus-events on`",
        "and no client attached, so tmux reports it unfocused at once (Textual's `AppBlur`);",
        "the focused one and the baselines run where focus is never reported. The 72 h rows",
        "are the medians times 72 hours. RSS is VmRSS from `/proc/PID/status` (the TUI's",
        "figures include the shell tmux starts it under, and so do the baseline's).",
        "",
        "The follow part runs `status --follow --waybar` (its CPU from schedstat) while the",
        "benchmark calls `status --waybar` every 5 s (those children's CPU) through the same",
        "windows, with one `icecycle skip` or `on` halfway through each; a change's latency is",
        "from that command's exit to the follower's line, or the dashboards' tmux panes",
        "(one focused, one blurred), showing it.",
        "",
        "The notification latency is from the real D-Bus end-to-end test: the time dbus-monitor",
        "saw each `Notify` call minus the phase boundary; the first notice (the daemon noticing",
        "`icecycle start` from another process) is left out.",
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
