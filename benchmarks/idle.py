"""Idle CPU of terminal programs side by side in tmux, over repeated windows, by /proc time."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import rss_mb, run_seconds, tree_pids


def tmux(sock: str, *args: str, env: Mapping[str, str] | None = None) -> str:
    return subprocess.run(
        ["tmux", "-L", sock, *args], env=env, capture_output=True, text=True
    ).stdout


def launch(name: str, cmd: str, env: Mapping[str, str], blurred: bool = False) -> str:
    """Start cmd alone in its own tmux server; returns the socket name.

    With `blurred`, the server has `focus-events on` and no client attached: tmux answers the
    program's focus-reporting request with focus-out at once, as when another window has the
    focus, so a Textual app gets AppBlur. Without it, tmux reports nothing and the app stays
    focused, as in a terminal a person is looking at.
    """
    sock = f"bench-{name}-{os.getpid()}"
    tmux(sock, "kill-server")
    tmux(sock, "new-session", "-d", "-s", "b", "-x", "100", "-y", "30", env=env)
    if blurred:
        tmux(sock, "set-option", "-g", "focus-events", "on")
    tmux(sock, "respawn-pane", "-k", "-t", "b", cmd, env=env)
    return sock


def pane_pids(sock: str) -> list[int]:
    return tree_pids(int(tmux(sock, "display-message", "-p", "-t", "b", "#{pane_pid}").strip()))


def measure(
    commands: Mapping[str, tuple[str, bool]],
    env: Mapping[str, str],
    seconds: float,
    rounds: int = 3,
    settle: float = 3,
    also: Mapping[str, int] | None = None,
) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Run every command at once; CPU (% of a core) of each over `rounds` windows, and RSS.

    All run side by side through the same windows, so each window's figures for the program
    and its baseline saw the same machine (the same load from whoever else shares it).
    `also` names processes started elsewhere (not in tmux) to measure in the same windows.
    """
    socks = {name: launch(name, cmd, env, blurred) for name, (cmd, blurred) in commands.items()}
    try:
        time.sleep(settle)  # the steady state, not start-up
        pids = {name: pane_pids(sock) for name, sock in socks.items()}
        pids.update({name: [pid] for name, pid in (also or {}).items()})
        cpu: dict[str, list[float]] = {name: [] for name in pids}
        for _ in range(rounds):
            start = {n: sum(run_seconds(p) for p in ps) for n, ps in pids.items()}
            t0 = time.monotonic()
            time.sleep(seconds)
            took = time.monotonic() - t0
            for n, ps in pids.items():
                cpu[n].append((sum(run_seconds(p) for p in ps) - start[n]) / took * 100)
        rss = {n: sum(rss_mb(p) for p in ps) for n, ps in pids.items()}
    finally:
        for sock in socks.values():
            path = tmux(sock, "display-message", "-p", "#{socket_path}").strip()
            tmux(sock, "kill-server")
            if path:  # (tmux leaves its socket file behind here)
                Path(path).unlink(missing_ok=True)
    return cpu, rss


def ratio(ours: list[float], base: list[float]) -> float:
    """The median of the per-window ratios: each window compares runs that shared the load."""
    return statistics.median(o / max(b, 1e-9) for o, b in zip(ours, base, strict=True))


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


if __name__ == "__main__":
    # Ad hoc: `python benchmarks/idle.py SECONDS ROUNDS`, the dashboard beside the baseline,
    # using ICECYCLE_DATA_DIR as it is (start a cycle there first).
    root = Path(__file__).resolve().parent.parent
    py = sys.executable
    icecycle = str(Path(py).parent / "icecycle")
    minimal = f"{py} {root / 'benchmarks' / 'minimal_label.py'}"
    env = {**os.environ, "TERM": "xterm-256color"}
    secs, rounds = float(sys.argv[1]), int(sys.argv[2])
    print("load before:", load())
    cpu, rss = measure(
        {
            "tui": (icecycle, False),
            "blurred": (icecycle, True),
            "label": (f"{minimal} --tick", False),
            "still": (minimal, False),
            "timer": (f"{minimal} --timer", False),
        },
        env,
        secs,
        rounds,
    )
    for name, values in cpu.items():
        print(f"{name:<8} " + " ".join(f"{v:.2f}%" for v in values) + f"  rss {rss[name]:.1f} MB")
    print(f"focused/label {ratio(cpu['tui'], cpu['label']):.2f}")
    print(f"blurred/label {ratio(cpu['blurred'], cpu['label']):.2f}")
    print(f"timer/label {ratio(cpu['timer'], cpu['label']):.2f} (its 1 s timer, no redraw)")
    print(f"still/label {ratio(cpu['still'], cpu['label']):.2f} (a Textual app that never redraws)")
    print("load after:", load())
