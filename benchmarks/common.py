"""Helpers for the benchmarks: interleaved timing, /proc readings, medians and ratios."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def time_cmd(argv: Sequence[str], env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def interleaved(
    a: Sequence[str], b: Sequence[str], runs: int, env: dict[str, str]
) -> tuple[float, float]:
    """Median wall time of a and of b, run alternately so both see the same machine."""
    ta, tb = [], []
    for _ in range(runs):
        ta.append(time_cmd(a, env))
        tb.append(time_cmd(b, env))
    return statistics.median(ta), statistics.median(tb)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


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
