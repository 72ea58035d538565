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
from icecycle.answers import PLAY_LIMIT_S, printable
from icecycle.cycle import Counts
from icecycle.durations import format_clock, format_duration

Urgency = Literal["low", "normal", "critical"]
DESKTOP_TIMEOUT_S = 5.0
#: After a child exits (or is killed), how long its output may still take to arrive; past
#: this, whatever it left running in the background and holding the pipe is abandoned.
_DRAIN_S = 0.25
_KEEP = 64 * 1024  # of a child's stderr: the end is what says why it failed


#: on: ice on; off: take the ice off; remind: its repeats; done: the window's summary;
#: config: what was wrong in the config file (sent once when the daemon or dashboard opens).
NoticeKind = Literal["on", "off", "remind", "done", "test", "config"]


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
        return self.kind in ("off", "remind")


#: The buttons each kind of notice offers. "default" is a click on the notice itself; some
#: servers (xfce4-notifyd, dunst's menu) list it as a button of its own, so its label
#: differs from the button's while saying the same true thing.
_TOOK_OFF = (("default", "Took it off"), ("ice-off", "Ice is off"))
BUTTONS: dict[str, tuple[tuple[str, str], ...]] = {
    "on": (("ice-on", "Ice is on"), ("skip", "Skip")),
    "off": _TOOK_OFF,
    "remind": _TOOK_OFF,
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
    """What the server said to one notice: its id, who showed it, its capabilities, and
    what it got."""

    id: int = 0
    caps: tuple[str, ...] = ()
    server: tuple[str, ...] = ()
    buttons: bool = False
    sound: str = "off"  # off, server, none (no player found), or the player's name
    #: The unique bus name of the server that showed it: its id means nothing elsewhere.
    owner: str = ""


def purpose(notice: Notice) -> str:
    """One notice on screen per purpose: a reminder takes its alarm's place."""
    return "alarm" if notice.alarm else notice.kind


#: What a notice makes untrue: a take-it-off ends the ice-on notice, a session the alarm.
_ENDS = {"alarm": ("on",), "on": ("alarm",)}
#: The alarm's desktop send, when it fails, is tried again after these waits (the last
#: one repeating) until it is delivered, answered or superseded.
RETRY_S = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0)
#: How long the child may take to say what the server can do before the alarm's sound
#: starts anyway (a server that hangs still gets its alarm heard).
_CAPS_WAIT_S = 1.5


class _Waiter:
    """The one child still running for a notice, waiting for its answer."""

    def __init__(
        self, proc: subprocess.Popen[bytes], notice: Notice, sent: Sent, seq: int, rest: bytes
    ) -> None:
        self.proc, self.notice, self.sent, self.seq = proc, notice, sent, seq
        self.rest = rest  # what it said after its first lines, read with them
        self.kill_at = time.monotonic() + ANSWER_WAIT_S + 2 * _DRAIN_S
        self.ended = threading.Event()

    def listen(self, host: DesktopNotifier) -> None:
        """On a thread of its own: read its answer, hand it on, reap it. Bounded: killed
        at `kill_at` whatever it does."""
        assert self.proc.stdout is not None
        pipe = self.proc.stdout
        buf = self.rest + (b"\n" if self.rest else b"")
        offered = dict(self.notice.buttons)
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
                        doc = _parse(line)
                        answer = doc.get("answer")
                        if isinstance(answer, str) and answer in offered:
                            host._answered(self)
                            if host.heard is not None:
                                with contextlib.suppress(Exception):  # the host's problem
                                    host.heard(self.notice, answer)
                        elif "closed" in doc:
                            host._off_screen(self)
                        elif "lost" in doc:
                            host._lost(self)
                        elif isinstance(doc.get("id"), int):
                            self.sent.id, self.sent.owner = doc["id"], str(doc.get("owner", ""))
        finally:
            self.end()
            pipe.close()
            host._gone(self)

    def tell(self, word: bytes) -> bool:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(word + b"\n")
            self.proc.stdin.flush()
        except (OSError, ValueError):
            return False
        return True

    def withdraw(self) -> None:
        """Ask the child to close the notice (its moment passed); killed if it has not
        gone within _WITHDRAW_S."""
        self.kill_at = min(self.kill_at, time.monotonic() + _WITHDRAW_S)
        if not self.tell(b"close"):
            self.end()

    def end(self) -> None:
        """Superseded, or the host is closing: kill it and whatever it started."""
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


class _Retry:
    """An alarm whose desktop send failed, tried again until delivered or cancelled."""

    def __init__(self, notice: Notice, seq: int) -> None:
        self.notice, self.seq = notice, seq
        self.cancelled = threading.Event()
        self.tries = 1


