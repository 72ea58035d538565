"""Notifiers: the desktop one (plyer, isolated in a child process), the terminal bell, a log."""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, Literal, NamedTuple, Protocol

from icecycle.cycle import Counts
from icecycle.durations import format_clock, format_duration

Urgency = Literal["low", "normal", "critical"]
DESKTOP_TIMEOUT_S = 5.0
#: After a child exits (or is killed), how long its output may still take to arrive; past
#: this, whatever it left running in the background and holding the pipe is abandoned.
_DRAIN_S = 0.25
_KEEP = 64 * 1024  # of a child's stderr: the end is what says why it failed


@dataclass(frozen=True)
class Notice:
    kind: str  # on, off, remind, done, test
    title: str
    body: str
    urgency: Urgency = "normal"
    #: The state when it was sent, for hooks: ICECYCLE_* environment variables.
    env: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Result:
    backend: str
    ok: bool
    detail: str = ""

    @property
    def text(self) -> str:
        return "sent" if self.ok else f"failed: {self.detail}"


class Notifier(Protocol):
    name: str

    def send(self, notice: Notice) -> Result:
        """Deliver one notice. Never raises; may block (the runner calls it off the loop)."""
        ...


# -- the words ------------------------------------------------------------------------


def _ago(now: datetime, since: datetime) -> str:
    return format_duration((now - since).total_seconds(), with_seconds=False)


def ice_on(now: datetime, start: datetime, end: datetime, late: bool) -> Notice:
    off_at = format_clock(end, now)
    if late:
        return Notice(
            "on",
            "Ice on (late notice)",
            f"This session began {_ago(now, start)} ago, while icecycle was closed or "
            f"the computer was asleep. If you put the ice on, keep a thin towel "
            f"under it; take it off at {off_at}.",
        )
    return Notice(
        "on",
        "Ice on, towel first",
        f"Time for ice. Put a thin towel between the ice pack and your skin. "
        f"Take it off at {off_at}.",
    )


def ice_off(
    now: datetime, start: datetime, next_on: datetime | None, late: bool, why: str = "time"
) -> Notice:
    """The take-it-off alarm; `why` is what ended the session: its own length ("time"),
    a pause, or the end of the window."""
    if why == "pause":
        after = "The cycle is paused: no more sessions until you resume it."
    elif next_on:
        after = f"Rest until {format_clock(next_on, now)}, when the next session begins."
    else:
        after = "That was the last session of this window."
    over = (
        "You paused the cycle, so this session is over."
        if why == "pause"
        else ("This session is over.")
    )
    if late:
        return Notice(
            "off",
            "Take the ice off now",
            f"The session ended {_ago(now, start)} ago, while icecycle was closed or "
            f"the computer was asleep. {after}",
            "critical",
        )
    return Notice("off", "Take the ice off now", f"{over} {after}", "critical")


def reminder(now: datetime, ended: datetime) -> Notice:
    return Notice(
        "remind",
        "Is the ice off?",
        f"The session ended at {format_clock(ended, now)}. Take the ice off now, then "
        "press a in icecycle or run `icecycle ack`.",
        "critical",
    )


def window_done(counts: Counts, window: timedelta, pain: list[int] | None = None) -> Notice:
    from icecycle.text import counts_line

    hours = round(window.total_seconds() / 3600)
    span = f"{hours}-hour" if hours >= 1 else format_duration(window.total_seconds())
    trend = f" Pain went from {pain[0]} to {pain[-1]} out of 10." if pain and len(pain) > 1 else ""
    return Notice(
        "done",
        "Cold therapy window complete",
        f"The {span} window is over: {counts_line(counts)}.{trend} "
        "No more sessions in this window.",
    )


TEST_NOTICE = Notice(
    "test", "icecycle test notification", "If you can read this, desktop notifications work."
)


# -- backends -------------------------------------------------------------------------

