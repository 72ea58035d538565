"""The notification child on a private bus: buttons, plain notices, a hung server, the player."""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest

from icecycle import answers
from icecycle.cycle import Counts
from icecycle.notify import DesktopNotifier, Notice, ice_off, ice_on, reminder, window_done

from .conftest import T0
from .desktop import Desktop, require_desktop

pytestmark = pytest.mark.desktop


@pytest.fixture
def desktop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    require_desktop()
    d = Desktop(tmp_path)
    d.start(with_daemon=False)
    # The notifier's child inherits this process's environment: the private bus, a PATH
    # without any real sound player, and one directory for a fake one.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", d.env["DBUS_SESSION_BUS_ADDRESS"])
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    yield d
    d.stop()


def children(desktop: Desktop) -> list[int]:
    """The notification children running on this test's bus (other tests' are not ours)."""
    address = desktop.env["DBUS_SESSION_BUS_ADDRESS"].encode()
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            env = Path(f"/proc/{pid}/environ").read_bytes()
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        zombie = stat.rsplit(")", 1)[1].split()[0] == "Z"
        if b"icecycle.answers" in cmd and address in env and not zombie:
            found.append(int(pid))
    return found


def record(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def fake_player(desktop: Desktop, name: str = "pw-play") -> Path:
    """A player that writes its pid and arguments down, then plays for 30 s (a long sound)."""
    log = desktop.root / "played"
    player = desktop.root / "bin" / name
    player.write_text(f'#!/bin/sh\necho "$$ $*" >> {log}\nexec sleep 30\n')
    player.chmod(0o755)
    return log


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_until(predicate, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


OFF = ice_off(T0, T0, None, False)


def test_a_server_without_buttons_gets_plain_notices_and_nothing_waits(desktop) -> None:
    calls = desktop.root / "calls"
    desktop.start_fake(calls, "body")
    n = DesktopNotifier()
    started = time.monotonic()
    assert n.send(OFF).ok
    assert time.monotonic() - started < 2
    assert n.last is not None and not n.last.buttons
    assert record(calls) == [
        {
            "summary": "Take the ice off now",
            "actions": [],
            "hints": {"urgency": 2, "sound-name": "alarm-clock-elapsed"},
            "replaces": 0,
        }
    ]
    assert n.waiting() is None
    assert children(desktop) == []  # the child has exited and been reaped


def test_buttons_and_an_answer_from_the_server(desktop) -> None:
    calls = desktop.root / "calls"
    desktop.start_fake(calls, "actions,body")
    n = DesktopNotifier(sound=False)
    heard: list[tuple[str, str]] = []
    n.listen(lambda notice, key: heard.append((notice.kind, key)))
    on = ice_on(T0, T0, T0 + timedelta(minutes=25), False)
    assert n.send(on).ok
    assert record(calls)[0]["actions"] == ["ice-on", "Ice is on", "skip", "Skip"]
    assert "sound-name" not in record(calls)[0]["hints"]  # only the alarm asks to be heard
    assert n.waiting() == on and len(children(desktop)) == 1
    desktop.action(n.last.id + 1, "skip")  # another notice's answer: not ours
    desktop.action(n.last.id, "skip")
    assert wait_until(lambda: heard == [("on", "skip")])
    assert wait_until(lambda: children(desktop) == [] and n.waiting() is None)


def test_one_waiting_child_at_a_time_and_a_reminder_replaces_its_alarm(desktop) -> None:
    calls = desktop.root / "calls"
    desktop.start_fake(calls, "actions,body")
    n = DesktopNotifier(sound=False)
    assert n.send(ice_on(T0, T0, T0 + timedelta(minutes=25), False)).ok
    first = children(desktop)
    assert n.send(OFF).ok
    assert n.send(reminder(T0, T0)).ok
    assert wait_until(lambda: len(children(desktop)) == 1)
    assert not set(first) & set(children(desktop))  # superseded: the old child is gone
    off_id = 2
    assert [c["replaces"] for c in record(calls)] == [0, 0, off_id]
    n.withdraw()  # answered elsewhere: the child closes the notice and ends
    assert wait_until(lambda: children(desktop) == [])


def test_a_hung_server_with_buttons_requested_is_abandoned(desktop) -> None:
    calls = desktop.root / "calls"
    desktop.start_fake(calls, "actions,body", mode="hang")
    n = DesktopNotifier(timeout=1.0)
    started = time.monotonic()
    result = n.send(OFF)
    took = time.monotonic() - started
    assert not result.ok and "no answer within 1s (is the notification daemon hung?)" in (
        result.detail
    )
    assert took < 1.0 + 1.0, took
    assert record(calls)[0]["actions"] == ["default", "Ice is off", "ice-off", "Ice is off"]
    assert n.waiting() is None and wait_until(lambda: children(desktop) == [])


def test_the_player_sounds_the_alarm_and_again_with_each_reminder(desktop) -> None:
    desktop.start_fake(desktop.root / "calls", "actions,body")  # no "sound" capability
    played = fake_player(desktop)
    n = DesktopNotifier()
    assert n.send(OFF).ok and n.last.sound == "pw-play"
    assert wait_until(lambda: len(record_lines(played)) == 1)
    pid, *args = record_lines(played)[0].split()
    assert args == [answers.shipped_sound()]
    assert n.send(reminder(T0, T0)).ok
    assert wait_until(lambda: len(record_lines(played)) == 2)
    assert wait_until(lambda: not alive(int(pid)))  # the earlier sound stopped with its notice
    n.close()
    second = int(record_lines(played)[1].split()[0])
    assert wait_until(lambda: not alive(second) and children(desktop) == [])


def test_the_player_plays_the_configured_file_and_stops_at_its_limit(desktop) -> None:
    desktop.start_fake(desktop.root / "calls", "body")
    played = fake_player(desktop, "paplay")
    gong = desktop.root / "gong.oga"
    gong.write_bytes(b"OggS")
    n = DesktopNotifier(sound_file=str(gong), play_s=0.5)
    assert n.send(reminder(T0, T0)).ok and n.last.sound == "paplay"
    assert wait_until(lambda: len(record_lines(played)) == 1)
    pid, arg = record_lines(played)[0].split()
    assert arg == str(gong)
    # Not waiting for buttons (the server has none), only for the sound, cut at its limit.
    assert wait_until(lambda: not alive(int(pid)) and children(desktop) == [], timeout=5)


@pytest.mark.parametrize(("caps", "sound"), [("actions,body,sound", True), ("body", False)])
def test_no_player_when_the_server_plays_or_sound_is_off(desktop, caps: str, sound: bool) -> None:
    calls = desktop.root / "calls"
    desktop.start_fake(calls, caps)
    played = fake_player(desktop)
    n = DesktopNotifier(sound=sound)
    assert n.send(OFF).ok
    assert n.last.sound == ("server" if sound else "off")
    assert ("sound-name" in record(calls)[0]["hints"]) is sound
    n.close()
    time.sleep(0.3)
    assert record_lines(played) == []


def record_lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_notice_fields_survive_the_trip(desktop) -> None:
    """A title and body with quotes, markup and non-ASCII reach the server as written."""
    calls = desktop.root / "calls"
    desktop.start_fake(calls, "body")
    n = DesktopNotifier(sound=False)
    assert n.send(Notice("test", 'Ice <b>"off"</b> — 10:25', "ü")).ok
    assert record(calls)[0]["summary"] == 'Ice <b>"off"</b> — 10:25'


def test_a_notice_without_buttons_leaves_the_alarm_waiting(desktop) -> None:
    """The window's summary goes out with the last alarm: the alarm's buttons still work."""
    desktop.start_fake(desktop.root / "calls", "actions,body")
    n = DesktopNotifier(sound=False)
    heard: list[str] = []
    n.listen(lambda notice, key: heard.append(key))
    assert n.send(OFF).ok
    alarm_id = n.last.id
    assert n.send(window_done(Counts(3, 1, 0, 0, 0), timedelta(hours=72))).ok
    assert n.waiting() == OFF and len(children(desktop)) == 1
    desktop.action(alarm_id, "ice-off")
    assert wait_until(lambda: heard == ["ice-off"])


def test_plyer_stays_the_portable_path(desktop) -> None:
    """Without the D-Bus client (macOS, Windows), plyer sends a plain notice."""
    calls = desktop.root / "calls"
    desktop.start_fake(calls, "actions,body")
    n = DesktopNotifier(dbus=False)
    assert n.send(OFF).ok
    assert [(c["summary"], c["actions"]) for c in record(calls)] == [("Take the ice off now", [])]
    assert n.waiting() is None
