"""The real dashboard in tmux with focus-events on: another window has the focus, minutes show."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from .test_tmux import tmux  # noqa: F401  (the fixture)

pytestmark = pytest.mark.tmux


def pane(tmux) -> str:  # noqa: F811
    return tmux("capture-pane", "-p", "-t", "ice:0")


def wait_for(tmux, check, what: str, timeout: float = 15) -> str:  # noqa: F811
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = pane(tmux)
        assert "Traceback" not in text, text
        if check(text):
            return text
        time.sleep(0.1)
    raise AssertionError(f"never {what}:\n{text}")


def minutes(text: str) -> bool:
    return "min left" in text


def seconds(text: str) -> bool:
    return " left" in text and "min left" not in text


def test_switching_tmux_windows_changes_the_countdown_s_form(tmux) -> None:  # noqa: F811
    env = tmux.env
    for args in (["start", "--on", "20m", "--off", "20m", "--window", "2h"], ["ack"]):
        subprocess.run(
            [sys.executable, "-m", "icecycle", *args], env=env, check=True, capture_output=True
        )
    # Focus reporting on before the program starts, as in a ~/.tmux.conf.
    tmux("new-session", "-d", "-s", "ice", "-x", "100", "-y", "30")
    tmux("set-option", "-g", "focus-events", "on")
    tmux("respawn-pane", "-k", "-t", "ice:0", f"{sys.executable} -m icecycle")
    tmux("new-window", "-d", "-t", "ice:1")
    # No client is looking: tmux reports the pane as not focused.
    wait_for(tmux, minutes, "the minutes form with nobody attached")

    # A person attaches (a client inside a second tmux server stands in for a terminal).
    outer = f"icecycle-outer-{os.getpid()}"
    inner_sock = tmux("display-message", "-p", "#{socket_path}").strip()
    subprocess.run(
        ["tmux", "-L", outer, "new-session", "-d", "-x", "100", "-y", "32",
         f"tmux -S {inner_sock} attach -t ice"],
        env=env,
        check=True,
    )  # fmt: skip
    try:
        wait_for(tmux, seconds, "the full countdown once attached")
        tmux("select-window", "-t", "ice:1")  # another window has the focus
        wait_for(tmux, minutes, "the minutes form in the background window")
        tmux("select-window", "-t", "ice:0")  # and back
        wait_for(tmux, seconds, "the full countdown back")
    finally:
        subprocess.run(["tmux", "-L", outer, "kill-server"], capture_output=True)
