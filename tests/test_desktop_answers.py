"""The notification child on a private bus: buttons, plain notices, a hung server, the player."""

from __future__ import annotations

import json
import os
import threading
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
    monkeypatch.setenv("ICECYCLE_PLAYER_PATH", str(bin_dir))
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


def record(path: Path, *, closes: bool = False) -> list[dict[str, object]]:
    """What the fake server was asked: its Notify calls (their id left out), with the
    CloseNotification calls among them if `closes`."""
    lines = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    if closes:
        return lines
    return [{k: v for k, v in doc.items() if k != "id"} for doc in lines if "close" not in doc]


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
    assert n.waiting() == OFF  # still on screen: closed when answered (finding 8)
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
    desktop.server_says(f"action {n.last.id + 1} skip")  # another notice's answer: not ours
    desktop.server_says(f"action {n.last.id} skip")
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
    on_id, off_id = 1, 2
    assert [c.get("replaces", c.get("close")) for c in record(calls, closes=True)] == [
        0,  # ice on
        on_id,  # closed: the session is over (finding 8)
        0,  # the alarm
        off_id,  # the reminder in the alarm's place
    ]
    n.withdraw()  # answered elsewhere: the child closes the notice and ends
    assert wait_until(lambda: children(desktop) == [])
    assert record(calls, closes=True)[-1] == {"close": off_id}


def test_a_hung_server_with_buttons_requested_is_abandoned(desktop) -> None:
    calls = desktop.root / "calls"
    desktop.start_fake(calls, "actions,body", mode="hang")
    n = DesktopNotifier(timeout=1.0, retry_s=())
    started = time.monotonic()
    result = n.send(OFF)
    took = time.monotonic() - started
    assert not result.ok and "no answer within 1s (is the notification daemon hung?)" in (
        result.detail
    )
    assert took < 1.0 + 1.0, took
    assert record(calls)[0]["actions"] == ["default", "Took it off", "ice-off", "Ice is off"]
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
    calls = desktop.root / "calls"
    desktop.start_fake(calls, "actions,body")
    n = DesktopNotifier(sound=False)
    heard: list[str] = []
    n.listen(lambda notice, key: heard.append(key))
    assert n.send(OFF).ok
    first = n.last.id
    assert n.send(window_done(Counts(3, 1, 0, 0, 0), timedelta(hours=72))).ok
    assert n.waiting() == OFF
    # The alarm is shown again on top of the summary; its buttons are the live ones.
    assert wait_until(lambda: len(record(calls)) == 3)
    again = [d for d in record(calls, closes=True) if "close" not in d][-1]
    assert again["summary"] == "Take the ice off now" and again["id"] != first
    assert wait_until(lambda: len(children(desktop)) == 1)
    desktop.server_says(f"action {first} ice-off")  # the closed one: nothing
    desktop.server_says(f"action {again['id']} ice-off")
    assert wait_until(lambda: heard == ["ice-off"])


def test_plyer_stays_the_portable_path(desktop) -> None:
    """Without the D-Bus client (macOS, Windows), plyer sends a plain notice."""
    calls = desktop.root / "calls"
    desktop.start_fake(calls, "actions,body")
    n = DesktopNotifier(dbus=False)
    assert n.send(OFF).ok
    assert [(c["summary"], c["actions"]) for c in record(calls)] == [("Take the ice off now", [])]
    assert n.waiting() is None


# -- issue 19, finding 7: only the server that showed a notice may answer it ----------


def stranger_says(desktop: Desktop, nid: int, key: str, member: str = "ActionInvoked") -> None:
    """Another program on the bus, with a connection of its own, forging the server's
    signal: same path, interface, member, id and key; another sender."""
    from jeepney import DBusAddress, new_signal
    from jeepney.io.blocking import open_dbus_connection

    emitter = DBusAddress(answers.OBJECT, interface=answers.BUS_NAME)
    conn = open_dbus_connection(desktop.env["DBUS_SESSION_BUS_ADDRESS"])
    try:
        sig = "us" if member == "ActionInvoked" else "uu"
        conn.send(new_signal(emitter, member, sig, (nid, key if sig == "us" else 2)))
        time.sleep(0.1)
    finally:
        conn.close()


