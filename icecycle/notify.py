"""Notifiers: the desktop one (D-Bus or plyer, isolated in a child process), the bell, a log."""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, Any, Literal, NamedTuple, Protocol, runtime_checkable

from icecycle import answers
from icecycle.answers import PLAY_LIMIT_S
from icecycle.cycle import Counts
from icecycle.durations import format_clock, format_duration

Urgency = Literal["low", "normal", "critical"]
DESKTOP_TIMEOUT_S = 5.0
#: After a child exits (or is killed), how long its output may still take to arrive; past
#: this, whatever it left running in the background and holding the pipe is abandoned.
_DRAIN_S = 0.25
_KEEP = 64 * 1024  # of a child's stderr: the end is what says why it failed


#: on: ice on; off: take the ice off; remind: its repeats; done: the window's summary.
NoticeKind = Literal["on", "off", "again", "remind", "done", "test"]


@dataclass(frozen=True)
class Notice:
    kind: NoticeKind
    title: str
    body: str
    urgency: Urgency = "normal"
    #: The state when it was sent, for hooks: ICECYCLE_* environment variables.
    env: tuple[tuple[str, str], ...] = ()
    #: The moment an answer refers to: the session's start (ice on), or when the ice
    #: should have come off (take-it-off and its reminders). None: nothing to answer.
    moment: datetime | None = None

    @property
    def buttons(self) -> tuple[tuple[str, str], ...]:
        """The answers this notice offers, as (key, label), where the server shows them."""
        return BUTTONS.get(self.kind, ()) if self.moment is not None else ()

    @property
    def alarm(self) -> bool:
        """The take-it-off alarm and its reminders: asked to be heard."""
        return self.kind in ("off", "again", "remind")


#: The buttons each kind of notice offers. "default" is a click on the notice itself.
BUTTONS: dict[str, tuple[tuple[str, str], ...]] = {
    "on": (("ice-on", "Ice is on"), ("skip", "Skip")),
    "off": (("default", "Ice is off"), ("ice-off", "Ice is off")),
    "again": (("default", "Ice is off"), ("ice-off", "Ice is off")),
    "remind": (("default", "Ice is off"), ("ice-off", "Ice is off")),
}
#: What each answer does, through the shared actions: "ack" is the towel dialog's answer
#: during a session, and answers the alarm after one.
ANSWERS = {"ice-on": "ack", "skip": "skip", "ice-off": "ack", "default": "ack"}


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


@runtime_checkable
class Answerable(Protocol):
    """A notifier whose notices a person can answer (buttons), with one child waiting."""

    def listen(self, heard: Callable[[Notice, str], None]) -> None: ...
    def waiting(self) -> Notice | None: ...
    def withdraw(self) -> None: ...
    def close(self) -> None: ...


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
            moment=start,
        )
    return Notice(
        "on",
        "Ice on, towel first",
        f"Time for ice. Put a thin towel between the ice pack and your skin. "
        f"Take it off at {off_at}.",
        moment=start,
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
            moment=start,
        )
    return Notice("off", "Take the ice off now", f"{over} {after}", "critical", moment=start)


