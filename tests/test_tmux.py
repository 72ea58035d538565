"""The real program in tmux, as a person would run it: start, watch, kill -9, reopen."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.tmux

STRAY = ("dbus", "DBus", "Traceback", "notify-send", "Error", "warning")


@pytest.fixture
def tmux(tmp_path: Path):
    if shutil.which("tmux") is None:
        reason = "needs tmux (bash .ci/run installs it)"
        if os.environ.get("ICECYCLE_REQUIRE_DESKTOP") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    sock = f"icecycle-test-{os.getpid()}"
    env = {
        **os.environ,
        "ICECYCLE_DATA_DIR": str(tmp_path / "data"),
        "TERM": "xterm-256color",
        # a bus that is not there: notifications fail, and nothing may show on screen
        "DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path}/no-bus",
    }
    env.pop("DISPLAY", None)

    def run(*args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", sock, *args], env=env, capture_output=True, text=True, timeout=30
        ).stdout

    run.env = env  # type: ignore[attr-defined]
    yield run
    run("kill-server")


def screen(tmux) -> str:
    text = tmux("capture-pane", "-p", "-t", "ice")
    for word in STRAY:
        assert word not in text, f"stray {word!r} on screen:\n{text}"
    return text


def wait_screen(tmux, *words: str, timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = screen(tmux)
        if any(w in text for w in words):
            return text
        time.sleep(0.2)
    raise AssertionError(f"none of {words} on screen:\n{text}")


def state(env) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "icecycle", "status", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    return json.loads(out)


def test_start_watch_kill_and_reopen(tmux) -> None:
    env = tmux.env
    subprocess.run(
        [sys.executable, "-m", "icecycle", "start", "--on", "3s", "--off", "4s", "--window", "60s"],
        env=env,
        check=True,
        capture_output=True,
        timeout=30,
    )
    cmd = f"{sys.executable} -m icecycle"
    tmux("new-session", "-d", "-s", "ice", "-x", "100", "-y", "30", cmd)
    text = wait_screen(tmux, "Thin towel between the ice and your skin")
    assert "ICE ON" in text
    tmux("send-keys", "-t", "ice", "Escape")
    text = wait_screen(tmux, "TAKE THE ICE OFF NOW", "REST")
    assert "NOT working" in wait_screen(tmux, "Desktop notifications: NOT working")
    tmux("send-keys", "-t", "ice", "a")
    wait_screen(tmux, "REST · ice off")
    pid = int(tmux("display-message", "-p", "-t", "ice", "#{pane_pid}").strip())
    os.kill(pid, 9)  # as if the power went
    time.sleep(8)  # a whole session passes while it is closed
    tmux("kill-server")
    tmux("new-session", "-d", "-s", "ice", "-x", "100", "-y", "30", cmd)
    text = wait_screen(tmux, "passed while icecycle was closed")
    now = state(env)
    expected = {"on": "ICE ON", "off": ("TAKE THE ICE OFF NOW", "REST")}[now["state"]]
    if now["phase"]["remaining_s"] >= 2:  # not racing a boundary
        assert any(e in text for e in ([expected] if isinstance(expected, str) else expected))
    tmux("send-keys", "-t", "ice", "Escape")
    time.sleep(0.5)
    tmux("send-keys", "-t", "ice", "q")
    time.sleep(1.5)
    assert state(env)["state"] in ("on", "off")  # quitting never stops the cycle
