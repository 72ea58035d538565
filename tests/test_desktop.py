"""End to end on a real desktop stack: `icecycle daemon` notifying through dunst on D-Bus."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from .desktop import Desktop, require_desktop

pytestmark = pytest.mark.desktop


@pytest.fixture
def desktop(tmp_path: Path):
    require_desktop()
    d = Desktop(tmp_path)
    yield d
    d.stop()


def env_for(desktop: Desktop, data_dir: Path) -> dict[str, str]:
    return {**desktop.env, "ICECYCLE_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}


def icecycle(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "icecycle", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def daemon(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "icecycle", "daemon"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )


def wait_for(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.1)


def answering(desktop: Desktop, env: dict[str, str]) -> threading.Event:
    """Someone who answers each take-it-off alarm with `icecycle ack` (unanswered, it would
    hold the next session). Set the event it returns to stop."""
    done = threading.Event()

    def run() -> None:
        while not done.is_set():
            if json.loads(icecycle(env, "status", "--json").stdout or "{}").get("alarm"):
                icecycle(env, "ack")
            time.sleep(0.05)

    threading.Thread(target=run, daemon=True).start()
    return done


def boundaries(env: dict[str, str]) -> list[float]:
    """The phase changes of the running cycle, as epoch seconds (from the stored start)."""
    doc = json.loads(icecycle(env, "status", "--json").stdout)
    start = datetime.fromisoformat(doc["phase"]["started"]).timestamp()
    on, off, end = doc["settings"]["on_s"], doc["settings"]["off_s"], doc["window"]["end"]
    end_t = datetime.fromisoformat(end).timestamp()
    times, t, kind = [], start, "on"
    # A session only if it fits whole: the window ends in rest (or as a session ends).
    while t < end_t and (kind == "off" or t + on <= end_t):
        times.append(t)
        t += on if kind == "on" else off
        kind = "off" if kind == "on" else "on"
    if kind == "off" and t <= end_t:  # the last session ended with the window
        times.append(t)
    return [*times, end_t]


def stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=15)


def test_daemon_notifies_every_change_once_and_on_time(desktop: Desktop, tmp_path: Path) -> None:
    desktop.start()
    env = env_for(desktop, tmp_path / "data")
    d = daemon(env, tmp_path / "daemon.log")
    time.sleep(1.5)  # idle, waiting for a cycle
    person = answering(desktop, env)
    assert icecycle(env, "start", "--on", "2s", "--off", "3s", "--window", "12s").returncode == 0
    # start rounds to the stored instant; read the schedule from the store
    expected = boundaries(env)
    wait_for(lambda: len(desktop.notifications()) >= 8, 20)
    time.sleep(1)
    person.set()
    assert stop(d) == 0
    seen = desktop.notifications()
    assert [n.summary for n in seen[:5]] == [
        "Ice on, towel first",
        "Take the ice off now",
        "Ice on, towel first",
        "Take the ice off now",
        "Ice on, towel first",
    ]
    # The last session ends with the window: its alarm, then the summary, then the alarm
    # shown again on top of it if the summary came before the person's answer (a race:
    # both are due in the same instant).
    assert [n.summary for n in seen[5:7]] == [
        "Take the ice off now",
        "Cold therapy window complete",
    ]
    assert [n.summary for n in seen[7:]] in ([], ["Take the ice off now"])
    if len(seen) == 8:
        raised, seen = seen[-1], seen[:-1]
        assert raised.urgency == 2 and raised.sound_name is None
    assert all(n.app == "icecycle" for n in seen)
    assert all(
        "thin towel between the ice pack and your skin" in n.body
        for n in seen
        if n.summary.startswith("Ice on")
    )
    assert [n.urgency for n in seen] == [1, 2, 1, 2, 1, 2, 1]  # ice off is critical
    lags = [n.time - b for n, b in zip(seen, expected, strict=True)]
    # The first is not a boundary: the daemon notices `start` from another process on its
    # 1 s tick. Every phase change after it must reach the bus within 1.5 s.
    assert -0.2 < lags[0] <= 2.5, lags
    assert all(-0.2 < lag <= 1.5 for lag in lags[1:]), lags
    if os.environ.get("ICECYCLE_LAG_FILE"):  # make bench reads the latencies from here
        Path(os.environ["ICECYCLE_LAG_FILE"]).write_text(json.dumps(lags))
    log = (tmp_path / "daemon.log").read_text()
    assert "no cycle yet" in log and log.rstrip().endswith("stopped")
    assert log.count("Take the ice off now: sent") == 3
    claims = json.loads(icecycle(env, "history", "--json").stdout)["cycles"][0]["sessions"]
    assert [s["note"] for s in claims] == ["sent", "sent", "sent"]
    print("notification lags (s):", ", ".join(f"{x:.3f}" for x in lags))


def test_a_window_that_ends_before_a_whole_session_ends_in_rest(
    desktop: Desktop, tmp_path: Path
) -> None:
    """Issue 10: with 2 s on and 3 s off, an 11 s window holds sessions at 0 and 5 s; one at
    10 s would be cut short, so it is never planned. Every ice-on is followed by exactly one
    critical take-it-off before the summary."""
    desktop.start()
    env = env_for(desktop, tmp_path / "data")
    assert icecycle(env, "start", "--on", "2s", "--off", "3s", "--window", "11s").returncode == 0
    person = answering(desktop, env)
    d = daemon(env, tmp_path / "daemon.log")
    wait_for(lambda: any("complete" in n.summary for n in desktop.notifications()), 20)
    time.sleep(1)
    person.set()
    assert stop(d) == 0
    seen = desktop.notifications()
    assert [n.summary for n in seen] == [
        "Ice on, towel first",
        "Take the ice off now",
        "Ice on, towel first",
        "Take the ice off now",
        "Cold therapy window complete",  # (each alarm answered by then: none shown again)
    ]
    assert [n.urgency for n in seen if n.summary == "Take the ice off now"] == [2, 2]
    assert "That was the last session of this window." in seen[3].body
    assert "No more sessions in this window." in seen[-1].body


def test_two_daemons_send_each_notification_once(desktop: Desktop, tmp_path: Path) -> None:
    desktop.start()
    env = env_for(desktop, tmp_path / "data")
    assert icecycle(env, "start", "--on", "2s", "--off", "2s", "--window", "7s").returncode == 0
    person = answering(desktop, env)
    a, b = daemon(env, tmp_path / "a.log"), daemon(env, tmp_path / "b.log")
    wait_for(lambda: any("complete" in n.summary for n in desktop.notifications()), 20)
    time.sleep(1.5)
    person.set()
    assert stop(a) == 0 and stop(b) == 0
    summaries = [n.summary for n in desktop.notifications()]
    if summaries[-1] == "Take the ice off now":
        # The daemon that sent the summary also holds the unanswered alarm: shown again
        # on top (the other daemon would not know to).
        summaries.pop()
    assert summaries == [
        "Ice on, towel first",
        "Take the ice off now",
        "Ice on, towel first",
        "Take the ice off now",
        "Cold therapy window complete",
    ]


@pytest.mark.parametrize("fault", ["absent", "hung"])
def test_a_missing_or_hung_notification_daemon_does_not_stop_the_schedule(
    desktop: Desktop, tmp_path: Path, fault: str
) -> None:
    desktop.start(with_daemon=fault == "hung")
    if fault == "hung":
        desktop.hang_dunst()
    env = env_for(desktop, tmp_path / "data")
    d = daemon(env, tmp_path / "daemon.log")
    time.sleep(1)
    assert icecycle(env, "start", "--on", "2s", "--off", "2s", "--window", "20s").returncode == 0
    person = answering(desktop, env)
    expected = boundaries(env)
    time.sleep(7.5)  # three boundaries pass (and the hung sends time out after 5 s)
    person.set()
    assert stop(d) == 0
    db = tmp_path / "data" / "icecycle.sqlite3"
    import sqlite3

    rows = (
        sqlite3.connect(db)
        .execute("SELECT kind, claimed, result FROM notifications ORDER BY id")
        .fetchall()
    )
    assert [r[0] for r in rows][:4] == ["on", "off", "on", "off"]
    for (_, claimed, _result), b in zip(rows[:4], expected, strict=False):
        assert datetime.fromisoformat(claimed).timestamp() - b < 1.5  # claimed on time
    want = (
        "no notification daemon on the session bus" if fault == "absent" else "no answer within 5s"
    )
    assert want in rows[0][2]
    log = (tmp_path / "daemon.log").read_text()
    assert log.count("notification failed") == 1, log  # reported once, not at every boundary
    assert "Traceback" not in log


def test_notify_test_says_whether_it_worked(desktop: Desktop, tmp_path: Path) -> None:
    desktop.start(with_daemon=False)
    env = env_for(desktop, tmp_path / "data")
    r = icecycle(env, "notify-test")
    assert r.returncode == 1
    assert "no notification daemon on the session bus (start one, e.g. dunst)" in r.stdout
    assert r.stderr.strip() == "icecycle: error: the test notification did not arrive; see above"
    desktop.start_dunst()
    r = icecycle(env, "notify-test")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith(
        "Sent a test desktop notification over D-Bus to dunst 1.9"
    )
    assert '  buttons: yes (the take-it-off alarm offers "Ice is off"' in r.stdout
    assert "  body markup: yes" in r.stdout
    assert [n.summary for n in desktop.notifications()][-1] == "icecycle test notification"


def test_notify_test_names_the_player_it_would_use(desktop: Desktop, tmp_path: Path) -> None:
    desktop.start()
    played = fake_player(tmp_path)
    env = {**env_for(desktop, tmp_path / "data"), "ICECYCLE_PLAYER_PATH": str(tmp_path / "bin")}
    r = icecycle(env, "notify-test")
    assert r.returncode == 0, r.stderr
    assert "  sound: the server has none; icecycle played " in r.stdout
    sound = next(line for line in r.stdout.splitlines() if line.startswith("  sound: "))
    assert sound.endswith("take-it-off.wav with pw-play")
    assert len(played.read_text().splitlines()) == 1
    # A player that fails (pw-play with no PipeWire running): the next one plays, and
    # notify-test says what happened.
    broken = tmp_path / "bin" / "pw-play"
    broken.write_text("#!/bin/sh\necho 'Host is down' >&2\nexit 1\n")
    fake_player(tmp_path, "paplay")
    r = icecycle(env, "notify-test")
    sound = next(line for line in r.stdout.splitlines() if line.startswith("  sound: "))
    assert sound.endswith("with paplay (after: pw-play failed (Host is down))"), sound
    for name in ("pw-play", "paplay"):
        (tmp_path / "bin" / name).unlink()
    r = icecycle(env, "notify-test")
    assert "  sound: the server has none and no player was found" in r.stdout


def fake_player(root: Path, name: str = "pw-play") -> Path:
    """A player that writes its arguments down and plays nothing."""
    (root / "bin").mkdir(exist_ok=True)
    log = root / "played"
    player = root / "bin" / name
    player.write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    player.chmod(0o755)
    return log


def test_take_it_off_answered_from_the_notification(desktop: Desktop, tmp_path: Path) -> None:
    """The daemon's take-it-off notice has the buttons and asks for the sound; the person
    clicks it (dunstctl action 0: the default action); the alarm is answered through the
    shared actions, status says so at once, and the reminders do not come."""
    desktop.start()
    played = fake_player(tmp_path)
    config = tmp_path / "config.toml"
    config.write_text('[notifications]\nrepeat_every = "10s"\nrepeat_count = 3\n')
    env = {
        **env_for(desktop, tmp_path / "data"),
        "ICECYCLE_CONFIG": str(config),
        "ICECYCLE_PLAYER_PATH": str(tmp_path / "bin"),
    }
    assert icecycle(env, "start", "--on", "2s", "--off", "60s", "--window", "2m").returncode == 0
    d = daemon(env, tmp_path / "daemon.log")
    wait_for(lambda: any(n.summary.startswith("Take") for n in desktop.notifications()), 15)
    off = desktop.notifications()[-1]
    assert off.summary == "Take the ice off now" and off.urgency == 2
    assert off.actions == ["default", "Took it off", "ice-off", "Ice is off"]
    assert off.sound_name == "alarm-clock-elapsed"
    on = desktop.notifications()[0]
    assert on.actions == ["ice-on", "Ice is on", "skip", "Skip"] and on.sound_name is None
    assert json.loads(icecycle(env, "status", "--json").stdout)["alarm"] is not None
    clicked = time.monotonic()
    subprocess.run(["dunstctl", "action", "0"], env=desktop.env, check=True, timeout=5)
    alarm = "unset"
    while time.monotonic() - clicked < 3 and alarm is not None:
        alarm = json.loads(icecycle(env, "status", "--json").stdout)["alarm"]
    answered_in = time.monotonic() - clicked
    assert alarm is None and answered_in < 1.5, answered_in
    time.sleep(max(0.0, off.time + 11.5 - time.time()))  # past the first reminder's time
    assert stop(d) == 0
    assert [n.summary for n in desktop.notifications()] == [
        "Ice on, towel first",
        "Take the ice off now",
    ]
    # Nothing stale is left on screen: the ice-on notice closed when its session ended,
    # the answered alarm closed by icecycle (dunst leaves that to the sender, dunst #660).
    assert desktop.dunstctl("count", "displayed") == "0", (
        desktop.closed_signals(),
        desktop.dunstctl("history"),
        desktop.monitor_log.read_text()[-3000:],
    )
    log = (tmp_path / "daemon.log").read_text()
    assert log.count('"Took it off" from the notification: ') == 1, log
    assert "Traceback" not in log
    # dunst has no "sound" capability: icecycle played the alarm itself, once.
    assert len(played.read_text().splitlines()) == 1
    print(f"answered {answered_in:.3f} s after the click")


def test_force_start_during_ice_on_sends_one_critical_take_it_off_and_one_hook(
    desktop: Desktop, tmp_path: Path
) -> None:
    """Issue 18: `start --force` while the ice is on: the take-it-off notice (critical) and
    the hook go out exactly once, and no ice-on follows until it is answered."""
    desktop.start()
    hooked = tmp_path / "hook.log"
    hook = tmp_path / "hook.sh"
    hook.write_text(f'#!/bin/sh\necho "$ICECYCLE_KIND $ICECYCLE_URGENCY" >> {hooked}\n')
    hook.chmod(0o755)
    config = tmp_path / "config.toml"
    config.write_text(f'[hooks]\non_change = ["{hook}"]\n')
    env = {**env_for(desktop, tmp_path / "data"), "ICECYCLE_CONFIG": str(config)}
    assert icecycle(env, "start", "--on", "20s", "--off", "30s", "--window", "2m").returncode == 0
    d = daemon(env, tmp_path / "daemon.log")
    wait_for(lambda: len(desktop.notifications()) >= 1, 15)
    r = icecycle(env, "start", "--force", "--on", "20s", "--off", "30s", "--window", "2m")
    assert r.returncode == 0 and r.stdout.startswith("Take the ice off now.")
    wait_for(lambda: len(desktop.notifications()) >= 2, 10)
    time.sleep(3)  # nothing more (no second notice, no ice on) while it rests
    assert stop(d) == 0
    seen = desktop.notifications()
    assert [(n.summary, n.urgency) for n in seen] == [
        ("Ice on, towel first", 1),
        ("Take the ice off now", 2),
    ]
    assert hooked.read_text().splitlines() == ["on normal", "off critical"]
    doc = json.loads(icecycle(env, "status", "--json").stdout)
    assert doc["state"] == "off" and doc["alarm"] is not None  # rings on until answered


def test_daemon_without_a_session_bus_keeps_running(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "ICECYCLE_DATA_DIR": str(tmp_path / "data"),
        "DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path}/nobus",
    }
    env.pop("DISPLAY", None)
    assert icecycle(env, "start", "--on", "1s", "--off", "1s", "--window", "5s").returncode == 0
    d = daemon(env, tmp_path / "daemon.log")
    time.sleep(3)
    assert stop(d) == 0
    log = (tmp_path / "daemon.log").read_text()
    assert log.count("notification failed") == 1 and "Traceback" not in log


def test_notification_daemon_shows_the_live_alarm_not_a_stale_notice(
    desktop: Desktop, tmp_path: Path
) -> None:
    """GNOME's notification-daemon shows one notice at a time: the ice-on notice is closed
    before the take-it-off alarm is shown, the window's summary (sent with the last alarm)
    does not hide the alarm, and the alarm is closed once it is answered."""
    desktop.start(with_daemon=False)
    desktop.start_notification_daemon()
    env = env_for(desktop, tmp_path / "data")
    assert icecycle(env, "start", "--on", "5s", "--off", "60s", "--window", "5s").returncode == 0
    d = daemon(env, tmp_path / "daemon.log")
    wait_for(lambda: len(desktop.notifications()) >= 4, 15)
    time.sleep(0.5)
    seen = desktop.notifications()
    assert [n.summary for n in seen] == [
        "Ice on, towel first",
        "Take the ice off now",
        "Cold therapy window complete",
        "Take the ice off now",  # shown again, on top: the live one is in front
    ]
    assert seen[-1].urgency == 2 and seen[-1].sound_name is None  # heard once already
    closed = desktop.closed_signals()
    assert [(nid, why) for _, nid, why in closed] == [(1, 3), (2, 3)], closed
    assert closed[0][0] < seen[1].time  # the stale ice-on notice went first
    assert icecycle(env, "ack").returncode == 0
    wait_for(lambda: len(desktop.closed_signals()) == 3, 5)
    assert stop(d) == 0
    assert [(nid, why) for _, nid, why in desktop.closed_signals()][-1] == (4, 3)


def test_daemon_log_escapes_and_caps_what_a_hostile_server_says(
    desktop: Desktop, tmp_path: Path
) -> None:
    """A server that answers with a 1 MB key, or one with a newline in it, cannot grow the
    log or forge a line in it."""
    desktop.start(with_daemon=False)
    desktop.start_fake(tmp_path / "calls", "actions,body")
    env = env_for(desktop, tmp_path / "data")
    assert icecycle(env, "start", "--on", "1m", "--window", "2h").returncode == 0
    d = daemon(env, tmp_path / "daemon.log")
    wait_for(lambda: (tmp_path / "calls").exists(), 10)
    time.sleep(0.5)
    for _ in range(5):
        desktop.server_says("action 1 " + "k" * 1_000_000)
        desktop.server_says("action 1 " + json.dumps("x\nicecycle daemon 10:00:00 forged"))
    time.sleep(1.5)
    assert stop(d) == 0
    log = (tmp_path / "daemon.log").read_text()
    assert len(log) < 2000, len(log)
    assert "forged" not in log and all(
        line.startswith("icecycle daemon ") for line in log.splitlines()
    )
