"""Idle cost of two inotify libraries, each waiting on an empty folder for SECONDS.

Ad hoc, for the choice in docs/performance-notes.md: `python benchmarks/watchers.py 30`
in an environment that has both (watchfiles is not one of icecycle's dependencies)."""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import threading
import time


def idle(which: str, seconds: float) -> None:
    folder = tempfile.mkdtemp()
    t0 = time.process_time()
    if which == "inotify_simple":
        from inotify_simple import INotify, flags

        watch = INotify()
        watch.add_watch(folder, flags.MODIFY | flags.CREATE | flags.DELETE)
        start = time.process_time() - t0
        t1 = time.process_time()
        watch.read(timeout=int(seconds * 1000))
    else:
        import watchfiles

        start = time.process_time() - t0
        stop = threading.Event()
        threading.Timer(seconds, stop.set).start()
        t1 = time.process_time()
        for _ in watchfiles.watch(folder, stop_event=stop, yield_on_timeout=False):
            pass
    used = time.process_time() - t1
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        f"{which}: import and set-up {start * 1000:.1f} ms CPU, idle {used * 1000:.1f} ms CPU "
        f"over {seconds:.0f} s, voluntary context switches {usage.ru_nvcsw}"
    )


if __name__ == "__main__":
    if len(sys.argv) == 3:
        idle(sys.argv[1], float(sys.argv[2]))
    else:
        secs = sys.argv[1] if len(sys.argv) > 1 else "30"
        procs = [
            subprocess.Popen([sys.executable, __file__, name, secs])
            for name in ("inotify_simple", "watchfiles")
        ]
        for p in procs:
            p.wait()
