"""Waking for something: the data folder watched with inotify, and a wall-clock timer that
fires after a suspend and when the clock is set (no process polls for nothing)."""

from __future__ import annotations

import contextlib
import os
import select
import time
from typing import Any

from icecycle.store import DB_NAME

#: Where inotify is missing, how often the database is looked at instead
#: (`PRAGMA data_version` and one stat: a change made elsewhere shows within this).
POLL_S = 2.0
#: After a change, SQLite may still be finishing the commit (the -wal is written before its
#: index is): look again this long after the last event, in case the first look was early.
RECHECK_S = (0.05, 0.3, 0.9)

# inotify(7) masks: what happens to files in the folder, and to the folder itself.
_IN_MODIFY, _IN_MOVED_FROM, _IN_MOVED_TO = 0x2, 0x40, 0x80
_IN_CREATE, _IN_DELETE, _IN_DELETE_SELF, _IN_MOVE_SELF = 0x100, 0x200, 0x400, 0x800
_IN_IGNORED, _IN_ONLYDIR = 0x8000, 0x1000000
# (Not IN_ATTRIB: every SQLite connection that opens the file sets the owner of its -wal
# and -shm again, so a one-shot `icecycle status` in a prompt would wake every follower.)
_FILES = _IN_MODIFY | _IN_MOVED_FROM | _IN_MOVED_TO | _IN_CREATE | _IN_DELETE
_FOLDER = _FILES | _IN_DELETE_SELF | _IN_MOVE_SELF | _IN_ONLYDIR
_ANCESTOR = _IN_CREATE | _IN_MOVED_TO | _IN_DELETE_SELF | _IN_MOVE_SELF | _IN_ONLYDIR


class FolderWatch:
    """The data folder, watched for the database and its -wal changing, appearing, moving
    or going; while the folder is not there, its nearest existing parent, for it to appear.

    `fileno()` is None where inotify cannot be had (not Linux, inotify_simple missing, the
    user's watch limit reached): the caller then polls every POLL_S seconds instead."""

    def __init__(self, data_dir: str) -> None:
        self.data_dir = os.path.abspath(data_dir)
        self._inotify: Any = None
        self._wd: int | None = None
        self._watching: str | None = None  # the folder, or the parent waited on
        try:
            from inotify_simple import INotify

            self._inotify = INotify(nonblocking=True)
        except Exception:  # ImportError, OSError (no inotify, limits), AttributeError (libc)
            self._inotify = None
            return
        self._arm()

    @property
    def available(self) -> bool:
        return self._inotify is not None

    def fileno(self) -> int | None:
        return self._inotify.fileno() if self._inotify is not None else None

    def _arm(self) -> None:
        """Watch the folder if it is there, else the nearest parent that is."""
        if self._inotify is None:
            return
        if self._wd is not None:
            with contextlib.suppress(OSError):
                self._inotify.rm_watch(self._wd)
            self._wd = None
        path = self.data_dir
        mask = _FOLDER
        while True:
            try:
                self._wd = self._inotify.add_watch(path, mask)
                self._watching = path
                return
            except OSError:
                parent = os.path.dirname(path)
                if parent == path:  # not even / can be watched: give up on inotify
                    self.close()
                    return
                path, mask = parent, _ANCESTOR

    def drain(self) -> bool:
        """Read what happened since the last call; True if it may concern the database."""
        if self._inotify is None:
            return False
        try:
            events = self._inotify.read(timeout=0)
        except OSError:
            return True
        relevant, rearm = False, False
        for event in events:
            if event.wd != self._wd:
                continue  # a watch we already let go of (its IN_IGNORED, say)
            if event.mask & (_IN_DELETE_SELF | _IN_MOVE_SELF | _IN_IGNORED):
                rearm = relevant = True  # the folder (or the parent waited on) went
            elif self._watching != self.data_dir:
                rearm = relevant = True  # something appeared on the way to the folder
            elif event.name.startswith(DB_NAME) and not event.name.endswith("-shm"):
                relevant = True  # (the -shm is scratch: readers touch it too)
        if rearm:
            self._arm()
        return relevant

    def close(self) -> None:
        if self._inotify is not None:
            with contextlib.suppress(OSError):
                self._inotify.close()
            self._inotify = None


