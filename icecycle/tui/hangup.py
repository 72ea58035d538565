"""Leaving when the terminal goes away (SIGHUP) or the system asks (SIGTERM): at once,
whatever screen is open, and never hung on a terminal that is no longer there."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType

#: After SIGHUP nobody can see the screen: the process ends within this, cleanly or not.
HANGUP_GRACE_S = 0.8
#: After SIGTERM the terminal may still be there: time to give it its screen back.
TERM_GRACE_S = 5.0


def install(
    leave: Callable[[], None], call_soon: Callable[[Callable[[], None]], object]
) -> Callable[[], None]:
    """Handle SIGHUP and SIGTERM in the main thread; returns what puts the old handlers
    back. `leave` ends the app as `q` does; `call_soon` runs it on the app's loop.

    Why not the loop's add_signal_handler: its callback waits for the loop, and the loop
    can be stuck. When a terminal hangs up, the kernel sends SIGHUP and then SIGCONT;
    Textual's SIGCONT handler starts a new output thread on the dead terminal, that thread
    dies at its first write, and the next 30 writes fill its queue: the main thread waits
    in Queue.put forever (issue 19, finding 15). A plain signal handler runs even then (a
    lock wait is interrupted by signals), and before the SIGCONT one (lower numbers first).
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # (signal handlers can only be set from the main thread)

    def hangup(signum: int, frame: FrameType | None) -> None:
        if not _terminal_gone():  # `kill -HUP` by hand: leave as after SIGTERM
            term(signum, frame)
            return
        # Textual would restart its output on the terminal that just went away.
        with contextlib.suppress(ValueError, OSError):
            signal.signal(signal.SIGCONT, _ignore)
        _blind()
        _deadline(HANGUP_GRACE_S)
        with contextlib.suppress(RuntimeError):  # the loop has closed: we are leaving
            call_soon(leave)

    def term(signum: int, frame: FrameType | None) -> None:
        _deadline(TERM_GRACE_S)
        with contextlib.suppress(RuntimeError):
            call_soon(leave)

    before: dict[int, object] = {}
    for sig, handler in ((signal.SIGHUP, hangup), (signal.SIGTERM, term)):
        with contextlib.suppress(ValueError, OSError):
            before[sig] = signal.signal(sig, handler)

    def restore() -> None:
        for sig, old in before.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(sig, old)  # type: ignore[arg-type]

    return restore


def _ignore(signum: int, frame: FrameType | None) -> None:
    return


def _terminal_gone() -> bool:
    """No terminal answers on stdin, stdout or stderr (a hung-up one fails with EIO)."""
    import termios

    for fd in (0, 1, 2):
        try:
            termios.tcgetattr(fd)
        except (termios.error, OSError):
            continue
        return False
    return True


def _blind() -> None:
    """Point stdout and stderr at /dev/null: writes to a hung-up terminal fail (EIO), and a
    failed write kills Textual's output thread; to nowhere, every write succeeds."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    for fd in (1, 2):
        with contextlib.suppress(OSError):
            os.dup2(null, fd)
    os.close(null)


_timer: threading.Timer | None = None


def _deadline(seconds: float) -> None:
    """End the process after `seconds` if the clean way out has not by then. The cycle is
    in the store (each write committed); a notice being sent is sent again by the next
    runner once its claim's lease runs out."""
    global _timer
    if _timer is not None and _timer.interval <= seconds:
        return
    if _timer is not None:
        _timer.cancel()
    _timer = threading.Timer(seconds, os._exit, (0,))
    _timer.daemon = True
    _timer.start()
