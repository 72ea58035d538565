"""Helpers for the benchmarks: interleaved timing, /proc readings, medians and ratios."""

from __future__ import annotations

import contextlib
import os
import resource
import statistics
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_cmd(argv: Sequence[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one run of argv."""
    c0, t0 = children_cpu(), time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0, children_cpu() - c0


def interleaved(
    a: Sequence[str], b: Sequence[str], runs: int, env: dict[str, str]
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Median (wall, CPU) times of a and of b, run alternately so both see the same machine.

    CPU time is what the comparison rests on: wall time on a shared machine also counts
    the time spent waiting for a core."""
    ta, tb = [], []
    for _ in range(runs):
        ta.append(time_cmd(a, env))
        tb.append(time_cmd(b, env))
    return (
        (statistics.median(t[0] for t in ta), statistics.median(t[1] for t in ta)),
        (statistics.median(t[0] for t in tb), statistics.median(t[1] for t in tb)),
    )


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def run_seconds(pid: int) -> float:
    """CPU time of every thread of the process, to the nanosecond (the scheduler's own count).

    utime and stime in /proc/PID/stat are sampled at the clock tick (10 ms here): a program
    that wakes for a millisecond a second is charged a whole tick now and then, or nothing,
    which at 0.5 % of a core is noise of the size of the differences measured.
    """
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, IndexError, ValueError):  # a thread that just ended
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def tree_pids(pid: int) -> list[int]:
    """The process and its descendants (tmux runs the program under a shell)."""
    out = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return out
    for child in children:
        out += tree_pids(int(child))
    return out