def reminder(now: datetime, ended: datetime) -> Notice:
    return Notice(
        "remind",
        "Is the ice off?",
        f"The session ended at {format_clock(ended, now)}. Take the ice off now, then "
        "press a in icecycle or run `icecycle ack`.",
        "critical",
        moment=ended,
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


#: How long a notice with buttons waits for its answer at most (a later notice, or the
#: moment passing, ends the wait sooner).
ANSWER_WAIT_S = 3600.0
#: A withdrawn notice's child gets this long to close it before it is killed.
_WITHDRAW_S = 2.0
Heard = Callable[[Notice, str], None]


def _dbus_here() -> bool:
    """Linux with the D-Bus client: buttons, sound and capabilities. Elsewhere: plyer."""
    if not sys.platform.startswith("linux"):
        return False
    import importlib.util

    return importlib.util.find_spec("jeepney") is not None


@dataclass
class Sent:
    """What the server said to one notice: its id, capabilities, and what it got."""

    id: int = 0
    caps: tuple[str, ...] = ()
    server: tuple[str, ...] = ()
    buttons: bool = False
    sound: str = "off"  # off, server, none (no player found), or the player's name


class _Waiter:
    """The one child still running for a notice: waiting for its answer, or playing it."""

    def __init__(
        self, proc: subprocess.Popen[bytes], notice: Notice, sent: Sent, seq: int, rest: bytes
    ) -> None:
        self.proc, self.notice, self.sent, self.seq = proc, notice, sent, seq
        self.rest = rest  # what it said after its first line, read with it
        self.kill_at = time.monotonic() + ANSWER_WAIT_S + 2 * _DRAIN_S
        self.ended = threading.Event()

    def listen(self, heard: Heard | None, done: Callable[[_Waiter], None]) -> None:
        """On a thread of its own: read its answer, hand it on, reap it. Bounded: killed
        at `kill_at` whatever it does."""
        assert self.proc.stdout is not None
        pipe = self.proc.stdout
        buf = self.rest + (b"\n" if self.rest else b"")
        try:
            with selectors.DefaultSelector() as sel:
                sel.register(pipe, selectors.EVENT_READ)
                while time.monotonic() < self.kill_at:
                    if not sel.select(timeout=0.2):
                        continue
                    chunk = os.read(pipe.fileno(), 4096)
                    if not chunk:
                        break
                    buf += chunk
                    while b"\n" in buf:
                        line, buf = buf.split(b"\n", 1)
                        answer = _parse(line).get("answer")
                        if answer is not None and heard is not None:
                            with contextlib.suppress(Exception):  # the host's problem, not ours
                                heard(self.notice, str(answer))
        finally:
            self.end()
            pipe.close()
            done(self)

    def withdraw(self) -> None:
        """Ask the child to close the notice (its moment passed); killed if it has not
        gone within _WITHDRAW_S."""
        self.kill_at = min(self.kill_at, time.monotonic() + _WITHDRAW_S)
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(b"close\n")
            self.proc.stdin.flush()
        except (OSError, ValueError):
            self.end()

    def end(self) -> None:
        """Superseded, or the host is closing: kill it and whatever it started (a player)."""
        if self.ended.is_set():
            return
        self.ended.set()
        if self.proc.poll() is None:
            _kill_group(self.proc)
        else:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=_DRAIN_S)
        with contextlib.suppress(OSError, ValueError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()


def _parse(line: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(line)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


class DesktopNotifier:
    """Desktop notifications in a child process with a time limit: over D-Bus on Linux
    (buttons where the server has them, a sound for the alarm), through plyer elsewhere.

    At most one child outlives its `send`: the latest notice's, waiting for an answer or
    playing the alarm. The next notice, `withdraw()` or `close()` ends it."""

    name = "desktop"

    def __init__(
        self,
        timeout: float = DESKTOP_TIMEOUT_S,
        *,
        sound: bool = True,
        sound_file: str | None = None,
        wait_s: float = ANSWER_WAIT_S,
        play_s: float = PLAY_LIMIT_S,
        dbus: bool | None = None,
    ) -> None:
        self.timeout = timeout
        self.limit_s = timeout + 2 * _DRAIN_S
        self.sound, self.sound_file, self.wait_s = sound, sound_file, wait_s
        self.play_s = play_s
        self.dbus = _dbus_here() if dbus is None else dbus
        self.heard: Heard | None = None
        self.last: Sent | None = None
        self._lock = threading.Lock()
        self._seq = 0
        self._waiter: _Waiter | None = None

    def listen(self, heard: Heard) -> None:
        """Call `heard(notice, answer)` (on another thread) when a person answers a notice."""
        self.heard = heard

    def send(self, notice: Notice) -> Result:
        if not self.dbus:
            return self._send_plyer(notice)
        sound = self.sound and (notice.alarm or notice.kind == "test")
        # Only a notice with something to wait for takes the waiting one's place: the
        # window's summary, sent with the last alarm, must not silence its buttons.
        supersedes = bool(notice.buttons) or sound
        with self._lock:
            self._seq += 1
            seq = self._seq
            old = self._waiter if supersedes else None
        replaces = 0
        if old is not None:
            # A reminder takes the place of the alarm it repeats, on screen too.
            same = old.notice.alarm and notice.alarm and old.notice.moment == notice.moment
            replaces = old.sent.id if same else 0
            self._retire(old)
        request = {
            "title": notice.title,
            "body": notice.body,
            "urgency": notice.urgency,
            "actions": [list(b) for b in notice.buttons],
            "sound": sound,
            "sound_file": self.sound_file,
            "expire_ms": 0 if notice.urgency == "critical" else 60000,
            "replaces": replaces,
            "wait_s": self.wait_s,
            "play_s": self.play_s,
            "probe": notice.kind == "test",
        }
        proc, first, rest, err, timed_out = _start_child(
            [sys.executable, "-m", "icecycle.answers", json.dumps(request)], self.timeout
        )
        if proc is None:
            return Result(self.name, False, f"could not start the notifier ({err})")
        if timed_out:
            _close_pipes(proc)
            return Result(
                self.name,
                False,
                f"no answer within {self.timeout:g}s (is the notification daemon hung?)",
            )
        doc = _parse(first) if first else {}
        if "id" not in doc:
            _kill_group(proc)
            _close_pipes(proc)
            return Result(self.name, False, _why(err))
        sent = Sent(
            int(doc["id"]),
            tuple(map(str, doc.get("caps") or ())),
            tuple(map(str, doc.get("server") or ())),
            bool(doc.get("buttons")),
            str(doc.get("sound", "off")),
        )
        self.last = sent
        waiter = _Waiter(proc, notice, sent, seq, rest)
        waiter.kill_at = time.monotonic() + self.wait_s + 2 * _DRAIN_S
        if not doc.get("waiting") or not supersedes:
            waiter.end()  # it has nothing left to do: reap it now
            _close_pipes(proc)
            return Result(self.name, True)
        with self._lock:
            newer = self._waiter is not None and self._waiter.seq > seq
            if not newer:
                old, self._waiter = self._waiter, waiter
        if newer:  # a later notice got there first (sends run on threads of their own)
            waiter.end()
            _close_pipes(proc)
            return Result(self.name, True)
        if old is not None:
            self._retire(old)
        threading.Thread(
            target=waiter.listen, args=(self.heard, self._gone), name="icecycle-answer", daemon=True
        ).start()
        return Result(self.name, True)

    def settle(self, timeout: float) -> None:
        """Wait (at most `timeout`) for the waiting child to end by itself."""
        w = self._waiter
        if w is not None:
            w.ended.wait(timeout)

    def waiting(self) -> Notice | None:
        """The notice whose child is still running, if any."""
        w = self._waiter
        return w.notice if w is not None and not w.ended.is_set() else None

    def withdraw(self) -> None:
        """The waiting notice's moment has passed (answered elsewhere, say): close it."""
        w = self._waiter
        if w is not None:
            w.withdraw()

    def close(self) -> None:
        """The host is stopping: end the waiting child (the notice itself stays on screen)."""
        with self._lock:
            w, self._waiter = self._waiter, None
        if w is not None:
            w.end()

    def _retire(self, old: _Waiter) -> None:
        with self._lock:
            if self._waiter is old:
                self._waiter = None
        old.end()

    def _gone(self, w: _Waiter) -> None:
        with self._lock:
            if self._waiter is w:
                self._waiter = None

    def _send_plyer(self, notice: Notice) -> Result:
        payload = {k: getattr(notice, k) for k in ("kind", "title", "body", "urgency")}
        run = _run_limited([sys.executable, "-c", _CHILD, json.dumps(payload)], None, self.timeout)
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


def _close_pipes(proc: subprocess.Popen[bytes]) -> None:
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        with contextlib.suppress(OSError, ValueError):
            if pipe is not None:
                pipe.close()


def _start_child(
    argv: list[str], timeout: float
) -> tuple[subprocess.Popen[bytes] | None, bytes, bytes, str, bool]:
    """Start the notification child and read its first line within `timeout`: (the child,
    that line, what came after it, its stderr, timed out). On a time-out the child and its
    group are killed; a child that answered runs on, its stderr no longer read."""
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except (OSError, ValueError) as exc:
        return None, b"", b"", getattr(exc, "strerror", None) or str(exc), False
    assert proc.stdout is not None and proc.stderr is not None
    out, err = bytearray(), bytearray()
    deadline = time.monotonic() + timeout
    open_pipes = {proc.stdout.fileno(): out, proc.stderr.fileno(): err}
    with selectors.DefaultSelector() as sel:
        for fd in open_pipes:
            sel.register(fd, selectors.EVENT_READ)
        while b"\n" not in out and open_pipes:
            left = deadline - time.monotonic()
            if left <= 0:
                _kill_group(proc)
                proc.stderr.close()
                return proc, b"", b"", err.decode("utf-8", "replace"), True
            for key, _ in sel.select(timeout=min(left, 0.1)):
                fd = int(key.fd)
                chunk = os.read(fd, 65536)
                if not chunk:
                    sel.unregister(fd)
                    del open_pipes[fd]
                    if fd == proc.stdout.fileno():  # it ended without a word: why is in stderr
                        continue
                open_pipes.get(fd, bytearray()).extend(chunk)
                del err[:-_KEEP]
            if proc.stdout.fileno() not in open_pipes and proc.poll() is not None:
                # It exited; whatever stderr still holds arrives within the drain time.
                end = time.monotonic() + _DRAIN_S
                while proc.stderr.fileno() in open_pipes and time.monotonic() < end:
                    if sel.select(timeout=0.05):
                        chunk = os.read(proc.stderr.fileno(), 65536)
                        if not chunk:
                            break
                        err.extend(chunk)
                break
    proc.stderr.close()
    line, _, rest = bytes(out).partition(b"\n")
    return proc, line if _ else b"", rest.strip(), err.decode("utf-8", "replace"), False


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
    if any(w in low for w in ("org.freedesktop.notifications", "serviceunknown", "no notifi")):
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

    # The answers to a notice come from the notifier that waits for them (the desktop one).
    def listen(self, heard: Heard) -> None:
        for n in self.notifiers:
            if isinstance(n, Answerable):
                n.listen(heard)

    def waiting(self) -> Notice | None:
        for n in self.notifiers:
            if isinstance(n, Answerable) and (w := n.waiting()) is not None:
                return w
        return None

    def withdraw(self) -> None:
        for n in self.notifiers:
            if isinstance(n, Answerable):
                n.withdraw()

    def close(self) -> None:
        for n in self.notifiers:
            if isinstance(n, Answerable):
                n.close()


class NoNotifier:
    """Desktop notifications turned off in the config: the screen and the bell remain."""

    name = "none"
    limit_s = 0.0

    def send(self, notice: Notice) -> Result:
        return Result(self.name, True)


def limit_s(notifier: Notifier) -> float:
    """How long a notifier's `send` may take at most (its own time limits, all told)."""
    return float(getattr(notifier, "limit_s", DESKTOP_TIMEOUT_S))


def notify_test(sound: bool = True, sound_file: str | None = None) -> tuple[bool, str]:
    """Send one test notification; say which backend, whether it worked, and (over D-Bus)
    what the server can do: buttons, sound, body markup."""
    notifier = DesktopNotifier(sound=sound, sound_file=sound_file)
    result = notifier.send(TEST_NOTICE)
    if not notifier.dbus:
        where = "desktop notification via plyer"
        if sys.platform.startswith("linux"):
            where += " (notify-send)" if shutil.which("notify-send") else ""
        if result.ok:
            return (
                True,
                f"Sent a test {where}. If you did not see it, check your notification settings.",
            )
        return False, f"Could not send a test {where}: {result.detail}"
    if not result.ok:
        return False, f"Could not send a test desktop notification over D-Bus: {result.detail}"
    notifier.settle(PLAY_LIMIT_S + 1)  # let the test sound play to its end
    notifier.close()
    sent = notifier.last or Sent()
    server = " ".join(
        sent.server[0:1] + sent.server[2:3]
    )  # name, version or "the notification server"
    lines = [f"Sent a test desktop notification over D-Bus to {server}."]
    lines += [f"  {line}" for line in capability_lines(sent, sound, sound_file)]
    lines.append("If you did not see it, check your notification settings.")
    return True, "\n".join(lines)


def capability_lines(sent: Sent, sound: bool, sound_file: str | None) -> list[str]:
    """What the server offers, and so what a person sees and hears at the alarm."""
    if "actions" in sent.caps:
        buttons = 'buttons: yes (the take-it-off alarm offers "Ice is off"; ice on offers '
        buttons += '"Ice is on" and "Skip")'
    else:
        buttons = "buttons: no (answer in icecycle with a, or run `icecycle ack`)"
    if not sound:
        heard = "sound: off ([notifications] sound = false)"
    elif "sound" in sent.caps:
        heard = f"sound: the server plays the alarm ({answers.SOUND_NAME})"
    elif sent.sound not in ("none", "off", "server"):
        heard = f"sound: the server has none; icecycle plays {answers.sound_file(sound_file)}"
        heard += f" with {sent.sound}"
    else:
        heard = "sound: the server has none and no player was found (install pw-play, "
        heard += "paplay or canberra-gtk-play)"
    markup = "body markup: " + ("yes" if "body-markup" in sent.caps else "no")
    return [buttons, heard, markup]


def notifier_for(
    desktop: bool,
    hook: Sequence[str],
    log: Callable[[str], None],
    *,
    sound: bool = True,
    sound_file: str | None = None,
) -> Notifier:
    """The notifiers the settings ask for: desktop (or none), then the hook if there is one."""
    primary: Notifier = (
        DesktopNotifier(sound=sound, sound_file=sound_file) if desktop else NoNotifier()
    )
    if not hook:
        return primary
    return FanOut([primary, HookNotifier(hook)], log)
