"""Textual's Linux driver, with an input thread that sleeps until a key (or the end) comes
instead of waking ten times a second to look."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import threading
from codecs import getincrementaldecoder
from typing import Any

from textual.drivers.linux_driver import LinuxDriver


class _WakingEvent(threading.Event):
    """The driver's exit event, which also wakes the input thread's select."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd

    def set(self) -> None:
        super().set()
        with contextlib.suppress(OSError):
            os.write(self._fd, b"x")


class QuietDriver(LinuxDriver):
    """The stock driver polls its terminal every 0.1 s so that a lone Esc can be told from
    the start of a sequence: about 1.5 ms of CPU a second in every Textual app, which is most
    of what the blurred dashboard costs. This one waits with no timeout unless the parser
    holds a partial sequence, and is woken by a pipe when the app stops reading input."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self.exit_event = _WakingEvent(self._wake_w)

    def run_input_thread(self) -> None:
        from textual._xterm_parser import XTermParser

        selector = selectors.DefaultSelector()
        fileno = self.fileno
        selector.register(fileno, selectors.EVENT_READ)
        selector.register(self._wake_r, selectors.EVENT_READ)
        parser = XTermParser(self._debug)
        decode = getincrementaldecoder("utf-8")().decode
        get_time = _parser_clock()

        def wait() -> float | None:
            pending = getattr(parser, "_timeout_time", 0.0)  # (Textual's own, if it moves: poll)
            if pending is None:
                return None
            return max(0.0, min(0.1, float(pending) - float(get_time())))

        def process(ready: list[tuple[selectors.SelectorKey, int]], final: bool = False) -> None:
            for key, _ in ready:
                if key.fd == self._wake_r:
                    with contextlib.suppress(OSError):
                        os.read(self._wake_r, 64)
                    continue
                try:
                    raw = os.read(fileno, 1024 * 4)
                except OSError:  # EIO: the terminal hung up
                    raw = b""
                if not raw:  # the end of input: the terminal is gone
                    self._input_gone(selector, fileno)
                    break
                data = decode(raw, final=final)
                if not data:
                    break
                for event in parser.feed(data):
                    self.process_message(event)
            for event in parser.tick():
                self.process_message(event)

        try:
            while not self.exit_event.is_set():
                process(selector.select(wait()))
            if self._reading:
                selector.unregister(fileno)
            process(selector.select(0), final=True)
        finally:
            selector.close()

    _reading = True

    def _input_gone(self, selector: selectors.BaseSelector, fileno: int) -> None:
        """Input ended (EOF or EIO): stop watching it (a closed terminal is always "ready",
        and reading it again and again would spin a core for as long as the process
        lives), and leave as after a hang-up, whether or not a SIGHUP comes."""
        if not self._reading:
            return
        self._reading = False
        selector.unregister(fileno)
        with contextlib.suppress(OSError):
            os.kill(os.getpid(), signal.SIGHUP)

    def close(self) -> None:
        super().close()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)


def _parser_clock() -> Any:
    try:
        from textual._time import get_time

        return get_time
    except ImportError:  # pragma: no cover (Textual moved it)
        import time

        return time.monotonic