def test_a_stranger_on_the_bus_cannot_answer_or_close_the_alarm(desktop) -> None:
    desktop.start_fake(desktop.root / "calls", "actions,body")
    n = DesktopNotifier(sound=False)
    heard: list[str] = []
    n.listen(lambda notice, key: heard.append(key))
    assert n.send(OFF).ok
    nid = n.last.id
    stranger_says(desktop, nid, "ice-off")
    desktop.action(nid, "default")  # dbus-send: a stranger too
    stranger_says(desktop, nid, "", member="NotificationClosed")
    time.sleep(0.5)
    assert heard == [] and n.waiting() == OFF and len(children(desktop)) == 1
    desktop.server_says(f"action {nid} ice-off")
    assert wait_until(lambda: heard == ["ice-off"])


def test_only_a_button_the_notice_offered_answers_it(desktop) -> None:
    calls = desktop.root / "calls"
    desktop.start_fake(calls, "actions,body")
    n = DesktopNotifier(sound=False)
    heard: list[str] = []
    n.listen(lambda notice, key: heard.append(key))
    on = ice_on(T0, T0, T0 + timedelta(minutes=25), False)
    assert n.send(on).ok
    nid = n.last.id
    for key in ("default", "ice-off", "x" * 1_000_000, json.dumps("skip\nforged")):
        desktop.server_says(f"action {nid} {key}")  # a click on the notice is no answer
    time.sleep(0.5)
    assert heard == [] and n.waiting() == on
    desktop.server_says(f"action {nid} skip")
    assert wait_until(lambda: heard == ["skip"])


def test_a_restarted_server_reusing_numbers_cannot_answer_the_old_notice(desktop) -> None:
    """After the server restarts, its numbers start again: the old notice's number names
    another program's notice. The alarm is shown again on the new server, and only its
    new number answers it."""
    desktop.start_fake(desktop.root / "calls", "actions,body")
    n = DesktopNotifier(sound=False)
    heard: list[str] = []
    n.listen(lambda notice, key: heard.append(key))
    assert n.send(OFF).ok and n.last.id == 1
    desktop.stop_fake()
    again = desktop.root / "calls-2"
    desktop.start_fake(again, "actions,body", first_id=100)
    assert wait_until(lambda: [c["summary"] for c in record(again)] == ["Take the ice off now"])
    desktop.server_says("action 1 ice-off")  # another program's notice 1 on this server
    time.sleep(0.5)
    assert heard == []
    desktop.server_says("action 100 ice-off")
    assert wait_until(lambda: heard == ["ice-off"])


# -- finding 8: a notice is closed when it stops being true; one per purpose ----------


def test_an_answered_alarm_is_closed_and_a_summary_does_not_hide_it(desktop) -> None:
    calls = desktop.root / "calls"
    desktop.start_fake(calls, "actions,body")
    n = DesktopNotifier(sound=False)
    heard: list[str] = []
    n.listen(lambda notice, key: heard.append(key))
    assert n.send(OFF).ok
    assert n.send(window_done(Counts(3, 1, 0, 0, 0), timedelta(hours=72))).ok
    # The alarm is shown again, on top of the summary (closed, then shown anew).
    assert wait_until(lambda: len(record(calls)) == 3)
    log = record(calls, closes=True)
    assert [d.get("summary", d.get("close")) for d in log] == [
        "Take the ice off now",
        "Cold therapy window complete",
        1,
        "Take the ice off now",
    ]
    assert "sound-name" not in log[-1]["hints"]  # heard once is enough
    desktop.server_says(f"action {log[-1]['id']} default")
    assert wait_until(lambda: heard == ["default"])
    # Answered: icecycle closes it (a critical notice would stay: dunst #660).
    assert wait_until(lambda: record(calls, closes=True)[-1] == {"close": log[-1]["id"]})