# Runs in a child process so that plyer can neither block icecycle nor write on its screen.
# plyer's notify-send path ignores notify-send's exit status, so the child checks it.
_CHILD = r"""
import json, subprocess, sys, warnings
warnings.simplefilter("ignore")
notice = json.loads(sys.argv[1])

def checked_call(args, **kwargs):
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode:
        lines = (done.stderr or done.stdout).strip().splitlines()
        sys.exit(lines[-1] if lines else f"{args[0]} exited with {done.returncode}")
    return 0

subprocess.call = checked_call
from plyer.utils import platform
critical = notice["urgency"] == "critical"
kwargs = dict(title=notice["title"], message=notice["body"], app_name="icecycle",
              timeout=0 if critical else 60)
if platform == "linux":  # call the backend itself: plyer's facade drops urgency
    from plyer.platforms.linux.notification import instance
    instance()._notify(**kwargs, urgency=notice["urgency"], hints={"urgency": 2 if critical else 1},
                       expire_time="0" if critical else "60000", app_icon="")
else:
    from plyer import notification
    notification.notify(**kwargs)
"""


class DesktopNotifier:
    """Desktop notifications through plyer, in a child process with a time limit."""

    name = "desktop"

    def __init__(self, timeout: float = DESKTOP_TIMEOUT_S) -> None:
        self.timeout = timeout
        self.limit_s = timeout + 2 * _DRAIN_S

    def send(self, notice: Notice) -> Result:
        run = _run_limited(
            [sys.executable, "-c", _CHILD, json.dumps(notice.__dict__)], None, self.timeout
        )
        if run.failed_to_start:
            return Result(self.name, False, f"could not start the notifier ({run.stderr})")
        if run.timed_out:
            return Result(
                self.name,
                False,
                f"no answer within {self.timeout:g}s (is the notification daemon hung?)",
            )
        if run.returncode != 0:
            return Result(self.name, False, _why(run.stderr))
        return Result(self.name, True)


class _Run(NamedTuple):
    returncode: int | None
    stderr: str
    timed_out: bool = False
    failed_to_start: bool = False


def _run_limited(argv: list[str], env: dict[str, str] | None, timeout: float) -> _Run:
    """Run a child with no terminal: stderr captured (nothing reaches the screen), its own
    process group (so a timeout kills it and whatever it started), and a time limit on
    everything, including the wait for its output: a grandchild that keeps the pipe open
    (`setsid sleep 300 &`) is abandoned, never waited for. Returns within timeout + 0.5 s."""
    try:
        child = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except (OSError, ValueError) as exc:  # ValueError: a NUL in argv or env
        return _Run(None, getattr(exc, "strerror", None) or str(exc), failed_to_start=True)
    assert child.stderr is not None
    pipe = child.stderr
    out = bytearray()
    deadline = time.monotonic() + timeout
    timed_out = False
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(pipe, selectors.EVENT_READ)
            eof = False
            exited: float | None = None
            while True:
                now = time.monotonic()
                if exited is None and child.poll() is not None:
                    exited = now
                if exited is not None and (eof or now - exited > _DRAIN_S):
                    break
                if now >= deadline:
                    timed_out = True
                    break
                wait = deadline - now if exited is None else _DRAIN_S - (now - exited)
                if eof:  # it closed stderr but runs on: wait for its exit, not the pipe
                    time.sleep(min(0.05, max(wait, 0)))
                    continue
                if sel.select(timeout=max(min(wait, 0.1), 0)):
                    chunk = os.read(pipe.fileno(), 65536)
                    if not chunk:
                        eof = True
                    out += chunk
                    del out[:-_KEEP]
    finally:
        if timed_out:
            _kill_group(child)
        pipe.close()  # a grandchild still writing gets SIGPIPE, not our attention
    err = out.decode("utf-8", "replace")
    if timed_out:
        return _Run(None, err, timed_out=True)
    return _Run(child.returncode, err)


def _kill_group(child: subprocess.Popen[bytes]) -> None:
    """Kill the child's process group; reap the child, with a limit (it may be stuck in
    the kernel, uninterruptible: then it is abandoned, and reaped by init when it goes)."""
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(OSError):
            child.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.wait(timeout=_DRAIN_S)


def _why(stderr: str) -> str:
    """The one line of a failure worth showing, with what to do about it."""
    lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip()]
    last = lines[-1] if lines else "the notifier failed"
    low = stderr.lower()
    if "org.freedesktop.notifications" in low or "serviceunknown" in low:
        return "no notification daemon on the session bus (start one, e.g. dunst)"
    if "dbus_session_bus_address" in low or "autolaunch" in low or "session bus" in low:
        return "no D-Bus session bus (are you in a desktop session?)"
    if "notify-send" in low and "not found" in low:
        return "notify-send is missing (install libnotify-bin)"
    if "no usable implementation" in low:  # plyer found neither notify-send nor dbus-python
        return (
            "neither notify-send nor dbus-python is installed; install one "
            "(notify-send is in libnotify-bin on Debian and Ubuntu, libnotify elsewhere)"
        )
    return last[:200]