class WallTimer:
    """A timer on the wall clock (timerfd, CLOCK_REALTIME): it fires at a moment of the
    wall clock even across a suspend, and at once when the clock is set, which a sleep on
    the monotonic clock (stopped while suspended) does not. `fileno()` is None off Linux."""

    _CLOCK_REALTIME, _ABSTIME, _CANCEL_ON_SET = 0, 1, 2

    def __init__(self) -> None:
        self._fd: int | None = None
        try:
            import ctypes

            class _Timespec(ctypes.Structure):
                _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]

            class _Itimerspec(ctypes.Structure):
                _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]

            libc = ctypes.CDLL(None, use_errno=True)  # the C library already loaded
            self._settime = libc.timerfd_settime
            self._spec, self._timespec = _Itimerspec, _Timespec
            self._ctypes = ctypes
            fd = libc.timerfd_create(self._CLOCK_REALTIME, os.O_CLOEXEC | os.O_NONBLOCK)
            if fd >= 0:
                self._fd = fd
        except (ImportError, OSError, AttributeError):
            self._fd = None

    def fileno(self) -> int | None:
        return self._fd

    def set(self, wall: float | None) -> None:
        """Fire at `wall` (seconds since the epoch, on time.time()'s clock), or only when the
        clock is set (None)."""
        if self._fd is None:
            return
        at = wall if wall is not None else time.time() + 365 * 86400.0
        at = max(at, 1e-9)
        sec = int(at)
        value = self._timespec(sec, int((at - sec) * 1e9))
        spec = self._spec(self._timespec(0, 0), value)
        ref = self._ctypes.byref(spec)
        self._settime(self._fd, self._ABSTIME | self._CANCEL_ON_SET, ref, None)

    def clear(self) -> None:
        """Read the timer off (it fired, or the clock was set: ECANCELED)."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.read(self._fd, 8)

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


class OutputGone(Exception):
    """The reader of our output went away (the status bar quit, the terminal closed)."""


class Waker:
    """Sleep until a wall-clock moment, a change in the data folder, or the clock being
    set, whichever comes first: one poll() on a few descriptors, nothing in between. With
    `out_fd`, a reader of our output that goes away (a closed pipe) ends the wait too."""

    def __init__(self, data_dir: str, out_fd: int | None = None) -> None:
        self.watch = FolderWatch(data_dir)
        self.timer = WallTimer()
        self.out_fd = out_fd
        self._recheck: list[float] = []  # (monotonic) looks again after a change
        self._poll = select.poll()
        for fd in (self.watch.fileno(), self.timer.fileno()):
            if fd is not None:
                self._poll.register(fd, select.POLLIN)
        if out_fd is not None:
            with contextlib.suppress(OSError, ValueError):
                self._poll.register(out_fd, 0)  # (POLLERR and POLLHUP are always reported)

    def wait(self, seconds: float | None) -> bool:
        """Sleep at most `seconds` (None: until something happens); True if the folder
        changed (or may have: without inotify, every POLL_S). OutputGone if the output's
        reader went away."""
        deadline = None if seconds is None else time.monotonic() + max(0.0, seconds)
        if self._recheck:
            first = self._recheck[0]
            deadline = first if deadline is None else min(deadline, first)
        limit = None if deadline is None else max(0.0, deadline - time.monotonic())
        if self.timer.fileno() is not None:
            self.timer.set(None if limit is None else time.time() + limit)
        while True:
            if self.timer.fileno() is not None:
                limit = None  # the timer ends the wait, even across a suspend
            elif deadline is not None:
                # (a suspend would stretch a plain timeout: look at least once a minute)
                limit = min(max(0.0, deadline - time.monotonic()), 60.0)
            if not self.watch.available:
                limit = POLL_S if limit is None else min(limit, POLL_S)
            ready = dict(self._poll.poll(None if limit is None else limit * 1000))
            if self.out_fd is not None and ready.get(self.out_fd, 0) & (
                select.POLLERR | select.POLLHUP | select.POLLNVAL
            ):
                raise OutputGone
            now = time.monotonic()
            fired = self.timer.fileno() in ready or self.timer.fileno() is None
            if self.timer.fileno() in ready:
                self.timer.clear()
            changed = not self.watch.available  # (the caller looks at data_version)
            if self.watch.fileno() in ready and self.watch.drain():
                changed = True
                self._recheck = [now + d for d in RECHECK_S]
            elif fired and any(t <= now + 0.001 for t in self._recheck):
                changed = True
                self._recheck = [t for t in self._recheck if t > now + 0.001]
            if changed or fired:
                return changed
            # (something else in the folder: sleep on, the timer still set)

    def close(self) -> None:
        self.watch.close()
        self.timer.close()


class LoopWaker:
    """The same waking on an asyncio loop (the dashboard's, the daemon's): the inotify and
    timer descriptors are read by the loop itself, so waiting costs nothing."""

    def __init__(self, data_dir: str, loop: Any) -> None:
        import asyncio

        self.watch = FolderWatch(data_dir)
        self.timer = WallTimer()
        self._loop = loop
        self._event = asyncio.Event()
        self._changed = False
        self._recheck: list[float] = []
        if self.watch.available:
            loop.add_reader(self.watch.fileno(), self._on_watch)
        if self.timer.fileno() is not None:
            loop.add_reader(self.timer.fileno(), self._on_timer)

    @classmethod
    def create(cls, data_dir: str, loop: Any) -> LoopWaker | None:
        """None where there is no wall-clock timer (not Linux): the caller ticks instead."""
        waker = cls(data_dir, loop)
        if waker.timer.fileno() is None:
            waker.close()
            return None
        return waker

    def _on_watch(self) -> None:
        if self.watch.drain():
            self._changed = True
            now = time.monotonic()
            self._recheck = [now + d for d in RECHECK_S]
            self._event.set()

    def _on_timer(self) -> None:
        self.timer.clear()
        self._event.set()

    def poke(self) -> None:
        """Wake now (the host's needs changed: the terminal came to the front, say)."""
        self._event.set()

    async def wait(self, seconds: float | None) -> bool:
        """Sleep at most `seconds` (None: until something happens); True if the folder
        changed (or may have)."""
        limit = None if seconds is None else max(0.0, seconds)
        now = time.monotonic()
        if self._recheck:
            first = max(0.0, self._recheck[0] - now)
            limit = first if limit is None else min(limit, first)
        if not self.watch.available:
            limit = POLL_S if limit is None else min(limit, POLL_S)
        self.timer.set(None if limit is None else time.time() + limit)
        if not self._event.is_set():
            await self._event.wait()
        self._event.clear()
        now = time.monotonic()
        changed = self._changed or any(t <= now + 0.001 for t in self._recheck)
        self._recheck = [t for t in self._recheck if t > now + 0.001]
        self._changed = False
        return changed or not self.watch.available

    def close(self) -> None:
        for fd in (self.watch.fileno(), self.timer.fileno()):
            if fd is not None:
                with contextlib.suppress(Exception):
                    self._loop.remove_reader(fd)
        self.watch.close()
        self.timer.close()