def test_a_notice_without_a_child_is_still_closed_when_withdrawn(desktop) -> None:
    calls = desktop.root / "calls"
    desktop.start_fake(calls, "body")  # no buttons: nothing waits for an answer
    n = DesktopNotifier(sound=False)
    assert n.send(OFF).ok and children(desktop) == []
    assert n.waiting() == OFF
    n.withdraw()  # answered with `icecycle ack`
    assert wait_until(lambda: record(calls, closes=True)[-1] == {"close": 1})
    assert n.waiting() is None


# -- finding 9: the alarm's send is retried; its sound needs neither Notify nor the notice


def test_a_failed_alarm_send_is_retried_until_delivered(desktop) -> None:
    n = DesktopNotifier(sound=False, retry_s=(0.3,))
    result = n.send(OFF)  # no notification server yet
    assert not result.ok and "no notification daemon" in result.detail
    assert n.waiting() == OFF  # still being tried
    calls = desktop.root / "calls"
    desktop.start_fake(calls, "actions,body")
    assert wait_until(lambda: [c["summary"] for c in record(calls)] == ["Take the ice off now"])
    assert wait_until(lambda: len(children(desktop)) == 1)  # now waiting for its answer
    n.withdraw()
    assert wait_until(lambda: children(desktop) == [])


def test_an_answer_elsewhere_stops_the_retries(desktop) -> None:
    n = DesktopNotifier(sound=False, retry_s=(0.2,))
    assert not n.send(OFF).ok
    n.withdraw()
    calls = desktop.root / "calls"
    desktop.start_fake(calls, "actions,body")
    time.sleep(0.8)
    assert record(calls) == [] and n.waiting() is None


def test_a_server_that_never_answers_notify_still_gets_the_sound(desktop) -> None:
    desktop.start_fake(desktop.root / "calls", "actions,body", mode="hang")
    played = fake_player(desktop)
    n = DesktopNotifier(timeout=3.0, retry_s=())
    results = []
    sender = threading.Thread(target=lambda: results.append(n.send(OFF)))
    started = time.monotonic()
    sender.start()
    assert wait_until(lambda: len(record_lines(played)) == 1)
    assert time.monotonic() - started < 2.5  # it did not wait for the 3 s Notify time-out
    sender.join()
    assert not results[0].ok
    n.close()


def test_a_server_that_closes_notices_at_once_does_not_stop_the_sound(desktop) -> None:
    desktop.start_fake(desktop.root / "calls", "actions,body", mode="close")
    played = fake_player(desktop)
    n = DesktopNotifier()
    assert n.send(OFF).ok
    assert wait_until(lambda: len(record_lines(played)) == 1)
    pid = int(record_lines(played)[0].split()[0])
    time.sleep(1.0)
    assert alive(pid)  # the notice is gone; its sound plays on
    n.close()
    assert wait_until(lambda: not alive(pid))


def test_the_next_player_is_tried_when_one_fails(desktop) -> None:
    desktop.start_fake(desktop.root / "calls", "body")
    broken = desktop.root / "bin" / "pw-play"
    broken.write_text("#!/bin/sh\necho 'Host is down' >&2\nexit 1\n")
    broken.chmod(0o755)
    played = fake_player(desktop, "paplay")
    n = DesktopNotifier()
    assert n.send(OFF).ok
    assert wait_until(lambda: len(record_lines(played)) == 1)
    n.close()
    assert answers.play([[str(broken)], ["/bin/true"]], 2.0) == [
        ("pw-play", "failed (Host is down)"),
        ("true", "played"),
    ]


@pytest.mark.skipif(not os.access("/usr/bin/pw-play", os.X_OK), reason="needs pipewire-bin")
def test_real_pw_play_with_no_pipewire_hands_on_to_the_next_player(desktop) -> None:
    """PipeWire's own pw-play, with no PipeWire running here, exits 1: paplay plays."""
    (desktop.root / "bin" / "pw-play").symlink_to("/usr/bin/pw-play")
    played = fake_player(desktop, "paplay")
    n = DesktopNotifier()
    tried = answers.play(n.players(), 2.0)
    assert tried[0][0] == "pw-play" and tried[0][1].startswith("failed (")
    assert tried[1] == ("paplay", "played")
    assert len(record_lines(played)) == 1
