"""The real program in tmux, as a person would run it: start, watch, kill -9, reopen."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
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
    tag = f"{os.getpid()}-{time.monotonic_ns()}"
    env = {
        **os.environ,
        # Everything started from here carries it: the teardown ends whatever is left.
        "ICECYCLE_TEST_TAG": tag,
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
    try:
        yield run
    finally:
        run("kill-server")
        end_what_was_started(tag)


def _tagged(tag: str) -> list[int]:
    """The live processes whose environment carries ICECYCLE_TEST_TAG=tag."""
    needle = f"ICECYCLE_TEST_TAG={tag}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                if needle in fh.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return found


def end_what_was_started(tag: str, grace: float = 2.0) -> list[int]:
    """Every process the test started (tmux servers, dashboards, their children), given
    `grace` seconds to leave by themselves, then killed. Returns those it had to kill."""
    deadline = time.monotonic() + grace
    while _tagged(tag) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = _tagged(tag)
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return left


def _alive(pid: int) -> bool:
    """Running (a zombie has ended: only its parent has not read its status yet)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


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
    from datetime import datetime as _dt

    phase = now["phase"]
    since = (_dt.fromisoformat(now["now"]) - _dt.fromisoformat(phase["started"])).total_seconds()
    if phase["remaining_s"] >= 2 and since >= 1:  # not racing a boundary (either side of it)
        assert any(e in text for e in ([expected] if isinstance(expected, str) else expected))
    tmux("send-keys", "-t", "ice", "Escape")
    time.sleep(0.5)
    tmux("send-keys", "-t", "ice", "q")
    time.sleep(1.5)
    assert state(env)["state"] in ("on", "off")  # quitting never stops the cycle


def test_closing_the_terminal_ends_the_dashboard_at_once(tmux) -> None:
    """Issue 19, finding 15: tmux kill-session with the towel dialog showing, at once or a
    moment after opening; the dashboard must be gone within a second, every time."""
    env = tmux.env
    subprocess.run(
        [sys.executable, "-m", "icecycle", "start", "--on", "20m"],
        env=env,
        check=True,
        capture_output=True,
        timeout=30,
    )
    cmd = f"{sys.executable} -m icecycle"
    for i, delay in enumerate([0.3, 0.25, 0.4, 0.35, 0.5, 0.3, 1.5]):
        out = tmux("new-session", "-d", "-P", "-F", "#{pane_pid}", "-s", f"ice{i}", cmd)
        pid = int(out.strip())
        if delay >= 1:
            deadline = time.monotonic() + 15
            while "Thin towel" not in tmux("capture-pane", "-p", "-t", f"ice{i}"):
                assert time.monotonic() < deadline, "the towel dialog never showed"
                time.sleep(0.1)
        else:
            time.sleep(delay)
        tmux("kill-session", "-t", f"ice{i}")
        gone_by = time.monotonic() + 1.0
        while _alive(pid) and time.monotonic() < gone_by:
            time.sleep(0.02)
        assert not _alive(pid), f"try {i}: the dashboard outlived its terminal by 1 s"
    # SIGTERM, and a SIGHUP sent by hand, with the terminal still there: a calm exit.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        out = tmux("new-session", "-d", "-P", "-F", "#{pane_pid}", "-s", "ice-sig", cmd)
        pid = int(out.strip())
        deadline = time.monotonic() + 15
        while "Thin towel" not in tmux("capture-pane", "-p", "-t", "ice-sig"):
            assert time.monotonic() < deadline, "the towel dialog never showed"
            time.sleep(0.1)
        os.kill(pid, sig)
        gone_by = time.monotonic() + 3
        while _alive(pid) and time.monotonic() < gone_by:
            time.sleep(0.02)
        assert not _alive(pid), f"still running 3 s after {sig.name}"
        tmux("kill-session", "-t", "ice-sig")
    assert end_what_was_started(env["ICECYCLE_TEST_TAG"], grace=0) == []