def _parse(line: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(line)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


class DesktopNotifier:
    """Desktop notifications in a child process with a time limit: over D-Bus on Linux
    (buttons where the server has them, a sound for the alarm), through plyer elsewhere.

    One notice on screen per purpose (ice on, the alarm, ...), each closed when it stops
    being true; at most one child outlives its `send`: the latest notice's, waiting for an
    answer. The alarm's sound is played by a process of its own, whatever the server does,
    and its send, when it fails, is tried again until delivered or answered."""

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
        sound_theme: str | None = None,
        player_path: str | None = None,
        retry_s: Sequence[float] = RETRY_S,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.timeout = timeout
        self.limit_s = timeout + 2 * _DRAIN_S
        self.sound, self.sound_file, self.wait_s = sound, sound_file, wait_s
        self.play_s = play_s
        self.dbus = _dbus_here() if dbus is None else dbus
        #: Where the sound theme and the players are looked for (None: the host's own,
        #: or ICECYCLE_SOUND_THEME_DIR / ICECYCLE_PLAYER_PATH).
        self.sound_theme, self.player_path = sound_theme, player_path
        self.retry_s = tuple(retry_s)
        self.log = log or (lambda line: None)
        #: False: leave the sound to the caller (notify-test plays it and says how it went).
        self.own_player = True
        self.heard: Heard | None = None
        self.last: Sent | None = None
        self._lock = threading.Lock()
        self._seq = 0
        self._waiter: _Waiter | None = None
        self._retry: _Retry | None = None
        self._player: subprocess.Popen[bytes] | None = None
        #: What is on screen, by purpose: (the notice, what the server said, its seq).
        self._shown: dict[str, tuple[Notice, Sent, int]] = {}
        #: Notices to close before the next one is shown (withdrawn with no child left).
        self._stale: list[Sent] = []

    def listen(self, heard: Heard) -> None:
        """Call `heard(notice, answer)` (on another thread) when a person answers a notice."""
        self.heard = heard

    def players(self) -> list[list[str]]:
        return answers.players(self.sound_file, self.sound_theme, self.player_path)

    def send(self, notice: Notice) -> Result:
        if not self.dbus:
            return self._send_plyer(notice)
        with self._lock:
            self._seq += 1
            seq = self._seq
            retry = None
            if _supersedes(notice, self):
                retry, self._retry = self._retry, None
        if retry is not None:
            retry.cancelled.set()
        wants = self.sound and (notice.alarm or notice.kind == "test")
        result = self._send_dbus(notice, seq, sound=wants)
        if not result.ok and notice.alarm and self.retry_s:
            self._start_retry(notice, seq)
        return result

    def _send_dbus(self, notice: Notice, seq: int, *, sound: bool) -> Result:
        """One try: close what this notice makes untrue, show it (in its purpose's place),
        start its sound, and leave a child waiting for its answer."""
        supersedes = _supersedes(notice, self)
        p = purpose(notice)
        with self._lock:
            old = self._waiter if supersedes else None
            replaces = self._shown.get(p) if p in _ENDS else None
            closes = [self._shown[q] for q in _ENDS.get(p, ()) if q in self._shown]
            stale = list(self._stale)
        if old is not None:
            self._retire(old)  # its notice is replaced or closed by the next child
        if sound:
            self._stop_sound()
        request = {
            "title": notice.title,
            "body": notice.body,
            "urgency": notice.urgency,
            "actions": [list(b) for b in notice.buttons],
            "sound": sound,
            "expire_ms": 0 if notice.urgency == "critical" else 60000,
            "replaces": [replaces[1].id, replaces[1].owner] if replaces else None,
            "close": [[s.id, s.owner] for s in [*(c[1] for c in closes), *stale]],
            "wait_s": self.wait_s,
            "call_s": self.timeout,
            "probe": notice.kind == "test",
        }
        heard_caps: list[str] | None = None
        started = time.monotonic()
        played = False

        def on_line(doc: dict[str, Any]) -> bool:
            nonlocal heard_caps
            if isinstance(doc.get("caps"), list) and heard_caps is None:
                heard_caps = [str(c) for c in doc["caps"]]
            return "id" in doc

        def on_idle() -> None:
            nonlocal played
            # The server can play the alarm itself; if it cannot say so in time, or has
            # no sound, icecycle plays it now: the sound waits for nothing else.
            late = time.monotonic() - started > _CAPS_WAIT_S
            known = heard_caps is not None
            if sound and not played and (known or late) and "sound" not in (heard_caps or ()):
                played = True
                self._play()

        proc, docs, rest, err, timed_out = _start_child(
            [sys.executable, "-m", "icecycle.answers", json.dumps(request)],
            self.timeout,
            on_line,
            on_idle,
        )
        doc = docs[-1] if docs and "id" in docs[-1] else {}
        if sound and not played and not ("id" in doc and "sound" in (heard_caps or ())):
            played = True
            self._play()  # no server played it: icecycle does, whatever went wrong
        if proc is None:
            return Result(self.name, False, f"could not start the notifier ({printable(err)})")
        if timed_out:
            _close_pipes(proc)
            return Result(
                self.name,
                False,
                f"no answer within {self.timeout:g}s (is the notification daemon hung?)",
            )
        if "id" not in doc:
            _kill_group(proc)
            _close_pipes(proc)
            return Result(self.name, False, _why(err))
        heard_sound = "off"
        if sound:
            heard_sound = "server" if "sound" in (heard_caps or ()) else self._player_name()
        sent = Sent(
            int(doc["id"]),
            tuple(map(str, doc.get("caps") or ())),
            tuple(map(str, doc.get("server") or ())),
            bool(doc.get("buttons")),
            heard_sound,
            str(doc.get("owner", "")),
        )
        self.last = sent
        with self._lock:
            for q, entry in list(self._shown.items()):
                if any(entry is c for c in closes):
                    del self._shown[q]
            del self._stale[: len(stale)]
            if p != "test":
                self._shown[p] = (notice, sent, seq)
        waiter = _Waiter(proc, notice, sent, seq, rest)
        waiter.kill_at = time.monotonic() + self.wait_s + 2 * _DRAIN_S
        if not doc.get("waiting") or not supersedes:
            waiter.end()  # it has nothing left to do: reap it now
            _close_pipes(proc)
            self._raise_alarm(notice)
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
            target=waiter.listen, args=(self,), name="icecycle-answer", daemon=True
        ).start()
        return Result(self.name, True)

    def _raise_alarm(self, notice: Notice) -> None:
        """A notice shown while the alarm waits (the window's summary): the alarm is shown
        again, on top, so the live one is the one in front."""
        w = self._waiter
        if notice.moment is None and w is not None and w.notice.alarm and not w.ended.is_set():
            w.tell(b"raise")

    # -- the alarm's retries -------------------------------------------------------------

    def _start_retry(self, notice: Notice, seq: int) -> None:
        retry = _Retry(notice, seq)
        with self._lock:
            if self._waiter is not None and self._waiter.seq > seq:
                return  # a later notice already took its place
            old, self._retry = self._retry, retry
        if old is not None:
            old.cancelled.set()
        threading.Thread(
            target=self._retry_loop, args=(retry,), name="icecycle-retry", daemon=True
        ).start()

    def _retry_loop(self, retry: _Retry) -> None:
        for n in range(10**6):
            wait = self.retry_s[min(n, len(self.retry_s) - 1)]
            if retry.cancelled.wait(wait):
                return
            retry.tries += 1
            result = self._send_dbus(retry.notice, retry.seq, sound=False)
            if retry.cancelled.is_set():
                if result.ok:
                    self.withdraw_notice(retry.notice)  # answered meanwhile: take it back
                return
            if result.ok:
                with self._lock:
                    if self._retry is retry:
                        self._retry = None
                self.log(f"{retry.notice.title}: delivered to the desktop on try {retry.tries}")
                return

    # -- what is on screen ---------------------------------------------------------------

    def settle(self, timeout: float) -> None:
        """Wait (at most `timeout`) for the waiting child to end by itself."""
        w = self._waiter
        if w is not None:
            w.ended.wait(timeout)

    def waiting(self) -> Notice | None:
        """The notice still showing (or still being tried) whose moment may pass: the
        runner withdraws it once it no longer holds."""
        with self._lock:
            w, r = self._waiter, self._retry
            if w is not None and not w.ended.is_set():
                return w.notice
            if r is not None and not r.cancelled.is_set():
                return r.notice
            shown = [e for e in self._shown.values() if e[0].moment is not None]
        return max(shown, key=lambda e: e[2])[0] if shown else None

    def withdraw(self) -> None:
        """The waiting notice's moment has passed (answered elsewhere, say): close it."""
        notice = self.waiting()
        if notice is not None:
            self.withdraw_notice(notice)

    def withdraw_notice(self, notice: Notice) -> None:
        with self._lock:
            w, r = self._waiter, self._retry
            if r is not None and r.notice == notice:
                r.cancelled.set()
                self._retry = None
            entry = self._shown.get(purpose(notice))
            if entry is not None and entry[0] == notice:
                del self._shown[purpose(notice)]
            else:
                entry = None
            by_child = w is not None and w.notice == notice and not w.ended.is_set()
        if notice.alarm:
            self._stop_sound()
        if entry is not None:
            # Closed by the next notice's child too, before it shows anything: the waiting
            # child may be superseded before it has closed its own.
            with self._lock:
                self._stale.append(entry[1])
        if by_child:
            assert w is not None
            w.withdraw()
        elif entry is not None:
            threading.Thread(target=self._close_stale, name="icecycle-close", daemon=True).start()

    def _close_stale(self) -> None:
        """Close notices whose child has gone (a server without buttons, say)."""
        with self._lock:
            stale = list(self._stale)
        if not stale:
            return
        request = {"close": [[s.id, s.owner] for s in stale], "call_s": self.timeout}
        run = _run_limited(
            [sys.executable, "-m", "icecycle.answers", json.dumps(request)], None, self.timeout
        )
        if run.returncode == 0:
            with self._lock:
                self._stale = [s for s in self._stale if s not in stale]

    def close(self) -> None:
        """The host is stopping: end the waiting child and the sound (the notice itself
        stays on screen)."""
        with self._lock:
            w, self._waiter = self._waiter, None
            r, self._retry = self._retry, None
        if r is not None:
            r.cancelled.set()
        if w is not None:
            w.end()
        self._stop_sound()

    def _retire(self, old: _Waiter) -> None:
        with self._lock:
            if self._waiter is old:
                self._waiter = None
        old.end()

    def _gone(self, w: _Waiter) -> None:
        with self._lock:
            if self._waiter is w:
                self._waiter = None

    def _answered(self, w: _Waiter) -> None:
        """Answered on the notice: the child closes it; the sound has done its work."""
        self._off_screen(w)
        if w.notice.alarm:
            self._stop_sound()

    def _off_screen(self, w: _Waiter) -> None:
        with self._lock:
            entry = self._shown.get(purpose(w.notice))
            if entry is not None and entry[1] is w.sent:
                del self._shown[purpose(w.notice)]

    def _lost(self, w: _Waiter) -> None:
        """The server went away and its successor would not take the notice: an alarm is
        tried again, as a failed send is."""
        self._off_screen(w)
        if w.notice.alarm and self.retry_s:
            self._start_retry(w.notice, w.seq)

    # -- the sound -----------------------------------------------------------------------

    def _player_name(self) -> str:
        """The first player icecycle tries ("none": nothing to play with)."""
        found = self.players()
        return os.path.basename(found[0][0]) if found else "none"

    def _play(self) -> None:
        """Play the alarm in a process of its own: every player in turn until one works,
        cut at play_s. Neither a hung server nor a notice closed at once can stop it."""
        if not self.own_player:
            return
        found = self.players()
        if not found:
            return
        request = {"players": found, "limit": self.play_s}
        self._stop_sound()
        try:
            player = subprocess.Popen(
                [sys.executable, "-m", "icecycle.answers", "--play", json.dumps(request)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except (OSError, ValueError):
            return
        with self._lock:
            self._player = player
        threading.Thread(target=_reap, args=(player, self.play_s + 5), daemon=True).start()

    def _stop_sound(self) -> None:
        """A newer alarm's sound, an answer or the host stopping: the old sound ends."""
        with self._lock:
            player, self._player = self._player, None
        if player is not None and player.poll() is None:
            _kill_group(player)

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


def _supersedes(notice: Notice, n: DesktopNotifier) -> bool:
    """Only a notice with something to wait for takes the waiting one's place: the
    window's summary, sent with the last alarm, must not silence its buttons."""
    return bool(notice.buttons) or (n.sound and (notice.alarm or notice.kind == "test"))


def _reap(proc: subprocess.Popen[bytes], limit: float) -> None:
    """Wait for a detached process (the sound), killing it past its limit."""
    try:
        proc.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        _kill_group(proc)


def _close_pipes(proc: subprocess.Popen[bytes]) -> None:
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        with contextlib.suppress(OSError, ValueError):
            if pipe is not None:
                pipe.close()


def _start_child(
    argv: list[str],
    timeout: float,
    on_line: Callable[[dict[str, Any]], bool] = lambda doc: True,
    on_idle: Callable[[], None] = lambda: None,
) -> tuple[subprocess.Popen[bytes] | None, list[dict[str, Any]], bytes, str, bool]:
    """Start the notification child and read its lines until `on_line` says it has what
    it wanted, within `timeout`: (the child, the lines read, what came after them, its
    stderr, timed out). `on_idle` runs at least every 0.1 s meanwhile. On a time-out the
    child and its group are killed; a child that answered runs on, its stderr unread."""
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except (OSError, ValueError) as exc:
        return None, [], b"", getattr(exc, "strerror", None) or str(exc), False
    assert proc.stdout is not None and proc.stderr is not None
    out, err = bytearray(), bytearray()
    docs: list[dict[str, Any]] = []
    done = False
    deadline = time.monotonic() + timeout
    open_pipes = {proc.stdout.fileno(): out, proc.stderr.fileno(): err}

    def take_lines() -> bool:
        while b"\n" in out:
            line, _, rest = bytes(out).partition(b"\n")
            out[:] = rest
            docs.append(_parse(line))
            if on_line(docs[-1]):
                return True
        return False

    with selectors.DefaultSelector() as sel:
        for fd in open_pipes:
            sel.register(fd, selectors.EVENT_READ)
        while not done and open_pipes:
            on_idle()
            left = deadline - time.monotonic()
            if left <= 0:
                _kill_group(proc)
                proc.stderr.close()
                return proc, docs, b"", err.decode("utf-8", "replace"), True
            for key, _ in sel.select(timeout=min(left, 0.1)):
                fd = int(key.fd)
                chunk = os.read(fd, 65536)
                if not chunk:
                    sel.unregister(fd)
                    del open_pipes[fd]
                    continue
                open_pipes[fd].extend(chunk)
                del err[:-_KEEP]
            done = take_lines()
            if not done and proc.stdout.fileno() not in open_pipes and proc.poll() is not None:
                # It exited; whatever stderr still holds arrives within the drain time.
                end = time.monotonic() + _DRAIN_S
                while proc.stderr.fileno() in open_pipes and time.monotonic() < end:
                    if sel.select(timeout=0.05):
                        chunk = os.read(proc.stderr.fileno(), 65536)
                        if not chunk:
                            break
                        err.extend(chunk)
                break
    on_idle()
    proc.stderr.close()
    return proc, docs, bytes(out).strip(), err.decode("utf-8", "replace"), False


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
    return printable(last)


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
            return Result(self.name, False, f"{self.argv[0]} failed: {printable(last)}")
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
    """Send one test notification and play the alarm's sound for real; say which backend,
    whether it worked, and (over D-Bus) what the server can do: buttons, sound, markup."""
    notifier = DesktopNotifier(sound=sound, sound_file=sound_file, retry_s=())
    notifier.own_player = False  # played here, to say how it went
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
    sent = notifier.last if result.ok and notifier.last is not None else Sent()
    tried = None
    if sound and "sound" not in sent.caps:
        tried = answers.play(notifier.players(), notifier.play_s)
    notifier.close()
    if not result.ok:
        lines = [f"Could not send a test desktop notification over D-Bus: {result.detail}"]
        if tried is not None:
            lines.append("  " + _sound_line(tried, notifier))
        return False, "\n".join(lines)
    server = " ".join(
        sent.server[0:1] + sent.server[2:3]
    )  # name, version or "the notification server"
    lines = [f"Sent a test desktop notification over D-Bus to {server}."]
    lines += [f"  {line}" for line in capability_lines(sent, sound, sound_file, tried, notifier)]
    lines.append("If you did not see it, check your notification settings.")
    return True, "\n".join(lines)


def _sound_line(tried: list[tuple[str, str]], n: DesktopNotifier) -> str:
    """What playing the alarm did: which player played it, and which failed first."""
    if not tried:
        return (
            "sound: the server has none and no player was found (install pw-play, "
            "paplay or canberra-gtk-play)"
        )
    failed = "; ".join(f"{name} {what}" for name, what in tried if what != "played")
    name, what = tried[-1]
    if what != "played":
        return f"sound: the server has none, and no player could play it: {failed}"
    line = "sound: the server has none; icecycle played "
    line += f"{answers.sound_file(n.sound_file, n.sound_theme)} with {name}"
    return line + (f" (after: {failed})" if failed else "")


def capability_lines(
    sent: Sent,
    sound: bool,
    sound_file: str | None,
    tried: list[tuple[str, str]] | None = None,
    notifier: DesktopNotifier | None = None,
) -> list[str]:
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
    elif tried is not None:
        heard = _sound_line(tried, notifier or DesktopNotifier(sound_file=sound_file))
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
        DesktopNotifier(sound=sound, sound_file=sound_file, log=log) if desktop else NoNotifier()
    )
    if not hook:
        return primary
    return FanOut([primary, HookNotifier(hook)], log)