HOOK_TIMEOUT_S = 10.0


class HookNotifier:
    """Runs the configured command at each change: argv as given (no shell), the state in
    ICECYCLE_* variables, a time limit, output captured; a failure is a result, not a crash."""

    name = "hook"

    def __init__(self, argv: Sequence[str], timeout: float = HOOK_TIMEOUT_S) -> None:
        self.argv = list(argv)
        self.timeout = timeout
        self.limit_s = timeout + 2 * _DRAIN_S

    def send(self, notice: Notice) -> Result:
        env = dict(os.environ)
        env.update(notice.env)
        env.update(
            {
                "ICECYCLE_KIND": notice.kind,
                "ICECYCLE_TITLE": notice.title,
                "ICECYCLE_BODY": notice.body,
                "ICECYCLE_URGENCY": notice.urgency,
            }
        )
        run = _run_limited(self.argv, env, self.timeout)
        if run.failed_to_start:
            return Result(self.name, False, f"cannot run {self.argv[0]} ({run.stderr})")
        if run.timed_out:
            return Result(self.name, False, f"{self.argv[0]} took over {self.timeout:g}s; stopped")
        if run.returncode != 0:
            last = (run.stderr.strip().splitlines() or [f"exit status {run.returncode}"])[-1]
            return Result(self.name, False, f"{self.argv[0]} failed: {last[:200]}")
        return Result(self.name, True)


class TerminalNotifier:
    """The terminal bell and one line of text on a stream (the daemon's stderr, say)."""

    name = "terminal"
    limit_s = 1.0

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def send(self, notice: Notice) -> Result:
        try:
            self.stream.write(f"\a{notice.title}: {notice.body}\n")
            self.stream.flush()
        except (OSError, ValueError) as exc:
            return Result(self.name, False, str(exc))
        return Result(self.name, True)


class LogNotifier:
    """Hands each notice to a function (a log line, a test's list)."""

    name = "log"
    limit_s = 1.0

    def __init__(self, log: Callable[[str], None]) -> None:
        self.log = log

    def send(self, notice: Notice) -> Result:
        self.log(f"{notice.title}: {notice.body}")
        return Result(self.name, True)


class FanOut:
    """Sends to several notifiers; the first one's result is the one reported, and the
    others' failures go to `log` (a hook that fails must not look like a failed alert)."""

    def __init__(
        self, notifiers: Sequence[Notifier], log: Callable[[str], None] | None = None
    ) -> None:
        self.notifiers = list(notifiers)
        self.name = self.notifiers[0].name
        self.log = log or (lambda line: None)
        self.limit_s = sum(limit_s(n) for n in self.notifiers)  # they are sent one by one

    def send(self, notice: Notice) -> Result:
        results = [n.send(notice) for n in self.notifiers]
        for r in results[1:]:
            if not r.ok:
                self.log(f"{r.backend}: {r.detail}")
        return results[0]


class NoNotifier:
    """Desktop notifications turned off in the config: the screen and the bell remain."""

    name = "none"
    limit_s = 0.0

    def send(self, notice: Notice) -> Result:
        return Result(self.name, True)


def limit_s(notifier: Notifier) -> float:
    """How long a notifier's `send` may take at most (its own time limits, all told)."""
    return float(getattr(notifier, "limit_s", DESKTOP_TIMEOUT_S))


def notify_test() -> tuple[bool, str]:
    """Send one test notification; say which backend and whether it worked."""
    result = DesktopNotifier().send(TEST_NOTICE)
    where = "desktop notification via plyer"
    if sys.platform.startswith("linux"):
        where += " (notify-send)" if shutil.which("notify-send") else ""
    if result.ok:
        return (
            True,
            f"Sent a test {where}. If you did not see it, check your notification settings.",
        )
    return False, f"Could not send a test {where}: {result.detail}"


def notifier_for(desktop: bool, hook: Sequence[str], log: Callable[[str], None]) -> Notifier:
    """The notifiers the settings ask for: desktop (or none), then the hook if there is one."""
    primary: Notifier = DesktopNotifier() if desktop else NoNotifier()
    if not hook:
        return primary
    return FanOut([primary, HookNotifier(hook)], log)
